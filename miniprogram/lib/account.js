// The account page's logic, without the UI: what it shows of the server's answer, and the
// calls it makes, each with a fresh wx.login code (see lib/api.js).

const { loginCode } = require('./api.js');
const { formatTime, placeOf } = require('./i18n.js');

/** The audit trail's login events, as the account page words them. */
const LOGIN_EVENTS = ['login_confirmed', 'login_refused', 'login_cancelled'];

/** The person's recent logins from the answer's `recent`, worded for the page. */
function recentLogins(t, recent) {
  return (recent || [])
    .filter((entry) => LOGIN_EVENTS.includes(entry.event))
    .map((entry) => ({
      id: String(entry.id),
      at: formatTime(entry.at),
      what: t.loginEvents[entry.event],
      // An application logged in to (an OpenID client), when it was one.
      client: entry.client_id || '',
      ip: placeOf(entry),
    }));
}

/**
 * Where the person is logged in, from the answer's `sessions`; the one a login message
 * asks about (`askedId`, the page's `?session=`) is marked `asked`.
 */
function sessionsOf(t, sessions, askedId = '') {
  return (sessions || []).map((s) => ({
    id: String(s.id),
    browser: s.browser || t.unknownBrowser,
    ip: placeOf(s),
    // When that login happened: what "was this you?" asks about.
    loggedIn: formatTime(s.created_at),
    lastSeen: formatTime(s.last_seen_at),
    asked: askedId !== '' && String(s.id) === askedId,
  }));
}

/**
 * The account calls, each proved by a login code asked for just before it (a code is
 * single-use: one per call, never kept).
 */
function accountActions(api, wxLogin) {
  const withCode = (call) => loginCode(wxLogin).then(call);
  return {
    load: () => withCode((code) => api.account(code)),
    logoutEverywhere: () => withCode((code) => api.logoutEverywhere(code)),
    deleteAccount: () => withCode((code) => api.deleteAccount(code)),
    endSession: (id) => withCode((code) => api.endSession(code, id)),
  };
}

/**
 * The red of a confirm button for what cannot be undone, readable on the modal in light
 * (4.8:1 on white) and dark mode (5:1 on WeChat's dark grey): wx.showModal takes one
 * colour, so it is picked by the theme WeChat reports (getAppBaseInfo().theme, with
 * "darkmode": true in app.json).
 */
function dangerColor() {
  let theme = 'light';
  try {
    theme = (typeof wx.getAppBaseInfo === 'function' && wx.getAppBaseInfo().theme) || 'light';
  } catch (e) {
    // light
  }
  return theme === 'dark' ? '#FF6B6B' : '#D92D20';
}

/** wx.showModal as a promise of the person's yes. */
function confirmed(options) {
  return new Promise((resolve) => {
    wx.showModal({
      ...options,
      success: (res) => resolve(!!(res && res.confirm)),
      fail: () => resolve(false),
    });
  });
}

/** confirmed() for what throws someone out or cannot be undone: the confirm button in red. */
function confirmedInRed(options) {
  return confirmed({ ...options, confirmColor: dangerColor() });
}

module.exports = { LOGIN_EVENTS, recentLogins, sessionsOf, accountActions, confirmed, confirmedInRed, dangerColor };
