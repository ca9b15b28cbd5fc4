// The app: what runs before and around the pages. It watches for a new version, logs what
// would otherwise fail silently, and records how WeChat opened (or reopened) it.

const { textsFor, currentLanguage } = require('./lib/i18n.js');
const { noteShow } = require('./lib/entry.js');
const { watchUpdates } = require('./lib/update.js');
const log = require('./lib/log.js');

App({
  onLaunch(options) {
    noteShow(options);
    watchUpdates(textsFor(currentLanguage()));
    if (typeof wx.onUnhandledRejection === 'function') {
      // A promise nobody awaited failed: nothing on screen says so, the log does.
      wx.onUnhandledRejection((res) => log.error('unhandled rejection:', res && res.reason));
    }
  },

  // A hot start's options (its entry scene among them): lib/entry.js reads them beside
  // wx.getEnterOptionsSync(). Going home after a finished login is the login page's own
  // onShow (pages/login/login.js says why there).
  onShow(options) {
    noteShow(options);
  },

  // A script error anywhere: WeChat passes its message with the stack.
  onError(message) {
    log.error('app error:', message);
  },
});
