import { defineConfig, devices } from "@playwright/test";
import { chromiumLaunch } from "./playwright.config";

// Measurements for `make bench` (tests/bench/run.sh starts the server and names it in
// BENCH_BASE_URL); never part of the test suite, whose files end in .spec.ts.
export default defineConfig({
  testDir: "./bench",
  testMatch: "**/*.bench.ts",
  timeout: 120_000,
  workers: 1,
  reporter: [["list"]],
  use: { baseURL: process.env.BENCH_BASE_URL ?? "http://127.0.0.1:3000" },
  projects: [{ name: "chromium", use: { ...devices["Desktop Chrome"], launchOptions: chromiumLaunch } }],
});
