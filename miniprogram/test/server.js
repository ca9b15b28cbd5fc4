// Jest's global set-up: starts the real scanlogin server (release build, demo mode,
// in-memory database) for the integration test, on a port of its own.
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');

const PORT = Number(process.env.MP_TEST_PORT || 3010);

module.exports = async function startServer() {
  const root = path.resolve(__dirname, '..', '..');
  const binary = path.join(root, 'target', 'release', 'scanlogin');
  if (!fs.existsSync(binary)) {
    throw new Error(`${binary} is missing: build it first (cargo leptos build --release; make test does)`);
  }
  const server = spawn(binary, [], {
    cwd: root,
    env: {
      ...process.env,
      LEPTOS_SITE_ADDR: `127.0.0.1:${PORT}`,
      LEPTOS_SITE_ROOT: 'target/site',
      SCANLOGIN_DATABASE_URL: 'sqlite::memory:',
      RUST_LOG: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  globalThis.__SCANLOGIN_SERVER__ = server;
  process.env.MP_TEST_SERVER_URL = `http://127.0.0.1:${PORT}`;
  const deadline = Date.now() + 20000;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${PORT}/login`);
      if (res.ok) return;
    } catch (e) {
      // not up yet
    }
    if (server.exitCode !== null) throw new Error(`scanlogin exited with ${server.exitCode}`);
    if (Date.now() > deadline) throw new Error('scanlogin did not start within 20 s');
    await new Promise((r) => setTimeout(r, 100));
  }
};
