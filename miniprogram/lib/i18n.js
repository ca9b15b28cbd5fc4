// Chinese by default, English when WeChat's language is English.

const TEXTS = {
  zh: {
    loading: '正在确认登录请求…',
    asking: '有浏览器请求登录你的账号',
    browser: '浏览器',
    ip: '网络',
    time: '请求时间',
    warn: '请确认这是你面前的电脑，否则请取消。',
    avatar: '头像',
    nickname: '昵称',
    nicknamePlaceholder: '输入昵称',
    confirm: '确认登录',
    cancel: '取消',
    done: '登录成功，可以放下手机了。',
    cancelled: '已取消，没有人登录。',
    expired: '二维码已过期，请在电脑上刷新二维码后重新扫码。',
    used: '这个二维码已经被使用了，请在电脑上刷新二维码。',
    badcode: '登录失败，请重试。',
    network: '网络连接失败，请检查网络后重试。',
    server: '服务器出错了，请稍后再试。',
    invalid: '二维码无效，请在电脑上刷新二维码后重新扫码。',
    retry: '重试',
  },
  en: {
    loading: 'Checking the login request…',
    asking: 'A browser asks to log in as you',
    browser: 'Browser',
    ip: 'Network',
    time: 'Asked at',
    warn: 'Only confirm if this is the computer in front of you.',
    avatar: 'Avatar',
    nickname: 'Nickname',
    nicknamePlaceholder: 'Your nickname',
    confirm: 'Confirm login',
    cancel: 'Cancel',
    done: 'Logged in. You can put your phone away.',
    cancelled: 'Cancelled. Nobody was logged in.',
    expired: 'This code has expired: refresh the code on your computer and scan again.',
    used: 'This code was already used: refresh the code on your computer.',
    badcode: 'Logging in failed. Please try again.',
    network: 'No network connection. Check it and try again.',
    server: 'Something went wrong on the server. Please try again later.',
    invalid: 'This code is not valid: refresh the code on your computer and scan again.',
    retry: 'Try again',
  },
};

/** The texts for WeChat's language (`zh_CN`, `en`, ...). */
function textsFor(language) {
  return /^en/i.test(language || '') ? TEXTS.en : TEXTS.zh;
}

module.exports = { TEXTS, textsFor };

/** An RFC 3339 time as the phone's local `YYYY-MM-DD HH:MM:SS`. */
function formatTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

module.exports.formatTime = formatTime;
