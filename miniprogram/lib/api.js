// The scanlogin mini-program API, over `request` and `uploadFile` functions with the
// shapes of wx.request and wx.uploadFile. Each call resolves with `data` or rejects with an
// ApiError whose `kind` names the screen to show.
//
// Every call carries a fresh `X-Request-Id`. The server keeps a client's id only from a
// trusted proxy and otherwise answers with its own (src/server/request_id.rs), so an
// error records the id the answer names (the one in the server's logs), else ours.

class ApiError extends Error {
  constructor(kind, status, message, retryAfter, refusal = null) {
    super(message || kind);
    // expired | used | confirmed | cancelled | rescan | refused | limited | badrequest |
    // network | server, for the account calls noaccount, and for end_session ended
    this.kind = kind;
    this.status = status;
    // Seconds to wait before trying again (429's Retry-After).
    this.retryAfter = retryAfter;
    // Why the site refused this person (403's `data.refusal`, one of REFUSALS), or null.
    this.refusal = refusal;
    // The request's id, to find it in the server's logs.
    this.requestId = '';
  }
}

/** 32 random hex digits (Math.random: a name for one request in the logs, not a secret). */
function newRequestId() {
  let id = '';
  for (let i = 0; i < 32; i += 1) id += Math.floor(Math.random() * 16).toString(16);
  return id;
}

/**
 * The reasons a 403 may give, each worded by the page. Any other reason is kept out (null,
 * the generic refusal), so that the page never looks up a text by a name the server chose.
 */
const REFUSALS = ['not_invited', 'closed', 'disabled', 'not_allowed', 'invitation_invalid'];

/** A response header by name, whatever its case (WeChat keeps the server's). */
function headerOf(headers, name) {
  const key = Object.keys(headers || {}).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

/**
 * What an HTTP status (and its envelope) of the API means for the person holding the phone.
 * `notFound` names a 404's kind: an unknown or expired scene for the login calls, no
 * account for this WeChat identity for the account calls.
 */
function errorOf(status, payload, headers, notFound = 'expired') {
  const msg = payload && payload.msg;
  switch (status) {
    case 404:
      return new ApiError(notFound, status, msg);
    case 409: {
      // A decision already made: cancel after confirm means the login happened, confirm
      // after cancel that nobody was logged in; anything else, the code was used.
      const outcome = payload && payload.data && payload.data.scene_status;
      const kind = outcome === 'confirmed' ? 'confirmed' : outcome === 'cancelled' ? 'cancelled' : 'used';
      return new ApiError(kind, status, msg);
    }
    case 401: // the login code or the scan token was refused: scan again
      return new ApiError('rescan', status, msg);
    case 403: {
      // The site's access rules refuse this person: no retry or new scan of this code helps.
      const reason = payload && payload.data && payload.data.refusal;
      return new ApiError('refused', status, msg, undefined, REFUSALS.includes(reason) ? reason : null);
    }
    case 429: {
      const seconds = Number.parseInt(headerOf(headers, 'retry-after'), 10);
      return new ApiError('limited', status, msg, Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 300) : 5);
    }
    case 400:
    case 413:
      return new ApiError('badrequest', status, msg);
    default:
      return new ApiError('server', status, msg);
  }
}

/**
 * A success is HTTP 200 *and* the envelope's own `code` 200; anything else is an error,
 * named by the answer's request id, or else by ours.
 */
function settle(res, payload, ours, resolve, reject, notFound) {
  const { statusCode, header } = res;
  if (statusCode === 200 && payload && payload.code === 200) {
    resolve(payload.data);
    return;
  }
  const error = errorOf(statusCode === 200 ? 500 : statusCode, payload, header, notFound);
  error.requestId = headerOf(header, 'x-request-id') || ours;
  reject(error);
}

function networkError(err, fallback, ours) {
  const error = new ApiError('network', 0, (err && err.errMsg) || fallback);
  error.requestId = ours;
  return error;
}

/**
 * `timeout` bounds each API call; `uploadTimeout` the avatar's upload, a file over what may
 * be a slow mobile network (a failed upload only leaves the avatar out, see lib/avatar.js).
 */
function createApi({ request, uploadFile, apiBase, timeout = 10000, uploadTimeout = 20000 }) {
  const base = apiBase.replace(/\/$/, '');

  function post(path, body, notFound) {
    const id = newRequestId();
    return new Promise((resolve, reject) => {
      request({
        url: base + path,
        method: 'POST',
        data: body,
        header: { 'content-type': 'application/json', 'X-Request-Id': id },
        timeout,
        success: (res) => settle(res, res.data || {}, id, resolve, reject, notFound),
        fail: (err) => reject(networkError(err, 'network error', id)),
      });
    });
  }

  /** Uploads a chooseAvatar file; resolves with the URL the server serves it at. */
  function uploadAvatar(scene, scanToken, filePath) {
    const id = newRequestId();
    return new Promise((resolve, reject) => {
      uploadFile({
        url: `${base}/api/mp/avatar`,
        filePath,
        name: 'avatar',
        formData: { scene, scan_token: scanToken },
        header: { 'X-Request-Id': id },
        timeout: uploadTimeout,
        success(res) {
          let payload = {};
          try {
            payload = typeof res.data === 'string' ? JSON.parse(res.data) : res.data || {};
          } catch (e) {
            payload = {};
          }
          settle(res, payload, id, (data) => resolve(data && data.avatar_url), reject);
        },
        fail: (err) => reject(networkError(err, 'upload failed', id)),
      });
    });
  }

  return {
    scan: (scene, code) => post('/api/mp/scan', { scene, code }),
    // `notify`: this confirm's tap asked the person for a login message
    // (wx.requestSubscribeMessage), whatever they answered; the server sends one only then.
    // Left out when false, so that the body is the same as before notifications.
    confirm: (scene, scanToken, profile, notify = false) =>
      post('/api/mp/confirm', { scene, scan_token: scanToken, ...(profile ? { profile } : {}), ...(notify ? { notify: true } : {}) }),
    cancel: (scene, scanToken) => post('/api/mp/cancel', { scene, scan_token: scanToken }),
    uploadAvatar,
    // The account page's calls. Each is proved by a wx.login code of its own, never a
    // stored token: a login code is single-use and lives five minutes, so a lost or copied
    // one is worth nothing. A 404 is `noaccount`: this WeChat identity has no account.
    account: (code) => post('/api/mp/account', { code }, 'noaccount'),
    logoutEverywhere: (code) => post('/api/mp/logout_everywhere', { code }, 'noaccount'),
    deleteAccount: (code) => post('/api/mp/delete_account', { code }, 'noaccount'),
    // Ends one of the person's sessions (an `id` of the account's `sessions`). Its 404 is
    // `ended`: the server answers the same for a session that is not, or no longer, the
    // person's and for no account, and either way there is no such login left to end.
    endSession: (code, session) => post('/api/mp/end_session', { code, session }, 'ended'),
  };
}

/** wx.login as a promise of its code. */
function loginCode(wxLogin) {
  return new Promise((resolve, reject) => {
    wxLogin({
      success: (res) => (res.code ? resolve(res.code) : reject(new ApiError('network', 0, 'wx.login gave no code'))),
      fail: (err) => reject(new ApiError('network', 0, (err && err.errMsg) || 'wx.login failed')),
    });
  });
}

/**
 * The page's request logic, without the UI: log in, scan, and return what the confirm
 * screen needs. Used by the page and by the integration test.
 */
async function scanFlow({ api, wxLogin, scene }) {
  const code = await loginCode(wxLogin);
  const answer = await api.scan(scene, code);
  return {
    scanToken: answer.scan_token,
    browser: answer.browser,
    // The application the browser logs in to (an OpenID client), or null for the site itself.
    application: answer.application || null,
    // What the scan is for: 'log_in', or 'delete_account' (the fresh scan the site's
    // account page asks before deleting the account).
    purpose: answer.purpose || 'log_in',
    expiresIn: answer.expires_in,
  };
}

/** Nicknames are cut to this many characters (code points: never inside an emoji). */
const NICKNAME_MAX = 32;

/** `name` trimmed and cut to `max` characters, never between a surrogate pair. */
function cutNickname(name, max = NICKNAME_MAX) {
  return Array.from((name || '').trim()).slice(0, max).join('');
}

/**
 * The profile to confirm with: a nickname that passed WeChat's review, and the path the
 * server gave for an uploaded avatar (`/avatars/…`; never a file on the phone), or null.
 */
function profileOf(nickname, uploadedAvatarUrl) {
  const name = cutNickname(nickname);
  const avatar = /^\/avatars\/[A-Za-z0-9_-]+$/.test(uploadedAvatarUrl || '') ? uploadedAvatarUrl : '';
  if (!name && !avatar) return null;
  return { nickname: name, avatar_url: avatar };
}

module.exports = { ApiError, REFUSALS, createApi, errorOf, newRequestId, loginCode, scanFlow, profileOf, cutNickname, NICKNAME_MAX };
