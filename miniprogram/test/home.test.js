/**
 * @jest-environment jsdom
 */
// The home page in miniprogram-simulate, with wx mocked: what it says, its camera-only scan
// that opens the login page, and its links to the privacy guide and the account.
const path = require('path');
const fs = require('fs');
const simulate = require('miniprogram-simulate');

const SCENE = 'Sc3neSc3neSc3neSc3neSc3neSc3neSc';

function mockWx(language = 'zh_CN') {
  global.wx = {
    getAppBaseInfo: () => ({ language }),
    setNavigationBarTitle: jest.fn(),
    scanCode: jest.fn(),
    navigateTo: jest.fn(),
    openPrivacyContract: jest.fn(),
  };
}

let pageId;
function openPage() {
  pageId = pageId || simulate.load(path.join(__dirname, '../pages/home/home'));
  const page = simulate.render(pageId);
  page.attach(document.createElement('parent-wrapper'));
  page.instance.onLoad({});
  return page;
}

const text = (page, selector) => page.querySelector(selector) && page.querySelector(selector).dom.textContent.trim();

async function until(condition) {
  const deadline = Date.now() + 2000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition never held: ${condition}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

beforeEach(() => {
  mockWx();
});

test('it says what this is, in Chinese or English', () => {
  const page = openPage();
  expect(text(page, '.lead')).toContain('登录电脑上的网站');
  expect(text(page, '.scan')).toBe('扫一扫');
  mockWx('en');
  const english = openPage();
  expect(text(english, '.lead')).toContain('log in on your computer');
  expect(wx.setNavigationBarTitle).toHaveBeenCalledWith({ title: 'Scan to log in' });
});

test('the scan button uses the camera only, and a code of ours opens the login page with its scene', async () => {
  const page = openPage();
  wx.scanCode.mockImplementation(({ success }) => success({ scanType: 'WX_CODE', path: `pages/login/login?scene=${encodeURIComponent(SCENE)}` }));
  page.querySelector('.scan').dispatchEvent('tap');
  await until(() => wx.navigateTo.mock.calls.length === 1);
  expect(wx.scanCode.mock.calls[0][0]).toMatchObject({ onlyFromCamera: true, scanType: ['wxCode', 'qrCode'] });
  expect(wx.navigateTo).toHaveBeenCalledWith({ url: `/pages/login/login?scene=${SCENE}` });
  // The login page learns that the camera scanned it (not a picture): lib/entry.js.
  expect(require('../lib/entry.js').takeCameraScan(SCENE)).toBe(true);
});

test('a code that is not ours says so, and opens nothing', async () => {
  const page = openPage();
  wx.scanCode.mockImplementation(({ success }) => success({ scanType: 'QR_CODE', result: 'https://example.com/' }));
  await page.instance.scan();
  expect(wx.navigateTo).not.toHaveBeenCalled();
  expect(text(page, '.notice')).toBe('这不是登录用的小程序码。');
});

test('closing the camera is not an error', async () => {
  const page = openPage();
  wx.scanCode.mockImplementation(({ fail }) => fail({ errMsg: 'scanCode:fail cancel' }));
  await page.instance.scan();
  expect(page.querySelector('.notice')).toBeUndefined();
  expect(wx.navigateTo).not.toHaveBeenCalled();
});

test('links: the privacy guide, and the account page', async () => {
  const page = openPage();
  page.querySelector('.privacy-link').dispatchEvent('tap');
  await until(() => wx.openPrivacyContract.mock.calls.length === 1);
  page.querySelector('.account-link').dispatchEvent('tap');
  await until(() => wx.navigateTo.mock.calls.length === 1);
  expect(wx.navigateTo).toHaveBeenCalledWith({ url: '/pages/account/account' });
  const wxml = fs.readFileSync(path.join(__dirname, '../pages/home/home.wxml'), 'utf8');
  expect(wxml).toMatch(/<text[^>]*class="link privacy-link"[^>]*aria-role="link"/);
  expect(wxml).toMatch(/<text[^>]*class="link account-link"[^>]*aria-role="link"/);
});
