/**
 * @jest-environment jsdom
 */
// The login page in miniprogram-simulate, with wx mocked (no server): its states and
// transitions, every error screen, and what real people do (double taps, lost answers,
// avatars, the privacy prompt, expiry, opening it without a code).
const path = require('path');
const simulate = require('miniprogram-simulate');

const SCENE = 'Sc3neSc3neSc3neSc3neSc3neSc3neSc';
const BROWSER = { family: 'Chrome', version: '156', os: 'Windows 10', ip: '203.0.113.9', requested_at: '2026-11-25T08:00:00Z' };

/** Answers for wx.request by path: [status, body, header?], 'fail', or 'hold' (never answers). */
let answers;
let requests;
let uploads;
let privacyListener;
let networkListeners;
/** What wx.getEnterOptionsSync() says: how WeChat opened the mini program. */
let enter;

function mockWx(language = 'zh_CN') {
  requests = [];
  uploads = [];
  privacyListener = null;
  networkListeners = [];
  global.wx = {
    getAppBaseInfo: () => ({ language }),
    getEnterOptionsSync: jest.fn(() => enter),
    reLaunch: jest.fn(),
    navigateTo: jest.fn(),
    requestSubscribeMessage: jest.fn(),
    compressImage: jest.fn(({ src, success }) => setTimeout(() => success({ tempFilePath: `${src}.small.jpg` }), 0)),
    onNetworkStatusChange: jest.fn((listener) => networkListeners.push(listener)),
    offNetworkStatusChange: jest.fn((listener) => {
      networkListeners = networkListeners.filter((l) => l !== listener);
    }),
    setNavigationBarTitle: jest.fn(),
    onNeedPrivacyAuthorization: jest.fn((listener) => {
      privacyListener = listener;
    }),
    openPrivacyContract: jest.fn(),
    scanCode: jest.fn(),
    login: jest.fn(({ success }) => success({ code: `login-code-${wx.login.mock.calls.length}` })),
    request: jest.fn((options) => {
      requests.push(options);
      const pathname = options.url.replace(/^https?:\/\/[^/]+/, '');
      const answer = answers[pathname];
      if (answer === 'hold') return;
      setTimeout(() => {
        if (!answer || answer === 'fail') options.fail({ errMsg: 'request:fail' });
        else options.success({ statusCode: answer[0], data: answer[1], header: answer[2] || {} });
      }, 0);
    }),
    uploadFile: jest.fn((options) => {
      uploads.push(options);
      setTimeout(() => options.success({ statusCode: 200, data: JSON.stringify({ code: 200, msg: 'ok', data: { avatar_url: '/avatars/a1' } }) }), 0);
    }),
  };
}

const ok = (data) => [200, { code: 200, msg: 'ok', data }];
const err = (status, data = null, header = {}) => [status, { code: 400, msg: 'no', data }, header];

/** Waits until `condition()` holds (a real-timer poll), or fails after 2 s. */
async function until(condition) {
  const deadline = Date.now() + 2000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition never held: ${condition}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

const PAGE = path.join(__dirname, '../pages/login/login');
let pageId;

async function openPage(options = { scene: SCENE }) {
  // Loaded once: miniprogram-simulate registers a path only the first time.
  pageId = pageId || simulate.load(PAGE);
  const page = simulate.render(pageId);
  page.attach(document.createElement('parent-wrapper'));
  await page.instance.onLoad(options);
  return page;
}

const text = (page, selector) => page.querySelector(selector) && page.querySelector(selector).dom.textContent.trim();
const sent = (p) => requests.filter((r) => r.url.endsWith(p));
const submit = (page, nickname = '') => page.instance.onSubmit({ detail: { value: { nickname } } });

beforeEach(() => {
  enter = { scene: 1047, path: 'pages/login/login', query: { scene: SCENE } };
  // The page logs failed steps (lib/log.js); the tests say what they expect instead.
  jest.spyOn(console, 'warn').mockImplementation(() => {});
  jest.spyOn(console, 'info').mockImplementation(() => {});
  answers = {
    '/api/mp/scan': ok({ scan_token: 'scan-token', expires_in: 100, browser: BROWSER }),
    '/api/mp/confirm': ok(null),
    '/api/mp/cancel': ok(null),
  };
  mockWx();
});

afterEach(() => {
  jest.useRealTimers();
  jest.restoreAllMocks();
  require('../config.js').notifyTemplateId = '';
});

test('it logs in, scans, and shows which browser is asking, in words of its own', async () => {
  const page = await openPage({ scene: encodeURIComponent(SCENE) });
  expect(wx.login).toHaveBeenCalledTimes(1);
  expect(requests[0].data).toEqual({ scene: SCENE, code: 'login-code-1' });
  expect(page.data.state).toBe('asking');
  expect(text(page, '.browser-agent')).toBe('Windows 10 上的 Chrome 156');
  expect(text(page, '.browser-ip')).toBe('203.0.113.9');
  expect(text(page, '.browser-time')).toMatch(/^2026-11-25 \d\d:00:00$/);
  expect(text(page, '.title')).toBe('有浏览器请求登录你的账号');
  expect(text(page, '.countdown')).toBe('100 秒后过期');
  expect(wx.setNavigationBarTitle).toHaveBeenCalledWith({ title: '扫码登录' });
});

test('where the browser is comes before its address, when the server knows', async () => {
  answers['/api/mp/scan'] = ok({ scan_token: 'scan-token', expires_in: 100, browser: { ...BROWSER, place: 'Shenyang, Liaoning, CN' } });
  const page = await openPage({ scene: encodeURIComponent(SCENE) });
  expect(text(page, '.browser-ip')).toBe('Shenyang, Liaoning, CN · 203.0.113.9');
});

test('confirm sends the scan token and the nickname once WeChat has reviewed it', async () => {
  const page = await openPage();
  page.instance.onNicknameInput();
  const done = submit(page, '  小明  ');
  await until(() => page.data.busy);
  expect(sent('/api/mp/confirm')).toHaveLength(0); // waiting for nicknamereview
  page.instance.onNicknameReview({ detail: { pass: true } });
  await done;
  expect(sent('/api/mp/confirm')[0].data).toEqual({ scene: SCENE, scan_token: 'scan-token', profile: { nickname: '小明', avatar_url: '' } });
  expect(page.data.state).toBe('done');
  expect(text(page, '.done')).toBe('登录成功，可以放下手机了。');
});

test('a nickname that fails the review is left out', async () => {
  const page = await openPage();
  page.instance.onNicknameInput();
  page.instance.onNicknameReview({ detail: { pass: false } });
  await submit(page, 'bad words');
  expect(sent('/api/mp/confirm')[0].data).toEqual({ scene: SCENE, scan_token: 'scan-token' });
});

test('a double tap on confirm sends one request, and the buttons are disabled meanwhile', async () => {
  answers['/api/mp/confirm'] = 'hold';
  const page = await openPage();
  submit(page);
  submit(page);
  await until(() => sent('/api/mp/confirm').length === 1);
  expect(page.data.busy).toBe(true);
  // Refused at once while busy: awaiting it waits for nothing else.
  await page.instance.cancel();
  expect(sent('/api/mp/confirm')).toHaveLength(1);
  expect(sent('/api/mp/cancel')).toHaveLength(0);
  // The buttons' `disabled` and `loading` are bound to it (j-component keeps no such
  // attributes in its DOM, so the binding's value is what can be checked).
  expect(page.data.busy).toBe(true);
});

test('a confirm whose answer was lost is retried with the same token and ends in success', async () => {
  answers['/api/mp/confirm'] = 'fail';
  const page = await openPage();
  await submit(page);
  expect(page.data.error).toBe('network');
  answers['/api/mp/confirm'] = ok(null); // the server had confirmed: the repeat answers 200
  page.querySelector('.retry').dispatchEvent('tap');
  await until(() => page.data.state === 'done');
  expect(sent('/api/mp/confirm').map((r) => r.data.scan_token)).toEqual(['scan-token', 'scan-token']);
  expect(wx.login).toHaveBeenCalledTimes(1);
});

test('a cancel that fails on the network is retried as a cancel', async () => {
  answers['/api/mp/cancel'] = 'fail';
  const page = await openPage();
  await page.instance.cancel();
  expect(page.data.error).toBe('network');
  answers['/api/mp/cancel'] = ok(null);
  page.querySelector('.retry').dispatchEvent('tap');
  await until(() => page.data.state === 'cancelled');
  expect(sent('/api/mp/cancel')).toHaveLength(2);
  expect(sent('/api/mp/confirm')).toHaveLength(0);
});

test('cancel after a confirm went through shows the login as done', async () => {
  answers['/api/mp/cancel'] = err(409, { scene_status: 'confirmed' });
  const page = await openPage();
  await page.instance.cancel();
  expect(page.data.state).toBe('done');
});

test('a chosen avatar is uploaded and the profile carries the server URL, never the phone path', async () => {
  const page = await openPage();
  page.instance.onChooseAvatar({ detail: { avatarUrl: 'http://tmp/abc.jpg' } });
  expect(page.querySelector('.avatar')).toBeDefined(); // the chosen file, shown on the phone
  expect(page.data.avatarPath).toBe('http://tmp/abc.jpg');
  await submit(page);
  // Compressed first, and the compressed file is what is sent.
  expect(wx.compressImage).toHaveBeenCalledWith(expect.objectContaining({ src: 'http://tmp/abc.jpg', quality: 80 }));
  expect(uploads[0]).toMatchObject({ filePath: 'http://tmp/abc.jpg.small.jpg', name: 'avatar', formData: { scene: SCENE, scan_token: 'scan-token' } });
  expect(uploads[0].timeout).toBeGreaterThan(10000); // its own timeout, not the API calls'
  expect(sent('/api/mp/confirm')[0].data.profile).toEqual({ nickname: '', avatar_url: '/avatars/a1' });
});

test('an avatar the server refuses is left out, and the login goes on', async () => {
  wx.uploadFile.mockImplementation((options) =>
    setTimeout(() => options.success({ statusCode: 400, data: JSON.stringify({ code: 400, msg: 'avatar: a JPEG, PNG or WebP image', data: null }) }), 0),
  );
  const page = await openPage();
  page.instance.onChooseAvatar({ detail: { avatarUrl: 'http://tmp/abc.heic' } });
  await submit(page);
  expect(page.data.state).toBe('done');
  expect(sent('/api/mp/confirm')[0].data).toEqual({ scene: SCENE, scan_token: 'scan-token' });
});

test('a confirm after a cancel went through shows cancelled', async () => {
  answers['/api/mp/confirm'] = err(409, { scene_status: 'cancelled' });
  const page = await openPage();
  await submit(page);
  expect(page.data.state).toBe('cancelled');
});

test('a double tap on "scan again" scans once', async () => {
  answers['/api/mp/confirm'] = err(401);
  const page = await openPage();
  await submit(page);
  answers['/api/mp/scan'] = 'hold';
  page.querySelector('.rescan').dispatchEvent('tap');
  await until(() => sent('/api/mp/scan').length === 2);
  // The second tap, while the first one's scan is in flight, is refused at once.
  await page.instance.rescan();
  expect(sent('/api/mp/scan')).toHaveLength(2); // the first scan, and one more
});

test('screens without a retry offer to scan another code', async () => {
  answers['/api/mp/scan'] = err(404);
  const page = await openPage();
  expect(page.data.error).toBe('expired');
  wx.scanCode.mockImplementation(({ success }) => success({ path: `pages/login/login?scene=${SCENE}` }));
  answers['/api/mp/scan'] = ok({ scan_token: 'scan-token', expires_in: 100, browser: BROWSER });
  page.querySelector('.scan-other').dispatchEvent('tap');
  await until(() => page.data.state === 'asking');
  const network = (answers['/api/mp/scan'] = 'fail', await openPage());
  expect(network.querySelector('.scan-other')).toBeUndefined();
});

test('the privacy prompt appears when WeChat asks, and agreeing answers WeChat', async () => {
  const page = await openPage();
  const resolve = jest.fn();
  privacyListener(resolve, { referrer: 'chooseAvatar' });
  await until(() => page.querySelector('.privacy'));
  expect(text(page, '.privacy-title')).toBe('隐私保护提示');
  // What WeChat calls when the open-type="agreePrivacyAuthorization" button is tapped
  // (j-component does not fire open-type events).
  page.instance.onAgreePrivacy();
  expect(resolve).toHaveBeenCalledWith({ buttonId: 'agree-privacy', event: 'agree' });
  await until(() => !page.querySelector('.privacy'));
  const declined = jest.fn();
  privacyListener(declined, {});
  await until(() => page.querySelector('.privacy'));
  page.querySelector('.privacy-decline').dispatchEvent('tap');
  await until(() => declined.mock.calls.length === 1);
  expect(declined).toHaveBeenCalledWith({ event: 'disagree' });
});

test('a refused scan token (401) asks to scan again, which logs in afresh', async () => {
  answers['/api/mp/confirm'] = err(401);
  const page = await openPage();
  await submit(page);
  expect(page.data.error).toBe('rescan');
  expect(text(page, '.error')).toContain('重新扫码');
  expect(page.querySelector('.retry')).toBeUndefined();
  page.querySelector('.rescan').dispatchEvent('tap');
  await until(() => page.data.state === 'asking');
  expect(wx.login).toHaveBeenCalledTimes(2);
  expect(sent('/api/mp/scan')[1].data.code).toBe('login-code-2');
});

test('429 waits for Retry-After, then tries the same step again by itself', async () => {
  answers['/api/mp/scan'] = err(429, null, { 'Retry-After': '2' });
  jest.useFakeTimers();
  const opened = openPage();
  await jest.advanceTimersByTimeAsync(1);
  const page = await opened;
  expect(page.data.error).toBe('limited');
  expect(text(page, '.error')).toContain('2 秒后自动重试');
  answers['/api/mp/scan'] = ok({ scan_token: 'scan-token', expires_in: 100, browser: BROWSER });
  await jest.advanceTimersByTimeAsync(1900);
  expect(sent('/api/mp/scan')).toHaveLength(1);
  await jest.advanceTimersByTimeAsync(200);
  expect(sent('/api/mp/scan')).toHaveLength(2);
  expect(page.data.state).toBe('asking');
});

test('400 has a clear screen of its own', async () => {
  answers['/api/mp/scan'] = err(400);
  const page = await openPage();
  expect(page.data.error).toBe('badrequest');
  expect(text(page, '.error')).toContain('请求有误');
});

test('the countdown reaches zero: the expired screen replaces confirm', async () => {
  answers['/api/mp/scan'] = ok({ scan_token: 'scan-token', expires_in: 3, browser: BROWSER });
  jest.useFakeTimers();
  const opened = openPage();
  await jest.advanceTimersByTimeAsync(1);
  const page = await opened;
  expect(text(page, '.countdown')).toBe('3 秒后过期');
  await jest.advanceTimersByTimeAsync(1000);
  expect(text(page, '.countdown')).toBe('2 秒后过期');
  await jest.advanceTimersByTimeAsync(2100);
  expect(page.data.error).toBe('expired');
  expect(page.querySelector('.confirm')).toBeUndefined();
});

test('opened without a code it hands over to the home page, and asks nothing', async () => {
  const page = await openPage({});
  expect(wx.reLaunch).toHaveBeenCalledWith({ url: '/pages/home/home' });
  expect(requests).toHaveLength(0);
  expect(wx.login).not.toHaveBeenCalled();
  expect(page.data.state).toBe('loading');
});

test('opened by "Open in WeChat" (a URL link or scheme with query scene=<id>), it scans that scene', async () => {
  // The login page on the phone itself asked WeChat for wxa/generate_urllink (or
  // wxa/generatescheme) with `query: "scene=<id>"`: WeChat opens the page with the query
  // as its options, not URL-encoded, and launch scene 1194 (URL link) or 1065 (scheme).
  const page = await openPage({ scene: SCENE });
  expect(sent('/api/mp/scan')[0].data).toEqual({ scene: SCENE, code: 'login-code-1' });
  expect(page.data.state).toBe('asking');
});

test('a malformed scene shows its screen and makes no request', async () => {
  const page = await openPage({ scene: 'not-a-scene' });
  expect(page.data.state).toBe('error');
  expect(page.data.error).toBe('invalid');
  expect(wx.login).not.toHaveBeenCalled();
  expect(requests).toHaveLength(0);
  expect(page.querySelector('.retry')).toBeUndefined();
});

test.each([
  ['expired', err(404), '二维码已过期', false],
  ['used', err(409), '已经被使用', false],
  ['server', err(500), '服务器出错', true],
  ['network', 'fail', '网络连接失败', true],
])('the %s screen', async (kind, answer, words, canRetry) => {
  answers['/api/mp/scan'] = answer;
  const page = await openPage();
  expect(page.data.state).toBe('error');
  expect(page.data.error).toBe(kind);
  expect(text(page, '.error')).toContain(words);
  expect(!!page.querySelector('.retry')).toBe(canRetry);
});

test.each([
  ['not_invited', { refusal: 'not_invited' }, /只允许受邀请的人.*向网站管理员索取邀请/, /invited people only.*administrator for an invitation/],
  ['closed', { refusal: 'closed' }, /只允许已有账号的用户.*向网站管理员申请/, /existing users only.*administrator for access/],
  ['disabled', { refusal: 'disabled' }, /账号已被管理员停用.*联系网站管理员/, /account was disabled.*Contact the site's administrator/],
  // The answer names no application, so neither do the words.
  ['not_allowed', { refusal: 'not_allowed' }, /^你没有使用这个应用的权限。.*向网站管理员申请/, /^You are not allowed to use this application\..*administrator for access/],
  ['invitation_invalid', { refusal: 'invitation_invalid' }, /邀请已失效.*索取新的邀请/, /invitation .*no longer valid.*administrator for a new one/],
  ['an unknown reason', { refusal: 'something_new' }, /^你无法登录这个网站。.*联系网站管理员/, /^You cannot log in to this site\..*administrator/],
  ['no reason', null, /^你无法登录这个网站。.*联系网站管理员/, /^You cannot log in to this site\..*administrator/],
])('a refused scan (403, %s) says why and whom to ask, in Chinese and English, with no retry', async (_, data, zh, en) => {
  answers['/api/mp/scan'] = [403, { code: 403, msg: 'You may not log in here.', data }];
  const page = await openPage();
  expect(page.data.state).toBe('error');
  expect(page.data.error).toBe('refused');
  expect(text(page, '.error')).toMatch(zh);
  // Trying again meets the same rule: no retry, no new scan of this code. Another code may
  // be one this person is admitted to.
  expect(page.querySelector('.retry')).toBeUndefined();
  expect(page.querySelector('.rescan')).toBeUndefined();
  expect(text(page, '.scan-other')).toBe('扫描其他二维码');
  mockWx('en');
  const english = await openPage();
  expect(text(english, '.error')).toMatch(en);
  expect(english.querySelector('.retry')).toBeUndefined();
  expect(english.querySelector('.rescan')).toBeUndefined();
  expect(text(english, '.scan-other')).toBe('Scan another code');
});

test('a login for an application names it above the browser, with its logo', async () => {
  const application = { client_id: 'grafana', name: 'Grafana', logo_uri: 'https://grafana.example/logo.svg' };
  answers['/api/mp/scan'] = ok({ scan_token: 'scan-token', expires_in: 100, browser: BROWSER, application });
  const page = await openPage();
  expect(text(page, '.application-name')).toBe('Grafana 请求使用你的微信登录');
  expect(page.data.applicationLogo).toBe(application.logo_uri);
  expect(page.querySelector('.application-logo')).toBeTruthy();
  mockWx('en');
  const english = await openPage();
  expect(text(english, '.application-name')).toBe('Grafana wants you to log in');
  // A logo that is not https is not shown; the name still is.
  answers['/api/mp/scan'] = ok({ scan_token: 'scan-token', expires_in: 100, browser: BROWSER, application: { ...application, logo_uri: 'http://x/l.png' } });
  const plain = await openPage();
  expect(plain.data.applicationLogo).toBe('');
  expect(plain.querySelector('.application-logo')).toBeFalsy();
  expect(text(plain, '.application-name')).toBe('Grafana wants you to log in');
});

test('the scan the site asks before deleting the account says so, on the confirm button too', async () => {
  answers['/api/mp/scan'] = ok({ scan_token: 'scan-token', expires_in: 100, browser: BROWSER, purpose: 'delete_account' });
  const page = await openPage();
  expect(text(page, '.deleting')).toMatch(/注销你的账号/);
  expect(text(page, '.confirm')).toBe('确认注销账号');
  mockWx('en');
  answers['/api/mp/scan'] = ok({ scan_token: 'scan-token', expires_in: 100, browser: BROWSER });
  const login = await openPage();
  expect(login.querySelector('.deleting')).toBeFalsy();
  expect(text(login, '.confirm')).toBe('Confirm login');
});

test('a login for the site itself names no application', async () => {
  const page = await openPage();
  expect(page.data.state).toBe('asking');
  expect(page.querySelector('.application')).toBeFalsy();
});

test('English when WeChat is in English: titles, screens and the browser', async () => {
  mockWx('en');
  const page = await openPage();
  expect(wx.setNavigationBarTitle).toHaveBeenCalledWith({ title: 'Scan to log in' });
  expect(text(page, '.title')).toBe('A browser asks to log in as you');
  expect(text(page, '.browser-agent')).toBe('Chrome 156 on Windows 10');
  expect(text(page, '.confirm')).toBe('Confirm login');
  answers['/api/mp/scan'] = err(401);
  const rescan = await openPage();
  expect(text(rescan, '.rescan')).toBe('Scan again');
  answers['/api/mp/scan'] = err(404);
  const expired = await openPage();
  expect(text(expired, '.error')).toContain('refresh the code on your computer');
});

// ---- The way home (item: home page) ---------------------------------------------------

test.each([
  ['logged in', async (page) => submit(page)],
  ['cancelled', async (page) => page.instance.cancel()],
])('the "%s" screen has a button back to home', async (_, end) => {
  const page = await openPage();
  await end(page);
  expect(['done', 'cancelled']).toContain(page.data.state);
  page.querySelector('.home').dispatchEvent('tap');
  await until(() => wx.reLaunch.mock.calls.length === 1);
  expect(wx.reLaunch).toHaveBeenCalledWith({ url: '/pages/home/home' });
});

test.each([
  ['expired', err(404)],
  ['used', err(409)],
  ['refused', err(403)],
  ['badrequest', err(400)],
  ['server', err(500)],
  ['network', 'fail'],
  ['rescan', err(401)],
])('the %s error screen has a button back to home', async (kind, answer) => {
  answers['/api/mp/scan'] = answer;
  const page = await openPage();
  expect(page.data.error).toBe(kind);
  page.querySelector('.home').dispatchEvent('tap');
  await until(() => wx.reLaunch.mock.calls.length === 1);
  expect(wx.reLaunch).toHaveBeenCalledWith({ url: '/pages/home/home' });
});

test('a hot start from the recent list after the login ended lands on home', async () => {
  const page = await openPage();
  await submit(page);
  expect(text(page, '.done')).toBe('登录成功，可以放下手机了。');
  // The person leaves; half an hour later WeChat restores the page (no path): onShow.
  page.instance.onHide();
  enter = { scene: 1001, path: 'pages/login/login', query: {} };
  page.instance.onShow();
  expect(wx.reLaunch).toHaveBeenCalledWith({ url: '/pages/home/home' });
});

test('coming back to a login in progress, or to a step that can be retried, keeps the page', async () => {
  const page = await openPage();
  page.instance.onHide(); // e.g. to check something in a chat, or the avatar picker
  page.instance.onShow();
  expect(page.data.state).toBe('asking');
  answers['/api/mp/confirm'] = 'fail';
  await submit(page);
  expect(page.data.error).toBe('network');
  page.instance.onHide(); // to turn the network on
  page.instance.onShow();
  expect(wx.reLaunch).not.toHaveBeenCalled();
});

test('the camera opened by "scan another code" on an end screen is not a hot start', async () => {
  answers['/api/mp/scan'] = err(404);
  const page = await openPage();
  wx.scanCode.mockImplementation(() => {}); // the camera is open
  page.querySelector('.scan-other').dispatchEvent('tap');
  await until(() => wx.scanCode.mock.calls.length === 1);
  page.instance.onHide();
  page.instance.onShow();
  expect(wx.reLaunch).not.toHaveBeenCalled();
});

test('a hot start with another code is left to WeChat, which reLaunches to it', async () => {
  const page = await openPage();
  await submit(page);
  page.instance.onHide();
  enter = { scene: 1047, path: 'pages/login/login', query: { scene: 'An0therAn0therAn0therAn0therAn0t' } };
  page.instance.onShow();
  expect(wx.reLaunch).not.toHaveBeenCalled();
});

// ---- Relayed codes (item: entry scenes) -------------------------------------------------

test.each([1048, 1049])('a code from a picture (entry scene %i) is refused before the server hears of it', async (scene) => {
  enter = { scene, path: 'pages/login/login', query: { scene: SCENE } };
  const page = await openPage();
  expect(page.data.state).toBe('error');
  expect(page.data.error).toBe('relayed');
  expect(wx.login).not.toHaveBeenCalled();
  expect(requests).toHaveLength(0);
  expect(text(page, '.error')).toContain('有人可能把登录二维码的图片发给你');
  expect(text(page, '.error')).toContain('请用相机扫描你面前屏幕上的二维码');
  expect(page.querySelector('.retry')).toBeUndefined();
  // Its way on: the camera, then the same flow.
  expect(text(page, '.scan-other')).toBe('用相机扫码');
  wx.scanCode.mockImplementation(({ success }) => success({ path: `pages/login/login?scene=${SCENE}` }));
  page.querySelector('.scan-other').dispatchEvent('tap');
  await until(() => page.data.state === 'asking');
  expect(wx.scanCode.mock.calls[0][0]).toMatchObject({ onlyFromCamera: true, scanType: ['wxCode', 'qrCode'] });
  expect(text(page, '.warn')).toBe('请确认这是你面前的电脑，否则请取消。');
  mockWx('en');
  const english = await openPage();
  expect(text(english, '.error')).toMatch(/someone may have sent you a picture of a login code to take over your account.*Scan the code on the screen in front of you with the camera instead/);
  expect(text(english, '.scan-other')).toBe('Scan with the camera');
});

test('a code the home page scanned with the camera is not refused for how the mini program was opened', async () => {
  enter = { scene: 1048, path: 'pages/login/login', query: { scene: 'An0therAn0therAn0therAn0therAn0t' } };
  require('../lib/entry.js').markCameraScan(SCENE);
  const page = await openPage({ scene: SCENE });
  expect(page.data.state).toBe('asking');
});

test.each([1194, 1065])('opened by a link from this phone\'s browser (entry scene %i), it says the login is for that browser', async (scene) => {
  enter = { scene, path: 'pages/login/login', query: { scene: SCENE } };
  const page = await openPage();
  expect(page.data.state).toBe('asking');
  expect(text(page, '.warn')).toContain('在这台手机的浏览器上登录');
  expect(text(page, '.warn')).not.toContain('面前的电脑');
  mockWx('en');
  const english = await openPage();
  expect(text(english, '.warn')).toContain("logs you in on this phone's browser");
  expect(text(english, '.warn')).not.toContain('computer in front of you');
});

// ---- The avatar never blocks a login ---------------------------------------------------

test.each([
  ['no network', (o) => o.fail({ errMsg: 'uploadFile:fail' })],
  ['a timeout', (o) => o.fail({ errMsg: 'uploadFile:fail timeout' })],
  ['a server error (500)', (o) => o.success({ statusCode: 500, data: '{"code":500,"msg":"boom","data":null}' })],
  ['a bad gateway (502, not JSON)', (o) => o.success({ statusCode: 502, data: '<html>bad gateway</html>' })],
])('an avatar upload that fails with %s leaves the avatar out, and the login goes on', async (_, answer) => {
  wx.uploadFile.mockImplementation((options) => setTimeout(() => answer(options), 0));
  const page = await openPage();
  page.instance.onChooseAvatar({ detail: { avatarUrl: 'http://tmp/abc.jpg' } });
  await submit(page);
  expect(page.data.state).toBe('done');
  expect(sent('/api/mp/confirm')[0].data).toEqual({ scene: SCENE, scan_token: 'scan-token' });
  expect(page.data.avatarPath).toBe('');
});

test('an image that cannot be compressed is uploaded as it is', async () => {
  wx.compressImage.mockImplementation(({ fail }) => setTimeout(() => fail({ errMsg: 'compressImage:fail' }), 0));
  const page = await openPage();
  page.instance.onChooseAvatar({ detail: { avatarUrl: 'http://tmp/abc.png' } });
  await submit(page);
  expect(uploads[0].filePath).toBe('http://tmp/abc.png');
  expect(page.data.state).toBe('done');
});

// ---- The network's return ----------------------------------------------------------------

test('a step the network interrupted is tried again by itself when the network returns', async () => {
  answers['/api/mp/confirm'] = 'fail';
  const page = await openPage();
  await submit(page);
  expect(page.data.error).toBe('network');
  expect(networkListeners).toHaveLength(1);
  answers['/api/mp/confirm'] = ok(null);
  networkListeners.forEach((l) => l({ isConnected: false, networkType: 'none' }));
  expect(sent('/api/mp/confirm')).toHaveLength(1);
  networkListeners.slice().forEach((l) => l({ isConnected: true, networkType: 'wifi' }));
  await until(() => page.data.state === 'done');
  expect(sent('/api/mp/confirm')).toHaveLength(2);
  expect(networkListeners).toHaveLength(0); // the app-wide listener is removed
});

test('a retry tapped before the network returns stops waiting for it', async () => {
  answers['/api/mp/scan'] = 'fail';
  const page = await openPage();
  expect(networkListeners).toHaveLength(1);
  answers['/api/mp/scan'] = ok({ scan_token: 'scan-token', expires_in: 100, browser: BROWSER });
  page.querySelector('.retry').dispatchEvent('tap');
  await until(() => page.data.state === 'asking');
  expect(networkListeners).toHaveLength(0);
});

// ---- Accessibility -----------------------------------------------------------------------

test('the countdown is announced at 60, 30 and 10 seconds left, not every second', async () => {
  answers['/api/mp/scan'] = ok({ scan_token: 'scan-token', expires_in: 62, browser: BROWSER });
  jest.useFakeTimers();
  const opened = openPage();
  await jest.advanceTimersByTimeAsync(1);
  const page = await opened;
  const heard = new Set();
  for (let s = 0; s < 62; s += 1) {
    heard.add(page.data.announcement);
    await jest.advanceTimersByTimeAsync(1000);
  }
  expect([...heard]).toEqual(['', '60 秒后过期', '30 秒后过期', '10 秒后过期']);
  expect(page.querySelector('.countdown')).toBeUndefined(); // the expired screen announces itself
  expect(page.data.error).toBe('expired');
});

/** The attributes of the element with `cls` in a template (j-component keeps none of aria-*). */
function attributesOf(template, cls) {
  const tag = require('fs')
    .readFileSync(path.join(__dirname, '..', template), 'utf8')
    .match(new RegExp(`<[a-z-]+[^>]*class="[^"]*\\b${cls}\\b[^"]*"[^>]*>`));
  return tag ? tag[0] : '';
}

test('in the template: only the coarse announcement is live, the dialog is a modal dialog, the guide a link', () => {
  expect(attributesOf('pages/login/login.wxml', 'countdown')).not.toContain('aria-live');
  expect(attributesOf('pages/login/login.wxml', 'announcement')).toContain('aria-live="polite"');
  const dialog = attributesOf('pages/login/login.wxml', 'privacy');
  expect(dialog).toContain('aria-role="dialog"');
  expect(dialog).toContain('aria-modal="true"');
  expect(attributesOf('pages/login/login.wxml', 'privacy-guide')).toContain('aria-role="link"');
  expect(attributesOf('pages/login/login.wxml', 'confirm')).toContain('bindtap="onConfirmTap"');
});

// ---- Opt-in notifications ----------------------------------------------------------------

test('with a template configured, tapping confirm first asks for notifications, and a refusal still confirms', async () => {
  require('../config.js').notifyTemplateId = 'tmpl-1';
  wx.requestSubscribeMessage.mockImplementation(({ success }) => success && success({ errMsg: 'requestSubscribeMessage:ok', 'tmpl-1': 'reject' }));
  const page = await openPage();
  const before = requests.length;
  // The tap handler (bound on the confirm button: see the template test) asks
  // synchronously, before it returns and before anything else happens.
  page.instance.onConfirmTap();
  expect(wx.requestSubscribeMessage).toHaveBeenCalledTimes(1);
  expect(wx.requestSubscribeMessage.mock.calls[0][0]).toMatchObject({ tmplIds: ['tmpl-1'] });
  expect(requests).toHaveLength(before);
  await submit(page); // the same button submits the form
  expect(page.data.state).toBe('done');
  expect(wx.requestSubscribeMessage.mock.invocationCallOrder[0]).toBeLessThan(wx.request.mock.invocationCallOrder.at(-1));
  // Asked, whatever the answer: the server sends the message, WeChat refuses it if declined.
  expect(sent('/api/mp/confirm')[0].data).toEqual({ scene: SCENE, scan_token: 'scan-token', notify: true });
});

test('the confirm does not wait for the answer to the subscription request', async () => {
  require('../config.js').notifyTemplateId = 'tmpl-1';
  // The dialog is still open (never answered) when the form submits.
  const page = await openPage();
  page.instance.onConfirmTap();
  await submit(page);
  expect(page.data.state).toBe('done');
  expect(sent('/api/mp/confirm')[0].data).toEqual({ scene: SCENE, scan_token: 'scan-token', notify: true });
});

test('a retried confirm still says it asked; a new scan of the code has to ask again', async () => {
  require('../config.js').notifyTemplateId = 'tmpl-1';
  answers['/api/mp/confirm'] = 'fail';
  const page = await openPage();
  page.instance.onConfirmTap();
  await submit(page);
  answers['/api/mp/confirm'] = err(401); // the retry: this scan token is refused
  page.querySelector('.retry').dispatchEvent('tap');
  await until(() => page.data.error === 'rescan');
  answers['/api/mp/confirm'] = ok(null);
  page.querySelector('.rescan').dispatchEvent('tap');
  await until(() => page.data.state === 'asking');
  await submit(page); // confirmed without a tap of the button this time
  expect(sent('/api/mp/confirm').map((r) => r.data.notify)).toEqual([true, true, undefined]);
});

test('a subscription request that fails outright still confirms', async () => {
  require('../config.js').notifyTemplateId = 'tmpl-1';
  wx.requestSubscribeMessage.mockImplementation(({ fail }) => fail && fail({ errMsg: 'requestSubscribeMessage:fail can only be invoked by user TAP gesture.' }));
  const page = await openPage();
  page.instance.onConfirmTap();
  await submit(page);
  expect(page.data.state).toBe('done');
  // wx.requestSubscribeMessage was called: the confirm cannot wait to learn how it ended.
  expect(sent('/api/mp/confirm')[0].data.notify).toBe(true);
});

test('without a template, nothing is asked, and the confirm does not say it was', async () => {
  const page = await openPage();
  page.instance.onConfirmTap();
  await submit(page);
  expect(wx.requestSubscribeMessage).not.toHaveBeenCalled();
  expect(page.data.state).toBe('done');
  expect(sent('/api/mp/confirm')[0].data).toEqual({ scene: SCENE, scan_token: 'scan-token' });
});

test('a WeChat without wx.requestSubscribeMessage asks nothing, and the confirm does not say it was', async () => {
  require('../config.js').notifyTemplateId = 'tmpl-1';
  delete wx.requestSubscribeMessage;
  const page = await openPage();
  page.instance.onConfirmTap();
  await submit(page);
  expect(page.data.state).toBe('done');
  expect(sent('/api/mp/confirm')[0].data).toEqual({ scene: SCENE, scan_token: 'scan-token' });
});
