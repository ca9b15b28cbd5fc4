import { defineConfig, devices } from "@playwright/test";

// The server is started and stopped by `cargo leptos end-to-end --release`
// (see the Makefile), which then runs this suite against it.
const baseURL = process.env.SCANLOGIN_E2E_URL ?? "http://127.0.0.1:3000";

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
  use: {
    baseURL,
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
