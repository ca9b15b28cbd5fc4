const { createApi, profileOf, loginCode, cutNickname, REFUSALS } = require('../lib/api.js');

/** A wx.request stand-in that answers `status` with `body` (and `header`), and records the call. */
function answering(status, body, header = {}) {
  const calls = [];
  const request = (options) => {
    calls.push(options);
    setTimeout(() => options.success({ statusCode: status, data: body, header }), 0);
  };
  return { request, calls };
}

test('a scan posts the scene and the login code as JSON', async () => {
  const data = { scan_token: 't', expires_in: 100, browser: { family: 'Chrome', version: '1', os: 'Linux', ip: '1.2.3.4', requested_at: '2026-01-01T00:00:00Z' } };
  const { request, calls } = answering(200, { code: 200, msg: 'ok', data });
  const api = createApi({ request, apiBase: 'https://login.example.com/' });
  await expect(api.scan('S', 'C')).resolves.toEqual(data);
  expect(calls[0].url).toBe('https://login.example.com/api/mp/scan');
  expect(calls[0].method).toBe('POST');
  expect(calls[0].data).toEqual({ scene: 'S', code: 'C' });
});

test('HTTP 200 with an envelope that is not 200 is not a success', async () => {
  const { request } = answering(200, { code: 400, msg: 'no', data: null });
  const api = createApi({ request, apiBase: 'https://x' });
  await expect(api.confirm('S', 'T')).rejects.toMatchObject({ kind: 'server' });
});

test.each([
  [404, 'expired'],
  [409, 'used'],
  [401, 'rescan'],
  [403, 'refused'],
  [400, 'badrequest'],
  [413, 'badrequest'],
  [500, 'server'],
  [502, 'server'],
])('HTTP %i is the %s screen', async (status, kind) => {
  const { request } = answering(status, { code: status, msg: 'no', data: null });
  const api = createApi({ request, apiBase: 'https://x' });
  await expect(api.confirm('S', 'T')).rejects.toMatchObject({ kind, status });
});

test('429 waits as long as Retry-After says, whatever the header case', async () => {
  const { request } = answering(429, { code: 429, msg: 'slow down', data: null }, { 'retry-after': '7' });
  const api = createApi({ request, apiBase: 'https://x' });
  await expect(api.scan('S', 'C')).rejects.toMatchObject({ kind: 'limited', retryAfter: 7 });
  const other = answering(429, { code: 429 }, { 'Retry-After': '3' });
  await expect(createApi({ request: other.request, apiBase: 'https://x' }).scan('S', 'C')).rejects.toMatchObject({ retryAfter: 3 });
});

test.each(REFUSALS)('a 403 refusal %s is the refused screen, with its reason', async (reason) => {
  const { request } = answering(403, { code: 403, msg: 'refused', data: { refusal: reason } });
  const api = createApi({ request, apiBase: 'https://x' });
  await expect(api.scan('S', 'C')).rejects.toMatchObject({ kind: 'refused', status: 403, refusal: reason });
});

test('the refusals are the five the server gives', () => {
  expect(REFUSALS).toEqual(['not_invited', 'closed', 'disabled', 'not_allowed', 'invitation_invalid']);
});

test.each([
  ['an unknown reason', { refusal: 'banned_for_fun' }],
  ['a name the texts object inherits', { refusal: 'constructor' }],
  ['no reason', {}],
  ['no data', null],
])('a 403 with %s is a generic refusal', async (_, data) => {
  const { request } = answering(403, { code: 403, msg: 'refused', data });
  const api = createApi({ request, apiBase: 'https://x' });
  await expect(api.scan('S', 'C')).rejects.toMatchObject({ kind: 'refused', status: 403, refusal: null });
});

test('a 409 that says the login was confirmed is the confirmed outcome', async () => {
  const { request } = answering(409, { code: 400, msg: 'this login was already confirmed', data: { scene_status: 'confirmed' } });
  const api = createApi({ request, apiBase: 'https://x' });
  await expect(api.cancel('S', 'T')).rejects.toMatchObject({ kind: 'confirmed' });
});

test('a failed request is the network screen', async () => {
  const request = (options) => options.fail({ errMsg: 'request:fail timeout' });
  const api = createApi({ request, apiBase: 'https://x' });
  await expect(api.cancel('S', 'T')).rejects.toMatchObject({ kind: 'network' });
});

test('an avatar is uploaded with the scan token and its URL is what the server says', async () => {
  const calls = [];
  const uploadFile = (options) => {
    calls.push(options);
    setTimeout(() => options.success({ statusCode: 200, data: JSON.stringify({ code: 200, msg: 'ok', data: { avatar_url: '/avatars/abc' } }) }), 0);
  };
  const api = createApi({ request: () => {}, uploadFile, apiBase: 'https://x' });
  await expect(api.uploadAvatar('S', 'T', 'http://tmp/a.jpg')).resolves.toBe('/avatars/abc');
  expect(calls[0]).toMatchObject({ url: 'https://x/api/mp/avatar', filePath: 'http://tmp/a.jpg', name: 'avatar', formData: { scene: 'S', scan_token: 'T' } });
});

test('confirm sends a profile only when there is one, and only an uploaded avatar path', () => {
  expect(profileOf('', '')).toBeNull();
  expect(profileOf(' 小明 ', 'wxfile://tmp/a.png')).toEqual({ nickname: '小明', avatar_url: '' });
  expect(profileOf('A', 'http://tmp/a.png')).toEqual({ nickname: 'A', avatar_url: '' });
  expect(profileOf('A', '/avatars/abc')).toEqual({ nickname: 'A', avatar_url: '/avatars/abc' });
});

test('nicknames are cut by characters, never inside an emoji', () => {
  expect(cutNickname('x'.repeat(100))).toHaveLength(32);
  const cut = cutNickname('a'.repeat(31) + '😀😀');
  expect(cut).toBe('a'.repeat(31) + '😀');
  expect(() => encodeURIComponent(cut)).not.toThrow(); // no lone surrogate
});

test('wx.login failures are network failures', async () => {
  await expect(loginCode(({ fail }) => fail({ errMsg: 'login:fail' }))).rejects.toMatchObject({ kind: 'network' });
  await expect(loginCode(({ success }) => success({ code: 'abc' }))).resolves.toBe('abc');
});
