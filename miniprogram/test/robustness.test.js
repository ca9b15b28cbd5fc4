// The small modules that keep the app upright: the countdown's announcements, the
// network's return, the log, and updates.
const { announcement } = require('../lib/countdown.js');
const { onceOnline } = require('../lib/network.js');

describe('countdown announcements', () => {
  test('nothing on the first tick: the screen is read as a whole when it appears', () => {
    expect(announcement(undefined, 45)).toBeNull();
  });

  test('each of 60, 30 and 10 seconds is said once, when crossed', () => {
    const said = [];
    let before;
    for (let left = 100; left > 0; left -= 1) {
      const s = announcement(before, left);
      if (s !== null) said.push(s);
      before = left;
    }
    expect(said).toEqual([60, 30, 10]);
  });

  test('a jump over several steps (the phone slept) says the time left, once', () => {
    expect(announcement(80, 20)).toBe(20);
    expect(announcement(20, 19)).toBeNull();
    expect(announcement(5, 0)).toBeNull(); // expired: the expired screen speaks
  });
});

describe('the network coming back', () => {
  let listeners;
  beforeEach(() => {
    listeners = [];
    global.wx = {
      onNetworkStatusChange: jest.fn((l) => listeners.push(l)),
      offNetworkStatusChange: jest.fn((l) => {
        listeners = listeners.filter((x) => x !== l);
      }),
    };
  });

  test('calls back once, on the first connected status, and stops listening', () => {
    const fn = jest.fn();
    onceOnline(fn);
    listeners.slice().forEach((l) => l({ isConnected: false, networkType: 'none' }));
    expect(fn).not.toHaveBeenCalled();
    listeners.slice().forEach((l) => l({ isConnected: true, networkType: '4g' }));
    expect(fn).toHaveBeenCalledTimes(1);
    expect(listeners).toHaveLength(0);
  });

  test('stopped, it never calls back', () => {
    const fn = jest.fn();
    const stop = onceOnline(fn);
    stop();
    expect(wx.offNetworkStatusChange).toHaveBeenCalledTimes(1);
    stop(); // twice is harmless
    expect(wx.offNetworkStatusChange).toHaveBeenCalledTimes(1);
    expect(fn).not.toHaveBeenCalled();
  });

  test('without the API it waits for nothing', () => {
    global.wx = {};
    expect(typeof onceOnline(() => {})).toBe('function');
  });
});
