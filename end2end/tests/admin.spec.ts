// Running scanlogin for a team: the first administrator from `scanlogin invite --admin`,
// an invitation used by a second person, a stranger refused (SCANLOGIN_SIGNUP=invite) on
// the phone and in the browser, a person disabled while logged in on two instances, an
// application's group rule answered `access_denied` at its relying party, and the audit
// log showing it all with its actors, exported as CSV. Every console page is axe-clean.
import { Browser, BrowserContext, expect, Page, test } from "@playwright/test";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as http from "http";

import { ADMIN_A_PORT, ADMIN_B_PORT, ADMIN_DATABASE, SERVER_BIN } from "../playwright.config";
import { axeClean, logIn, scanAndConfirm, submit } from "./helpers";

const A = `http://127.0.0.1:${ADMIN_A_PORT}`;
const B = `http://127.0.0.1:${ADMIN_B_PORT}`;
const RP_PORT = 3033;
const RP = `http://127.0.0.1:${RP_PORT}`;

// The demo phone's people.
const ALICE = 0;
const BOB = 1;
const CAROL = 2;

test.describe.configure({ mode: "serial" });

/** A relying party of the client "ops-app": sends the browser to the provider, shows what comes back. */
function startRelyingParty(): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", RP);
    if (url.pathname === "/") {
      const authorize = new URL("/oauth/authorize", A);
      authorize.search = new URLSearchParams({
        client_id: "ops-app",
        redirect_uri: `${RP}/cb`,
        response_type: "code",
        scope: "openid",
        state: "st",
      }).toString();
      res.writeHead(302, { location: authorize.toString() }).end();
      return;
    }
    const answer = url.searchParams.get("error") ?? (url.searchParams.get("code") ? "code" : "nothing");
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(
      `<!DOCTYPE html><title>RP</title><p id="answer">${answer}</p>`,
    );
  });
  return new Promise((resolve) => server.listen(RP_PORT, "127.0.0.1", () => resolve(server)));
}

/** A new browser (its own cookies), in English. */
async function newBrowser(browser: Browser): Promise<BrowserContext> {
  return browser.newContext({ locale: "en-US" });
}

test("a team runs its logins from the console", async ({ browser }) => {
  test.setTimeout(120_000);
  const rp = await startRelyingParty();
  try {
    // The first administrator: the command line's invitation, opened and scanned.
    const link = execFileSync(SERVER_BIN, ["invite", "--admin"], {
      cwd: "..",
      env: { ...process.env, SCANLOGIN_DATABASE_URL: ADMIN_DATABASE, SCANLOGIN_PUBLIC_ORIGIN: A, RUST_LOG: "error" },
    })
      .toString()
      .trim();
    expect(link).toMatch(new RegExp(`^${A}/invite/[A-Za-z0-9_-]{43}$`));
    const adminContext = await newBrowser(browser);
    const admin = await adminContext.newPage();
    await admin.goto(link);
    await scanAndConfirm(browser, admin, A, ALICE);
    await expect(admin).toHaveURL(`${A}/`);
    await admin.goto(`${A}/admin`);
    await expect(admin.getByTestId("users")).toContainText("Alice");
    await axeClean(admin);

    // A group, and an invitation into it for a second person.
    await admin.goto(`${A}/admin/groups`);
    await admin.getByTestId("create-group-name").fill("staff");
    await submit(admin, "create-group");
    await expect(admin.getByTestId("group-staff")).toBeVisible();
    await axeClean(admin);
    await admin.goto(`${A}/admin/invitations`);
    await admin.getByTestId("invite-group-staff").check();
    await submit(admin, "invite-create");
    const invitation = await admin.getByTestId("invitation-url").textContent();
    expect(invitation).toMatch(new RegExp(`^${A}/invite/`));
    await axeClean(admin);
    // Shown once: the page again shows no link.
    await admin.reload();
    await expect(admin.getByTestId("invitations")).toBeVisible();
    await expect(admin.getByTestId("invitation-url")).toHaveCount(0);

    const bobContext = await newBrowser(browser);
    const bob = await bobContext.newPage();
    await bob.goto(invitation!);
    await scanAndConfirm(browser, bob, A, BOB);
    await expect(bob).toHaveURL(`${A}/`);
    await expect(bob.getByTestId("user-nickname")).toHaveText("Bob 鲍勃");

    // A stranger, uninvited: refused on the phone and in the browser, in their words.
    const carolContext = await newBrowser(browser);
    const carol = await carolContext.newPage();
    await carol.goto(`${A}/login`);
    const qr = carol.getByTestId("qr-login");
    await expect(qr).toHaveAttribute("data-state", "waiting");
    const phone = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
    await phone.goto(`${A}/phone?scene=${await qr.getAttribute("data-scene")}`);
    await expect(phone.getByTestId("phone")).toHaveAttribute("data-hydrated", "true");
    await phone.getByTestId("phone-person").selectOption(String(CAROL));
    await phone.getByTestId("phone-scan").click();
    await expect(phone.getByTestId("phone-error")).toContainText("invited people only");
    await expect(qr).toHaveAttribute("data-state", "refused");
    await expect(carol.getByTestId("qr-detail")).toContainText("invited people only");
    await axeClean(carol);

    // The application only "ops" may use answers Bob (not in ops) `access_denied`.
    await bob.goto(`${RP}/`);
    await expect(bob.locator("#answer")).toHaveText("access_denied");

    // Bob, logged in on both instances, is disabled: both sessions end at once, and his
    // next scan is refused.
    const bobOnB = await (await newBrowser(browser)).newPage();
    await logIn(browser, bobOnB, B, BOB);
    await admin.goto(`${A}/admin?search=Bob`);
    await admin.getByRole("link", { name: "Bob 鲍勃" }).click();
    await expect(admin.getByTestId("sessions")).toBeVisible();
    await axeClean(admin);
    await submit(admin, "disable");
    await expect(admin.getByTestId("user-state")).toContainText("Disabled");
    expect((await bob.request.get(`${A}/api/me`)).status()).toBe(401);
    expect((await bobOnB.request.get(`${B}/api/me`)).status()).toBe(401);
    await bobOnB.goto(`${B}/login`);
    const qrB = bobOnB.getByTestId("qr-login");
    await expect(qrB).toHaveAttribute("data-state", "waiting");
    const phoneB = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
    await phoneB.goto(`${B}/phone?scene=${await qrB.getAttribute("data-scene")}`);
    await expect(phoneB.getByTestId("phone")).toHaveAttribute("data-hydrated", "true");
    await phoneB.getByTestId("phone-person").selectOption(String(BOB));
    await phoneB.getByTestId("phone-scan").click();
    await expect(phoneB.getByTestId("phone-error")).toContainText("disabled");
    await expect(qrB).toHaveAttribute("data-state", "refused");

    // The audit log shows each of those, with its actor.
    await admin.goto(`${A}/admin/audit`);
    const entry = (event: string) => admin.locator(`[data-testid="audit-entry"][data-event="${event}"]`);
    await expect(entry("user_disabled")).toHaveCount(1);
    await expect(entry("user_disabled").getByTestId("audit-actor")).toHaveText("#1");
    await expect(entry("invitation_created")).toHaveCount(2);
    await expect(entry("invitation_used")).toHaveCount(2);
    await expect(entry("login_refused")).toHaveCount(2);
    await expect(entry("access_denied")).toHaveCount(1);
    await axeClean(admin);

    // CSV export.
    const [download] = await Promise.all([admin.waitForEvent("download"), admin.getByTestId("export-csv").click()]);
    const csv = fs.readFileSync((await download.path())!, "utf8");
    expect(csv.split("\r\n")[0]).toBe("id,time,event,result,actor_id,user_id,subject,client_id,ip,user_agent,request_id,detail");
    expect(csv).toContain(",user_disabled,ok,1,");
    expect(csv).toContain(",access_denied,refused,,");
  } finally {
    rp.close();
  }
});
