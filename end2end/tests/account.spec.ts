// The person's own account: logged in on two browsers, they end the other one from
// /account (that page falls to the login screen on its next request); they download
// their data (the file parses and holds no token or key); they delete the account after a
// fresh scan, and the same WeChat person scanning again is a new user. Axe-clean and
// usable at a phone's width.
import { Browser, expect, Page, test } from "@playwright/test";
import * as fs from "fs";

import { axeClean, logIn, scanOn, submit } from "./helpers";

// Carol: the other tests log her in too, and a deleted account only makes her new.
const PERSON = 2;

async function newPage(browser: Browser, phoneSized = false): Promise<Page> {
  const context = await browser.newContext({
    locale: "en-US",
    ...(phoneSized ? { viewport: { width: 390, height: 844 } } : {}),
  });
  return context.newPage();
}

async function myId(page: Page): Promise<number> {
  const me = await page.request.get("/api/me");
  expect(me.status()).toBe(200);
  return (await me.json()).user.id;
}

test("a person runs their own account: devices, data, and leaving", async ({ browser, baseURL }) => {
  test.setTimeout(90_000);
  const base = baseURL!;
  const laptop = await newPage(browser);
  const other = await newPage(browser, true);
  await logIn(browser, laptop, base, PERSON);
  await logIn(browser, other, base, PERSON);
  const before = await myId(laptop);

  // From the home page to the account; the other browser is listed, and ended.
  await laptop.getByTestId("account-link").click();
  await expect(laptop).toHaveURL(`${base}/account`);
  await expect(laptop.getByTestId("session-current")).toHaveCount(1);
  await expect(laptop.getByTestId("session-other")).toHaveCount(1);
  await axeClean(laptop);
  await submit(laptop, "end-session");
  await expect(laptop.getByTestId("session-other")).toHaveCount(0);
  await other.goto(`${base}/account`);
  await expect(other).toHaveURL(/\/login\?next=%2Faccount$/);

  await other.close();

  // Keyboard only: Tab reaches the download.
  let focused: string | null | undefined = null;
  for (let presses = 0; presses < 40 && focused !== "download-data"; presses++) {
    await laptop.keyboard.press("Tab");
    focused = await laptop.evaluate(() => document.activeElement?.getAttribute("data-testid"));
  }
  expect(focused).toBe("download-data");

  // A copy of their data.
  const [download] = await Promise.all([laptop.waitForEvent("download"), laptop.getByTestId("download-data").click()]);
  const text = fs.readFileSync(await download.path(), "utf-8");
  const data = JSON.parse(text);
  expect(data.user.id).toBe(before);
  expect(data.wechat_identities).toHaveLength(1);
  const cookie = (await laptop.context().cookies()).find((c) => c.name.includes("scanlogin_session"))!;
  expect(text).not.toContain(cookie.value);
  expect(text).not.toMatch(/session_key|token_hash/);

  // Deleting: a fresh scan first (this login is fresh, so it is offered at once), then
  // the confirmation.
  await expect(laptop.getByTestId("delete-account")).toBeVisible();
  await laptop.getByTestId("delete-understood").check();
  await submit(laptop, "delete-account");
  await expect(laptop).toHaveURL(`${base}/?deleted=1`);
  await expect(laptop.getByTestId("account-deleted")).toBeVisible();
  expect((await laptop.request.get("/api/me")).status()).toBe(401);

  // The same person scanning again is someone new.
  await logIn(browser, laptop, base, PERSON);
  expect(await myId(laptop)).not.toBe(before);
});

test("the fresh scan for deleting says so on the phone and comes back to the account", async ({ browser, baseURL }) => {
  const base = baseURL!;
  const page = await newPage(browser, true);
  await logIn(browser, page, base, PERSON);
  // Ten minutes cannot pass in a test: the page offers the fresh scan when the login is
  // stale, which the API tests make so; here the fresh scan itself, and the way back.
  await page.goto(`${base}/login?again=1&next=%2Faccount%3Fdelete%3D1`);
  // The phone says what this scan is for, and its button says it too.
  const qr = page.getByTestId("qr-login");
  await expect(qr).toHaveAttribute("data-state", "waiting");
  const phone = await (await browser.newContext({ viewport: { width: 390, height: 844 }, locale: "en-US" })).newPage();
  await phone.goto(`${base}/phone?scene=${await qr.getAttribute("data-scene")}`);
  await scanOn(phone, PERSON);
  await expect(phone.getByTestId("phone-delete")).toContainText("delete your account");
  await expect(phone.getByTestId("phone-confirm")).toHaveText("Confirm deleting my account");
  await phone.getByTestId("phone-confirm").click();
  await expect(phone.getByTestId("phone-done")).toBeVisible();
  await expect(page).toHaveURL(`${base}/account?delete=1`);
  await expect(page.getByTestId("delete-account")).toBeVisible();
  await axeClean(page);
});
