// Another application logs its users in with scanlogin: a tiny relying party (started
// here, in Node) sends the browser to the OpenID provider, the person scans and confirms
// on the phone, and the browser lands back at the relying party, logged in.
import { expect, test } from "@playwright/test";
import { createHash, randomBytes } from "crypto";
import * as http from "http";
import { phoneScans } from "./helpers";

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
    await phone.getByTestId("phone-confirm").click();
    // Back at the application, logged in as the person who confirmed.
    await expect(page).toHaveURL(new RegExp(`^${RP}/cb\\?code=`));
    await expect(page.locator("#who")).toHaveText(/^Logged in as Bob 鲍勃 \(sub \d+\)$/);
    await phone.context().close();
  } finally {
    rp.close();
  }
});
