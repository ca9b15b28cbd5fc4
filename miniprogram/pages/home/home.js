// The home page: what this is, a scan button, the privacy guide and the account. WeChat
// opens it when the mini program starts without a path (it is first in app.json's
// `pages`), and every end screen of the login page leads back here.
// Built with Component() (WeChat allows it for pages), so its lifecycle is in `methods`.

const { sceneFromScan } = require('../../lib/scene.js');
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

    /**
     * The camera only (onlyFromCamera): a code picked from the album may be a picture
     * someone sent to take over the account (see lib/entry.js). A code of ours gives its
     * page's `path` with `scene=` (URL-encoded, as WeChat gives it).
     */
    scan() {
      return new Promise((resolve) => {
        wx.scanCode({
          onlyFromCamera: true,
          scanType: ['wxCode', 'qrCode'],
          success: (res) => {
            const scene = sceneFromScan(res);
            if (!scene) {
              this.setData({ notice: this.texts.notOurs });
              resolve();
              return;
            }
            this.setData({ notice: '' });
            markCameraScan(scene);
            wx.navigateTo({ url: `/pages/login/login?scene=${encodeURIComponent(scene)}` });
            resolve();
          },
          // Closing the camera is not an error.
          fail: () => resolve(),
        });
      });
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
