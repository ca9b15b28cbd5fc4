// The scanlogin mini-program API, over `request` and `uploadFile` functions with the
// shapes of wx.request and wx.uploadFile. Each call resolves with `data` or rejects with an
// ApiError whose `kind` names the screen to show.

class ApiError extends Error {
  constructor(kind, status, message, retryAfter, refusal = null) {
    super(message || kind);
    // expired | used | confirmed | cancelled | rescan | refused | limited | badrequest | network | server
    this.kind = kind;
    this.status = status;
    // Seconds to wait before trying again (429's Retry-After).
    this.retryAfter = retryAfter;
    // Why the site refused this person (403's `data.refusal`, one of REFUSALS), or null.
    this.refusal = refusal;
  }
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

/** What an HTTP status (and its envelope) of the API means for the person holding the phone. */
function errorOf(status, payload, headers) {
  const msg = payload && payload.msg;
  switch (status) {
    case 404: // unknown or expired scene
      return new ApiError('expired', status, msg);
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

/** A success is HTTP 200 *and* the envelope's own `code` 200; anything else is an error. */
function settle(statusCode, payload, headers, resolve, reject) {
  if (statusCode === 200 && payload && payload.code === 200) resolve(payload.data);
  else reject(errorOf(statusCode === 200 ? 500 : statusCode, payload, headers));
}

function createApi({ request, uploadFile, apiBase, timeout = 10000 }) {
  const base = apiBase.replace(/\/$/, '');

  function post(path, body) {
    return new Promise((resolve, reject) => {
      request({
        url: base + path,
        method: 'POST',
        data: body,
        header: { 'content-type': 'application/json' },
        timeout,
        success: (res) => settle(res.statusCode, res.data || {}, res.header, resolve, reject),
        fail: (err) => reject(new ApiError('network', 0, (err && err.errMsg) || 'network error')),
      });
    });
  }

  /** Uploads a chooseAvatar file; resolves with the URL the server serves it at. */
  function uploadAvatar(scene, scanToken, filePath) {
    return new Promise((resolve, reject) => {
      uploadFile({
        url: `${base}/api/mp/avatar`,
        filePath,
        name: 'avatar',
        formData: { scene, scan_token: scanToken },
        timeout,
        success(res) {
          let payload = {};
          try {
            payload = typeof res.data === 'string' ? JSON.parse(res.data) : res.data || {};
          } catch (e) {
            payload = {};
          }
          settle(res.statusCode, payload, res.header, (data) => resolve(data && data.avatar_url), reject);
        },
        fail: (err) => reject(new ApiError('network', 0, (err && err.errMsg) || 'upload failed')),
      });
    });
  }

  return {
    scan: (scene, code) => post('/api/mp/scan', { scene, code }),
    confirm: (scene, scanToken, profile) =>
      post('/api/mp/confirm', profile ? { scene, scan_token: scanToken, profile } : { scene, scan_token: scanToken }),
    cancel: (scene, scanToken) => post('/api/mp/cancel', { scene, scan_token: scanToken }),
    uploadAvatar,
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

module.exports = { ApiError, REFUSALS, createApi, errorOf, loginCode, scanFlow, profileOf, cutNickname, NICKNAME_MAX };
