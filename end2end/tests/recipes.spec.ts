// The recipes of docs/oidc.md, run: each starts the application as its recipe sets it up
// and logs a person in and out through the OpenID provider.
import { expect, test, type Browser, type Page } from "@playwright/test";
import { spawn, spawnSync, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { phoneScans } from "./helpers";

const OP = "http://127.0.0.1:3012";
const DJANGO_PORT = 3015;
const DJANGO = `http://127.0.0.1:${DJANGO_PORT}`;
const RECIPE = path.join(__dirname, "../recipes/django");
const PYTHON = path.join(RECIPE, ".venv/bin/python");

/** The Django recipe's site, on a database of its own, until stopped. */
async function startDjango(): Promise<{ site: ChildProcess; stop: () => void }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scanlogin-django-"));
  const env = {
    ...process.env,
    SCANLOGIN_ISSUER: OP,
    OIDC_RP_CLIENT_ID: "django",
    OIDC_RP_CLIENT_SECRET: "django-secret",
    DJANGO_DATABASE: path.join(dir, "site.sqlite3"),
  };
  const migrated = spawnSync(PYTHON, ["manage.py", "migrate", "--no-input"], { cwd: RECIPE, env, encoding: "utf8" });
  expect(migrated.status, migrated.stderr).toBe(0);
  const site = spawn(PYTHON, ["manage.py", "runserver", `127.0.0.1:${DJANGO_PORT}`, "--noreload"], {
    cwd: RECIPE,
    env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  site.stderr!.on("data", (chunk) => (log += chunk));
  await expect
    .poll(async () => fetch(`${DJANGO}/`).then((r) => r.status, () => 0), { message: `Django did not start:\n${log}` })
    .toBe(200);
  return {
    site,
    stop: () => {
      site.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** From the site's login link through the scan, as `person` on the phone. */
async function logInThroughScan(page: Page, browser: Browser, person: number) {
  await page.locator("#login").click();
  await expect(page).toHaveURL(new RegExp(`^${OP}/login\\?next=%2Foauth%2Fauthorize`));
  const qr = page.getByTestId("qr-login");
  await expect(qr).toHaveAttribute("data-state", "waiting");
  const phone = await phoneScans(browser, (await qr.getAttribute("data-scene"))!, OP, person);
  await expect(phone.getByTestId("phone-application")).toHaveText("Django recipe wants you to log in");
  await phone.getByTestId("phone-confirm").click();
  await phone.context().close();
}

test("Django with mozilla-django-oidc: a person logs in by scan, again after logging out, as the same user", async ({ page, browser }) => {
  const django = await startDjango();
  try {
    await page.goto(`${DJANGO}/`);
    await expect(page.locator("#who")).toHaveText("Not logged in");
    await logInThroughScan(page, browser, 0);
    await expect(page).toHaveURL(`${DJANGO}/`);
    const who = page.locator("#who");
    await expect(who).toHaveText(/^Logged in as Alice 爱丽丝 \(sub \d+\)$/);
    const first = await who.textContent();

    // Logging out of the site logs out of scanlogin too, and comes back.
    await page.locator("#logout").click();
    await expect(page).toHaveURL(`${DJANGO}/`);
    await expect(who).toHaveText("Not logged in");
    expect((await page.request.get(`${OP}/api/me`)).status()).toBe(401);

    // The same person's second login is the same Django user (the default backend would
    // fail here, on a username made from a missing email).
    await logInThroughScan(page, browser, 0);
    await expect(who).toHaveText(first!);
  } finally {
    django.stop();
  }
});
