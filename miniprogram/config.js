// The one setting a site owner changes: where the scanlogin server is, per version of the
// mini program (wx.getAccountInfoSync's envVersion: develop in DevTools and on developers'
// phones, trial for testers, release once published). Each origin must be listed as a
// "request legal domain" and an "uploadFile legal domain" (request / uploadFile 合法域名)
// in the WeChat admin console, and be https (DevTools may skip the check while developing).
const ORIGINS = {
  // Your computer's address on the network the phone is on (DevTools and a phone in
  // development mode may use plain http when 不校验合法域名 is set).
  develop: 'http://192.168.1.10:3000',
  trial: 'https://login-staging.example.com',
  release: 'https://login.example.com',
};

/** The API origin for the running version of the mini program. */
function apiBase() {
  let version = 'release';
  try {
    version = wx.getAccountInfoSync().miniProgram.envVersion || 'release';
  } catch (e) {
    // Not in WeChat (tests) or an old client: the released origin.
  }
  return ORIGINS[version] || ORIGINS.release;
}

// Opt-in notifications: the id of a subscription-message template (订阅消息, from the admin
// console: 功能 → 订阅消息), e.g. "new login to your account". When set, tapping confirm first
// asks the person whether they want such messages (wx.requestSubscribeMessage); the login
// goes on whatever they answer. Empty: nothing is asked. Sending them is the server's part:
// the confirm says it asked (`notify`), and a server with the same template
// (SCANLOGIN_NOTIFY_TEMPLATE_ID) sends one opening pages/account/account?session=<sid>.
const notifyTemplateId = '';

module.exports = { ORIGINS, apiBase, notifyTemplateId };
