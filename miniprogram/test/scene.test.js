const { decodeScene } = require('../lib/scene.js');

const ID = 'aZ3aZ3aZ3aZ3aZ3aZ3aZ3aZ3aZ3aZ3aZ';

test('a scene from a getwxacodeunlimit code is URL-decoded and checked', () => {
  expect(decodeScene({ scene: ID })).toBe(ID);
  expect(decodeScene({ scene: encodeURIComponent(ID) })).toBe(ID);
});

test('malformed scenes are rejected before any request', () => {
  for (const options of [
    undefined,
    {},
    { scene: '' },
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
