// What several browser tests do: open the login page, play the phone, hide the page.
import AxeBuilder from "@axe-core/playwright";
import { Browser, expect, Page } from "@playwright/test";

/** Opens the login page and waits for its first code; returns the scene. */
export async function openLogin(page: Page, base = ""): Promise<string> {
  await page.goto(`${base}/login`);
  const qr = page.getByTestId("qr-login");
  await expect(qr).toHaveAttribute("data-state", "waiting");
  await expect(page.getByTestId("qr-image")).toHaveAttribute("src", /^data:image\/png;base64,/);
  const scene = await qr.getAttribute("data-scene");
  expect(scene).toMatch(/^[A-Za-z0-9]{32}$/);
  return scene!;
}

/** A phone (its own browser context) scans the scene as `person` (index in the list). */
export async function phoneScans(browser: Browser, scene: string, base: string, person = 0): Promise<Page> {
  const phone = await (await browser.newContext({ viewport: { width: 390, height: 844 }, locale: "en-US" })).newPage();
  await phone.goto(`${base}/phone?scene=${scene}`);
  await scanOn(phone, person);
  return phone;
}

/** On the demo phone page (the simulated mini program), scans as `person`. */
export async function scanOn(phone: Page, person = 0) {
  await expect(phone.getByTestId("phone")).toHaveAttribute("data-hydrated", "true");
  await phone.getByTestId("phone-person").selectOption(String(person));
  await phone.getByTestId("phone-scan").click();
  await expect(phone.getByTestId("phone-browser")).toBeVisible();
}

/** Makes the page look hidden (another tab in front) or visible again, as browsers do. */
export async function setVisibility(page: Page, state: "hidden" | "visible") {
  await page.evaluate((state) => {
    Object.defineProperty(document, "visibilityState", { get: () => state, configurable: true });
    Object.defineProperty(document, "hidden", { get: () => state === "hidden", configurable: true });
    document.dispatchEvent(new Event("visibilitychange"));
  }, state);
}

/** On `page` (a login or invitation page), waits for the code; `person` scans it and confirms on a phone of `base`. */
export async function scanAndConfirm(browser: Browser, page: Page, base: string, person: number) {
  const qr = page.getByTestId("qr-login");
  await expect(qr).toHaveAttribute("data-state", "waiting");
  const scene = await qr.getAttribute("data-scene");
  const phone = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
  await phone.goto(`${base}/phone?scene=${scene}`);
  await scanOn(phone, person);
  await phone.getByTestId("phone-confirm").click();
  await expect(phone.getByTestId("phone-done")).toContainText("Confirmed");
  await phone.context().close();
}

/** Logs `person` in on `base` in the browser `page`; lands on the home page. */
export async function logIn(browser: Browser, page: Page, base: string, person: number) {
  await page.goto(`${base}/login`);
  await scanAndConfirm(browser, page, base, person);
  await expect(page).toHaveURL(`${base}/`);
}

export async function axeClean(page: Page) {
  const results = await new AxeBuilder({ page }).analyze();
  expect(results.violations, JSON.stringify(results.violations, null, 1)).toEqual([]);
}

/** Submits a plain HTML form (post, then redirect back: the console, the account page) and waits for the page. */
export async function submit(page: Page, testid: string) {
  await Promise.all([page.waitForEvent("load"), page.getByTestId(testid).first().click()]);
}
