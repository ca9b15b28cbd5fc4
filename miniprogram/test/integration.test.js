/**
 * @jest-environment node
 */
// The page's request logic (lib/api.js, no WeChat UI) against the real scanlogin app in
// demo mode, started here (test/server.js): the browser side registers a scene and listens
// on its socket; the "phone" gets a wx.login code from the WeChat simulator, scans and
// confirms; the browser's socket receives `confirmed`.
const WebSocket = require('ws');
const { createApi, scanFlow } = require('../lib/api.js');
const server = require('./server.js');

let running;
beforeAll(async () => {
  running = await server.start();
}, 30000);
afterAll(() => running && running.stop());
const BASE = () => running.url;

function randomId() {
  const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = require('crypto').randomBytes(64);
  return Array.from(bytes).filter((b) => b < 248).slice(0, 32).map((b) => A[b % 62]).join('');
}

/** wx.request on top of fetch. */
function request({ url, method, data, header, success, fail }) {
  fetch(url, { method, headers: header, body: JSON.stringify(data) })
    .then(async (res) =>
      success({ statusCode: res.status, data: await res.json().catch(() => ({})), header: Object.fromEntries(res.headers) }),
    )
    .catch((e) => fail({ errMsg: String(e) }));
}

/** wx.uploadFile on top of fetch: a multipart form with the file and the form fields. */
function uploadFile({ url, filePath, name, formData, success, fail }) {
  const form = new FormData();
  for (const [k, v] of Object.entries(formData || {})) form.append(k, v);
  form.append(name, new Blob([require('fs').readFileSync(filePath)]), require('path').basename(filePath));
  fetch(url, { method: 'POST', body: form })
    .then(async (res) => success({ statusCode: res.status, data: await res.text(), header: Object.fromEntries(res.headers) }))
    .catch((e) => fail({ errMsg: String(e) }));
}

/** wx.login on the demo's WeChat simulator, as this person's phone. */
function wxLoginAs(openid) {
  return ({ success, fail }) =>
    fetch(`${BASE()}/__wechat/__sim/login_code`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ openid }),
    })
      .then((res) => res.json())
      .then((body) => success({ code: body.code }))
      .catch((e) => fail({ errMsg: String(e) }));
}

/** The login page: a scene with its code, and a socket that has said hello. */
async function browserWaits() {
  const scene = randomId();
  const key = randomId();
  const res = await fetch(`${BASE()}/miniapp/getwxacodeunlimit`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ scene, key }),
  });
  expect(res.status).toBe(200);
  const socket = new WebSocket(`${BASE().replace('http', 'ws')}/websocket?clientid=${scene}`);
  const events = [];
  const waiters = [];
  socket.on('message', (m) => {
    events.push(JSON.parse(String(m)));
    waiters.splice(0).forEach((w) => w());
  });
  await new Promise((resolve, reject) => {
    socket.on('open', resolve);
    socket.on('error', reject);
  });
  socket.send(JSON.stringify({ type: 'hello', key }));
  const next = async (type) => {
    const deadline = Date.now() + 5000;
    while (!events.some((e) => e.type === type)) {
      if (Date.now() > deadline) throw new Error(`no ${type} event; got ${JSON.stringify(events)}`);
      await new Promise((r) => {
        waiters.push(r);
        setTimeout(r, 200);
      });
    }
    return events.find((e) => e.type === type);
  };
  return { scene, key, socket, next };
}

/**
 * Logs `openid` in on the web through the mini program's own flow (scan, confirm, the
 * login page's ticket exchanged): a probe of the browser's session, `me`.
 */
async function loggedInOnTheWeb(api, openid, nickname) {
  const browser = await browserWaits();
  const asked = await scanFlow({ api, wxLogin: wxLoginAs(openid), scene: browser.scene });
  await api.confirm(browser.scene, asked.scanToken, { nickname, avatar_url: '' });
  const confirmed = await browser.next('confirmed');
  const session = await fetch(`${BASE()}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ scene: browser.scene, ticket: confirmed.ticket, key: browser.key }),
  });
  const cookie = session.headers.get('set-cookie').split(';')[0];
  browser.socket.close();
  // `/api/me`'s status for this browser: 200 while it is logged in, 401 once it is not.
  const me = () => fetch(`${BASE()}/api/me`, { headers: { cookie } }).then((r) => r.status);
  return { me };
}

test('scan and confirm from the mini program logic: the login page hears confirmed', async () => {
  const browser = await browserWaits();
  const api = createApi({ request, apiBase: BASE() });
  const asked = await scanFlow({ api, wxLogin: wxLoginAs('o-mini-program'), scene: browser.scene });
  expect(asked.browser.ip).toBe('127.0.0.x');
  expect(asked.browser.family).toEqual(expect.any(String));
  await browser.next('scanned');
  await api.confirm(browser.scene, asked.scanToken, { nickname: '小程序用户', avatar_url: '' });
  const confirmed = await browser.next('confirmed');
  expect(confirmed.ticket).toEqual(expect.any(String));
  // The page exchanges the ticket and is logged in as that person.
  const session = await fetch(`${BASE()}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ scene: browser.scene, ticket: confirmed.ticket, key: browser.key }),
  });
  expect(session.status).toBe(200);
  expect((await session.json()).user.nickname).toBe('小程序用户');
  browser.socket.close();
});

test('cancel from the mini program logic: the login page hears cancelled', async () => {
  const browser = await browserWaits();
  const api = createApi({ request, apiBase: BASE() });
  const asked = await scanFlow({ api, wxLogin: wxLoginAs('o-mini-program-2'), scene: browser.scene });
  await api.cancel(browser.scene, asked.scanToken);
  await browser.next('cancelled');
  browser.socket.close();
});

test('the server answers the error screens the page maps', async () => {
  const api = createApi({ request, apiBase: BASE() });
  await expect(scanFlow({ api, wxLogin: wxLoginAs('o-x'), scene: randomId() })).rejects.toMatchObject({ kind: 'expired' });
  const browser = await browserWaits();
  await scanFlow({ api, wxLogin: wxLoginAs('o-first'), scene: browser.scene });
  await expect(scanFlow({ api, wxLogin: wxLoginAs('o-second'), scene: browser.scene })).rejects.toMatchObject({ kind: 'used' });
  await expect(api.scan(browser.scene, 'never-issued')).rejects.toMatchObject({ kind: 'rescan' });
  browser.socket.close();
  const offline = createApi({ request, apiBase: 'http://127.0.0.1:9' });
  await expect(offline.scan(browser.scene, 'x')).rejects.toMatchObject({ kind: 'network' });
});

test('a repeated confirm (a lost answer) succeeds and mints no second ticket; cancel after it says confirmed', async () => {
  const browser = await browserWaits();
  const api = createApi({ request, apiBase: BASE() });
  const asked = await scanFlow({ api, wxLogin: wxLoginAs('o-twice'), scene: browser.scene });
  await api.confirm(browser.scene, asked.scanToken, null);
  const first = await browser.next('confirmed');
  await expect(api.confirm(browser.scene, asked.scanToken, null)).resolves.toBeNull();
  await expect(api.cancel(browser.scene, asked.scanToken)).rejects.toMatchObject({ kind: 'confirmed', status: 409 });
  const session = await fetch(`${BASE()}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ scene: browser.scene, ticket: first.ticket, key: browser.key }),
  });
  expect(session.status).toBe(200);
  browser.socket.close();
});

test('an avatar chosen on the phone is uploaded, re-encoded and served by the server', async () => {
  const browser = await browserWaits();
  const api = createApi({ request, uploadFile, apiBase: BASE() });
  const asked = await scanFlow({ api, wxLogin: wxLoginAs('o-avatar'), scene: browser.scene });
  const file = require('path').join(__dirname, 'fixtures', 'avatar.png');
  const url = await api.uploadAvatar(browser.scene, asked.scanToken, file);
  expect(url).toMatch(/^\/avatars\/[A-Za-z0-9_-]{43}$/);
  const image = await fetch(`${BASE()}${url}`);
  expect(image.status).toBe(200);
  expect(image.headers.get('content-type')).toBe('image/jpeg');
  expect(image.headers.get('cache-control')).toMatch(/max-age=\d{6,}/);
  await api.confirm(browser.scene, asked.scanToken, { nickname: 'Avatar', avatar_url: url });
  const confirmed = await browser.next('confirmed');
  const session = await fetch(`${BASE()}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ scene: browser.scene, ticket: confirmed.ticket, key: browser.key }),
  });
  expect((await session.json()).user.avatar_url).toBe(url);
  browser.socket.close();
});

test('the account page logic against the server: my logins, log out everywhere, delete me', async () => {
  const { accountActions } = require('../lib/account.js');
  const api = createApi({ request, apiBase: BASE() });
  const openid = 'o-mini-program-account';
  // Logged in once on the web through the mini program's own flow.
  const { me } = await loggedInOnTheWeb(api, openid, 'Account');
  expect(await me()).toBe(200);

  const actions = accountActions(api, wxLoginAs(openid));
  const account = await actions.load();
  expect(account.user.nickname).toBe('Account');
  expect(account.recent.some((e) => e.event === 'login_confirmed')).toBe(true);
  expect(account.sessions).toHaveLength(1);
  expect((await actions.logoutEverywhere()).ended).toBe(1);
  expect(await me()).toBe(401);
  await actions.deleteAccount();
  await expect(actions.load()).rejects.toMatchObject({ kind: 'noaccount', status: 404 });
});

test('end_session from the account page logic: one login ends, the other stays; again, or by anyone else, is 404 ended', async () => {
  const { accountActions } = require('../lib/account.js');
  const api = createApi({ request, apiBase: BASE() });
  const openid = 'o-mini-program-end-session';
  const browsers = [await loggedInOnTheWeb(api, openid, 'Ends'), await loggedInOnTheWeb(api, openid, 'Ends')];
  const actions = accountActions(api, wxLoginAs(openid));
  const { sessions } = await actions.load();
  expect(sessions).toHaveLength(2);
  const [ending, kept] = sessions;

  await expect(actions.endSession(ending.id)).resolves.toEqual({ ended: 1 });
  // Exactly one of the two browsers is logged out (the list does not say which is which).
  expect((await Promise.all(browsers.map((b) => b.me()))).sort()).toEqual([200, 401]);
  expect((await actions.load()).sessions.map((s) => s.id)).toEqual([kept.id]);
  // Ended already: 404, which the page words as "already ended".
  await expect(actions.endSession(ending.id)).rejects.toMatchObject({ kind: 'ended', status: 404 });

  // Someone else's session, whether they have an account or none, is the same 404, and
  // ends nothing.
  await loggedInOnTheWeb(api, 'o-mini-program-someone-else', 'Else');
  await expect(accountActions(api, wxLoginAs('o-mini-program-someone-else')).endSession(kept.id)).rejects.toMatchObject({ kind: 'ended', status: 404 });
  await expect(accountActions(api, wxLoginAs('o-mini-program-no-account')).endSession(kept.id)).rejects.toMatchObject({ kind: 'ended', status: 404 });
  expect((await Promise.all(browsers.map((b) => b.me()))).sort()).toEqual([200, 401]);
});
