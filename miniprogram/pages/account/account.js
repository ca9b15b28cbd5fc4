// The account page: where this person is logged in, their recent logins, "log out
// everywhere" and "delete my account". Each call is proved by a fresh wx.login code
// (lib/account.js): the mini program keeps no token that could be lost or copied.
// A login message opens it at `?session=<sid>`: it then asks first whether that login was
// this person's, with a button to end it.
// Built with Component() (WeChat allows it for pages), so its lifecycle is in `methods`.

const config = require('../../config.js');
const { createApi } = require('../../lib/api.js');
const { textsFor, currentLanguage, stringsOf } = require('../../lib/i18n.js');
const { accountActions, recentLogins, sessionsOf, confirmed, confirmedInRed } = require('../../lib/account.js');
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
    // The "was this you?" card of a login message (`?session=`): '' (opened otherwise),
    // open (`asked` is that session, from `sessions`), or gone (not among them any more).
    askedState: '',
    asked: null,
    // What the last action did ("ended 2 logins"), or an error's words.
    notice: '',
    errorText: '',
    canRetry: false,
  },

  methods: {
    onLoad(options) {
      // A sid (base64url: nothing to decode). Only looked up among this person's own
      // sessions, and end_session checks it too, so a link with another's id ends nothing.
      this.askedId = String((options && options.session) || '');
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
        const sessions = sessionsOf(this.texts, data.sessions, this.askedId);
        const asked = sessions.find((s) => s.asked) || null;
        this.setData({
          state: 'ready',
          busy: false,
          nickname: (data.user && data.user.nickname) || '',
          sessions,
          recent: recentLogins(this.texts, data.recent),
          askedState: this.askedId ? (asked ? 'open' : 'gone') : '',
          asked,
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
      const yes = await confirmedInRed({ title: t.deleteTitle, content: t.deleteText, confirmText: t.deleteConfirm, cancelText: t.cancel });
      if (!yes) return;
      this.setData({ busy: true });
      try {
        await this.actions.deleteAccount();
        this.setData({ state: 'deleted', busy: false, sessions: [], recent: [], nickname: '', notice: '' });
      } catch (e) {
        this.fail(e);
      }
    },

    /**
     * "Not me": ends the login a message asked about. Asked first, in red like deleting
     * (whoever is in that browser is thrown out), and only then is a code asked for.
     */
    async endSession() {
      if (this.data.busy || !this.data.asked) return;
      const t = this.texts;
      const yes = await confirmedInRed({ title: t.endSessionTitle, content: t.endSessionText, confirmText: t.endSessionConfirm, cancelText: t.cancel });
      if (!yes) return;
      this.setData({ busy: true });
      let notice = '';
      try {
        await this.actions.endSession(this.data.asked.id);
        notice = t.sessionEnded;
        // Said by the notice: the card, reloaded, would say "already ended" beside it.
        this.askedId = '';
      } catch (e) {
        // A 404 (ended elsewhere, expired, or no account any more) is no failure: the
        // reload shows the card's "already ended", or that there is no account.
        if (e.kind !== 'ended') {
          this.fail(e);
          return;
        }
      }
      await this.load();
      if (this.data.state === 'ready' && notice) this.setData({ notice });
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
