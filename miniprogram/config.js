// The one setting a site owner changes: where the scanlogin server is.
// It must be listed as a "request legal domain" (request 合法域名) in the WeChat admin
// console, and be https in production.
module.exports = {
  apiBase: 'https://login.example.com',
};
