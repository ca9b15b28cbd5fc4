// Other applications log their users in with scanlogin: a tiny relying party (started
// here, in Node) sends the browser to the OpenID provider, the person scans and confirms
// on the phone, and the browser lands back at the relying party, logged in; and a
// single-page application written with oidc-client-ts logs in, renews its tokens
// silently and logs out.
import AxeBuilder from "@axe-core/playwright";
import { expect, test } from "@playwright/test";
import { createHash, randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as http from "http";
import { phoneScans, submit } from "./helpers";

const OP = "http://127.0.0.1:3012";
const RP_PORT = 3013;
const RP = `http://127.0.0.1:${RP_PORT}`;
const CLIENT_ID = "rp";
const CLIENT_SECRET = "rp-secret";

const b64url = (bytes: Buffer) => bytes.toString("base64url");

/** A relying party as an application would write one, with its own session store. */
function startRelyingParty(): Promise<http.Server> {
  const pending = new Map<string, { nonce: string; verifier: string }>();
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", RP);
    if (url.pathname === "/") {
      const state = b64url(randomBytes(16));
      const nonce = b64url(randomBytes(16));
      const verifier = b64url(randomBytes(32));
      pending.set(state, { nonce, verifier });
      const authorize = new URL("/oauth/authorize", OP);
      authorize.search = new URLSearchParams({
        client_id: CLIENT_ID,
        redirect_uri: `${RP}/cb`,
        response_type: "code",
        scope: "openid profile",
        state,
        nonce,
        code_challenge: b64url(createHash("sha256").update(verifier).digest()),
        code_challenge_method: "S256",
      }).toString();
      res.writeHead(302, { location: authorize.toString() }).end();
      return;
    }
    if (url.pathname === "/cb") {
      const state = url.searchParams.get("state") ?? "";
      const code = url.searchParams.get("code") ?? "";
      const expected = pending.get(state);
      if (!expected || url.searchParams.get("iss") !== OP) {
        res.writeHead(400).end("unknown state or issuer");
        return;
      }
      pending.delete(state);
      const answer = await fetch(`${OP}/oauth/token`, {
        method: "POST",
        headers: {
          authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString("base64")}`,
          "content-type": "application/x-www-form-urlencoded",
        },
        body: new URLSearchParams({
          grant_type: "authorization_code",
          code,
          redirect_uri: `${RP}/cb`,
          code_verifier: expected.verifier,
        }),
      });
      const tokens = await answer.json();
      if (!answer.ok) {
        res.writeHead(502).end(JSON.stringify(tokens));
        return;
      }
      // (The Rust tests verify the signature against the JWKS; here the claims.)
      const claims = JSON.parse(Buffer.from(tokens.id_token.split(".")[1], "base64url").toString());
      const ok = claims.iss === OP && claims.aud === CLIENT_ID && claims.nonce === expected.nonce;
      res.writeHead(ok ? 200 : 400, { "content-type": "text/html; charset=utf-8" }).end(
        `<!DOCTYPE html><title>RP</title><p id="who">${ok ? `Logged in as ${claims.name} (sub ${claims.sub})` : "bad token"}</p>`,
      );
      return;
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve) => server.listen(RP_PORT, "127.0.0.1", () => resolve(server)));
}

test("an application logs its user in with a scan through the OpenID provider", async ({ page, browser }) => {
  const rp = await startRelyingParty();
  try {
    await page.goto(`${RP}/`);
    // The provider's scan login, which knows where to go on.
    await expect(page).toHaveURL(new RegExp(`^${OP}/login\\?next=%2Foauth%2Fauthorize`));
    const qr = page.getByTestId("qr-login");
    await expect(qr).toHaveAttribute("data-state", "waiting");
    const scene = (await qr.getAttribute("data-scene"))!;
    const phone = await phoneScans(browser, scene, OP, 1);
    // The phone names the application, above the browser that asks, and the time as the
    // person reads it (never the raw RFC 3339 the server sends).
    await expect(phone.getByTestId("phone-application")).toHaveText("Demo RP wants you to log in");
    await expect(phone.getByTestId("phone-browser-time")).toHaveText(/\b20\d\d\b/);
    await expect(phone.getByTestId("phone-browser-time")).not.toHaveText(/T\d\d:\d\d:\d\dZ$/);
    const headings = await new AxeBuilder({ page: phone }).withRules(["page-has-heading-one"]).analyze();
    expect(headings.violations).toEqual([]);
    await phone.getByTestId("phone-confirm").click();
    // Back at the application, logged in as the person who confirmed.
    await expect(page).toHaveURL(new RegExp(`^${RP}/cb\\?code=`));
    await expect(page.locator("#who")).toHaveText(/^Logged in as Bob 鲍勃 \(sub \d+\)$/);
    await phone.context().close();
  } finally {
    rp.close();
  }
});

const SPA_PORT = 3014;
const SPA = `http://127.0.0.1:${SPA_PORT}`;

/** A single-page application written with oidc-client-ts, served as it would be. */
function startSinglePageApp(): Promise<http.Server> {
  // The browser build, a global `oidc` (the package's exports name only its modules).
  const library = fs.readFileSync(
    path.join(path.dirname(require.resolve("oidc-client-ts/package.json")), "dist/browser/oidc-client-ts.min.js"),
  );
  const page = `<!DOCTYPE html><html><head><title>SPA</title><script src="/oidc-client-ts.min.js"></script></head><body>
<button id="login">Log in</button> <button id="renew">Renew</button> <button id="logout">Log out</button>
<p id="who"></p><p id="token"></p><p id="refresh"></p><p id="status"></p>
<script>
const manager = new oidc.UserManager({
  authority: ${JSON.stringify(OP)},
  client_id: "spa",
  redirect_uri: ${JSON.stringify(`${SPA}/cb`)},
  post_logout_redirect_uri: ${JSON.stringify(`${SPA}/bye`)},
  scope: "openid profile offline_access",
  automaticSilentRenew: false,
  userStore: new oidc.WebStorageStateStore({ store: window.localStorage }),
});
const show = (user) => {
  document.getElementById("who").textContent = user ? "Logged in as " + user.profile.name : "";
  document.getElementById("token").textContent = user ? user.access_token : "";
  document.getElementById("refresh").textContent = user ? user.refresh_token : "";
};
const say = (text) => { document.getElementById("status").textContent = text; };
document.getElementById("login").onclick = () => manager.signinRedirect();
document.getElementById("renew").onclick = () => manager.signinSilent().then((u) => { show(u); say("renewed"); }, (e) => say("renew failed: " + e.message));
document.getElementById("logout").onclick = () => manager.signoutRedirect();
if (location.pathname === "/cb") manager.signinRedirectCallback().then((u) => { show(u); say("signed in"); }, (e) => say("callback failed: " + e.message));
else if (location.pathname === "/bye") manager.signoutRedirectCallback().then(() => say("signed out"), (e) => say("signout failed: " + e.message));
else manager.getUser().then(show);
</script></body></html>`;
  const server = http.createServer((req, res) => {
    if ((req.url ?? "").startsWith("/oidc-client-ts.min.js")) {
      res.writeHead(200, { "content-type": "text/javascript" }).end(library);
      return;
    }
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(page);
  });
  return new Promise((resolve) => server.listen(SPA_PORT, "127.0.0.1", () => resolve(server)));
}

test("a single-page app with oidc-client-ts logs in, renews silently with a refresh token, loses it when the person revokes it, and logs out", async ({ page, browser }) => {
  const spa = await startSinglePageApp();
  try {
    await page.goto(`${SPA}/`);
    await page.locator("#login").click();
    await expect(page).toHaveURL(new RegExp(`^${OP}/login\\?next=%2Foauth%2Fauthorize`));
    const qr = page.getByTestId("qr-login");
    await expect(qr).toHaveAttribute("data-state", "waiting");
    const phone = await phoneScans(browser, (await qr.getAttribute("data-scene"))!, OP, 2);
    await expect(phone.getByTestId("phone-application")).toHaveText("Demo SPA wants you to log in");
    await phone.getByTestId("phone-confirm").click();
    await expect(page.locator("#status")).toHaveText("signed in");
    await expect(page.locator("#who")).toHaveText("Logged in as Carol 卡罗尔");
    const first = { access: await page.locator("#token").textContent(), refresh: await page.locator("#refresh").textContent() };
    expect(first.refresh).toBeTruthy();

    // Silent renew: the refresh token for new tokens, from the page, across origins.
    await page.locator("#renew").click();
    await expect(page.locator("#status")).toHaveText("renewed");
    await expect(page.locator("#token")).not.toHaveText(first.access!);
    await expect(page.locator("#refresh")).not.toHaveText(first.refresh!);
    await expect(page.locator("#who")).toHaveText("Logged in as Carol 卡罗尔");

    // The person revokes the application from their account page: its refresh token then
    // fails at the application.
    await page.goto(`${OP}/account`);
    await submit(page, "revoke-spa");
    await expect(page.getByTestId("revoke-spa")).toHaveCount(0);
    await page.goto(`${SPA}/`);
    await expect(page.locator("#who")).toHaveText("Logged in as Carol 卡罗尔");
    await page.locator("#renew").click();
    await expect(page.locator("#status")).toHaveText("renew failed: the refresh token is unknown, expired, revoked, or another client's");

    // Logout: through the provider, which ends its session, and back.
    await page.locator("#logout").click();
    await expect(page).toHaveURL(new RegExp(`^${SPA}/bye`));
    await expect(page.locator("#status")).toHaveText("signed out");
    expect((await page.request.get(`${OP}/api/me`)).status()).toBe(401);
    await phone.context().close();
  } finally {
    spa.close();
  }
});
