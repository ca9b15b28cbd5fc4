import { expect, test } from "@playwright/test";

import { INSTANCE_A_PORT, INSTANCE_B_PORT } from "../playwright.config";

const A = `http://127.0.0.1:${INSTANCE_A_PORT}`;
const B = `http://127.0.0.1:${INSTANCE_B_PORT}`;

test.skip(!process.env.TEST_POSTGRES_URL, "needs PostgreSQL: run through make e2e (tests/with-postgres.sh)");

test("the browser on one instance is logged in by a phone on the other", async ({ page, browser }) => {
  await page.goto(`${A}/login`);
  const qr = page.getByTestId("qr-login");
  await expect(qr).toHaveAttribute("data-state", "waiting");
  const scene = await qr.getAttribute("data-scene");

  // The phone's scan and confirm reach instance B only.
  const phone = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
  await phone.goto(`${B}/phone?scene=${scene}`);
  await expect(phone.getByTestId("phone")).toHaveAttribute("data-hydrated", "true");
  await phone.getByTestId("phone-person").selectOption("1");
  await phone.getByTestId("phone-scan").click();
  await expect(phone.getByTestId("phone-browser")).toBeVisible();
  await expect(qr).toHaveAttribute("data-state", "scanned");
  await phone.getByTestId("phone-confirm").click();
  await expect(phone.getByTestId("phone-done")).toContainText("Confirmed");

  await expect(page).toHaveURL(`${A}/`);
  await expect(page.getByTestId("user-nickname")).toHaveText("Bob 鲍勃");
  // The session lives in PostgreSQL: instance B knows it too.
  const cookies = await page.context().cookies(A);
  const me = await page.request.get(`${B}/api/me`, {
    headers: { cookie: cookies.map((c) => `${c.name}=${c.value}`).join("; ") },
  });
  expect(me.status()).toBe(200);
  expect((await me.json()).user.nickname).toBe("Bob 鲍勃");
});
