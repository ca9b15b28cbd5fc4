const { createApi, profileOf, loginCode } = require('../lib/api.js');

/** A wx.request stand-in that answers `status` with `body`, and records the call. */
function answering(status, body) {
  const calls = [];
  const request = (options) => {
    calls.push(options);
    setTimeout(() => options.success({ statusCode: status, data: body }), 0);
  };
  return { request, calls };
}

test('a scan posts the scene and the login code as JSON', async () => {
  const data = { scan_token: 't', expires_in: 100, browser: { user_agent: 'Chrome 1 on Linux', ip: '1.2.3.4', requested_at: '2026-01-01T00:00:00Z' } };
  const { request, calls } = answering(200, { code: 200, msg: 'ok', data });
  const api = createApi({ request, apiBase: 'https://login.example.com/' });
  await expect(api.scan('S', 'C')).resolves.toEqual(data);
  expect(calls[0].url).toBe('https://login.example.com/api/mp/scan');
  expect(calls[0].method).toBe('POST');
  expect(calls[0].data).toEqual({ scene: 'S', code: 'C' });
});

test.each([
  [404, 'expired'],
  [409, 'used'],
  [401, 'badcode'],
  [500, 'server'],
  [502, 'server'],
  [429, 'server'],
])('HTTP %i is the %s screen', async (status, kind) => {
  const { request } = answering(status, { code: status, msg: 'no', data: null });
  const api = createApi({ request, apiBase: 'https://x' });
  await expect(api.confirm('S', 'T')).rejects.toMatchObject({ kind, status });
});

test('a failed request is the network screen', async () => {
  const request = (options) => options.fail({ errMsg: 'request:fail timeout' });
  const api = createApi({ request, apiBase: 'https://x' });
  await expect(api.cancel('S', 'T')).rejects.toMatchObject({ kind: 'network' });
});

test('confirm sends a profile only when there is one, and only http(s) avatars', () => {
  expect(profileOf('', '')).toBeNull();
  expect(profileOf(' 小明 ', 'wxfile://tmp/a.png')).toEqual({ nickname: '小明', avatar_url: '' });
  expect(profileOf('A', 'https://cdn.example/a.png')).toEqual({ nickname: 'A', avatar_url: 'https://cdn.example/a.png' });
  expect(profileOf('x'.repeat(100), '').nickname).toHaveLength(64);
});

test('wx.login failures are network failures', async () => {
  await expect(loginCode(({ fail }) => fail({ errMsg: 'login:fail' }))).rejects.toMatchObject({ kind: 'network' });
  await expect(loginCode(({ success }) => success({ code: 'abc' }))).resolves.toBe('abc');
});
