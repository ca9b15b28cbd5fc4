// The avatar never stands between a person and their login: it is compressed, uploaded
// with a timeout of its own, and whatever goes wrong on the way (a refusal, no network, a
// timeout, a server error) leaves it out of a login that goes on without it.

const log = require('./log.js');

/** JPEG quality of the compressed avatar: small to send, still fine at avatar size. */
const QUALITY = 80;

/** `src` compressed by wx.compressImage, or `src` itself when that fails or is missing. */
function compressed(src) {
  if (typeof wx.compressImage !== 'function') return Promise.resolve(src);
  return new Promise((resolve) => {
    wx.compressImage({
      src,
      quality: QUALITY,
      success: (res) => resolve((res && res.tempFilePath) || src),
      fail: () => resolve(src),
    });
  });
}

/** The server's `/avatars/…` path for the chosen file, or '' when it could not be had. */
async function uploadedOrNothing(api, scene, scanToken, filePath) {
  try {
    return (await api.uploadAvatar(scene, scanToken, await compressed(filePath))) || '';
  } catch (e) {
    log.warn('avatar left out:', e.kind || '', e.status || '', e.message || '', e.requestId || '');
    return '';
  }
}

module.exports = { QUALITY, compressed, uploadedOrNothing };
