// Forward authentication through the real nginx and the real Caddy (deploy/'s files): an
// application with no login of its own sends an anonymous browser to the scan login, and
// after the phone confirms the browser lands where it was going, the application seeing
// who it is; a second protected host needs no second login; a host for a group the person
// is not in says so; logout ends both; nothing the browser forges reaches the application;
// the login never returns to a host the rules do not name.
import { expect, test } from "@playwright/test";

import { chromiumLaunch, FORWARD_AUTH } from "../playwright.config";
import { scanAndConfirm } from "./helpers";

test.use({
  launchOptions: {
    ...chromiumLaunch,
    args: [...chromiumLaunch.args, "--host-resolver-rules=MAP *.scanlogin.test 127.0.0.1"],
  },
});

const ALICE = 0;

for (const [proxy, ports] of Object.entries(FORWARD_AUTH)) {
  test(`${proxy}: the scan login in front of an application with none of its own`, async ({ browser }) => {
    const host = (name: string) => `http://${name}.scanlogin.test:${ports.proxy}`;
    const [app, wiki, docs] = [host("app"), host("wiki"), host("docs")];
    const login = `http://login.scanlogin.test:${ports.login}`;
    // Every request of this browser claims to be user 999 of the staff group.
    const context = await browser.newContext({
      locale: "en-US",
      extraHTTPHeaders: {
        "X-Scanlogin-User": "999",
        "X-Scanlogin-Groups": "staff",
        "X-Scanlogin-Name": "forged",
        "X_Scanlogin_User": "999",
      },
    });
    // A cookie of the application's own, which it must still get.
    await context.addCookies([{ name: "theme", value: "dark", domain: `app.scanlogin.test`, path: "/" }]);
    const page = await context.newPage();

    await page.goto(`${app}/reports?q=1`);
    await expect(page).toHaveURL(new RegExp(`^${login}/login\\?next=`));
    await scanAndConfirm(browser, page, login, ALICE);
    await expect(page).toHaveURL(`${app}/reports?q=1`);
    const seen = JSON.parse(await page.locator("body").innerText());
    expect(seen.url).toBe("/reports?q=1");
    expect(seen.user).toMatch(/^\d+$/);
    expect(seen.user).not.toBe("999");
    expect(seen.name).toBe("Alice 爱丽丝");
    // No groups: an empty header (Caddy) or none (nginx sends no empty header); never "staff".
    expect(seen.groups ?? "").toBe("");
    // The session cookie stays with scanlogin; the application's own arrives.
    expect(seen.cookie).toContain("theme=dark");
    expect(seen.cookie).not.toContain("scanlogin_session");
    expect(seen.underscored).toBeNull();

    // Another protected host: the same session, no second scan.
    await page.goto(`${wiki}/`);
    await expect(page).toHaveURL(`${wiki}/`);
    expect(JSON.parse(await page.locator("body").innerText()).user).toBe(seen.user);

    // The staff's host: Alice is not staff, whatever her browser says.
    const refused = await page.goto(`${docs}/`);
    expect(refused!.status()).toBe(403);
    await expect(page.getByTestId("forbidden")).toBeVisible();
    await expect(page.locator("body")).toContainText("Alice 爱丽丝");

    // The login never sends a browser to a host the rules do not name.
    const evil = await page.goto(`${login}/login?rd=${encodeURIComponent(`http://evil.scanlogin.test:${ports.proxy}/`)}`);
    expect(evil!.status()).toBe(400);
    await expect(page.getByTestId("not-protected")).toBeVisible();

    // Logging out ends the session for both hosts.
    await page.goto(`${login}/logout?rd=${encodeURIComponent(`${app}/`)}`);
    await page.getByTestId("logout-confirm").click();
    await expect(page).toHaveURL(new RegExp(`^${login}/login\\?next=`));
    await page.goto(`${wiki}/`);
    await expect(page).toHaveURL(new RegExp(`^${login}/login\\?next=`));
    await context.close();
  });
}
