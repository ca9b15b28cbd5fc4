const { decodeScene, sceneFromScan } = require('../lib/scene.js');

const ID = 'aZ3aZ3aZ3aZ3aZ3aZ3aZ3aZ3aZ3aZ3aZ';

test('a scene from a getwxacodeunlimit code is URL-decoded and checked', () => {
  expect(decodeScene({ scene: ID })).toBe(ID);
  // WeChat passes the scene URL-encoded: an escaped character must come back.
  expect(decodeScene({ scene: `%61${ID.slice(1)}` })).toBe(ID);
});

test('no scene at all is not a malformed one: the page shows its home screen', () => {
  expect(decodeScene(undefined)).toBeUndefined();
  expect(decodeScene({})).toBeUndefined();
  expect(decodeScene({ scene: '' })).toBeUndefined();
});

test('malformed scenes are rejected before any request', () => {
  for (const options of [
    { scene: 'short' },
    { scene: `${ID}x` },
    { scene: ID.slice(0, 31) + '!' },
    { scene: '%E0%A4%A' }, // broken percent-encoding
    { scene: encodeURIComponent(ID.slice(0, 31) + '中') },
    { scene: 42 },
  ]) {
    expect(decodeScene(options)).toBeNull();
  }
});

test('a code scanned in the mini program gives its scene by path or by URL', () => {
  expect(sceneFromScan({ path: `pages/login/login?scene=${ID}` })).toBe(ID);
  expect(sceneFromScan({ result: `https://login.example.com/phone?x=1&scene=${ID}#top` })).toBe(ID);
  expect(sceneFromScan({ result: 'https://example.com/' })).toBeNull();
  expect(sceneFromScan({ path: 'pages/login/login?scene=nope' })).toBeNull();
  expect(sceneFromScan({})).toBeNull();
});
