import { defineConfig, devices } from "@playwright/test";

// The suite runs against the release build (`cargo leptos build --release`, see the
// Makefile) and starts and stops its own servers: one as shipped, in demo mode, and
// one whose codes expire after 4 s and are replaced by themselves once in a row, for the
// expiry tests.
const server = (port: number, env: Record<string, string> = {}) => ({
  command: "./target/release/scanlogin",
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

export const MAIN_PORT = 3000;
export const SHORT_TTL_PORT = 3002;

// Debian's chromium: Playwright's own browser download cannot work on a closed network.
// These flags keep it from calling out to Google's services, which would fail here.
const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: [["list"]],
  webServer: [server(MAIN_PORT), server(SHORT_TTL_PORT, { SCANLOGIN_SCENE_TTL_SECS: "4", SCANLOGIN_AUTO_REFRESHES: "1" })],
  use: {
    baseURL: `http://127.0.0.1:${MAIN_PORT}`,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
  projects: [
    {
      name: "chromium",
      use: {
        ...devices["Desktop Chrome"],
        launchOptions: {
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
        },
      },
    },
  ],
});
