const { createApi, profileOf, loginCode, cutNickname, REFUSALS } = require('../lib/api.js');
const { accountActions, recentLogins, sessionsOf } = require('../lib/account.js');
const { TEXTS } = require('../lib/i18n.js');

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

test('confirm says notify only when the tap asked for a login message, and leaves it out otherwise', async () => {
  const { request, calls } = answering(200, { code: 200, msg: 'ok', data: null });
  const api = createApi({ request, apiBase: 'https://x' });
  const profile = { nickname: 'A', avatar_url: '' };
  await api.confirm('S', 'T', profile, true);
  await api.confirm('S', 'T', null, true);
  await api.confirm('S', 'T', profile, false);
  await api.confirm('S', 'T', profile);
  expect(calls.map((c) => c.data)).toEqual([
    { scene: 'S', scan_token: 'T', profile, notify: true },
    { scene: 'S', scan_token: 'T', notify: true },
    { scene: 'S', scan_token: 'T', profile },
    { scene: 'S', scan_token: 'T', profile },
  ]);
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

test('every call carries a request id of its own (X-Request-Id, 128 random bits in hex)', async () => {
  const { request, calls } = answering(200, { code: 200, msg: 'ok', data: null });
  const api = createApi({ request, apiBase: 'https://x' });
  await api.confirm('S', 'T');
  await api.cancel('S', 'T');
  const ids = calls.map((c) => c.header['X-Request-Id']);
  for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
  expect(ids[0]).not.toBe(ids[1]);
  expect(calls[0].header['content-type']).toBe('application/json');
});

test("an error names the request: the server's id when it answers one, else ours", async () => {
  const echoed = answering(500, { code: 500, msg: 'boom' }, { 'X-Request-Id': 'server-id-1' });
  await expect(createApi({ request: echoed.request, apiBase: 'https://x' }).scan('S', 'C')).rejects.toMatchObject({ requestId: 'server-id-1' });
  const calls = [];
  const request = (options) => {
    calls.push(options);
    options.fail({ errMsg: 'request:fail' });
  };
  const error = await createApi({ request, apiBase: 'https://x' }).scan('S', 'C').catch((e) => e);
  expect(error.requestId).toBe(calls[0].header['X-Request-Id']);
});

test('the avatar upload has its own, longer timeout, and a request id', async () => {
  const uploads = [];
  const requests = [];
  const uploadFile = (options) => {
    uploads.push(options);
    options.success({ statusCode: 200, data: '{"code":200,"msg":"ok","data":{"avatar_url":"/avatars/a"}}' });
  };
  const request = (options) => {
    requests.push(options);
    options.success({ statusCode: 200, data: { code: 200, data: null } });
  };
  const api = createApi({ request, uploadFile, apiBase: 'https://x' });
  await api.uploadAvatar('S', 'T', 'tmp/a.jpg');
  await api.confirm('S', 'T');
  expect(requests[0].timeout).toBe(10000);
  expect(uploads[0].timeout).toBeGreaterThan(requests[0].timeout);
  expect(uploads[0].header['X-Request-Id']).toMatch(/^[0-9a-f]{32}$/);
  const custom = createApi({ request, uploadFile, apiBase: 'https://x', uploadTimeout: 5000 });
  await custom.uploadAvatar('S', 'T', 'tmp/a.jpg');
  expect(uploads[1].timeout).toBe(5000);
});

test.each([
  ['account', '/api/mp/account'],
  ['logoutEverywhere', '/api/mp/logout_everywhere'],
  ['deleteAccount', '/api/mp/delete_account'],
])('%s posts the login code to %s and resolves with data', async (name, path) => {
  const data = name === 'logoutEverywhere' ? { ended: 2 } : name === 'account' ? { user: { id: 1 }, sessions: [], recent: [] } : null;
  const { request, calls } = answering(200, { code: 200, msg: 'ok', data });
  const api = createApi({ request, apiBase: 'https://login.example.com/' });
  await expect(api[name]('C1')).resolves.toEqual(data);
  expect(calls[0]).toMatchObject({ url: `https://login.example.com${path}`, method: 'POST', data: { code: 'C1' } });
  expect(calls[0].header['X-Request-Id']).toMatch(/^[0-9a-f]{32}$/);
});

test.each([
  [404, 'noaccount'],
  [401, 'rescan'],
  [403, 'refused'],
  [429, 'limited'],
  [400, 'badrequest'],
  [500, 'server'],
])('an account call answered %i is %s', async (status, kind) => {
  const { request } = answering(status, { code: status, msg: 'no', data: null });
  const api = createApi({ request, apiBase: 'https://x' });
  for (const name of ['account', 'logoutEverywhere', 'deleteAccount']) {
    await expect(api[name]('C')).rejects.toMatchObject({ kind, status });
  }
});

test('end_session posts a login code and the session, and a 404 is ended, not noaccount', async () => {
  const { request, calls } = answering(200, { code: 200, msg: 'ok', data: { ended: 1 } });
  const api = createApi({ request, apiBase: 'https://login.example.com/' });
  await expect(api.endSession('C1', 'sid-1')).resolves.toEqual({ ended: 1 });
  expect(calls[0]).toMatchObject({ url: 'https://login.example.com/api/mp/end_session', method: 'POST', data: { code: 'C1', session: 'sid-1' } });
  const gone = answering(404, { code: 404, msg: 'no such session', data: null });
  await expect(createApi({ request: gone.request, apiBase: 'https://x' }).endSession('C', 's')).rejects.toMatchObject({ kind: 'ended', status: 404 });
  const refused = answering(401, { code: 401, msg: 'no', data: null });
  await expect(createApi({ request: refused.request, apiBase: 'https://x' }).endSession('C', 's')).rejects.toMatchObject({ kind: 'rescan' });
});

test('an account call with an envelope that is not 200 is an error, and a lost one a network error', async () => {
  const { request } = answering(200, { code: 404, msg: 'no', data: null });
  await expect(createApi({ request, apiBase: 'https://x' }).account('C')).rejects.toMatchObject({ kind: 'server' });
  const lost = (options) => options.fail({ errMsg: 'request:fail timeout' });
  await expect(createApi({ request: lost, apiBase: 'https://x' }).deleteAccount('C')).rejects.toMatchObject({ kind: 'network' });
});

test('each account action asks wx.login for a fresh code, never reusing one', async () => {
  const { request, calls } = answering(200, { code: 200, msg: 'ok', data: { ended: 1 } });
  const api = createApi({ request, apiBase: 'https://x' });
  let n = 0;
  const wxLogin = jest.fn(({ success }) => success({ code: `code-${(n += 1)}` }));
  const actions = accountActions(api, wxLogin);
  await actions.load();
  await actions.logoutEverywhere();
  await actions.deleteAccount();
  await actions.endSession('sid-1');
  expect(wxLogin).toHaveBeenCalledTimes(4);
  expect(calls.map((c) => c.data.code)).toEqual(['code-1', 'code-2', 'code-3', 'code-4']);
  expect(calls[3].data).toEqual({ code: 'code-4', session: 'sid-1' });
  // No code, no call.
  const failing = accountActions(api, ({ fail }) => fail({ errMsg: 'login:fail' }));
  await expect(failing.deleteAccount()).rejects.toMatchObject({ kind: 'network' });
  await expect(failing.endSession('sid-1')).rejects.toMatchObject({ kind: 'network' });
  expect(calls).toHaveLength(4);
});

test('the account page shows login events of the trail, and the sessions, worded', () => {
  const t = TEXTS.en;
  const recent = [
    { id: 3, at: '2026-11-25T08:00:00Z', event: 'login_confirmed', result: 'ok', client_id: 'grafana', ip: '1.2.3.4', user_agent: 'x', detail: '' },
    { id: 2, at: '2026-11-25T07:00:00Z', event: 'session_created', result: 'ok', client_id: '', ip: '1.2.3.4', user_agent: 'x', detail: '' },
    { id: 1, at: '2026-11-24T07:00:00Z', event: 'login_refused', result: 'refused', client_id: '', ip: '5.6.7.8', user_agent: 'x', detail: 'closed' },
  ];
  const shown = recentLogins(t, recent);
  expect(shown.map((r) => r.what)).toEqual(['Login confirmed', 'Login refused']);
  expect(shown[0]).toMatchObject({ id: '3', client: 'grafana', ip: '1.2.3.4' });
  expect(shown[0].at).toMatch(/^2026-11-25 \d\d:00:00$/);
  expect(recentLogins(t, undefined)).toEqual([]);
  const sessions = sessionsOf(t, [{ id: 's1', browser: 'Chrome 120 on Windows 10', ip: '1.2.3.4', created_at: '2026-11-25T08:00:00Z', last_seen_at: '2026-11-25T09:00:00Z', current: false }, { id: 's2', browser: '', ip: '' }]);
  expect(sessions[0]).toMatchObject({ id: 's1', browser: 'Chrome 120 on Windows 10', ip: '1.2.3.4', asked: false });
  expect(sessions[0].loggedIn).toMatch(/^2026-11-25 \d\d:00:00$/);
  expect(sessions[1].browser).toBe('An unknown browser');
  // The session a login message asks about is marked; no other, and none without one.
  expect(sessionsOf(t, [{ id: 's1' }, { id: 's2' }], 's2').map((s) => s.asked)).toEqual([false, true]);
  expect(sessionsOf(t, [{ id: '' }]).map((s) => s.asked)).toEqual([false]);
});
