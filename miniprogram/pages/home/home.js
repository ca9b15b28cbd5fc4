// The home page: what this is, a scan button, the privacy guide and the account. WeChat
// opens it when the mini program starts without a path (it is first in app.json's
// `pages`), and every end screen of the login page leads back here.
// Built with Component() (WeChat allows it for pages), so its lifecycle is in `methods`.

const { scanWithCamera } = require('../../lib/scene.js');
const { textsFor, currentLanguage, stringsOf } = require('../../lib/i18n.js');
const { markCameraScan } = require('../../lib/entry.js');
const { askPending } = require('../../lib/update.js');

Component({
  data: {
    t: stringsOf(textsFor('zh_CN')),
    // "This is not a login code", after a scan of some other code.
    notice: '',
  },

  methods: {
    onLoad() {
      this.texts = textsFor(currentLanguage());
      this.setData({ t: stringsOf(this.texts) });
      wx.setNavigationBarTitle({ title: this.texts.title });
    },

    onShow() {
      // Nothing is in progress here: a restart into a new version may be asked now.
      askPending();
    },

    /** Scans a login code with the camera (lib/scene.js) and opens its login page. */
    async scan() {
      const scene = await scanWithCamera();
      if (scene === undefined) return;
      if (!scene) {
        this.setData({ notice: this.texts.notOurs });
        return;
      }
      this.setData({ notice: '' });
      markCameraScan(scene);
      wx.navigateTo({ url: `/pages/login/login?scene=${encodeURIComponent(scene)}` });
    },

    openPrivacyGuide() {
      // Base library 2.32.3 (the minimum this mini program declares: README).
      if (typeof wx.openPrivacyContract === 'function') wx.openPrivacyContract({});
    },

    openAccount() {
      wx.navigateTo({ url: '/pages/account/account' });
    },
  },
});
