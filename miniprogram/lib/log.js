// Errors the phone would otherwise keep to itself. WeChat's real-time log
// (wx.getRealtimeLogManager, 实时日志) shows them to the developers in the admin console
// (开发管理 → 运维中心 → 实时日志); the console has them in DevTools. Logging never throws.

let manager;

function realtime() {
  if (manager === undefined) {
    try {
      manager = typeof wx.getRealtimeLogManager === 'function' ? wx.getRealtimeLogManager() : null;
    } catch (e) {
      manager = null;
    }
  }
  return manager;
}

/** A thrown value as text: its stack or message, never "[object Object]". */
function describe(value) {
  if (value instanceof Error) return value.stack || `${value.name}: ${value.message}`;
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value);
  } catch (e) {
    return String(value);
  }
}

function write(level, args) {
  const text = args.map(describe);
  try {
    console[level](...text);
    const rt = realtime();
    if (rt && typeof rt[level] === 'function') rt[level](...text);
  } catch (e) {
    // nowhere left to say it
  }
}

const error = (...args) => write('error', args);
const warn = (...args) => write('warn', args);
const info = (...args) => write('info', args);

/** For tests: forget the manager, so that a new stubbed wx is asked again. */
function reset() {
  manager = undefined;
}

module.exports = { error, warn, info, describe, reset };
