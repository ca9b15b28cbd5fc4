// Chinese by default, English when WeChat's language is English. Every text the page
// shows is here, the server's words included: it sends the browser as data (family,
// version, OS) and the page words it.

const TEXTS = {
  zh: {
    title: '扫码登录',
    home: '在电脑上打开要登录的网站，然后扫描页面上的小程序码。',
    scan: '扫一扫',
    scanOther: '扫描其他二维码',
    loading: '正在确认登录请求…',
    applicationAsks: (name) => `${name} 请求使用你的微信登录`,
    asking: '有浏览器请求登录你的账号',
    browser: '浏览器',
    ip: '网络',
    time: '请求时间',
    browserOn: (family, version, os) => `${os ? `${os} 上的 ` : ''}${family}${version ? ` ${version}` : ''}`,
    unknownBrowser: '未知浏览器',
    warn: '请确认这是你面前的电脑，否则请取消。',
    expiresIn: (s) => `${s} 秒后过期`,
    avatar: '选择头像',
    avatarLabel: '头像：点按选择',
    nickname: '昵称',
    nicknamePlaceholder: '输入昵称（可选）',
    confirm: '确认登录',
    deleting: '这次扫码是为了注销你的账号：确认后，这个浏览器将可以删除你的账号和全部数据。',
    confirmDelete: '确认注销账号',
    cancel: '取消',
    done: '登录成功，可以放下手机了。',
    cancelled: '已取消，没有人登录。',
    expired: '二维码已过期，请在电脑上刷新二维码后重新扫码。',
    used: '这个二维码已经被使用了，请在电脑上刷新二维码。',
    rescan: '这次扫码已失效，请重新扫码。',
    rescanButton: '重新扫码',
    // A 403 by its `refusal` (see REFUSALS in lib/api.js): why, and whom to ask. The answer
    // names no application, so not_allowed cannot either.
    refused: '你无法登录这个网站。如有疑问，请联系网站管理员。',
    refusals: {
      not_invited: '这个网站只允许受邀请的人登录。请向网站管理员索取邀请。',
      closed: '这个网站只允许已有账号的用户登录。如需使用，请向网站管理员申请开通。',
      disabled: '你的账号已被管理员停用，请联系网站管理员。',
      not_allowed: '你没有使用这个应用的权限。如需使用，请向网站管理员申请。',
      invitation_invalid: '这个邀请已失效（已用完、已撤销或已过期）。请向网站管理员索取新的邀请。',
    },
    limited: (s) => `请求太频繁，${s} 秒后自动重试。`,
    badrequest: '请求有误，请在电脑上刷新二维码后重新扫码。',
    network: '网络连接失败，请检查网络后重试。',
    server: '服务器出错了，请稍后再试。',
    invalid: '二维码无效，请在电脑上刷新二维码后重新扫码。',
    notOurs: '这不是登录用的小程序码。',
    retry: '重试',
    privacyTitle: '隐私保护提示',
    privacyText: '选择头像和填写昵称前，请阅读并同意隐私保护指引。',
    privacyGuide: '《隐私保护指引》',
    privacyAgree: '同意',
    privacyDecline: '拒绝',
    // The home page.
    about: '用微信扫一扫网站登录页上的小程序码，在手机上确认，就能登录电脑上的网站，不用输入密码。',
    cameraScan: '用相机扫码',
    account: '我的账号',
    backHome: '返回首页',
    // A code from a picture (entry scenes 1048, 1049: see lib/entry.js): refused.
    relayed: '为了保护你的账号，不能用图片中的二维码登录：有人可能把登录二维码的图片发给你，想借此登录你的账号。请用相机扫描你面前屏幕上的二维码。',
    relayedInWeChat: '如果这个二维码在这台手机的微信网页中，请点右上角「···」选择「在浏览器打开」，再点页面上的「在微信中打开」。',
    // Opened by a link from this phone's browser (1194, 1065): no computer in front of you.
    warnPhone: '确认后将在这台手机的浏览器上登录。如果你刚才没有在这台手机的浏览器上登录，请取消。',
    updateTitle: '发现新版本',
    updateText: '新版本已经准备好，重启小程序即可使用。现在重启吗？',
    // The account page.
    accountLoading: '正在读取你的账号…',
    sessionsTitle: '登录中的浏览器',
    noSessions: '目前没有登录中的浏览器。',
    lastSeen: '最近使用',
    recentTitle: '最近的登录',
    noRecent: '还没有登录记录。',
    loginEvents: { login_confirmed: '确认登录', login_refused: '登录被拒绝', login_cancelled: '取消登录' },
    logoutEverywhere: '在所有浏览器上退出登录',
    logoutTitle: '退出所有登录？',
    logoutText: '所有浏览器上的登录都会结束，之后可以重新扫码登录。',
    logoutConfirm: '退出',
    loggedOut: (n) => `已结束 ${n} 个登录。`,
    deleteAccount: '删除我的账号',
    deleteTitle: '删除账号？',
    deleteText: '你的账号和资料将被删除，所有浏览器上的登录都会结束。此操作无法撤销。',
    deleteConfirm: '删除',
    deleted: '你的账号已删除。',
    noAccount: '这个微信还没有在本网站登录过，没有账号。',
    // Opened from a login message (?session=): was that login this person's own?
    askedTitle: '这是你本人的登录吗？',
    askedHint: '如果不是你，请立即结束这个登录。',
    loggedInAt: '登录时间',
    askedMark: '消息中的登录',
    askedGone: '这个登录已经结束，无需处理。',
    endSession: '不是我：结束这个登录',
    endSessionTitle: '结束这个登录？',
    endSessionText: '这个浏览器上的登录会立即结束。如果其实是你本人，重新扫码即可登录。',
    endSessionConfirm: '结束登录',
    sessionEnded: '那个登录已结束。',
  },
  en: {
    title: 'Scan to log in',
    home: 'Open the site you want to log in to on your computer, then scan the code on its page.',
    scan: 'Scan',
    scanOther: 'Scan another code',
    loading: 'Checking the login request…',
    applicationAsks: (name) => `${name} wants you to log in`,
    asking: 'A browser asks to log in as you',
    browser: 'Browser',
    ip: 'Network',
    time: 'Asked at',
    browserOn: (family, version, os) => `${family}${version ? ` ${version}` : ''}${os ? ` on ${os}` : ''}`,
    unknownBrowser: 'An unknown browser',
    warn: 'Only confirm if this is the computer in front of you.',
    expiresIn: (s) => `Expires in ${s} s`,
    avatar: 'Choose avatar',
    avatarLabel: 'Avatar: tap to choose',
    nickname: 'Nickname',
    nicknamePlaceholder: 'Your nickname (optional)',
    confirm: 'Confirm login',
    deleting: 'This scan is to delete your account: once you confirm, this browser can delete your account and all your data.',
    confirmDelete: 'Confirm deleting my account',
    cancel: 'Cancel',
    done: 'Logged in. You can put your phone away.',
    cancelled: 'Cancelled. Nobody was logged in.',
    expired: 'This code has expired: refresh the code on your computer and scan again.',
    used: 'This code was already used: refresh the code on your computer.',
    rescan: 'This scan is no longer valid: please scan again.',
    rescanButton: 'Scan again',
    refused: "You cannot log in to this site. If you think you should, contact the site's administrator.",
    refusals: {
      not_invited: "This site admits invited people only. Ask the site's administrator for an invitation.",
      closed: "This site admits its existing users only. Ask the site's administrator for access.",
      disabled: "Your account was disabled by an administrator. Contact the site's administrator.",
      not_allowed: "You are not allowed to use this application. Ask the site's administrator for access.",
      invitation_invalid: "The invitation you came with is no longer valid (used up, revoked or expired). Ask the site's administrator for a new one.",
    },
    limited: (s) => `Too many requests: trying again in ${s} s.`,
    badrequest: 'The request was not valid: refresh the code on your computer and scan again.',
    network: 'No network connection. Check it and try again.',
    server: 'Something went wrong on the server. Please try again later.',
    invalid: 'This code is not valid: refresh the code on your computer and scan again.',
    notOurs: 'This is not a login code.',
    retry: 'Try again',
    privacyTitle: 'Privacy',
    privacyText: 'Before you choose an avatar or a nickname, please read and accept the privacy guide.',
    privacyGuide: 'Privacy guide',
    privacyAgree: 'Accept',
    privacyDecline: 'Decline',
    about: 'Scan the code on a site\'s login page with WeChat and confirm on your phone to log in on your computer, no password needed.',
    cameraScan: 'Scan with the camera',
    account: 'My account',
    backHome: 'Back to home',
    relayed: 'For your safety, a login code in a picture cannot be used: someone may have sent you a picture of a login code to take over your account. Scan the code on the screen in front of you with the camera instead.',
    relayedInWeChat: 'If the code is on a page open in WeChat on this phone, tap ··· at the top right, choose Open in Browser, then tap “Open in WeChat” on the page.',
    warnPhone: "Confirming logs you in on this phone's browser. If you did not just start logging in on this phone's browser, cancel.",
    updateTitle: 'Update ready',
    updateText: 'A new version is ready. Restart the mini program to use it now?',
    accountLoading: 'Loading your account…',
    sessionsTitle: 'Where you are logged in',
    noSessions: 'You are not logged in anywhere.',
    lastSeen: 'Last seen',
    recentTitle: 'Recent logins',
    noRecent: 'No logins yet.',
    loginEvents: { login_confirmed: 'Login confirmed', login_refused: 'Login refused', login_cancelled: 'Login cancelled' },
    logoutEverywhere: 'Log out everywhere',
    logoutTitle: 'Log out everywhere?',
    logoutText: 'Every browser you are logged in to will be logged out. You can log in again by scanning.',
    logoutConfirm: 'Log out',
    loggedOut: (n) => `Ended ${n} ${n === 1 ? 'login' : 'logins'}.`,
    deleteAccount: 'Delete my account',
    deleteTitle: 'Delete your account?',
    deleteText: 'Your account and its data will be deleted and every browser logged out. This cannot be undone.',
    deleteConfirm: 'Delete',
    deleted: 'Your account was deleted.',
    noAccount: 'This WeChat account has not logged in to this site: there is no account.',
    askedTitle: 'Was this you?',
    askedHint: 'If it was not you, end this login now.',
    loggedInAt: 'Logged in at',
    askedMark: 'The login in the message',
    askedGone: 'That login has already ended: nothing to do.',
    endSession: 'Not me: end this login',
    endSessionTitle: 'End this login?',
    endSessionText: 'That browser is logged out at once. If it was you after all, you can log in again by scanning.',
    endSessionConfirm: 'End login',
    sessionEnded: 'That login has ended.',
  },
};

/** The texts for WeChat's language (`zh_CN`, `en`, ...). */
function textsFor(language) {
  return /^en/i.test(language || '') ? TEXTS.en : TEXTS.zh;
}

/** WeChat's language (`zh_CN`, `en`, ...), Chinese when it cannot be had. */
function currentLanguage() {
  try {
    const info = typeof wx.getAppBaseInfo === 'function' ? wx.getAppBaseInfo() : wx.getSystemInfoSync();
    return info.language;
  } catch (e) {
    return 'zh_CN';
  }
}

/** The texts that are plain strings, for the page's data (setData takes JSON only). */
function stringsOf(t) {
  return Object.fromEntries(Object.entries(t).filter(([, v]) => typeof v === 'string'));
}

/** The browser as words: "Chrome 156 on Windows 10" / "Windows 10 上的 Chrome 156". */
function describeBrowser(t, browser) {
  if (!browser || !browser.family) return t.unknownBrowser;
  return t.browserOn(browser.family, browser.version, browser.os);
}

/** An RFC 3339 time as the phone's local `YYYY-MM-DD HH:MM:SS`. */
function formatTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/**
 * Where a browser or session is: the server's coarse place before the address
 * ("Shenyang, Liaoning, CN · 203.0.113.9"), or the address alone when it knows none.
 */
function placeOf({ place, ip }) {
  return place ? `${place} · ${ip || ''}` : ip || '';
}

module.exports = { TEXTS, textsFor, currentLanguage, stringsOf, describeBrowser, formatTime, placeOf };
