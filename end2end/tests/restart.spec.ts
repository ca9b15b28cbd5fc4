import { ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";

import { APIRequestContext, expect, test } from "@playwright/test";

import { SERVER_BIN } from "../playwright.config";

// This test starts, stops and starts again a server of its own (in memory, so a restart
// loses every scene), as an operator restarting the service would.
const PORT = 3006;
const BASE = `http://127.0.0.1:${PORT}`;

function start(): ChildProcess {
  return spawn(SERVER_BIN, [], {
    cwd: "..",
    env: {
      ...process.env,
      LEPTOS_SITE_ADDR: `127.0.0.1:${PORT}`,
      LEPTOS_SITE_ROOT: "target/site",
      SCANLOGIN_DATABASE_URL: "sqlite::memory:",
      RUST_LOG: "warn",
    },
    stdio: "ignore",
  });
}

async function up(request: APIRequestContext) {
  await expect
    .poll(async () => (await request.get(`${BASE}/healthz`).catch(() => null))?.status(), {
      timeout: 20_000,
    })
    .toBe(200);
}

test("a page waiting through a server restart shows a fresh code by itself", async ({ page, request }) => {
  let server = start();
  try {
    await up(request);
    await page.goto(`${BASE}/login`);
    const qr = page.getByTestId("qr-login");
    await expect(qr).toHaveAttribute("data-state", "waiting");
    const before = await qr.getAttribute("data-scene");

    server.kill("SIGTERM");
    await once(server, "exit");
    server = start();
    await up(request);

    await expect(qr).not.toHaveAttribute("data-scene", before!, { timeout: 20_000 });
    await expect(qr).toHaveAttribute("data-state", "waiting");
    await expect(qr).toHaveAttribute("data-connection", "ok");
  } finally {
    server.kill("SIGTERM");
  }
});

test("a page whose server stays away says so, and recovers when it is back", async ({ page, request }) => {
  let server = start();
  try {
    await up(request);
    await page.goto(`${BASE}/login`);
    const qr = page.getByTestId("qr-login");
    await expect(qr).toHaveAttribute("data-state", "waiting");
    server.kill("SIGTERM");
    await once(server, "exit");
    await expect(qr).toHaveAttribute("data-connection", "unreachable", { timeout: 20_000 });
    await expect(page.getByTestId("qr-unreachable")).toBeVisible();
    server = start();
    await up(request);
    await expect(qr).toHaveAttribute("data-connection", "ok", { timeout: 30_000 });
    await expect(qr).toHaveAttribute("data-state", "waiting");
  } finally {
    server.kill("SIGTERM");
  }
});
