/**
 * @jest-environment jsdom
 */
// The account page in miniprogram-simulate, with wx mocked (no server): what it shows, a
// fresh wx.login code for every call, a confirm step before deleting, and the "was this
// you?" card a login message opens it with (?session=).
const path = require('path');
const simulate = require('miniprogram-simulate');

let answers;
let requests;
let modalAnswer;
let networkListeners;

function mockWx(language = 'zh_CN', theme = 'light') {
  requests = [];
  networkListeners = [];
  modalAnswer = { confirm: true, cancel: false };
  let codes = 0;
  global.wx = {
    getAppBaseInfo: () => ({ language, theme }),
    setNavigationBarTitle: jest.fn(),
    reLaunch: jest.fn(),
    login: jest.fn(({ success }) => success({ code: `code-${(codes += 1)}` })),
    showModal: jest.fn((options) => setTimeout(() => options.success(modalAnswer), 0)),
    onNetworkStatusChange: jest.fn((l) => networkListeners.push(l)),
    offNetworkStatusChange: jest.fn((l) => {
      networkListeners = networkListeners.filter((x) => x !== l);
    }),
    request: jest.fn((options) => {
      requests.push(options);
      const answer = answers[options.url.replace(/^https?:\/\/[^/]+/, '')];
      setTimeout(() => {
        if (!answer || answer === 'fail') options.fail({ errMsg: 'request:fail' });
        else options.success({ statusCode: answer[0], data: answer[1], header: {} });
      }, 0);
    }),
  };
}

const ok = (data) => [200, { code: 200, msg: 'ok', data }];
const ACCOUNT = {
  user: { id: 7, nickname: '小明', avatar_url: '' },
  sessions: [{ id: 's1', browser: 'Chrome 120 on Windows 10', ip: '203.0.113.9', place: 'Shenyang, Liaoning, CN', created_at: '2026-11-25T08:00:00Z', last_seen_at: '2026-11-25T09:00:00Z', current: false }],
  recent: [{ id: 9, at: '2026-11-25T08:00:00Z', event: 'login_confirmed', result: 'ok', client_id: '', ip: '203.0.113.9', user_agent: 'x', detail: '' }],
};

let pageId;
async function openPage(options = {}) {
  pageId = pageId || simulate.load(path.join(__dirname, '../pages/account/account'));
  const page = simulate.render(pageId);
  page.attach(document.createElement('parent-wrapper'));
  await page.instance.onLoad(options);
  return page;
}

const text = (page, selector) => page.querySelector(selector) && page.querySelector(selector).dom.textContent.trim();
const sent = (p) => requests.filter((r) => r.url.endsWith(p));

async function until(condition) {
  const deadline = Date.now() + 2000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition never held: ${condition}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

beforeEach(() => {
  answers = {
    '/api/mp/account': ok(ACCOUNT),
    '/api/mp/logout_everywhere': ok({ ended: 1 }),
    '/api/mp/delete_account': ok(null),
    '/api/mp/end_session': ok({ ended: 1 }),
  };
  mockWx();
  jest.spyOn(console, 'warn').mockImplementation(() => {});
});
afterEach(() => jest.restoreAllMocks());

test('it shows where I am logged in and my recent logins, with a fresh login code', async () => {
  const page = await openPage();
  expect(page.data.state).toBe('ready');
  expect(sent('/api/mp/account')[0].data).toEqual({ code: 'code-1' });
  expect(text(page, '.nickname')).toBe('小明');
  expect(text(page, '.session .item-main')).toBe('Chrome 120 on Windows 10');
  expect(text(page, '.login .item-main')).toBe('确认登录');
  // Not opened from a login message: no "was this you?".
  expect(page.querySelector('.asked-session')).toBeUndefined();
  expect(page.querySelector('.asked-mark')).toBeUndefined();
});

test('"log out everywhere" asks, then uses a new login code, and says how many logins ended', async () => {
  const page = await openPage();
  await page.instance.logoutEverywhere();
  expect(wx.showModal).toHaveBeenCalledTimes(1);
  expect(sent('/api/mp/logout_everywhere')[0].data).toEqual({ code: 'code-2' });
  expect(sent('/api/mp/account')[1].data).toEqual({ code: 'code-3' }); // reloaded, with its own code
  expect(text(page, '.notice')).toBe('已结束 1 个登录。');
});

test('deleting asks first, in red, saying it cannot be undone; no means nothing is sent', async () => {
  const page = await openPage();
  modalAnswer = { confirm: false, cancel: true };
  await page.instance.deleteAccount();
  const modal = wx.showModal.mock.calls[0][0];
  expect(modal.content).toContain('无法撤销');
  expect(modal.confirmColor).toBe('#D92D20');
  expect(sent('/api/mp/delete_account')).toHaveLength(0);
  expect(wx.login).toHaveBeenCalledTimes(1); // no code asked for either
  expect(page.data.state).toBe('ready');
});

test('deleting after yes sends a fresh code, and says the account is gone', async () => {
  const page = await openPage();
  await page.instance.deleteAccount();
  // The confirm step came before the code and the call.
  expect(wx.showModal.mock.invocationCallOrder[0]).toBeLessThan(wx.login.mock.invocationCallOrder[1]);
  expect(sent('/api/mp/delete_account')[0].data).toEqual({ code: 'code-2' });
  expect(page.data.state).toBe('deleted');
  expect(text(page, '.deleted')).toBe('你的账号已删除。');
  page.querySelector('.home').dispatchEvent('tap');
  await until(() => wx.reLaunch.mock.calls.length === 1);
  expect(wx.reLaunch).toHaveBeenCalledWith({ url: '/pages/home/home' });
});

test('in English, and in dark mode a lighter red', async () => {
  mockWx('en', 'dark');
  const page = await openPage();
  modalAnswer = { confirm: false, cancel: true };
  await page.instance.deleteAccount();
  expect(wx.showModal.mock.calls[0][0]).toMatchObject({ title: 'Delete your account?', confirmColor: '#FF6B6B' });
  expect(wx.showModal.mock.calls[0][0].content).toContain('cannot be undone');
});

test('no account for this WeChat identity (404) says so', async () => {
  answers['/api/mp/account'] = [404, { code: 404, msg: 'no account', data: null }];
  const page = await openPage();
  expect(page.data.state).toBe('noaccount');
  expect(text(page, '.noaccount')).toContain('没有账号');
});

test('a load the network interrupted is tried again when it returns, with a new code', async () => {
  answers['/api/mp/account'] = 'fail';
  const page = await openPage();
  expect(page.data.state).toBe('error');
  expect(text(page, '.error')).toContain('网络连接失败');
  answers['/api/mp/account'] = ok(ACCOUNT);
  networkListeners.slice().forEach((l) => l({ isConnected: true }));
  await until(() => page.data.state === 'ready');
  expect(sent('/api/mp/account').map((r) => r.data.code)).toEqual(['code-1', 'code-2']);
});

test('a failed delete is not repeated by itself; a retry reloads the page', async () => {
  const page = await openPage();
  answers['/api/mp/delete_account'] = 'fail';
  await page.instance.deleteAccount();
  expect(page.data.state).toBe('error');
  expect(networkListeners).toHaveLength(0);
  await page.instance.retry();
  expect(page.data.state).toBe('ready');
  expect(sent('/api/mp/delete_account')).toHaveLength(1);
});

// ---- Opened from a login message (?session=) -----------------------------------------------

/** The account once its session s1 has ended. */
const WITHOUT_S1 = { ...ACCOUNT, sessions: [] };

test('opened from a login message, it asks "was this you?" about that login first, and marks it in the list', async () => {
  const page = await openPage({ session: 's1' });
  expect(page.data.askedState).toBe('open');
  expect(text(page, '.asked-title')).toBe('这是你本人的登录吗？');
  expect(text(page, '.asked-browser')).toBe('Chrome 120 on Windows 10');
  expect(text(page, '.asked-ip')).toBe('Shenyang, Liaoning, CN · 203.0.113.9');
  expect(text(page, '.asked-time')).toMatch(/^2026-11-25 \d\d:00:00$/); // created_at: when it logged in
  expect(text(page, '.end-session')).toBe('不是我：结束这个登录');
  expect(text(page, '.session.asked .asked-mark')).toBe('消息中的登录');
  expect(sent('/api/mp/end_session')).toHaveLength(0); // nothing ended by opening the page
});

test('"not me" asks first, in red; no means nothing is sent', async () => {
  const page = await openPage({ session: 's1' });
  modalAnswer = { confirm: false, cancel: true };
  await page.instance.endSession();
  expect(wx.showModal.mock.calls[0][0]).toMatchObject({ title: '结束这个登录？', confirmText: '结束登录', confirmColor: '#D92D20' });
  expect(sent('/api/mp/end_session')).toHaveLength(0);
  expect(wx.login).toHaveBeenCalledTimes(1); // no code asked for either
  expect(page.data.askedState).toBe('open');
});

test('"not me" after yes ends that login with a fresh code, reloads, and says it has ended', async () => {
  const page = await openPage({ session: 's1' });
  answers['/api/mp/account'] = ok(WITHOUT_S1);
  page.querySelector('.end-session').dispatchEvent('tap');
  await until(() => sent('/api/mp/account').length === 2 && page.data.state === 'ready' && page.data.notice);
  // Asked before the code and the call.
  expect(wx.showModal.mock.invocationCallOrder[0]).toBeLessThan(wx.login.mock.invocationCallOrder[1]);
  expect(sent('/api/mp/end_session')[0].data).toEqual({ code: 'code-2', session: 's1' });
  expect(sent('/api/mp/account')[1].data).toEqual({ code: 'code-3' }); // reloaded, with its own code
  expect(text(page, '.notice')).toBe('那个登录已结束。');
  expect(page.querySelector('.asked-session')).toBeUndefined(); // the notice says it
  expect(text(page, '.sessions .empty')).toBe('目前没有登录中的浏览器。');
});

test('a login that has already ended says so, with nothing to do (in English)', async () => {
  mockWx('en');
  answers['/api/mp/account'] = ok(WITHOUT_S1);
  const page = await openPage({ session: 's1' });
  expect(page.data.state).toBe('ready');
  expect(text(page, '.asked-title')).toBe('Was this you?');
  expect(text(page, '.asked-gone')).toBe('That login has already ended: nothing to do.');
  expect(page.querySelector('.end-session')).toBeUndefined();
});

test('an end_session answered 404 is worded as already ended, not as an error', async () => {
  const page = await openPage({ session: 's1' });
  answers['/api/mp/end_session'] = [404, { code: 404, msg: 'no such session', data: null }];
  answers['/api/mp/account'] = ok(WITHOUT_S1); // ended meanwhile, elsewhere
  await page.instance.endSession();
  expect(sent('/api/mp/end_session')).toHaveLength(1);
  expect(page.data.state).toBe('ready');
  expect(page.querySelector('.error')).toBeUndefined();
  expect(text(page, '.asked-gone')).toBe('这个登录已经结束，无需处理。');
  expect(page.data.notice).toBe('');
});

test('a failed end_session is an error with a retry, not repeated by itself', async () => {
  const page = await openPage({ session: 's1' });
  answers['/api/mp/end_session'] = 'fail';
  await page.instance.endSession();
  expect(page.data.state).toBe('error');
  expect(text(page, '.error')).toContain('网络连接失败');
  expect(networkListeners).toHaveLength(0);
  await page.instance.retry(); // reloads: the card asks again
  expect(page.data.askedState).toBe('open');
  expect(sent('/api/mp/end_session')).toHaveLength(1);
});
