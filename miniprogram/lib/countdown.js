// What a screen reader hears of the countdown. The visible countdown changes every second;
// in a live region it would be read out every second, drowning everything else. So it is
// not live, and a separate live region says the time left only when it crosses one of
// these steps (the expired screen announces itself).

const STEPS = [60, 30, 10];

/**
 * The seconds to announce when the countdown goes from `before` to `left` (undefined
 * before the first tick: the screen is read as a whole when it appears), or null. A jump
 * over several steps (the phone slept) announces once, the time now left.
 */
function announcement(before, left) {
  if (before === undefined || left <= 0) return null;
  return STEPS.some((step) => left <= step && step < before) ? left : null;
}

module.exports = { STEPS, announcement };
