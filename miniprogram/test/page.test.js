/**
 * @jest-environment jsdom
 */
// The login page in miniprogram-simulate: its states and transitions, with wx.login
// and wx.request mocked, and every error screen.
const path = require('path');
const simulate = require('miniprogram-simulate');

const SCENE = 'Sc3neSc3neSc3neSc3neSc3neSc3neSc';
const BROWSER = { user_agent: 'Chrome 156 on Windows 10', ip: '203.0.113.9', requested_at: '2026-11-25T08:00:00Z' };

/** Answers for wx.request by path: [status, body] or 'fail'. */
let answers;
let requests;

function mockWx(language = 'zh_CN') {
  requests = [];
  global.wx = {
    getAppBaseInfo: () => ({ language }),
    login: jest.fn(({ success }) => success({ code: 'login-code' })),
    request: jest.fn((options) => {
      requests.push(options);
      const pathname = options.url.replace(/^https?:\/\/[^/]+/, '');
      const answer = answers[pathname];
      setTimeout(() => {
        if (!answer || answer === 'fail') options.fail({ errMsg: 'request:fail' });
        else options.success({ statusCode: answer[0], data: answer[1] });
      }, 0);
    }),
  };
}

const ok = (data) => [200, { code: 200, msg: 'ok', data }];
const err = (status) => [status, { code: status, msg: 'no', data: null }];
const settle = () => new Promise((r) => setTimeout(r, 10));

const PAGE = path.join(__dirname, '../pages/login/login');
let pageId;

async function openPage(options = { scene: SCENE }) {
  // Loaded once: miniprogram-simulate registers a path only the first time.
  pageId = pageId || simulate.load(PAGE);
  const page = simulate.render(pageId);
  page.attach(document.createElement('parent-wrapper'));
  await page.instance.onLoad(options);
  await settle();
  return page;
}

const text = (page, selector) => page.querySelector(selector) && page.querySelector(selector).dom.textContent.trim();

beforeEach(() => {
  answers = {
    '/api/mp/scan': ok({ scan_token: 'scan-token', expires_in: 100, browser: BROWSER }),
    '/api/mp/confirm': ok(null),
    '/api/mp/cancel': ok(null),
  };
  mockWx();
});

test('it logs in, scans, and shows which browser is asking', async () => {
  const page = await openPage({ scene: encodeURIComponent(SCENE) });
  expect(wx.login).toHaveBeenCalledTimes(1);
  expect(requests[0].data).toEqual({ scene: SCENE, code: 'login-code' });
  expect(page.data.state).toBe('asking');
  expect(text(page, '.browser-agent')).toBe('Chrome 156 on Windows 10');
  expect(text(page, '.browser-ip')).toBe('203.0.113.9');
  expect(text(page, '.browser-time')).toMatch(/^2026-11-25 \d\d:00:00$/);
  expect(text(page, '.title')).toBe('有浏览器请求登录你的账号');
  // The current way to get a profile (getUserProfile is gone): chooseAvatar and a
  // nickname input. j-component does not keep these attributes, so the template is read.
  expect(page.querySelector('.avatar-button')).toBeDefined();
  expect(page.querySelector('.nickname')).toBeDefined();
  const wxml = require('fs').readFileSync(`${PAGE}.wxml`, 'utf8');
  expect(wxml).toMatch(/<button class="avatar-button" open-type="chooseAvatar" bind:chooseavatar="onChooseAvatar">/);
  expect(wxml).toMatch(/<input type="nickname" class="nickname"/);
  expect(wxml).not.toMatch(/getUserProfile/);
  page.instance.onChooseAvatar({ detail: { avatarUrl: 'https://cdn.example/a.png' } });
  expect(page.data.avatarUrl).toBe('https://cdn.example/a.png');
});

test('confirm sends the scan token and the chosen nickname', async () => {
  const page = await openPage();
  page.instance.onNickname({ detail: { value: '小明' } });
  page.querySelector('.confirm').dispatchEvent('tap');
  await settle();
  const confirm = requests.find((r) => r.url.endsWith('/api/mp/confirm'));
  expect(confirm.data).toEqual({ scene: SCENE, scan_token: 'scan-token', profile: { nickname: '小明', avatar_url: '' } });
  expect(page.data.state).toBe('done');
  expect(text(page, '.done')).toBe('登录成功，可以放下手机了。');
});

test('cancel sends the scan token and says nobody was logged in', async () => {
  const page = await openPage();
  page.querySelector('.cancel').dispatchEvent('tap');
  await settle();
  expect(requests.find((r) => r.url.endsWith('/api/mp/cancel')).data).toEqual({ scene: SCENE, scan_token: 'scan-token' });
  expect(page.data.state).toBe('cancelled');
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
  ['badcode', err(401), '登录失败', true],
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

test('retry after a network failure scans again and can succeed', async () => {
  answers['/api/mp/scan'] = 'fail';
  const page = await openPage();
  expect(page.data.error).toBe('network');
  answers['/api/mp/scan'] = ok({ scan_token: 'scan-token', expires_in: 100, browser: BROWSER });
  page.querySelector('.retry').dispatchEvent('tap');
  await settle();
  expect(wx.login).toHaveBeenCalledTimes(2);
  expect(page.data.state).toBe('asking');
});

test('a confirm that fails on the network is retried as a confirm', async () => {
  answers['/api/mp/confirm'] = 'fail';
  const page = await openPage();
  page.querySelector('.confirm').dispatchEvent('tap');
  await settle();
  expect(page.data.error).toBe('network');
  answers['/api/mp/confirm'] = ok(null);
  page.querySelector('.retry').dispatchEvent('tap');
  await settle();
  expect(page.data.state).toBe('done');
  expect(wx.login).toHaveBeenCalledTimes(1);
});

test('English when WeChat is in English', async () => {
  mockWx('en');
  const page = await openPage();
  expect(text(page, '.title')).toBe('A browser asks to log in as you');
  expect(text(page, '.confirm')).toBe('Confirm login');
  answers['/api/mp/scan'] = err(404);
  const expired = await openPage();
  expect(text(expired, '.error')).toContain('refresh the code on your computer');
});
