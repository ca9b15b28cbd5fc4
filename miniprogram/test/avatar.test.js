// The avatar's way to the server (lib/avatar.js): compressed, uploaded, or left out.
const { compressed, uploadedOrNothing, QUALITY } = require('../lib/avatar.js');
const { createApi } = require('../lib/api.js');

beforeEach(() => {
  jest.spyOn(console, 'warn').mockImplementation(() => {});
  global.wx = { compressImage: jest.fn(({ src, success }) => success({ tempFilePath: `${src}.small` })) };
});
afterEach(() => jest.restoreAllMocks());

test('an image is compressed at quality 80 before it is sent', async () => {
  expect(QUALITY).toBe(80);
  await expect(compressed('tmp/a.png')).resolves.toBe('tmp/a.png.small');
  expect(wx.compressImage.mock.calls[0][0]).toMatchObject({ src: 'tmp/a.png', quality: 80 });
});

test('an image that cannot be compressed is sent as it is', async () => {
  wx.compressImage.mockImplementation(({ fail }) => fail({ errMsg: 'compressImage:fail' }));
  await expect(compressed('tmp/a.heic')).resolves.toBe('tmp/a.heic');
  global.wx = {};
  await expect(compressed('tmp/a.heic')).resolves.toBe('tmp/a.heic');
});

/** An api whose upload answers with `answer(options)`. */
function apiAnswering(answer) {
  const uploads = [];
  const uploadFile = (options) => {
    uploads.push(options);
    setTimeout(() => answer(options), 0);
  };
  return { api: createApi({ request: () => {}, uploadFile, apiBase: 'https://x' }), uploads };
}

test('an uploaded avatar gives the server path, of the compressed file', async () => {
  const { api, uploads } = apiAnswering((o) => o.success({ statusCode: 200, data: '{"code":200,"msg":"ok","data":{"avatar_url":"/avatars/a1"}}' }));
  await expect(uploadedOrNothing(api, 'S', 'T', 'tmp/a.jpg')).resolves.toBe('/avatars/a1');
  expect(uploads[0].filePath).toBe('tmp/a.jpg.small');
});

test.each([
  ['no network', (o) => o.fail({ errMsg: 'uploadFile:fail' })],
  ['a timeout', (o) => o.fail({ errMsg: 'uploadFile:fail timeout' })],
  ['500', (o) => o.success({ statusCode: 500, data: '{"code":500,"msg":"boom","data":null}' })],
  ['400 (not an image)', (o) => o.success({ statusCode: 400, data: '{"code":400,"msg":"no","data":null}' })],
  ['413 (too large)', (o) => o.success({ statusCode: 413, data: '' })],
  ['429', (o) => o.success({ statusCode: 429, data: '' })],
])('an upload failing with %s leaves the avatar out (and says so in the log)', async (_, answer) => {
  const { api } = apiAnswering(answer);
  await expect(uploadedOrNothing(api, 'S', 'T', 'tmp/a.jpg')).resolves.toBe('');
  expect(console.warn).toHaveBeenCalled();
});
