// The account page: where this person is logged in, their recent logins, "log out
// everywhere" and "delete my account". Each call is proved by a fresh wx.login code
// (lib/account.js): the mini program keeps no token that could be lost or copied.
// Built with Component() (WeChat allows it for pages), so its lifecycle is in `methods`.

const config = require('../../config.js');
const { createApi } = require('../../lib/api.js');
const { textsFor, currentLanguage, stringsOf } = require('../../lib/i18n.js');
const { accountActions, recentLogins, sessionsOf, confirmed, dangerColor } = require('../../lib/account.js');
const { onceOnline } = require('../../lib/network.js');
const log = require('../../lib/log.js');

const HOME = '/pages/home/home';

Component({
  data: {
    // loading | ready | noaccount | deleted | error
    state: 'loading',
    busy: false,
    t: stringsOf(textsFor('zh_CN')),
    nickname: '',
    sessions: [],
    recent: [],
    // What the last action did ("ended 2 logins"), or an error's words.
    notice: '',
    errorText: '',
    canRetry: false,
  },

  methods: {
    onLoad() {
      this.texts = textsFor(currentLanguage());
      this.setData({ t: stringsOf(this.texts) });
      wx.setNavigationBarTitle({ title: this.texts.account });
      const api = createApi({ request: wx.request, uploadFile: wx.uploadFile, apiBase: config.apiBase() });
      this.actions = accountActions(api, wx.login);
      return this.load();
    },

    onUnload() {
      this.stopWaiting();
    },

    stopWaiting() {
      if (this.stopWaitingOnline) this.stopWaitingOnline();
      this.stopWaitingOnline = null;
    },

    async load() {
      this.stopWaiting();
      this.setData({ state: 'loading', busy: true });
      try {
        const data = await this.actions.load();
        this.setData({
          state: 'ready',
          busy: false,
          nickname: (data.user && data.user.nickname) || '',
          sessions: sessionsOf(this.texts, data.sessions),
          recent: recentLogins(this.texts, data.recent),
        });
      } catch (e) {
        this.fail(e, () => this.load());
      }
    },

    async logoutEverywhere() {
      if (this.data.busy) return;
      const t = this.texts;
      const yes = await confirmed({ title: t.logoutTitle, content: t.logoutText, confirmText: t.logoutConfirm, cancelText: t.cancel });
      if (!yes) return;
      this.setData({ busy: true });
      try {
        const data = await this.actions.logoutEverywhere();
        const ended = (data && data.ended) || 0;
        await this.load();
        if (this.data.state === 'ready') this.setData({ notice: t.loggedOut(ended) });
      } catch (e) {
        this.fail(e);
      }
    },

    /** Deleting cannot be undone: asked first, in red, and only then is a code asked for. */
    async deleteAccount() {
      if (this.data.busy) return;
      const t = this.texts;
      const yes = await confirmed({
        title: t.deleteTitle,
        content: t.deleteText,
        confirmText: t.deleteConfirm,
        confirmColor: dangerColor(),
        cancelText: t.cancel,
      });
      if (!yes) return;
      this.setData({ busy: true });
      try {
        await this.actions.deleteAccount();
        this.setData({ state: 'deleted', busy: false, sessions: [], recent: [], nickname: '', notice: '' });
      } catch (e) {
        this.fail(e);
      }
    },

    /** An error's screen; `again` is the step a retry (or the network's return) repeats. */
    fail(error, again) {
      const kind = error.kind || 'server';
      if (kind === 'noaccount') {
        this.setData({ state: 'noaccount', busy: false });
        return;
      }
      log.warn('account call failed:', kind, error.status || '', error.message || '', error.requestId || '');
      const t = this.texts;
      this.retryStep = again || (() => this.load());
      // A refusal (403: a disabled account) says why; a retry would meet the same rule.
      // Anything else may pass when tried again (a refused code, 401, by the next code).
      const refused = kind === 'refused';
      this.setData({
        state: 'error',
        busy: false,
        errorText: refused ? t.refusals[error.refusal] || t.refused : kind === 'network' ? t.network : t.server,
        canRetry: !refused,
      });
      // Only a read is repeated by itself when the network returns; an action waits for a tap.
      if (kind === 'network' && again) this.stopWaitingOnline = onceOnline(() => this.retry());
    },

    retry() {
      if (this.data.busy) return undefined;
      return (this.retryStep || (() => this.load()))();
    },

    goHome() {
      wx.reLaunch({ url: HOME });
    },
  },
});
