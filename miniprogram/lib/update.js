// A new version of the mini program. WeChat downloads it in the background and uses it
// only from the next cold start (运行机制 → 更新机制); wx.getUpdateManager() tells us when it
// is ready, and applyUpdate() restarts into it. The person is asked first, and never in
// the middle of a login: a restart there would lose the code they just scanned. The
// question then waits for the login page's end screen or the home page.

const log = require('./log.js');

let manager = null;
let ready = false;
let held = false;
let texts = null;

/** Watches for updates (app.js, at launch); `t` holds updateTitle and updateText. */
function watchUpdates(t) {
  texts = t;
  ready = false;
  manager = null;
  if (typeof wx.getUpdateManager !== 'function') return;
  manager = wx.getUpdateManager();
  manager.onUpdateReady(() => {
    ready = true;
    askPending();
  });
  manager.onUpdateFailed(() => log.warn('update: the new version could not be downloaded'));
}

/** While a login is in progress (true), the restart question waits. */
function holdUpdates(hold) {
  held = !!hold;
  if (!held) askPending();
}

/** Asks to restart into the new version, if there is one and nothing holds it. */
function askPending() {
  if (!ready || held || !manager) return;
  ready = false;
  wx.showModal({
    title: texts.updateTitle,
    content: texts.updateText,
    success: (res) => {
      if (res && res.confirm) manager.applyUpdate();
    },
  });
}

module.exports = { watchUpdates, holdUpdates, askPending };
