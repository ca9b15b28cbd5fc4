// The scanlogin mini-program API, over any `request` function with wx.request's shape.
// Each call resolves with `data` or rejects with an ApiError whose `kind` names the
// screen to show.

class ApiError extends Error {
  constructor(kind, status, message) {
    super(message || kind);
    this.kind = kind; // expired | used | badcode | network | server
    this.status = status;
  }
}

/** Maps an HTTP status of the API to what it means for the person holding the phone. */
function kindOf(status) {
  if (status === 404) return 'expired'; // unknown or expired scene
  if (status === 409) return 'used'; // scanned by someone else, confirmed or cancelled
  if (status === 401) return 'badcode'; // the login code or scan token was refused
  return 'server';
}

function createApi({ request, apiBase, timeout = 10000 }) {
  function post(path, body) {
    return new Promise((resolve, reject) => {
      request({
        url: apiBase.replace(/\/$/, '') + path,
        method: 'POST',
        data: body,
        header: { 'content-type': 'application/json' },
        timeout,
        success(res) {
          const payload = res.data || {};
          if (res.statusCode === 200 && payload.code === 200) {
            resolve(payload.data);
          } else {
            reject(new ApiError(kindOf(res.statusCode), res.statusCode, payload.msg));
          }
        },
        fail(err) {
          reject(new ApiError('network', 0, (err && err.errMsg) || 'network error'));
        },
      });
    });
  }

  return {
    scan: (scene, code) => post('/api/mp/scan', { scene, code }),
    confirm: (scene, scanToken, profile) =>
      post('/api/mp/confirm', profile ? { scene, scan_token: scanToken, profile } : { scene, scan_token: scanToken }),
    cancel: (scene, scanToken) => post('/api/mp/cancel', { scene, scan_token: scanToken }),
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
  return { scanToken: answer.scan_token, browser: answer.browser, expiresIn: answer.expires_in };
}

/** Only http(s) avatars are sent: a chooseAvatar temp file must be uploaded by the site first. */
function profileOf(nickname, avatarUrl) {
  const name = (nickname || '').trim().slice(0, 64);
  const avatar = /^https?:\/\//.test(avatarUrl || '') ? avatarUrl : '';
  if (!name && !avatar) return null;
  return { nickname: name, avatar_url: avatar };
}

module.exports = { ApiError, createApi, kindOf, loginCode, scanFlow, profileOf };
