// How the mini program was opened (WeChat's scene value, 场景值), and what that means for a
// login. A login code is meant to be scanned by the camera of the person sitting at the
// computer that shows it. A code that reaches the phone as a picture may have been sent by
// someone else, whose browser waits behind it (QRLJacking): confirming it would log *them*
// in as this person.

/** Opened from a code in a picture: relayed, perhaps. The login is refused. */
const RELAYED = [
  1048, // long press on a mini-program code in an image (识别图中小程序码)
  1049, // a mini-program code picked from the album
  // The same two gestures on a plain QR code. Our codes are mini-program codes, but a
  // site that also opens the page by 扫普通链接二维码 must not reopen the hole that way.
  1012,
  1013,
];

/** Opened by a link the phone's own browser followed: the login is for that browser. */
const PHONE_BROWSER = [
  1194, // URL link (wxa/generate_urllink)
  1065, // URL scheme (wxa/generatescheme)
];

/** `relayed`, `phone` (this phone's browser asks) or `scan` (a code scanned, or anything else). */
function kindOfScene(scene) {
  const n = Number(scene);
  if (RELAYED.includes(n)) return 'relayed';
  if (PHONE_BROWSER.includes(n)) return 'phone';
  return 'scan';
}

// From the most cautious to the least: when two sources disagree, the refusal wins (it
// costs one scan with the camera; a relayed login costs the account).
const CAUTION = ['relayed', 'phone', 'scan'];

/** The options of the latest App.onLaunch / onShow (app.js records them). */
let lastShow = null;

function noteShow(options) {
  lastShow = options || null;
}

/** wx.getEnterOptionsSync(): the cold start's options, or on a hot start App.onShow's. */
function enterOptions() {
  try {
    return (typeof wx.getEnterOptionsSync === 'function' && wx.getEnterOptionsSync()) || {};
  } catch (e) {
    return {};
  }
}

const decoded = (raw) => {
  try {
    return decodeURIComponent(String(raw));
  } catch (e) {
    return String(raw);
  }
};

/**
 * How the page holding the code `rawScene` (its options.scene) was opened. Two documented
 * sources say it: wx.getEnterOptionsSync() and the App.onShow options of a hot start.
 * Only those about this very code count (a hot start with a new code replaces them; one
 * recorded before it is stale); the most cautious of them wins.
 */
function entryKind(rawScene) {
  const ours = (options) => options && options.query && options.query.scene !== undefined && decoded(options.query.scene) === decoded(rawScene);
  const sources = [enterOptions(), lastShow].filter(ours);
  if (sources.length === 0) sources.push(enterOptions());
  const kinds = sources.map((options) => kindOfScene(options.scene));
  return CAUTION.find((kind) => kinds.includes(kind));
}

// A code scanned with the camera inside the mini program (the home page's button) opens
// the login page by wx.navigateTo. The launch scene is then whatever opened the mini
// program earlier, perhaps a refused picture, so the home page hands the scene over here,
// in memory: no link or code can claim to be a camera scan.
let cameraScene = null;

function markCameraScan(scene) {
  cameraScene = scene;
}

/** Whether `scene` was just scanned by the camera in the mini program (asked once). */
function takeCameraScan(scene) {
  const ours = cameraScene !== null && cameraScene === scene;
  cameraScene = null;
  return ours;
}

module.exports = { RELAYED, PHONE_BROWSER, kindOfScene, entryKind, enterOptions, noteShow, markCameraScan, takeCameraScan };
