// The network coming back. A step that failed for want of a network is tried again by
// itself once WeChat reports a connection (wx.onNetworkStatusChange, isConnected), so a
// person who walks back into coverage does not have to find the retry button.

/**
 * Calls `fn` once, the next time the network is connected. Returns a function that stops
 * waiting (the page calls it when it leaves the screen, or is unloaded: the listener is
 * the app's, not the page's, and would outlive it).
 */
function onceOnline(fn) {
  if (typeof wx.onNetworkStatusChange !== 'function') return () => {};
  let waiting = true;
  const stop = () => {
    if (!waiting) return;
    waiting = false;
    if (typeof wx.offNetworkStatusChange === 'function') wx.offNetworkStatusChange(listener);
  };
  function listener(res) {
    if (!waiting || !res || !res.isConnected) return;
    stop();
    fn();
  }
  wx.onNetworkStatusChange(listener);
  return stop;
}

module.exports = { onceOnline };
