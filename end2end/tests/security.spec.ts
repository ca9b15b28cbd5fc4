import { expect, test } from "@playwright/test";

test("pages carry security headers and a nonce CSP that hydration satisfies", async ({ page }) => {
  const violations: string[] = [];
  page.on("console", (msg) => /Content Security Policy|Refused to/.test(msg.text()) && violations.push(msg.text()));

  const response = await page.goto("/login");
  const headers = response!.headers();
  expect(headers["x-frame-options"]).toBe("DENY");
  expect(headers["x-content-type-options"]).toBe("nosniff");
  expect(headers["referrer-policy"]).toBe("no-referrer");
  const csp = headers["content-security-policy"];
  expect(csp).toContain("frame-ancestors 'none'");
  const nonce = csp.match(/'nonce-([^']+)'/)?.[1];
  expect(nonce).toBeTruthy();
  expect(csp).not.toContain("unsafe-inline");
  // The nonce is fresh for every response.
  const again = await page.request.get("/login");
  expect(again.headers()["content-security-policy"]).not.toContain(nonce!);

  // Under that policy the page still hydrates, gets its code and opens its socket.
  await expect(page.getByTestId("qr-login")).toHaveAttribute("data-state", "waiting");
  expect(violations).toEqual([]);
});

test("the login page refuses to render in a frame", async ({ page, baseURL }) => {
  // A page on another origin (another port) frames the login page.
  const frames: string[] = [];
  page.on("framenavigated", (f) => frames.push(f.url()));
  await page.route("http://127.0.0.1:3999/", (route) =>
    route.fulfill({
      contentType: "text/html",
      body: `<html><body><iframe id="f" src="${baseURL}/login" width="400" height="400"></iframe></body></html>`,
    }),
  );
  await page.goto("http://127.0.0.1:3999/");
  const frame = page.frameLocator("#f");
  // Chromium blocks the frame: nothing of the login page is in it.
  await page.waitForTimeout(1500);
  await expect(frame.getByTestId("qr-login")).toHaveCount(0);
  const loginFrame = page.frames().find((f) => f.url().endsWith("/login"));
  if (loginFrame) {
    expect(await loginFrame.locator("[data-testid=qr-login]").count()).toBe(0);
  }
});

test("API errors are JSON, never HTML", async ({ request }) => {
  for (const [method, path] of [
    ["GET", "/api/nope"],
    ["GET", "/miniapp/getwxacodeunlimit"],
    ["DELETE", "/api/session"],
  ] as const) {
    const res = await request.fetch(path, { method });
    expect(res.status(), `${method} ${path}`).toBeGreaterThanOrEqual(400);
    expect(res.status(), `${method} ${path}`).toBeLessThan(500);
    expect(res.headers()["content-type"]).toContain("application/json");
    const body = await res.json();
    // The envelope's code is the status, except at the seed's code endpoint: 400 always.
    expect(body.code).toBe(path === "/miniapp/getwxacodeunlimit" ? 400 : res.status());
  }
});
