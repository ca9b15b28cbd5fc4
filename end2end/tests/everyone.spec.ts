// The login page for everyone: both languages, the accessibility check on every state,
// the keyboard, a phone that opens the login in WeChat, WeChat's own browser, a refused
// link, a proxy that blocks WebSockets, a browser without WebAssembly, and screenshots
// (with a check that Chinese is drawn, not boxes).
import AxeBuilder from "@axe-core/playwright";
import { Browser, BrowserContext, BrowserContextOptions, expect, Page, test, TestInfo } from "@playwright/test";
import * as path from "path";
import { openLogin, phoneScans, scanOn, setVisibility } from "./helpers";

const SHORT_TTL = "http://127.0.0.1:3002";
const IPHONE_UA =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
const WECHAT_UA =
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36 MicroMessenger/8.0.47.2560(0x28002F35) NetType/WIFI Language/zh_CN";
const PHONE: BrowserContextOptions = {
  viewport: { width: 375, height: 812 },
  userAgent: IPHONE_UA,
  isMobile: true,
  hasTouch: true,
};

/** No serious or critical WCAG A/AA violation on the page as it is now. */
async function expectAccessible(page: Page, state: string) {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(
    bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
    `axe on ${state}`,
  ).toEqual([]);
}

const opened: BrowserContext[] = [];

/** A page in a context of its own, closed after the test (its page stops asking for codes). */
async function contextPage(browser: Browser, options: BrowserContextOptions): Promise<Page> {
  const context = await browser.newContext(options);
  opened.push(context);
  return context.newPage();
}

test.afterEach(async () => {
  for (const context of opened.splice(0)) await context.close();
});

/** Breaks WeChat's link APIs for their next `count` calls, at the demo simulator. */
async function refuseLinks(page: Page, errcode: number) {
  for (const api of ["/wxa/generate_urllink", "/wxa/generatescheme"]) {
    const res = await page.request.post("/__wechat/__sim/fault", {
      data: { path: api, kind: "errcode", errcode, count: 1 },
    });
    expect(res.status()).toBe(204);
  }
}

test("the page speaks the browser's language, and the switch is remembered", async ({ browser }) => {
  const page = await contextPage(browser, { locale: "zh-CN" });
  await page.goto("/login");
  await expect(page.locator("html")).toHaveAttribute("lang", "zh-CN");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("微信扫码登录");
  await expect(page.getByTestId("qr-message")).toHaveText("请用微信扫码登录");
  await expect(page.getByTestId("qr-countdown")).toHaveText(/^\d+ 秒后过期$/);
  await expect(page.getByTestId("qr-image")).toHaveAttribute("alt", /用手机微信扫一扫/);

  await page.getByTestId("lang-en").click();
  await expect(page).toHaveURL(/\/login\?lang=en$/);
  await expect(page.locator("html")).toHaveAttribute("lang", "en");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Log in with WeChat");
  await expect(page.getByTestId("qr-message")).toHaveText("Scan with WeChat to log in");
  // Remembered: the plain address stays English although the browser asks for Chinese.
  await page.goto("/login");
  await expect(page.locator("html")).toHaveAttribute("lang", "en");
  await expect(page.getByTestId("lang-en")).toHaveAttribute("aria-current", "true");

  // The demo phone page too, its errors included (a scene nobody registered: 404).
  await page.goto(`/phone?scene=${"A".repeat(32)}&lang=zh-CN`);
  await expect(page.getByTestId("phone")).toContainText("scanlogin · 演示小程序");
  await expect(page.getByTestId("phone")).toHaveAttribute("data-hydrated", "true");
  await page.getByTestId("phone-scan").click();
  await expect(page.getByTestId("phone-error")).toHaveText("这个登录码已过期，请在电脑上换一个新码再扫。");
});

test("every state of the page passes the accessibility check and is announced", async ({ page, browser, baseURL }) => {
  // Ten accessibility checks and a code's expiry: 25 s here, 34 s once on a clean
  // clone's CI, over the default 30 s.
  test.setTimeout(90_000);
  await page.goto("/");
  await expectAccessible(page, "home");
  const scene = await openLogin(page);
  const live = page.getByRole("status");
  await expect(live).toHaveAttribute("aria-live", "polite");
  await expect(live).toContainText("Scan with WeChat to log in");
  await expectAccessible(page, "waiting");

  const phone = await phoneScans(browser, scene, baseURL!, 1);
  await expectAccessible(phone, "phone asking");
  await expect(live).toContainText("Scanned: confirm on your phone");
  await expect(live).toContainText("Tap “Confirm”");
  await expectAccessible(page, "scanned");
  await phone.getByTestId("phone-cancel").click();
  await expect(live).toContainText("Cancelled on the phone");
  await expectAccessible(page, "cancelled");

  const expiring = await contextPage(browser, { locale: "zh-CN" });
  await openLogin(expiring, SHORT_TTL);
  // Hidden, it stays expired while it is checked (a visible one gets a new code 1.5 s on).
  await setVisibility(expiring, "hidden");
  await expect(expiring.getByTestId("qr-login")).toHaveAttribute("data-state", "expired", { timeout: 8_000 });
  await expect(expiring.getByRole("status")).toContainText("小程序码已过期");
  await expectAccessible(expiring, "expired (zh-CN)");

  // Dark mode: its own colours pass too.
  const dark = await contextPage(browser, { colorScheme: "dark" });
  await openLogin(dark);
  expect(await dark.evaluate(() => getComputedStyle(document.documentElement).backgroundColor)).toBe("rgb(18, 19, 22)");
  await expectAccessible(dark, "waiting, dark");

  // The server unreachable: every call fails as a network error would.
  const away = await contextPage(browser, {});
  await away.route(/\/(miniapp|api)\//, (route) => route.abort("connectionrefused"));
  await away.goto("/login");
  await expect(away.getByTestId("qr-login")).toHaveAttribute("data-state", "error");
  await expect(away.getByRole("status")).toContainText("Cannot reach the server");
  await expect(away.getByTestId("qr-refresh")).toBeVisible();
  await expectAccessible(away, "error, server unreachable");

  // Confirmed: the page logs in and lands on the home page.
  const last = await openLogin(page);
  const phone2 = await phoneScans(browser, last, baseURL!, 0);
  await phone2.getByTestId("phone-confirm").click();
  await expect(page.getByTestId("user-nickname")).toHaveText("Alice 爱丽丝");
  await expectAccessible(page, "logged in");
  await expectAccessible(phone2, "phone confirmed");
});

test("the keyboard reaches every control, with a visible focus", async ({ page, browser, baseURL }) => {
  const scene = await openLogin(page);
  const phone = await phoneScans(browser, scene, baseURL!, 2);
  // Hidden, the page keeps its button (a visible one gets a code by itself 3 s on).
  await setVisibility(page, "hidden");
  await phone.getByTestId("phone-cancel").click();
  const qr = page.getByTestId("qr-login");
  await expect(page.getByTestId("qr-refresh")).toBeVisible();
  // Tab from the top of the page: the language links, then the button.
  const reached: string[] = [];
  for (let i = 0; i < 6; i++) {
    await page.keyboard.press("Tab");
    const id = await page.evaluate(() => document.activeElement?.getAttribute("data-testid") ?? "");
    reached.push(id);
    if (id === "qr-refresh") break;
  }
  expect(reached).toEqual(["lang-zh-CN", "lang-en", "qr-refresh"]);
  const outline = await page.getByTestId("qr-refresh").evaluate((el) => getComputedStyle(el).outlineStyle);
  expect(outline).toBe("solid");
  await page.keyboard.press("Enter");
  await expect(qr).toHaveAttribute("data-state", "waiting");
  await expect(qr).not.toHaveAttribute("data-scene", scene);
});

test("on a phone, Open in WeChat leads through WeChat to a logged-in page", async ({ browser }) => {
  const page = await contextPage(browser, { ...PHONE, locale: "en-US" });
  const context = page.context();
  // The phone's browser puts the page to sleep while WeChat is in front: its socket
  // hears nothing. Coming back, the page catches up by itself.
  await page.routeWebSocket(/\/websocket/, () => {});
  await page.goto("/login");
  const qr = page.getByTestId("qr-login");
  await expect(qr).toHaveAttribute("data-state", "waiting");
  const scene = await qr.getAttribute("data-scene");
  const open = page.getByTestId("qr-open-wechat");
  await expect(open).toHaveText("Open in WeChat");
  // The link WeChat made (here, the simulator playing WeChat) opens the mini program
  // with the scene; the code stays for a second phone.
  await expect(open).toHaveAttribute("href", new RegExp(`/phone\\?scene=${scene}$`));
  await expect(page.getByTestId("qr-image")).toBeVisible();
  await expectAccessible(page, "phone, waiting");

  const [miniProgram] = await Promise.all([context.waitForEvent("page"), open.click()]);
  await scanOn(miniProgram, 0);
  await miniProgram.getByTestId("phone-confirm").click();
  await expect(miniProgram.getByTestId("phone-done")).toContainText("Confirmed");
  await miniProgram.close();

  // Back in the browser.
  await page.bringToFront();
  await page.evaluate(() => document.dispatchEvent(new Event("visibilitychange")));
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByTestId("user-nickname")).toHaveText("Alice 爱丽丝");
});

test("when WeChat refuses the link, the phone's page says so and keeps the code", async ({ browser }) => {
  const page = await contextPage(browser, { ...PHONE, locale: "zh-CN" });
  // WeChat busy for both the link and the scheme (-1). (A refusal that holds for every
  // link, such as 40002 for an individual's mini program, is remembered by the server
  // for an hour, which would reach the other tests: tests/api/login_flow.rs covers it.)
  await refuseLinks(page, -1);
  await page.goto("/login");
  await expect(page.getByTestId("qr-login")).toHaveAttribute("data-state", "waiting");
  await expect(page.getByTestId("qr-link-refused")).toContainText("微信暂时无法生成打开链接");
  await expect(page.getByTestId("qr-open-wechat")).toHaveCount(0);
  await expect(page.getByTestId("qr-image")).toBeVisible();
});

test("in WeChat's own browser the page says to open it in the phone's browser (a code in a picture is refused), and offers no link", async ({ browser }) => {
  const page = await contextPage(browser, { ...PHONE, userAgent: WECHAT_UA, locale: "zh-CN" });
  await page.goto("/login");
  await expect(page.getByTestId("qr-login")).toHaveAttribute("data-state", "waiting");
  await expect(page.getByTestId("qr-wechat-hint")).toContainText("在微信中打开");
  await expect(page.getByTestId("qr-open-wechat")).toHaveCount(0);
  const box = await page.getByTestId("qr-image").boundingBox();
  expect(box!.width).toBeGreaterThanOrEqual(280);
  await expectAccessible(page, "in WeChat");
});

test("with WebSockets blocked, the page long-polls and the login completes", async ({ page, browser, baseURL }) => {
  // A proxy that refuses the upgrade: every socket closes at once.
  let sockets = 0;
  await page.routeWebSocket(/\/websocket/, (ws) => {
    sockets += 1;
    ws.close({ code: 1011, reason: "blocked by a proxy" });
  });
  const scene = await openLogin(page);
  const qr = page.getByTestId("qr-login");
  await expect(qr).toHaveAttribute("data-transport", "poll");
  expect(sockets).toBeGreaterThanOrEqual(2);
  const phone = await phoneScans(browser, scene, baseURL!, 1);
  await expect(qr).toHaveAttribute("data-state", "scanned");
  await phone.getByTestId("phone-confirm").click();
  await expect(page.getByTestId("user-nickname")).toHaveText("Bob 鲍勃");
});

test("a browser without WebAssembly gets a clear message", async ({ page }) => {
  await page.addInitScript(() => {
    delete (window as { WebAssembly?: unknown }).WebAssembly;
  });
  await page.goto("/login");
  await expect(page.getByTestId("no-wasm")).toBeVisible();
  await expect(page.getByTestId("no-wasm")).toContainText("WebAssembly");
});

test("a 320 px wide screen shows the whole card without scrolling sideways", async ({ browser }) => {
  const page = await contextPage(browser, { viewport: { width: 320, height: 640 }, locale: "zh-CN" });
  await openLogin(page);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
});

/** Where a screenshot goes: the README's folder with UPDATE_SCREENSHOTS=1, else the test's output. */
function screenshotPath(info: TestInfo, name: string): string {
  return process.env.UPDATE_SCREENSHOTS
    ? path.join(__dirname, "..", "screenshots", name)
    : info.outputPath(name);
}

test("screenshots in both languages, waiting and scanned, on a computer and a phone; Chinese is drawn", async ({ browser, baseURL }, info) => {
  for (const [locale, lang] of [["zh-CN", "zh"], ["en-US", "en"]]) {
    for (const [device, options] of [
      ["desktop", { viewport: { width: 900, height: 640 } }],
      ["phone", PHONE],
    ] as const) {
      // Reduced motion: no fade caught half-way.
      const page = await contextPage(browser, { ...options, locale, reducedMotion: "reduce" });
      const scene = await openLogin(page);
      if (device === "phone") await expect(page.getByTestId("qr-open-wechat")).toBeVisible();
      if (lang === "zh") {
        // Each Chinese character is drawn about 1 em wide; without a CJK font Chromium
        // draws narrow empty boxes instead.
        const { width, em, chars } = await page.getByRole("heading", { level: 1 }).evaluate((h) => {
          const range = document.createRange();
          range.selectNodeContents(h);
          return {
            width: range.getBoundingClientRect().width,
            em: parseFloat(getComputedStyle(h).fontSize),
            chars: [...(h.textContent ?? "")].length,
          };
        });
        expect(width / (em * chars)).toBeGreaterThan(0.9);
        expect(width / (em * chars)).toBeLessThan(1.1);
      }
      await page.screenshot({ path: screenshotPath(info, `login-${lang}-waiting-${device}.png`) });
      const phone = await phoneScans(browser, scene, baseURL!, 0);
      await expect(page.getByTestId("qr-login")).toHaveAttribute("data-state", "scanned");
      await page.screenshot({ path: screenshotPath(info, `login-${lang}-scanned-${device}.png`) });
      await phone.context().close();
      await page.context().close();
    }
  }
});
