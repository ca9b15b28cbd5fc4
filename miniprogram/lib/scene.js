// The scene a page is opened with. Codes from wxa/getwxacodeunlimit pass it URL-encoded
// in the launch options' `scene`; links made by wxa/generate_urllink or
// wxa/generatescheme pass it in the query, as `scene` too.

const ID = /^[A-Za-z0-9]{32}$/;

/** The scene from the page's options: null if malformed, undefined if there is none. */
function decodeScene(options) {
  const raw = options && options.scene;
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string' || raw.length > 256) return null;
  let scene;
  try {
    scene = decodeURIComponent(raw);
  } catch (e) {
    return null;
  }
  return ID.test(scene) ? scene : null;
}

/**
 * The scene of a code scanned inside the mini program (wx.scanCode): a mini-program code
 * of ours gives `path` (`pages/login/login?scene=…`); a plain QR code gives `result`, a URL
 * whose query carries `scene`. Null when the code is not a login code.
 */
function sceneFromScan(res) {
  const text = (res && (res.path || res.result)) || '';
  const query = text.includes('?') ? text.slice(text.indexOf('?') + 1).split('#')[0] : '';
  for (const pair of query.split('&')) {
    const [name, value = ''] = pair.split('=');
    if (name === 'scene') return decodeScene({ scene: value }) || null;
  }
  return null;
}

/**
 * Scans a code with the camera only (onlyFromCamera: a code picked from the album may be a
 * picture someone sent to take over the account; see lib/entry.js). Resolves to the
 * scene; null for a code that is not a login code; undefined when the camera was closed
 * (not an error).
 */
function scanWithCamera() {
  return new Promise((resolve) => {
    wx.scanCode({
      onlyFromCamera: true,
      scanType: ['wxCode', 'qrCode'],
      success: (res) => resolve(sceneFromScan(res)),
      fail: () => resolve(undefined),
    });
  });
}

module.exports = { decodeScene, sceneFromScan, scanWithCamera };
