// The app's configuration: what WeChat reads before any page runs.
const app = require('../app.json');
const theme = require('../theme.json');

test('the app opts in to privacy checks, so the page can ask for consent itself', () => {
  expect(app.__usePrivacyCheck__).toBe(true);
});

test('dark mode: every @variable the window uses exists in both themes', () => {
  expect(app.darkmode).toBe(true);
  expect(app.themeLocation).toBe('theme.json');
  const used = Object.values(app.window).filter((v) => String(v).startsWith('@')).map((v) => v.slice(1));
  expect(used.length).toBeGreaterThan(0);
  for (const mode of ['light', 'dark']) {
    for (const name of used) expect(theme[mode]).toHaveProperty(name);
  }
});

test('the home page is first (a start without a path lands there), then login and account', () => {
  expect(app.pages).toEqual(['pages/home/home', 'pages/login/login', 'pages/account/account']);
  const fs = require('fs');
  const path = require('path');
  for (const page of app.pages) {
    for (const ext of ['js', 'json', 'wxml', 'wxss']) expect(fs.existsSync(path.join(__dirname, '..', `${page}.${ext}`))).toBe(true);
  }
});

describe('app.js', () => {
  let definition;
  let updateManager;
  let realtime;
  let rejectionListener;

  function launch({ withRealtime = true } = {}) {
    jest.resetModules();
    updateManager = { onUpdateReady: jest.fn(), onUpdateFailed: jest.fn(), applyUpdate: jest.fn() };
    realtime = { error: jest.fn(), warn: jest.fn(), info: jest.fn() };
    global.wx = {
      getAppBaseInfo: () => ({ language: 'zh_CN' }),
      getUpdateManager: jest.fn(() => updateManager),
      showModal: jest.fn(),
      onUnhandledRejection: jest.fn((l) => {
        rejectionListener = l;
      }),
      getEnterOptionsSync: () => ({ scene: 1047, query: {} }),
    };
    if (withRealtime) wx.getRealtimeLogManager = jest.fn(() => realtime);
    global.App = (d) => {
      definition = d;
    };
    require('../app.js');
    definition.onLaunch({ scene: 1047, path: 'pages/home/home', query: {} });
  }

  beforeEach(() => {
    jest.spyOn(console, 'error').mockImplementation(() => {});
    jest.spyOn(console, 'warn').mockImplementation(() => {});
  });
  afterEach(() => jest.restoreAllMocks());

  test('a new version ready: asks to restart, and restarts on yes only', () => {
    launch();
    expect(wx.getUpdateManager).toHaveBeenCalled();
    updateManager.onUpdateReady.mock.calls[0][0]();
    expect(wx.showModal).toHaveBeenCalledTimes(1);
    expect(wx.showModal.mock.calls[0][0]).toMatchObject({ title: '发现新版本' });
    wx.showModal.mock.calls[0][0].success({ confirm: false, cancel: true });
    expect(updateManager.applyUpdate).not.toHaveBeenCalled();
    wx.showModal.mock.calls[0][0].success({ confirm: true, cancel: false });
    expect(updateManager.applyUpdate).toHaveBeenCalledTimes(1);
  });

  test('the restart question waits while a login is in progress', () => {
    launch();
    const update = require('../lib/update.js');
    update.holdUpdates(true);
    updateManager.onUpdateReady.mock.calls[0][0]();
    expect(wx.showModal).not.toHaveBeenCalled();
    update.holdUpdates(false); // the login page's end screen
    expect(wx.showModal).toHaveBeenCalledTimes(1);
    update.askPending(); // asked once
    expect(wx.showModal).toHaveBeenCalledTimes(1);
  });

  test('a failed download is logged', () => {
    launch();
    updateManager.onUpdateFailed.mock.calls[0][0]();
    expect(realtime.warn).toHaveBeenCalled();
  });

  test('App.onError and unhandled rejections go to the real-time log', () => {
    launch();
    definition.onError('TypeError: x is undefined\n    at login.js:1');
    expect(realtime.error).toHaveBeenCalledWith('app error:', expect.stringContaining('x is undefined'));
    expect(wx.onUnhandledRejection).toHaveBeenCalled();
    rejectionListener({ reason: new Error('lost'), promise: Promise.resolve() });
    expect(realtime.error).toHaveBeenLastCalledWith('unhandled rejection:', expect.stringContaining('lost'));
  });

  test('without a real-time log manager, errors still reach the console', () => {
    launch({ withRealtime: false });
    expect(() => definition.onError('boom')).not.toThrow();
    expect(console.error).toHaveBeenCalledWith('app error:', 'boom');
  });

  test("App.onShow records a hot start's options for lib/entry.js", () => {
    launch();
    const SCENE = 'Sc3neSc3neSc3neSc3neSc3neSc3neSc';
    definition.onShow({ scene: 1048, path: 'pages/login/login', query: { scene: SCENE } });
    expect(require('../lib/entry.js').entryKind(SCENE)).toBe('relayed');
  });
});
