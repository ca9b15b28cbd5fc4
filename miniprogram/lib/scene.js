// The scene a code opens the page with. For codes from wxa/getwxacodeunlimit WeChat
// passes it URL-encoded in the launch options' `scene`.

const ID = /^[A-Za-z0-9]{32}$/;

/** The scene from the page's options, or null if there is none or it is malformed. */
function decodeScene(options) {
  const raw = options && options.scene;
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 256) return null;
  let scene;
  try {
    scene = decodeURIComponent(raw);
  } catch (e) {
    return null;
  }
  return ID.test(scene) ? scene : null;
}

module.exports = { decodeScene };
