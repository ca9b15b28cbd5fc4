//! scanlogin as an OpenID Provider, driven by a real relying-party library (the
//! `openidconnect` crate: discovery, PKCE, ID-token verification against the JWKS), in
//! demo mode: authorize → the scan login through the mini-program API → code → tokens →
//! userinfo; and each way a request must be refused. The modules named after an OpenID
//! Foundation conformance test-plan module test what that module checks.

use std::net::SocketAddr;

use crate::common::{
    eventually, eventually_within,
    flow::cookie_pair,
    services::{free_port, SharedDatabase},
    spawn_app_with_config, TestApp,
};
use openidconnect::{
    core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims},
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use serde_json::Value;

mod access_denied;
mod application;
mod basic_op;
mod oidcc_backchannel_rp_initiated_logout;
mod oidcc_refresh_token;
mod oidcc_rp_initiated_logout;

const WEB_SECRET: &str = "web-app-secret";
const WEB_CB: &str = "https://rp.example/cb";
const SPA_CB: &str = "http://127.0.0.1:8080/cb";

/// The app with two clients: a confidential web app and a public single-page app.
async fn provider_app(extra: &[(&str, &str)]) -> (TestApp, tempfile_path::Path) {
    provider_app_with("", extra).await
}

/// [`provider_app`], with `web` (TOML lines) added to the web app's entry.
async fn provider_app_with(web: &str, extra: &[(&str, &str)]) -> (TestApp, tempfile_path::Path) {
    let hash = scanlogin::server::oidc::clients::hash_secret(WEB_SECRET).unwrap();
    let file = tempfile_path::Path::new(format!(
        "[[clients]]\nid = \"web\"\nredirect_uris = [\"{WEB_CB}\"]\nsecret_hash = \"{hash}\"\n{web}\n\
         [[clients]]\nid = \"spa\"\npublic = true\nredirect_uris = [\"{SPA_CB}\"]\n"
    ));
    let port = free_port();
    let origin = format!("http://127.0.0.1:{port}");
    let mut vars = vec![
        ("SCANLOGIN_OIDC_CLIENTS", file.as_str()),
        ("SCANLOGIN_PUBLIC_ORIGIN", origin.as_str()),
    ];
    vars.extend_from_slice(extra);
    let mut config = crate::common::config_with(&vars);
    config.leptos.site_addr = SocketAddr::from(([127, 0, 0, 1], port));
    (spawn_app_with_config(config).await, file)
}

mod tempfile_path {
    /// A file of the test's own, deleted when dropped.
    pub struct Path(std::path::PathBuf);
    impl Path {
        pub fn new(contents: String) -> Self {
            let path = std::env::temp_dir()
                .join(format!("scanlogin-oidc-{}.toml", crate::common::flow::id()));
            std::fs::write(&path, contents).unwrap();
            Self(path)
        }
        pub fn as_str(&self) -> &str {
            self.0.to_str().unwrap()
        }
    }
    impl Drop for Path {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

/// The relying party's HTTP client for `openidconnect`: our reqwest, no redirects.
fn rp_http() -> impl Fn(
    openidconnect::HttpRequest,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<openidconnect::HttpResponse, reqwest::Error>>>,
> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    move |request: openidconnect::HttpRequest| {
        let http = http.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let response = http
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await?;
            let mut answer = openidconnect::http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                answer = answer.header(name, value);
            }
            Ok(answer.body(response.bytes().await?.to_vec()).unwrap())
        })
    }
}

/// A person logs in by scanning: the browser's session cookie.
async fn scan_login(app: &TestApp, openid: &str, nickname: &str) -> String {
    crate::common::flow::logged_in(app, openid, nickname).await
}

async fn get(app: &TestApp, url: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut req = app.http.get(url);
    if let Some(cookie) = cookie {
        req = req.header("cookie", cookie);
    }
    req.send().await.unwrap()
}

fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_owned()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn a_tampered_id_token_fails_verification() {
    let (app, _file) = provider_app(&[]).await;
    let http = rp_http();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.url("")).unwrap(), &http)
            .await
            .unwrap();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new("web".into()),
        Some(ClientSecret::new(WEB_SECRET.into())),
    )
    .set_redirect_uri(RedirectUrl::new(WEB_CB.into()).unwrap());
    let cookie = scan_login(&app, "o-tamper", "Mallory").await;
    let (url, _, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .url();
    let code = query_param(
        &location(&get(&app, url.as_str(), Some(&cookie)).await),
        "code",
    )
    .unwrap();
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    let token = serde_json::to_value(tokens.id_token().unwrap()).unwrap();
    let parts: Vec<&str> = token.as_str().unwrap().split('.').collect();
    // The same signature over a payload that says another user.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut payload: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    payload["sub"] = "1".into();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(payload.to_string()),
        parts[2]
    );
    let forged: openidconnect::core::CoreIdToken = forged.parse().unwrap();
    assert!(forged.claims(&client.id_token_verifier(), &nonce).is_err());
}

/// An authorization code for `client_id` (with PKCE `challenge` if given), as the
/// browser of `cookie` gets it.
async fn code_for(
    app: &TestApp,
    cookie: &str,
    client_id: &str,
    redirect_uri: &str,
    challenge: Option<&str>,
) -> String {
    code_for_scope(app, cookie, client_id, redirect_uri, challenge, "openid").await
}

/// [`code_for`], asking for `scope`.
async fn code_for_scope(
    app: &TestApp,
    cookie: &str,
    client_id: &str,
    redirect_uri: &str,
    challenge: Option<&str>,
    scope: &str,
) -> String {
    let mut url = url::Url::parse(&app.url("/oauth/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("response_type", "code")
        .append_pair("scope", scope)
        .append_pair("state", "st");
    if let Some(challenge) = challenge {
        url.query_pairs_mut()
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256");
    }
    let res = get(app, url.as_str(), Some(cookie)).await;
    assert_eq!(res.status(), 303);
    query_param(&location(&res), "code").unwrap_or_else(|| panic!("no code in {}", location(&res)))
}

async fn token_post(
    app: &TestApp,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (u16, Value) {
    let mut req = app.http.post(app.url("/oauth/token")).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    assert_eq!(res.headers()["cache-control"], "no-store");
    (status, res.json().await.unwrap())
}

/// The provider's discovery document.
async fn discovery_of(app: &TestApp) -> Value {
    app.http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The token endpoint's answer to the web client for a new code of the person of `cookie`.
async fn web_token_answer(app: &TestApp, cookie: &str) -> (u16, Value) {
    web_token_answer_for(app, cookie, "openid").await
}

/// [`web_token_answer`], for a code asking for `scope`.
async fn web_token_answer_for(app: &TestApp, cookie: &str, scope: &str) -> (u16, Value) {
    let code = code_for_scope(app, cookie, "web", WEB_CB, None, scope).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", WEB_CB),
    ];
    token_post(app, &form, Some(("web", WEB_SECRET))).await
}

const VERIFIER: &str = "a-verifier-of-43-or-more-characters-0123456789";

fn challenge_of(verifier: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()))
}

#[tokio::test]
async fn the_token_endpoint_refuses_wrong_clients_secrets_redirects_and_pkce() {
    let (app, _file) = provider_app(&[]).await;
    let cookie = scan_login(&app, "o-neg", "Neg").await;
    let post = |code: String,
                extra: Vec<(&'static str, String)>,
                basic: Option<(&'static str, &'static str)>| {
        let app = &app;
        async move {
            let mut form: Vec<(&str, String)> =
                vec![("grant_type", "authorization_code".into()), ("code", code)];
            form.extend(extra);
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            token_post(app, &form, basic).await
        }
    };
    let cb = |uri: &str| vec![("redirect_uri", uri.to_owned())];

    // A wrong secret, by Basic or in the body: 401 invalid_client.
    let code = code_for(&app, &cookie, "web", WEB_CB, None).await;
    let (status, body) = post(code.clone(), cb(WEB_CB), Some(("web", "wrong"))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let mut extra = cb(WEB_CB);
    extra.extend([
        ("client_id", "web".to_owned()),
        ("client_secret", "wrong".to_owned()),
    ]);
    let (status, _) = post(code.clone(), extra, None).await;
    assert_eq!(status, 401);
    // client_secret_post with the right secret works.
    let mut extra = cb(WEB_CB);
    extra.extend([
        ("client_id", "web".to_owned()),
        ("client_secret", WEB_SECRET.to_owned()),
    ]);
    let (status, body) = post(code, extra, None).await;
    assert_eq!(status, 200, "{body}");

    // Another redirect URI than the authorization's: refused, and the code is left.
    let code = code_for(&app, &cookie, "web", WEB_CB, None).await;
    let (status, body) = post(
        code.clone(),
        cb("https://rp.example/other"),
        Some(("web", WEB_SECRET)),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, body) = post(code, cb(WEB_CB), Some(("web", WEB_SECRET))).await;
    assert_eq!(status, 200, "a failed redemption leaves the code: {body}");

    // A code of the public client, presented by the web app.
    let spa_code = code_for(&app, &cookie, "spa", SPA_CB, Some(&challenge_of(VERIFIER))).await;
    let mut extra = cb(SPA_CB);
    extra.push(("code_verifier", VERIFIER.to_owned()));
    let (status, body) = post(spa_code.clone(), extra.clone(), Some(("web", WEB_SECRET))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "another client's code"
    );
    // ...which leaves it for its own client.
    let mut own = extra.clone();
    own.push(("client_id", "spa".to_owned()));
    let (status, body) = post(spa_code, own, None).await;
    assert_eq!(
        status, 200,
        "the code was not used up by another client: {body}"
    );

    // PKCE: a wrong verifier, a missing one; then the right one works with the same code
    // (a failed redemption does not use it up; public: no secret).
    let spa_code = code_for(&app, &cookie, "spa", SPA_CB, Some(&challenge_of(VERIFIER))).await;
    let mut wrong = cb(SPA_CB);
    wrong.extend([
        ("client_id", "spa".to_owned()),
        ("code_verifier", format!("{VERIFIER}x")),
    ]);
    let (status, body) = post(spa_code.clone(), wrong, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let mut missing = cb(SPA_CB);
    missing.push(("client_id", "spa".to_owned()));
    let (status, _) = post(spa_code.clone(), missing, None).await;
    assert_eq!(status, 400);
    let mut right = cb(SPA_CB);
    right.extend([
        ("client_id", "spa".to_owned()),
        ("code_verifier", VERIFIER.to_owned()),
    ]);
    let (status, body) = post(spa_code, right, None).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let (app, _file) = provider_app(&[("SCANLOGIN_OIDC_CODE_TTL_SECS", "1")]).await;
    let cookie = scan_login(&app, "o-late", "Late").await;
    let code = code_for(&app, &cookie, "web", WEB_CB, None).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", WEB_CB),
    ];
    // The code lives one second of the server's clock (whole seconds): wait until that
    // clock has passed it.
    let issued = scanlogin::server::store::unix_now();
    eventually("the code's second has passed", || {
        std::future::ready(scanlogin::server::store::unix_now() > issued + 1)
    })
    .await;
    let (status, body) = token_post(&app, &form, Some(("web", WEB_SECRET))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
}

#[tokio::test]
async fn the_token_endpoint_takes_public_clients_posts_from_their_origin() {
    let (app, _file) = provider_app(&[]).await;
    // Preflight from the single-page app's origin: allowed; from elsewhere: no CORS.
    let preflight = |origin: &'static str| {
        let app = &app;
        async move {
            app.http
                .request(reqwest::Method::OPTIONS, app.url("/oauth/token"))
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .send()
                .await
                .unwrap()
        }
    };
    let ok = preflight("http://127.0.0.1:8080").await;
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "http://127.0.0.1:8080"
    );
    let other = preflight("https://evil.example").await;
    assert!(other.headers().get("access-control-allow-origin").is_none());
    // The POST itself carries the page's Origin and is not refused by the Origin check.
    let res = app
        .http
        .post(app.url("/oauth/token"))
        .header("origin", "http://127.0.0.1:8080")
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("client_id", "spa"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
}

#[tokio::test]
async fn keys_rotate_and_the_old_key_stays_published_while_its_tokens_live() {
    let (app, _file) = provider_app(&[("SCANLOGIN_OIDC_ID_TOKEN_TTL_SECS", "2")]).await;
    let jwks = |app: &TestApp| {
        let url = app.url("/oauth/jwks");
        let http = app.http.clone();
        async move {
            http.get(url)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let kids = |set: &Value| -> Vec<String> {
        set["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    let before = kids(&jwks(&app).await);
    assert_eq!(before.len(), 1);
    let new_kid = scanlogin::server::oidc::keys::rotate(&app.store)
        .await
        .unwrap();
    // Served from memory, read again within a second here (half the ID tokens' 2 s).
    let expected = vec![new_kid.clone(), before[0].clone()];
    eventually_within(
        "the new key is published first, the old one still",
        std::time::Duration::from_secs(5),
        || async { kids(&jwks(&app).await) == expected },
    )
    .await;
    // New ID tokens carry the new key's id.
    let cookie = scan_login(&app, "o-rotate", "Rotate").await;
    let code = code_for(&app, &cookie, "web", WEB_CB, None).await;
    let (_, tokens) = token_post(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", WEB_CB),
        ],
        Some(("web", WEB_SECRET)),
    )
    .await;
    let header = tokens["id_token"]
        .as_str()
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .to_owned();
    use base64::Engine as _;
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], new_kid.as_str());
    assert_eq!(header["alg"], "RS256");
    // Once the old key's tokens have expired, it is no longer published.
    eventually_within(
        "the old key is dropped",
        std::time::Duration::from_secs(10),
        || async { kids(&jwks(&app).await) == vec![new_kid.clone()] },
    )
    .await;
}

/// The `sub` an ID token gives the person logged in with `cookie`.
async fn sub_of(app: &TestApp, cookie: &str) -> String {
    let code = code_for(app, cookie, "web", WEB_CB, None).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", WEB_CB),
    ];
    let (status, tokens) = token_post(app, &form, Some(("web", WEB_SECRET))).await;
    assert_eq!(status, 200, "{tokens}");
    let res = app
        .http
        .get(app.url("/oauth/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    res.json::<Value>().await.unwrap()["sub"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A scan login whose `wx.login` code WeChat (the simulator) answers with `unionid`.
async fn scan_login_with_unionid(app: &TestApp, openid: &str, unionid: &str) -> String {
    use crate::common::flow::{id, pushed_ticket};
    let (scene, key) = (id(), id());
    assert_eq!(app.code(&scene, &key).await.status, 200);
    let mut socket = app.hello(&scene, &key).await;
    let minted = app
        .post_json(
            "/__wechat/__sim/login_code",
            serde_json::json!({"openid": openid, "unionid": unionid}),
        )
        .await;
    let scanned = app
        .scan(&scene, minted.body["code"].as_str().unwrap())
        .await;
    let token = scanned.body["data"]["scan_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.confirm(&scene, &token, "U").await.status, 200);
    let ticket = pushed_ticket(&mut socket).await;
    cookie_pair(
        app.session(&scene, &ticket, &key)
            .await
            .set_cookie
            .as_deref()
            .unwrap(),
    )
}

#[tokio::test]
async fn one_person_keeps_one_sub_when_wechat_starts_giving_a_unionid() {
    let (app, _file) = provider_app(&[]).await;
    let before = sub_of(&app, &scan_login(&app, "o-union", "Union").await).await;
    let after = sub_of(
        &app,
        &scan_login_with_unionid(&app, "o-union", "u-union-1").await,
    )
    .await;
    assert_eq!(
        before, after,
        "the unionid is attached to the user known by openid"
    );
    // Another openid (another mini program of the company) with that unionid: the same sub.
    let other = sub_of(
        &app,
        &scan_login_with_unionid(&app, "o-union-elsewhere", "u-union-1").await,
    )
    .await;
    assert_eq!(other, before);
}

#[tokio::test]
async fn two_instances_starting_at_once_agree_on_one_signing_key() {
    use scanlogin::server::{oidc::keys, store::Store};
    let database = SharedDatabase::new().await;
    let database = database.url.as_str();
    // Two instances' databases (the schema made once, as a deployment's first start does).
    let a = Store::connect(database).await.unwrap();
    let b = Store::connect(database).await.unwrap();
    // Both find no key and make one at the same moment: the first insert wins.
    let (made_a, made_b) = tokio::join!(keys::ensure_active(&a), keys::ensure_active(&b));
    made_a.unwrap();
    made_b.unwrap();
    let ttl = std::time::Duration::from_secs(600);
    let keys_a = keys::PublishedKeys::new(ttl).get(&a).await.unwrap();
    let keys_b = keys::PublishedKeys::new(ttl).get(&b).await.unwrap();
    assert_eq!(keys_a.keys.len(), 1, "one key");
    assert_eq!(keys_a.keys[0].common.key_id, keys_b.keys[0].common.key_id);
    assert_eq!(
        keys::active(&a).await.unwrap().kid,
        keys::active(&b).await.unwrap().kid
    );
}

#[tokio::test]
async fn sixty_logins_in_a_minute_through_one_confidential_client_all_succeed() {
    // A company's Grafana on one address, at 9 a.m.: its token requests are the client's,
    // limited per client (600 a minute), not by the address's 30.
    let (app, _file) = provider_app(&[]).await;
    let cookie = scan_login(&app, "o-many", "Many").await;
    for i in 0..60 {
        let (status, body) = web_token_answer(&app, &cookie).await;
        assert_eq!(status, 200, "login {i}: {body}");
    }
}

#[tokio::test]
async fn a_client_over_its_own_rate_is_refused_whatever_its_address() {
    let (app, _file) = provider_app(&[("SCANLOGIN_OIDC_TOKENS_PER_CLIENT_PER_MIN", "2")]).await;
    let cookie = scan_login(&app, "o-rate", "Rate").await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(web_token_answer(&app, &cookie).await.0);
    }
    assert_eq!(statuses, [200, 200, 429]);
}

#[tokio::test]
async fn failed_client_authentications_are_limited_per_address_before_a_secret_is_checked() {
    let (app, _file) = provider_app(&[("SCANLOGIN_RATE_SESSIONS_PER_MIN", "2")]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", "x"),
        ("redirect_uri", WEB_CB),
    ];
    for _ in 0..2 {
        let (status, _) = token_post(&app, &form, Some(("web", "guess"))).await;
        assert_eq!(status, 401);
    }
    let res = app
        .http
        .post(app.url("/oauth/token"))
        .form(&form)
        .basic_auth("web", Some("guess"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    // From now on the address is refused before any secret is checked, a right one too.
    let (status, _) = token_post(&app, &form, Some(("web", WEB_SECRET))).await;
    assert_eq!(status, 429);
}

#[tokio::test]
async fn five_hundred_wrong_secrets_at_once_do_not_stall_a_login() {
    // 500 connections from this one address: over the default per-peer cap of 256. Two
    // failed authentications a minute per address: what is checked past them is refused.
    let (app, _file) = provider_app(&[
        ("SCANLOGIN_MAX_CONNECTIONS_PER_PEER", "1000"),
        ("SCANLOGIN_RATE_SESSIONS_PER_MIN", "2"),
    ])
    .await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", "x"),
        ("redirect_uri", WEB_CB),
    ];
    let flood = futures::future::join_all((0..500).map(|_| {
        let app = &app;
        async move {
            app.http
                .post(app.url("/oauth/token"))
                .form(&form)
                .basic_auth("web", Some("guess"))
                .send()
                .await
                .map(|res| res.status().as_u16())
                .unwrap_or(0)
        }
    }));
    let login = async {
        let started = std::time::Instant::now();
        let cookie = scan_login(&app, "o-beside", "Beside").await;
        let code = code_for(&app, &cookie, "web", WEB_CB, None).await;
        // The login's token request comes from the flooding address: it is refused like
        // the flood's. A relying party elsewhere is not.
        (started.elapsed(), code)
    };
    let (statuses, (took, _code)) = tokio::join!(flood, login);
    // The address's allowance (2, and one more every 30 s), then refusals without a
    // secret checked, also for the requests already waiting for their turn.
    let hashed = statuses.iter().filter(|&&s| s == 401).count();
    assert!(
        hashed <= 4,
        "at most the address's allowance of secrets is checked: {hashed} of 500"
    );
    assert!(
        statuses.iter().all(|&s| s == 401 || s == 429),
        "{statuses:?}"
    );
    assert!(
        took < std::time::Duration::from_secs(10),
        "the login beside the flood took {took:?}"
    );
}

#[tokio::test]
async fn discovery_and_keys_are_readable_from_any_page_and_unknown_scopes_are_left_out() {
    let (app, _file) = provider_app(&[]).await;
    for path in ["/.well-known/openid-configuration", "/oauth/jwks"] {
        let res = app
            .http
            .get(app.url(path))
            .header("origin", "https://spa.example")
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["access-control-allow-origin"], "*", "{path}");
    }
    // `openid email`: email is not ours to give; the login goes on with `openid`.
    let cookie = scan_login(&app, "o-scope", "Scope").await;
    let res = get(
        &app,
        &app.url("/oauth/authorize?client_id=web&redirect_uri=https%3A%2F%2Frp.example%2Fcb&response_type=code&scope=openid+email"),
        Some(&cookie),
    )
    .await;
    let code = query_param(&location(&res), "code").expect("a code");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", WEB_CB),
    ];
    let (status, tokens) = token_post(&app, &form, Some(("web", WEB_SECRET))).await;
    assert_eq!((status, tokens["scope"].as_str()), (200, Some("openid")));
}

/// The web client's and the public client's access tokens for the person of `cookie`.
async fn both_clients_tokens(app: &TestApp, cookie: &str) -> (String, String) {
    let (status, web) = web_token_answer(app, cookie).await;
    assert_eq!(status, 200, "{web}");
    let code = code_for(app, cookie, "spa", SPA_CB, Some(&challenge_of(VERIFIER))).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", SPA_CB),
        ("client_id", "spa"),
        ("code_verifier", VERIFIER),
    ];
    let (status, spa) = token_post(app, &form, None).await;
    assert_eq!(status, 200, "{spa}");
    (
        web["access_token"].as_str().unwrap().to_owned(),
        spa["access_token"].as_str().unwrap().to_owned(),
    )
}

/// `POST path` with `form`, as `basic` (Basic authentication) if given.
async fn client_post(
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (u16, Value) {
    let mut req = app.http.post(app.url(path)).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let body = res.text().await.unwrap();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

async fn userinfo_status(app: &TestApp, token: &str) -> u16 {
    app.http
        .get(app.url("/oauth/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_client_revokes_its_own_tokens_and_only_its_own() {
    let (app, _file) = provider_app(&[]).await;
    let cookie = scan_login(&app, "o-revoke", "Revoke").await;
    let (web, spa) = both_clients_tokens(&app, &cookie).await;
    // Another client's token: refused, and it still works.
    let (status, body) = client_post(
        &app,
        "/oauth/revoke",
        &[("token", &web), ("client_id", "spa")],
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
    assert_eq!(userinfo_status(&app, &web).await, 200);
    // A wrong secret: nothing revoked.
    let (status, _) = client_post(
        &app,
        "/oauth/revoke",
        &[("token", &web)],
        Some(("web", "guess")),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(userinfo_status(&app, &web).await, 200);
    // An unsupported token type.
    let (status, body) = client_post(
        &app,
        "/oauth/revoke",
        &[("token", &web), ("token_type_hint", "id_token")],
        Some(("web", WEB_SECRET)),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_token_type"))
    );
    // Its own: gone at once; asking again, or for an unknown token, is 200 as well.
    for token in [web.as_str(), web.as_str(), "never-issued"] {
        let (status, body) = client_post(
            &app,
            "/oauth/revoke",
            &[("token", token), ("token_type_hint", "access_token")],
            Some(("web", WEB_SECRET)),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(userinfo_status(&app, &web).await, 401);
    // A public client revokes its own with its id alone (as oidc-client-ts does at logout).
    let (status, _) = client_post(
        &app,
        "/oauth/revoke",
        &[("token", &spa), ("client_id", "spa")],
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(userinfo_status(&app, &spa).await, 401);
}

#[tokio::test]
async fn a_confidential_client_introspects_its_own_tokens() {
    let (app, _file) = provider_app(&[]).await;
    let cookie = scan_login(&app, "o-introspect", "Introspect").await;
    let (web, spa) = both_clients_tokens(&app, &cookie).await;
    let introspect = |token: String, basic: Option<(&'static str, &'static str)>| {
        let app = &app;
        async move {
            client_post(
                app,
                "/oauth/introspect",
                &[("token", token.as_str())],
                basic,
            )
            .await
        }
    };
    let (status, active) = introspect(web.clone(), Some(("web", WEB_SECRET))).await;
    assert_eq!(status, 200);
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["client_id"], "web");
    assert_eq!(active["token_type"], "Bearer");
    assert_eq!(active["scope"], "openid");
    assert!(
        active["sub"].is_string() && active["exp"].is_i64(),
        "{active}"
    );
    // Another client's token, an unknown one: inactive, nothing more.
    for token in [spa.clone(), "never-issued".to_owned()] {
        let (status, body) = introspect(token, Some(("web", WEB_SECRET))).await;
        assert_eq!((status, body), (200, serde_json::json!({"active": false})));
    }
    // A public client, a wrong secret: not a client that may ask.
    let (status, _) = client_post(
        &app,
        "/oauth/introspect",
        &[("token", &spa), ("client_id", "spa")],
        None,
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(introspect(web.clone(), Some(("web", "guess"))).await.0, 401);
    // Revoked: inactive.
    let (status, _) = client_post(
        &app,
        "/oauth/revoke",
        &[("token", &web)],
        Some(("web", WEB_SECRET)),
    )
    .await;
    assert_eq!(status, 200);
    let (_, body) = introspect(web, Some(("web", WEB_SECRET))).await;
    assert_eq!(body, serde_json::json!({"active": false}));
    let discovery = discovery_of(&app).await;
    assert_eq!(discovery["revocation_endpoint"], app.url("/oauth/revoke"));
    assert_eq!(
        discovery["introspection_endpoint"],
        app.url("/oauth/introspect")
    );
}

/// A JWT of the provider's, its signature checked against the published JWKS and its
/// issuer ours: its header and claims.
async fn verified_jwt(app: &TestApp, jwt: &str) -> (jsonwebtoken::Header, Value) {
    let jwks: jsonwebtoken::jwk::JwkSet = app
        .http
        .get(app.url("/oauth/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_aud = false;
    validation.set_issuer(&[app.url("")]);
    validation.set_required_spec_claims(&["iss", "sub", "aud", "exp", "iat"]);
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let claims = jsonwebtoken::decode::<Value>(jwt, &key, &validation)
        .unwrap()
        .claims;
    (header, claims)
}
