// Starts the real scanlogin server (release build, demo mode, in-memory database) for the
// integration test, on a free port; `stop` ends it. Only the integration test needs it.
const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const path = require('path');

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function start() {
  const root = path.resolve(__dirname, '..', '..');
  // SERVER_BIN: `make miniprogram` runs the test build's server; by default the release one.
  const binary = path.resolve(root, process.env.SERVER_BIN || path.join('target', 'release', 'scanlogin'));
  if (!fs.existsSync(binary)) {
    throw new Error(`${binary} is missing: build it first (cargo leptos build --release; make test builds its own)`);
  }
  const port = await freePort();
  const child = spawn(binary, [], {
    cwd: root,
    env: {
      ...process.env,
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: 'target/site',
      SCANLOGIN_DATABASE_URL: 'sqlite::memory:',
      RUST_LOG: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20000;
  for (;;) {
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) return { url, stop: () => child.kill('SIGTERM') };
    } catch (e) {
      // not up yet
    }
    if (child.exitCode !== null) throw new Error(`scanlogin exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error('scanlogin did not start within 20 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}

module.exports = { start };
