import { expect, test } from "@playwright/test";

import { NGINX_PORT } from "../playwright.config";

// Through deploy/nginx-scanlogin.conf: TLS, the socket upgraded by nginx, the client's
// address from X-Forwarded-For (SCANLOGIN_TRUSTED_PROXIES=127.0.0.1), secure cookies.
const BASE = `https://127.0.0.1:${NGINX_PORT}`;
test.use({ ignoreHTTPSErrors: true });

test("a login through nginx in front of the server", async ({ page, browser }) => {
  await page.goto(`${BASE}/login`);
  const qr = page.getByTestId("qr-login");
  await expect(qr).toHaveAttribute("data-state", "waiting");
  const scene = await qr.getAttribute("data-scene");

  const phone = await (
    await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 390, height: 844 } })
  ).newPage();
  await phone.goto(`${BASE}/phone?scene=${scene}`);
  await expect(phone.getByTestId("phone")).toHaveAttribute("data-hydrated", "true");
  await phone.getByTestId("phone-scan").click();
  await expect(phone.getByTestId("phone-browser")).toBeVisible();
  await expect(qr).toHaveAttribute("data-state", "scanned");
  await phone.getByTestId("phone-confirm").click();

  await expect(page).toHaveURL(`${BASE}/`);
  await expect(page.getByTestId("user-nickname")).toHaveText("Alice 爱丽丝");
  const cookies = await page.context().cookies(BASE);
  expect(cookies.find((c) => c.name === "__Host-scanlogin_session")?.secure).toBe(true);
  const me = await page.request.get(`${BASE}/api/me`);
  expect(me.headers()["x-request-id"]).toMatch(/^[0-9a-f]{32}$/);
});

test("nginx lets a phone's avatar upload through to the server's own limit", async ({ request }) => {
  // A real chooseAvatar photo is hundreds of KiB: nginx's default 1 MiB (or the site's
  // 64k for the API) would answer 413 before scanlogin saw it. This one is for a scene
  // nobody has: scanlogin's own answer proves the upload reached it.
  const res = await request.post(`${BASE}/api/mp/avatar`, {
    multipart: {
      scene: "A".repeat(32),
      scan_token: "not-a-scan-token",
      avatar: { name: "tmp_avatar.jpg", mimeType: "image/jpeg", buffer: Buffer.alloc(1536 * 1024, 7) },
    },
  });
  expect(res.status()).toBe(404);
  expect((await res.json()).code).toBe(404);
});
