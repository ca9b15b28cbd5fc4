// The page a scanlogin code opens: who is asking, then confirm or cancel. Opened without a
// code (from the recent list) it is a home screen with a scan button.
// Built with Component() (WeChat allows it for pages), so its lifecycle is in `methods`.

const config = require('../../config.js');
const { decodeScene, sceneFromScan } = require('../../lib/scene.js');
const { createApi, scanFlow, profileOf, cutNickname } = require('../../lib/api.js');
const { textsFor, stringsOf, describeBrowser, formatTime } = require('../../lib/i18n.js');

/** How long a nickname may wait for WeChat's content review before it is left out. */
const REVIEW_WAIT_MS = 3000;

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
    // home | loading | asking | sending | done | cancelled | error
    state: 'loading',
    // The error screen's kind (see lib/api.js) and its words.
    error: '',
    errorText: '',
    canRetry: false,
    canRescan: false,
    canScan: false,
    // A request is in flight: every button is disabled and shows it.
    busy: false,
    t: stringsOf(textsFor('zh_CN')),
    // "Grafana wants you to log in", when the login is for an application.
    applicationText: '',
    applicationLogo: '',
    browserText: '',
    ip: '',
    askedAt: '',
    countdown: '',
    // The chosen avatar as the phone shows it (a temporary file: never sent as a URL).
    avatarPath: '',
    privacyShown: false,
  },

  methods: {
    onLoad(options) {
      this.texts = textsFor(language());
      this.setData({ t: stringsOf(this.texts) });
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
        this.setData({ state: 'home' });
        return Promise.resolve();
      }
      if (scene === null) {
        // A malformed scene never reaches the server.
        this.fail('invalid');
        return Promise.resolve();
      }
      this.scene = scene;
      return this.scan();
    },

    onUnload() {
      this.stopTimers();
    },

    /** Home screen: scan a login code from inside the mini program. */
    scanCode() {
      if (this.data.busy) return Promise.resolve();
      return new Promise((resolve) => {
        wx.scanCode({
          scanType: ['wxCode', 'qrCode'],
          success: (res) => {
            const scene = sceneFromScan(res);
            if (!scene) {
              this.fail('notOurs');
              resolve();
              return;
            }
            this.scene = scene;
            resolve(this.scan());
          },
          // Closing the camera is not an error: stay on the home screen.
          fail: () => resolve(),
        });
      });
    },

    async scan() {
      this.stopTimers();
      this.lastAction = 'scan';
      // Only the newest scan's answer counts: a later scan by the same person revokes the
      // token of an earlier one.
      const attempt = (this.scanAttempt || 0) + 1;
      this.scanAttempt = attempt;
      this.setData({ state: 'loading', busy: true, avatarPath: '' });
      this.uploadedAvatar = '';
      this.nicknameReview = 'none';
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
          applicationLogo: (app && /^https:\/\//.test(app.logo_uri || '') && app.logo_uri) || '',
          browserText: describeBrowser(this.texts, asked.browser),
          ip: asked.browser.ip,
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
      this.setData({ countdown: this.texts.expiresIn(left) });
      this.countdownTimer = setTimeout(() => this.tick(), 1000);
    },

    stopTimers() {
      clearTimeout(this.countdownTimer);
      clearTimeout(this.limitTimer);
      clearTimeout(this.reviewTimer);
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
          try {
            this.uploadedAvatar = await this.api.uploadAvatar(this.scene, this.scanToken, this.data.avatarPath);
          } catch (e) {
            // The avatar is optional: one the server refuses (not an image, too large) is
            // left out rather than standing in the way of the login.
            if (e.kind !== 'badrequest') throw e;
            this.setData({ avatarPath: '' });
          }
        }
        await this.api.confirm(this.scene, this.scanToken, profileOf(this.nickname, this.uploadedAvatar));
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
        canRetry: kind === 'network' || kind === 'server',
        canRescan: kind === 'rescan',
        // Every other screen leads somewhere: scanning another code. A refusal too: a retry
        // or a new scan of this code meets the same rule, but another site's or
        // application's code may be one this person is admitted to.
        canScan: !['network', 'server', 'rescan', 'limited'].includes(kind),
      });
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
