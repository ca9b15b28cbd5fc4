module.exports = async function stopServer() {
  const server = globalThis.__SCANLOGIN_SERVER__;
  if (server && server.exitCode === null) server.kill('SIGTERM');
};
