// The WeChat message after a login: the person allows it on the phone, and after the login
// the message arrives in the (simulated) WeChat with the browser and its place, opening
// the page that ends that session; the account page shows the same place. WeChat refusing the message (45009, over the quota) or
// holding it far longer than a login takes changes nothing in how long the login takes.
import { Browser, expect, Page, test } from "@playwright/test";

import { PLACES_PORT } from "../playwright.config";
import { openLogin } from "./helpers";

// The server that places addresses with DB-IP's database; its browsers come "from"
// AliDNS's address in Hangzhou (it trusts 127.0.0.1 as a proxy).
test.use({ baseURL: `http://127.0.0.1:${PLACES_PORT}` });
const BROWSER_ADDRESS = "223.5.5.5";

// Bob: a person of his own, so the messages counted here are this test's.
const PERSON = 1;
const SEND = "/cgi-bin/message/subscribe/send";

/** Logs in on a fresh page with the phone allowing the message; returns the page and how long the login took from the confirm. */
async function logInAllowing(browser: Browser, base: string): Promise<{ page: Page; phone: Page; ms: number }> {
  const page = await (
    await browser.newContext({ locale: "en-US", extraHTTPHeaders: { "X-Forwarded-For": BROWSER_ADDRESS } })
  ).newPage();
  const scene = await openLogin(page, base);
  const phone = await (await browser.newContext({ viewport: { width: 390, height: 844 }, locale: "en-US" })).newPage();
  await phone.goto(`${base}/phone?scene=${scene}`);
  await expect(phone.getByTestId("phone")).toHaveAttribute("data-hydrated", "true");
  await phone.getByTestId("phone-person").selectOption(String(PERSON));
  await phone.getByTestId("phone-scan").click();
  await phone.getByTestId("phone-notify").check();
  const started = Date.now();
  await phone.getByTestId("phone-confirm").click();
  await expect(page).toHaveURL(`${base}/`);
  const ms = Date.now() - started;
  await expect(phone.getByTestId("phone-done")).toBeVisible();
  return { page, phone, ms };
}

/** The phone's "Check messages" page, reloaded until it shows `count` messages. */
async function messagesOnPhone(phone: Page, count: number) {
  await phone.getByTestId("phone-check-messages").click();
  await expect(phone).toHaveURL(/\/phone\/messages$/);
  const shown = phone.getByTestId(`phone-messages-${PERSON}`).getByTestId("phone-message");
  await expect(async () => {
    await phone.reload();
    await expect(shown).toHaveCount(count, { timeout: 1000 });
  }).toPass({ timeout: 15_000 });
  return shown;
}

async function fault(page: Page, spec: object) {
  const res = await page.request.post("/__wechat/__sim/fault", { data: { path: SEND, ...spec } });
  expect(res.status()).toBe(204);
}

test("a login's message arrives with its browser and place, and WeChat's refusals never slow a login", async ({
  browser,
  baseURL,
}) => {
  test.setTimeout(120_000);
  const base = baseURL!;
  const before = await (await browser.newContext()).request.get(`${base}/__wechat/__sim/messages?openid=demo-bob`);
  const already = (await before.json()).length;

  const first = await logInAllowing(browser, base);
  const shown = await messagesOnPhone(first.phone, already + 1);
  const newest = shown.first();
  await expect(newest.locator('[data-field="thing2"]')).toHaveText(/Chrome/);
  // A `character_string` field takes no spaces.
  await expect(newest.locator('[data-field="character_string3"]')).toHaveText("Hangzhou,Zhejiang,CN");
  await expect(newest.locator('[data-field="time1"]')).toHaveText(/^\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}$/);
  // A tap opens the mini program's account page on the session that logged in.
  const opens = await newest.getAttribute("data-page");
  expect(opens).toMatch(/^pages\/account\/account\?session=[A-Za-z0-9_-]+$/);
  const account = await first.page.request.get("/account/data.json");
  const sessions = (await account.json()).sessions.map((s: { id: string }) => s.id);
  expect(sessions).toContain(opens!.split("=")[1]);
  // The account page: the place over the address, and the attribution DB-IP's licence asks for.
  await first.page.goto(`${base}/account`);
  await expect(first.page.getByTestId("account-sessions").getByTestId("place")).toHaveText("Hangzhou, Zhejiang, CN");
  await expect(first.page.getByTestId("account-sessions")).toContainText(BROWSER_ADDRESS);
  await expect(first.page.getByTestId("places-credit").getByRole("link")).toHaveAttribute("href", "https://db-ip.com/");

  // Over WeChat's quota: no message, and the login as quick.
  await fault(first.page, { kind: "errcode", errcode: 45009 });
  const refused = await logInAllowing(browser, base);
  // WeChat holding the message for 20 s (the server gives it 5 s, then gives up).
  await fault(first.page, { kind: "delay", delay_ms: 20_000 });
  const stalled = await logInAllowing(browser, base);
  for (const login of [refused, stalled]) {
    expect(login.ms, `a login took ${login.ms} ms, the first ${first.ms} ms`).toBeLessThan(first.ms + 3000);
  }
  // Neither reached the phone (the server gave up on the stalled one after 5 s, closing
  // the request, and the simulated WeChat sends nothing for a closed request).
  await messagesOnPhone(stalled.phone, already + 1);
});
