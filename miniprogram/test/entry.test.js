// How the mini program was opened (lib/entry.js): which entry scenes are refused as
// relayed, which are this phone's browser, and which sources say so.
const SCENE = 'Sc3neSc3neSc3neSc3neSc3neSc3neSc';

let entry;
beforeEach(() => {
  jest.resetModules();
  entry = require('../lib/entry.js');
  global.wx = { getEnterOptionsSync: jest.fn(() => ({ scene: 1047, path: 'pages/login/login', query: { scene: SCENE } })) };
});

test.each([
  [1048, 'relayed'], // long press on a code in an image
  [1049, 'relayed'], // a code picked from the album
  [1012, 'relayed'], // the same two for plain QR codes
  [1013, 'relayed'],
  [1194, 'phone'], // URL link: this phone's browser
  [1065, 'phone'], // URL scheme
  [1047, 'scan'], // the camera
  [1011, 'scan'],
  [1001, 'scan'],
  [undefined, 'scan'],
  ['1048', 'relayed'], // a number however it comes
])('entry scene %s is %s', (scene, kind) => {
  expect(entry.kindOfScene(scene)).toBe(kind);
});

test('the kind comes from wx.getEnterOptionsSync()', () => {
  wx.getEnterOptionsSync.mockReturnValue({ scene: 1049, query: { scene: SCENE } });
  expect(entry.entryKind(SCENE)).toBe('relayed');
  wx.getEnterOptionsSync.mockReturnValue({ scene: 1194, query: { scene: SCENE } });
  expect(entry.entryKind(SCENE)).toBe('phone');
});

test("a hot start's App.onShow options count too, and the most cautious source wins", () => {
  entry.noteShow({ scene: 1048, query: { scene: SCENE } });
  expect(entry.entryKind(SCENE)).toBe('relayed');
});

test('options about another code are stale and do not count', () => {
  entry.noteShow({ scene: 1048, query: { scene: 'An0therAn0therAn0therAn0therAn0t' } });
  expect(entry.entryKind(SCENE)).toBe('scan');
});

test('the scene is compared decoded: WeChat may give it URL-encoded', () => {
  wx.getEnterOptionsSync.mockReturnValue({ scene: 1048, query: { scene: `%53${SCENE.slice(1)}` } });
  expect(entry.entryKind(SCENE)).toBe('relayed');
});

test('with no source about this code, the entry options decide', () => {
  wx.getEnterOptionsSync.mockReturnValue({ scene: 1049, query: {} });
  expect(entry.entryKind(SCENE)).toBe('relayed');
});

test('without wx.getEnterOptionsSync it is a plain scan', () => {
  global.wx = {};
  expect(entry.entryKind(SCENE)).toBe('scan');
});

test("a camera scan is handed over once, and only for its own scene", () => {
  entry.markCameraScan(SCENE);
  expect(entry.takeCameraScan('An0therAn0therAn0therAn0therAn0t')).toBe(false);
  expect(entry.takeCameraScan(SCENE)).toBe(false); // asked once: gone
  entry.markCameraScan(SCENE);
  expect(entry.takeCameraScan(SCENE)).toBe(true);
  expect(entry.takeCameraScan(SCENE)).toBe(false);
});
