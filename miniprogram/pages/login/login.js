// The page a scanlogin code opens: who is asking, then confirm or cancel.
// Built with Component() (WeChat allows it for pages), so its lifecycle is in `methods`.

const config = require('../../config.js');
const { decodeScene } = require('../../lib/scene.js');
const { createApi, scanFlow, profileOf } = require('../../lib/api.js');
const { textsFor, formatTime } = require('../../lib/i18n.js');

function language() {
  try {
    const info = typeof wx.getAppBaseInfo === 'function' ? wx.getAppBaseInfo() : wx.getSystemInfoSync();
    return info.language;
  } catch (e) {
    return 'zh_CN';
  }
}

Component({
  data: {
    // loading | asking | sending | done | cancelled | error
    state: 'loading',
    error: '',
    errorText: '',
    canRetry: false,
    t: textsFor('zh_CN'),
    browser: null,
    askedAt: '',
    nickname: '',
    avatarUrl: '',
  },

  methods: {
    onLoad(options) {
      this.api = createApi({ request: wx.request, apiBase: config.apiBase });
      this.setData({ t: textsFor(language()) });
      this.scene = decodeScene(options);
      if (!this.scene) {
        // A malformed scene never reaches the server.
        this.fail('invalid');
        return Promise.resolve();
      }
      return this.scan();
    },

    async scan() {
      this.lastAction = 'scan';
      this.setData({ state: 'loading' });
      try {
        const asked = await scanFlow({ api: this.api, wxLogin: wx.login, scene: this.scene });
        this.scanToken = asked.scanToken;
        this.setData({ state: 'asking', browser: asked.browser, askedAt: formatTime(asked.browser.requested_at) });
      } catch (e) {
        this.fail(e.kind || 'server');
      }
    },

    onChooseAvatar(e) {
      this.setData({ avatarUrl: e.detail.avatarUrl });
    },

    onNickname(e) {
      this.setData({ nickname: e.detail.value });
    },

    async confirm() {
      this.lastAction = 'confirm';
      this.setData({ state: 'sending' });
      try {
        await this.api.confirm(this.scene, this.scanToken, profileOf(this.data.nickname, this.data.avatarUrl));
        this.setData({ state: 'done' });
      } catch (e) {
        this.fail(e.kind || 'server');
      }
    },

    async cancel() {
      this.lastAction = 'cancel';
      this.setData({ state: 'sending' });
      try {
        await this.api.cancel(this.scene, this.scanToken);
        this.setData({ state: 'cancelled' });
      } catch (e) {
        this.fail(e.kind || 'server');
      }
    },

    /** Tries the failed step again: a network or server failure may pass. */
    retry() {
      if (this.lastAction === 'confirm') return this.confirm();
      if (this.lastAction === 'cancel') return this.cancel();
      return this.scan();
    },

    fail(kind) {
      const t = this.data.t;
      this.setData({
        state: 'error',
        error: kind,
        errorText: t[kind] || t.server,
        canRetry: kind === 'network' || kind === 'server' || kind === 'badcode',
      });
    },
  },
});
