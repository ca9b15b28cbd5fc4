import { expect, test } from "@playwright/test";
import * as http from "http";
import { AddressInfo } from "net";

test("pages carry security headers and a nonce CSP that hydration satisfies", async ({ page }) => {
  const violations: string[] = [];
  page.on("console", (msg) => /Content Security Policy|Refused to/.test(msg.text()) && violations.push(msg.text()));

  const helloSent = new Promise<void>((resolve) => page.on("websocket", (ws) => ws.on("framesent", () => resolve())));
  const response = await page.goto("/login");
  const headers = response!.headers();
  expect(headers["x-frame-options"]).toBe("DENY");
  expect(headers["x-content-type-options"]).toBe("nosniff");
  expect(headers["referrer-policy"]).toBe("same-origin");
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
  await helloSent;
  expect(violations).toEqual([]);
});

test("the login page refuses to render in a frame", async ({ page, baseURL }) => {
  // A page on another origin (another port) of this machine frames the login page. It is
  // served for real: a page Playwright made up has no address, and Chromium would block
  // the frame for reaching the local network from it, whatever the login page's headers.
  const framing = http.createServer((_, res) => {
    res.setHeader("content-type", "text/html");
    res.end(`<html><body><iframe id="f" src="${baseURL}/login" width="400" height="400"></iframe></body></html>`);
  });
  await new Promise<void>((resolve) => framing.listen(0, "127.0.0.1", resolve));
  try {
    const refused = page.waitForEvent("requestfailed", (r) => r.url() === `${baseURL}/login`);
    await page.goto(`http://127.0.0.1:${(framing.address() as AddressInfo).port}/`);
    // Chromium blocks the frame for the login page's headers: nothing of it is shown.
    expect((await refused).failure()?.errorText).toBe("net::ERR_BLOCKED_BY_RESPONSE");
    await expect(page.frameLocator("#f").getByTestId("qr-login")).toHaveCount(0);
  } finally {
    framing.close();
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
    // The envelope's code is the status, except at the QR image endpoint (the original design's contract): 400 always.
    expect(body.code).toBe(path === "/miniapp/getwxacodeunlimit" ? 400 : res.status());
  }
});
