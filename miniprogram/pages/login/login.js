// The page a scanlogin code opens: who is asking, then confirm or cancel. Opened without a
// code it hands over to the home page (pages/home/home), where the scan button is.
// Built with Component() (WeChat allows it for pages), so its lifecycle is in `methods`.

const config = require('../../config.js');
const { decodeScene, scanWithCamera } = require('../../lib/scene.js');
const { createApi, scanFlow, profileOf, cutNickname } = require('../../lib/api.js');
const { textsFor, currentLanguage, stringsOf, describeBrowser, formatTime, placeOf } = require('../../lib/i18n.js');
const { entryKind, enterOptions, takeCameraScan } = require('../../lib/entry.js');
const { uploadedOrNothing } = require('../../lib/avatar.js');
const { announcement } = require('../../lib/countdown.js');
const { onceOnline } = require('../../lib/network.js');
const { holdUpdates } = require('../../lib/update.js');
const log = require('../../lib/log.js');

/** How long a nickname may wait for WeChat's content review before it is left out. */
const REVIEW_WAIT_MS = 3000;

const HOME = '/pages/home/home';

/** Error screens whose step may still succeed (a retry, a new scan, a wait): the flow goes on. */
const GOING_ON = ['network', 'server', 'limited', 'rescan'];

Component({
  data: {
    // loading | asking | sending | done | cancelled | error
    state: 'loading',
    // The error screen's kind (see lib/api.js; `relayed`: a code from a picture) and its words.
    error: '',
    errorText: '',
    errorHint: '',
    canRetry: false,
    canRescan: false,
    canScan: false,
    // The scan button's words: "scan another code", or "scan with the camera".
    scanLabel: '',
    // A request is in flight: every button is disabled and shows it.
    busy: false,
    t: stringsOf(textsFor('zh_CN')),
    // "Grafana wants you to log in", when the login is for an application.
    applicationText: '',
    // The scan is the one the site asks before deleting the account: said in red, and on
    // the confirm button.
    deleting: false,
    applicationLogo: '',
    browserText: '',
    ip: '',
    askedAt: '',
    // The visible countdown (changes every second), and what a screen reader is told of it
    // (at coarse steps only: lib/countdown.js).
    countdown: '',
    announcement: '',
    // "Check this is the computer in front of you", or, opened from this phone's own
    // browser, "this logs you in on this phone's browser".
    warnText: '',
    // The chosen avatar as the phone shows it (a temporary file: never sent as a URL).
    avatarPath: '',
    privacyShown: false,
  },

  methods: {
    onLoad(options) {
      this.texts = textsFor(currentLanguage());
      this.setData({ t: stringsOf(this.texts), scanLabel: this.texts.scanOther });
      wx.setNavigationBarTitle({ title: this.texts.title });
      this.api = createApi({ request: wx.request, uploadFile: wx.uploadFile, apiBase: config.apiBase() });
      if (typeof wx.onNeedPrivacyAuthorization === 'function') {
        // WeChat asks before chooseAvatar or the nickname input may be used.
        wx.onNeedPrivacyAuthorization((resolve) => {
          this.privacyResolve = resolve;
          this.setData({ privacyShown: true });
        });
      }
      const scene = decodeScene(options);
      if (scene === undefined) {
        // Nothing to log in to: the home page says what this is and has the scan button.
        wx.reLaunch({ url: HOME });
        return Promise.resolve();
      }
      if (scene === null) {
        // A malformed scene never reaches the server.
        this.fail('invalid');
        return Promise.resolve();
      }
      this.scene = scene;
      // A camera scan on the home page, or how WeChat opened us (lib/entry.js).
      const kind = takeCameraScan(scene) ? 'scan' : entryKind(options.scene);
      if (kind === 'relayed') {
        // Refused before the server hears of it: the browser behind the code is not told
        // that it was scanned.
        this.fail('relayed');
        return Promise.resolve();
      }
      this.setData({ warnText: kind === 'phone' ? this.texts.warnPhone : this.texts.warn });
      return this.scan();
    },

    onUnload() {
      this.stopTimers();
      holdUpdates(false);
    },

    // Hot start. A person who comes back from WeChat's recent list (no path) finds the
    // mini program as they left it (运行机制 → 热启动: "若启动的场景中不带 path，则保留上次的
    // 浏览状态"; with a path, WeChat reLaunches to that page itself). So this page, restored,
    // is shown again, maybe half an hour later, still saying "登录成功". Its own onShow is
    // where that is known: App.onShow fires for the same return, but cannot tell it from a
    // return from the camera or the avatar picker, nor knows whether a flow has ended. The
    // rule: the flow had ended when the page was hidden, and still has, and we did not
    // hide it ourselves to scan (wx.scanCode opens the camera over the page).
    onHide() {
      this.endedWhenHidden = this.ended();
    },

    onShow() {
      const cameBack = this.endedWhenHidden;
      this.endedWhenHidden = false;
      if (!cameBack || this.scanning || !this.ended()) return;
      // A hot start with another code: WeChat reLaunches to it; do not race it.
      const next = decodeScene(enterOptions().query);
      if (next && next !== this.scene) return;
      wx.reLaunch({ url: HOME });
    },

    /** The flow is over: logged in, cancelled, or an error no retry or new scan mends. */
    ended() {
      const { state, error } = this.data;
      return state === 'done' || state === 'cancelled' || (state === 'error' && !GOING_ON.includes(error));
    },

    goHome() {
      wx.reLaunch({ url: HOME });
    },

    /** Scans another code, with the camera only: a picture of a code may be a relayed one. */
    async scanCode() {
      if (this.data.busy) return;
      this.scanning = true;
      let scene;
      try {
        scene = await scanWithCamera();
      } finally {
        this.scanning = false;
      }
      // Closing the camera is not an error: stay on this screen.
      if (scene === undefined) return;
      if (!scene) {
        this.fail('notOurs');
        return;
      }
      this.scene = scene;
      this.setData({ warnText: this.texts.warn });
      await this.scan();
    },

    async scan() {
      this.stopTimers();
      holdUpdates(true);
      this.lastAction = 'scan';
      // Only the newest scan's answer counts: a later scan by the same person revokes the
      // token of an earlier one.
      const attempt = (this.scanAttempt || 0) + 1;
      this.scanAttempt = attempt;
      this.setData({ state: 'loading', busy: true, avatarPath: '', announcement: '' });
      this.uploadedAvatar = '';
      this.nicknameReview = 'none';
      // A new scan is a new login: its own confirm tap asks again, or not.
      this.notifyAsked = false;
      this.secondsLeft = undefined;
      try {
        const asked = await scanFlow({ api: this.api, wxLogin: wx.login, scene: this.scene });
        if (attempt !== this.scanAttempt) return;
        this.scanToken = asked.scanToken;
        this.expiresAt = Date.now() + asked.expiresIn * 1000;
        const app = asked.application;
        this.setData({
          state: 'asking',
          busy: false,
          applicationText: app ? this.texts.applicationAsks(app.name) : '',
          deleting: asked.purpose === 'delete_account',
          applicationLogo: (app && /^https:\/\//.test(app.logo_uri || '') && app.logo_uri) || '',
          browserText: describeBrowser(this.texts, asked.browser),
          ip: placeOf(asked.browser),
          askedAt: formatTime(asked.browser.requested_at),
        });
        this.tick();
      } catch (e) {
        if (attempt === this.scanAttempt) this.fail(e);
      }
    },

    /** The countdown to the code's expiry; at zero the expired screen replaces confirm. */
    tick() {
      const left = Math.ceil((this.expiresAt - Date.now()) / 1000);
      if (left <= 0) {
        this.fail('expired');
        return;
      }
      const said = announcement(this.secondsLeft, left);
      this.secondsLeft = left;
      this.setData(said === null ? { countdown: this.texts.expiresIn(left) } : { countdown: this.texts.expiresIn(left), announcement: this.texts.expiresIn(said) });
      this.countdownTimer = setTimeout(() => this.tick(), 1000);
    },

    stopTimers() {
      clearTimeout(this.countdownTimer);
      clearTimeout(this.limitTimer);
      clearTimeout(this.reviewTimer);
      if (this.stopWaitingOnline) this.stopWaitingOnline();
      this.stopWaitingOnline = null;
    },

    onChooseAvatar(e) {
      this.setData({ avatarPath: e.detail.avatarUrl });
      this.uploadedAvatar = '';
    },

    onNicknameInput() {
      // A changed nickname is reviewed again by WeChat.
      this.nicknameReview = 'pending';
    },

    onNicknameReview(e) {
      this.nicknameReview = e.detail && e.detail.pass ? 'pass' : 'fail';
      if (this.reviewDone) this.reviewDone();
    },

    /** The nickname once WeChat's review (nicknamereview) has passed; '' otherwise. */
    reviewedNickname(value) {
      const name = cutNickname(value);
      if (!name) return Promise.resolve('');
      const verdict = () => (this.nicknameReview === 'pass' ? name : '');
      if (this.nicknameReview !== 'pending' && this.nicknameReview !== 'none') return Promise.resolve(verdict());
      return new Promise((resolve) => {
        this.reviewDone = () => {
          this.reviewDone = null;
          clearTimeout(this.reviewTimer);
          resolve(verdict());
        };
        this.reviewTimer = setTimeout(() => this.reviewDone && this.reviewDone(), REVIEW_WAIT_MS);
      });
    },

    /**
     * The confirm button's tap (the confirm itself comes with the form's submit, which
     * carries the nickname). With a template configured, it first asks whether this
     * person wants a notification of the login. That must be the tap handler's first,
     * synchronous call: WeChat opens wx.requestSubscribeMessage's dialog only with the
     * tap's click state, which does not survive a setTimeout (and on iOS not even a
     * Promise) (框架 → 视图层 → 事件 → 点击态). Whether a form's submit handler has a click
     * state is not documented, so it is asked here. The answer is not waited for: the
     * login goes on either way. The confirm says only that it was asked (`notify`), and
     * the server sends the message then: if the person declined, WeChat refuses the send
     * (errcode 43101), so their answer is WeChat's to keep, not ours to wait for.
     */
    onConfirmTap() {
      const id = config.notifyTemplateId;
      if (!id || typeof wx.requestSubscribeMessage !== 'function') return;
      wx.requestSubscribeMessage({
        tmplIds: [id],
        // A callback, so that WeChat returns no Promise to be rejected unhandled.
        fail: (e) => log.info('subscription not asked:', (e && e.errMsg) || ''),
      });
      this.notifyAsked = true;
    },

    /** The confirm form: the nickname comes from the submit, after WeChat's review. */
    async onSubmit(e) {
      if (this.data.busy || this.data.state !== 'asking') return;
      this.setData({ busy: true });
      const value = (e && e.detail && e.detail.value && e.detail.value.nickname) || '';
      this.nickname = await this.reviewedNickname(value);
      // The code may have expired while WeChat reviewed the nickname.
      if (this.data.state !== 'asking') return undefined;
      return this.confirm();
    },

    async confirm() {
      this.lastAction = 'confirm';
      this.setData({ busy: true });
      try {
        if (this.data.avatarPath && !this.uploadedAvatar) {
          // Compressed, uploaded, or left out: never in the way of the login.
          this.uploadedAvatar = await uploadedOrNothing(this.api, this.scene, this.scanToken, this.data.avatarPath);
          // Not tried again by a retry of the confirm: the person sees it was left out.
          if (!this.uploadedAvatar) this.setData({ avatarPath: '' });
        }
        // A retry of this confirm keeps `notify`: it is the same login its tap asked about.
        await this.api.confirm(this.scene, this.scanToken, profileOf(this.nickname, this.uploadedAvatar), this.notifyAsked);
        this.finish('done');
      } catch (e) {
        this.fail(e);
      }
    },

    async cancel() {
      if (this.data.busy) return;
      this.lastAction = 'cancel';
      this.setData({ busy: true });
      try {
        await this.api.cancel(this.scene, this.scanToken);
        this.finish('cancelled');
      } catch (e) {
        this.fail(e);
      }
    },

    finish(state) {
      this.stopTimers();
      this.setData({ state, busy: false });
      holdUpdates(false);
    },

    /** Tries the failed step again (the same scan token): a network or server failure may pass. */
    retry() {
      if (this.data.busy) return undefined;
      if (this.lastAction === 'scan') return this.scan();
      this.setData({ state: 'sending', busy: false });
      return this.lastAction === 'confirm' ? this.confirm() : this.cancel();
    },

    /** The scan token was refused (401): a fresh wx.login and scan of the same code. */
    rescan() {
      if (this.data.busy) return undefined;
      return this.scan();
    },

    onAgreePrivacy() {
      if (this.privacyResolve) this.privacyResolve({ buttonId: 'agree-privacy', event: 'agree' });
      this.privacyResolve = null;
      this.setData({ privacyShown: false });
    },

    onDeclinePrivacy() {
      if (this.privacyResolve) this.privacyResolve({ event: 'disagree' });
      this.privacyResolve = null;
      this.setData({ privacyShown: false });
    },

    openPrivacyGuide() {
      if (typeof wx.openPrivacyContract === 'function') wx.openPrivacyContract({});
    },

    /** The screen for an error: an ApiError, or the name of a screen. */
    fail(error) {
      const kind = typeof error === 'string' ? error : error.kind || 'server';
      if (kind === 'confirmed' || kind === 'cancelled') {
        // The decision was made already (a cancel after a confirm, a confirm after a
        // cancel): show how the login ended.
        this.finish(kind === 'confirmed' ? 'done' : 'cancelled');
        return;
      }
      this.stopTimers();
      if (typeof error !== 'string' && ['network', 'server'].includes(kind)) {
        log.warn('login step failed:', this.lastAction, kind, error.status, error.message, error.requestId);
      }
      const t = this.texts;
      const retryIn = kind === 'limited' ? error.retryAfter || 5 : 0;
      // A refusal says why when the server gave a reason lib/api.js knows; otherwise it is
      // the generic one (t.refused).
      const refusalText = kind === 'refused' && t.refusals[error.refusal];
      this.setData({
        state: 'error',
        busy: kind === 'limited',
        error: kind,
        errorText: kind === 'limited' ? t.limited(retryIn) : refusalText || t[kind] || t.server,
        errorHint: kind === 'relayed' ? t.relayedInWeChat : '',
        canRetry: kind === 'network' || kind === 'server',
        canRescan: kind === 'rescan',
        // Every other screen leads somewhere: scanning another code. A refusal too: a retry
        // or a new scan of this code meets the same rule, but another site's or
        // application's code may be one this person is admitted to.
        canScan: !GOING_ON.includes(kind),
        scanLabel: kind === 'relayed' ? t.cameraScan : t.scanOther,
      });
      if (!GOING_ON.includes(kind)) holdUpdates(false);
      if (kind === 'network') {
        // Tried again by itself as soon as the phone is back online.
        this.stopWaitingOnline = onceOnline(() => this.retry());
      }
      if (kind === 'limited') {
        // Waits as the server asked, then tries the same step again by itself.
        this.limitTimer = setTimeout(() => {
          this.setData({ busy: false });
          this.retry();
        }, retryIn * 1000);
      }
    },
  },
});
