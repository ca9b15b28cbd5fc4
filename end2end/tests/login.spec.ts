import { expect, test } from "@playwright/test";
import { openLogin, phoneScans, setVisibility } from "./helpers";

const SHORT_TTL = "http://127.0.0.1:3002";

test("the login page hydrates, makes a scene and gets its code from a server function", async ({ page }) => {
  const errors: string[] = [];
  page.on("console", (msg) => msg.type() === "error" && errors.push(msg.text()));
  const codeRequests: string[] = [];
  page.on("request", (r) => r.url().endsWith("/miniapp/getwxacodeunlimit") && codeRequests.push(r.postData() ?? ""));

  const scene = await openLogin(page);
  // The browser made the scene and asked for its code itself, after hydration.
  expect(codeRequests).toHaveLength(1);
  expect(JSON.parse(codeRequests[0]).scene).toBe(scene);
  const countdown = page.getByTestId("qr-countdown");
  const secondsLeft = async () => Number((await countdown.textContent())?.match(/Expires in (\d+) s/)?.[1]);
  const first = await secondsLeft();
  expect(first).toBeGreaterThanOrEqual(118);
  expect(first).toBeLessThanOrEqual(120);
  await expect.poll(secondsLeft, { timeout: 5_000 }).toBeLessThan(first);
  expect(errors).toEqual([]);

  // A reload makes a different scene (the server-rendered page has none yet: wait for it).
  await page.reload();
  await expect(page.getByTestId("qr-login")).toHaveAttribute("data-scene", /^[A-Za-z0-9]{32}$/);
  await expect(page.getByTestId("qr-login")).not.toHaveAttribute("data-scene", scene);
});

test("scan, confirm on the phone, and the page is logged in", async ({ page, browser, baseURL }) => {
  const scene = await openLogin(page);
  const phone = await phoneScans(browser, scene, baseURL!, 0);
  await expect(page.getByTestId("qr-login")).toHaveAttribute("data-state", "scanned");
  await expect(page.getByTestId("qr-message")).toHaveText(/confirm on your phone/);
  // The phone shows which browser asks.
  await expect(phone.getByTestId("phone-browser-ip")).toHaveText("127.0.0.x");
  await expect(phone.getByTestId("phone-browser-agent")).toHaveText(/^Chrome \d+ on \S.*$/);

  await phone.getByTestId("phone-confirm").click();
  await expect(phone.getByTestId("phone-done")).toContainText("Confirmed");
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByTestId("user-nickname")).toHaveText("Alice 爱丽丝");
  const me = await page.request.get("/api/me");
  expect(me.status()).toBe(200);
  expect((await me.json()).user.nickname).toBe("Alice 爱丽丝");

  // Logged in: /login goes to /. Logging out ends it.
  await page.goto("/login");
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByTestId("logout")).toHaveAttribute("data-hydrated", "true");
  await page.getByTestId("logout").click();
  await expect(page).toHaveURL(/\/login$/);
  expect((await page.request.get("/api/me")).status()).toBe(401);
});

test("cancel on the phone shows cancelled, then a fresh code", async ({ page, browser, baseURL }) => {
  const scene = await openLogin(page);
  const phone = await phoneScans(browser, scene, baseURL!, 1);
  // Hidden, the page keeps showing "cancelled" (a visible one gets a code by itself after
  // 3 s, which a slow run could reach before the click).
  await setVisibility(page, "hidden");
  await phone.getByTestId("phone-cancel").click();
  const qr = page.getByTestId("qr-login");
  await expect(qr).toHaveAttribute("data-state", "cancelled");
  await expect(page.getByTestId("qr-refresh")).toBeVisible();
  await page.getByTestId("qr-refresh").click();
  await expect(qr).toHaveAttribute("data-state", "waiting");
  await expect(qr).not.toHaveAttribute("data-scene", scene);
});

test("an expired code says so and is replaced by itself", async ({ page }) => {
  const scene = await openLogin(page, SHORT_TTL);
  const qr = page.getByTestId("qr-login");
  await expect(qr).toHaveAttribute("data-state", "expired", { timeout: 8_000 });
  await expect(qr).toHaveAttribute("data-state", "waiting", { timeout: 8_000 });
  await expect(qr).not.toHaveAttribute("data-scene", scene);
});

test("a visible page gets new codes by itself only a few times in a row", async ({ page }) => {
  // The short-TTL server allows one code by itself (SCANLOGIN_AUTO_REFRESHES=1).
  const first = await openLogin(page, SHORT_TTL);
  const qr = page.getByTestId("qr-login");
  await expect(qr).not.toHaveAttribute("data-scene", first, { timeout: 10_000 });
  await expect(qr).toHaveAttribute("data-state", "waiting");
  const second = await qr.getAttribute("data-scene");
  // The second code ends too: now the page asks the person instead of spending codes.
  await expect(qr).toHaveAttribute("data-auto-refresh", "exhausted", { timeout: 10_000 });
  await expect(qr).toHaveAttribute("data-state", "expired");
  await expect(qr).toHaveAttribute("data-scene", second!);
  await expect(page.getByTestId("qr-detail")).toHaveText(/^Code expired — get a new one/);
  await page.getByTestId("qr-refresh").click();
  await expect(qr).toHaveAttribute("data-state", "waiting");
  await expect(qr).toHaveAttribute("data-auto-refresh", "on");
  await expect(qr).not.toHaveAttribute("data-scene", second!);
});

test("a hidden page gets no new code until it is seen again, then at once", async ({ page }) => {
  const first = await openLogin(page, SHORT_TTL);
  const qr = page.getByTestId("qr-login");
  await setVisibility(page, "hidden");
  await expect(qr).toHaveAttribute("data-auto-refresh", "hidden", { timeout: 10_000 });
  await expect(qr).toHaveAttribute("data-state", "expired");
  await expect(qr).toHaveAttribute("data-scene", first);
  await setVisibility(page, "visible");
  await expect(qr).toHaveAttribute("data-state", "waiting");
  await expect(qr).not.toHaveAttribute("data-scene", first);
});

test("a killed socket reconnects and still receives the confirmation", async ({ page, browser, baseURL }) => {
  // Sits between the page and the server; the first socket is cut after it hears `scanned`.
  let connections = 0;
  await page.routeWebSocket(/\/websocket/, (ws) => {
    connections += 1;
    const server = ws.connectToServer();
    const first = connections === 1;
    server.onMessage((message) => {
      ws.send(message);
      if (first && String(message).includes('"scanned"')) {
        ws.close({ code: 4000, reason: "cut by the test" });
        server.close();
      }
    });
  });
  const scene = await openLogin(page);
  const phone = await phoneScans(browser, scene, baseURL!, 2);
  await expect(page.getByTestId("qr-login")).toHaveAttribute("data-state", "scanned");
  await expect.poll(() => connections).toBeGreaterThanOrEqual(2);
  await phone.getByTestId("phone-confirm").click();
  await expect(page.getByTestId("user-nickname")).toHaveText("Carol 卡罗尔");
});

test("a socket told that its scene is unknown gets a fresh code by itself", async ({ page }) => {
  // What a page sees when the server lost its scene (a restart, Redis restarted empty):
  // its socket is refused with 4401 after the hello. The refusal waits until the test has
  // read the first scene, or the page may already show the fresh one when it looks.
  let sockets = 0;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  await page.routeWebSocket(/\/websocket/, (ws) => {
    sockets += 1;
    if (sockets === 1) {
      ws.onMessage(() => released.then(() => ws.close({ code: 4401, reason: "unauthorized" })));
      return;
    }
    ws.connectToServer();
  });
  await page.goto("/login");
  const qr = page.getByTestId("qr-login");
  await expect(qr).toHaveAttribute("data-state", "waiting");
  const lost = await qr.getAttribute("data-scene");
  release();
  await expect(qr).not.toHaveAttribute("data-scene", lost!);
  await expect(qr).toHaveAttribute("data-state", "waiting");
  await expect.poll(() => sockets).toBeGreaterThanOrEqual(2);
});

test("the home page links to the login page", async ({ page }) => {
  await page.goto("/");
  await page.getByRole("link", { name: "Log in" }).click();
  await expect(page).toHaveURL(/\/login$/);
});
