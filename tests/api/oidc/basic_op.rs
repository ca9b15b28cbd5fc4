//! The OpenID Foundation's Basic OP and Config OP test plans: one test per module that
//! applies, named after it.

use super::*;

#[tokio::test]
async fn oidcc_server() {
    let (app, _file) = provider_app(&[]).await;
    let http = rp_http();
    let issuer = IssuerUrl::new(app.url("")).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer.clone(), &http)
        .await
        .unwrap();
    assert_eq!(metadata.issuer(), &issuer);
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new("web".into()),
        Some(ClientSecret::new(WEB_SECRET.into())),
    )
    .set_redirect_uri(RedirectUrl::new(WEB_CB.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (authorize_url, csrf_state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();

    // No session: the browser goes to the scan login, which knows where to come back.
    let res = get(&app, authorize_url.as_str(), None).await;
    assert_eq!(res.status(), 303);
    let login = location(&res);
    assert!(
        login.starts_with("/login?next=%2Foauth%2Fauthorize%3F"),
        "{login}"
    );
    let next = query_param(&format!("http://x{login}"), "next").unwrap();
    let page = get(&app, &app.url(&login), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"data-testid="qr-login""#));

    // The person scans and confirms; the page comes back to the authorization request.
    let cookie = scan_login(&app, "o-oidc-alice", "Alice").await;
    let res = get(&app, &app.url(&next), Some(&cookie)).await;
    assert_eq!(res.status(), 303);
    let back = location(&res);
    assert!(back.starts_with(WEB_CB), "{back}");
    assert_eq!(
        query_param(&back, "state").as_deref(),
        Some(csrf_state.secret().as_str())
    );
    assert_eq!(
        query_param(&back, "iss").as_deref(),
        Some(app.url("").as_str())
    );
    let code = query_param(&back, "code").unwrap();

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("an ID token");
    // Signature (against the JWKS), issuer, audience, expiry and the nonce's round trip.
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .unwrap();
    let sub = claims.subject().as_str().to_owned();
    assert!(
        sub.parse::<i64>().is_ok(),
        "sub is our user id, never the openid: {sub}"
    );
    assert_eq!(
        claims.name().and_then(|n| n.get(None)).map(|n| n.as_str()),
        Some("Alice")
    );
    assert!(claims.auth_time().is_some());
    // Another nonce: refused.
    assert!(id_token
        .claims(&client.id_token_verifier(), &Nonce::new("other".into()))
        .is_err());

    let userinfo: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(userinfo.subject().as_str(), sub);

    // Already logged in: the next authorization goes straight back with a code.
    let (again, _, _) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .url();
    let res = get(&app, again.as_str(), Some(&cookie)).await;
    assert!(
        location(&res).starts_with(&format!("{WEB_CB}?code=")),
        "{}",
        location(&res)
    );
}

#[tokio::test]
async fn oidcc_ensure_post_request_succeeds() {
    let (app, _file) = provider_app(&[]).await;
    let cookie = scan_login(&app, "o-post", "Post").await;
    let params = [
        ("client_id", "web"),
        ("redirect_uri", WEB_CB),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "st"),
    ];
    // A form posted from the relying party's own page.
    let res = app
        .http
        .post(app.url("/oauth/authorize"))
        .header("cookie", &cookie)
        .header("origin", "https://rp.example")
        .form(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let to = location(&res);
    assert!(to.starts_with(WEB_CB), "{to}");
    assert!(query_param(&to, "code").is_some(), "{to}");
    assert_eq!(query_param(&to, "state").as_deref(), Some("st"));
}

#[tokio::test]
async fn oidcc_unsigned_request_object_supported_correctly_or_rejected_as_unsupported() {
    let (app, _file) = provider_app(&[]).await;
    let cookie = scan_login(&app, "o-request-object", "Request").await;
    let params = [
        ("client_id", "web"),
        ("redirect_uri", WEB_CB),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "st"),
    ];
    // A request object, by value or by reference: refused, never ignored.
    for (name, error) in [
        ("request", "request_not_supported"),
        ("request_uri", "request_uri_not_supported"),
    ] {
        let mut url = url::Url::parse(&app.url("/oauth/authorize")).unwrap();
        url.query_pairs_mut()
            .extend_pairs(params)
            .append_pair(name, "eyJhbGciOiJub25lIn0.e30.");
        let res = get(&app, url.as_str(), Some(&cookie)).await;
        assert_eq!(res.status(), 303);
        assert_eq!(
            query_param(&location(&res), "error").as_deref(),
            Some(error)
        );
    }
    let discovery = discovery_of(&app).await;
    for flag in [
        "request_parameter_supported",
        "request_uri_parameter_supported",
        "claims_parameter_supported",
    ] {
        assert_eq!(discovery[flag], false, "{flag}");
    }
}

#[tokio::test]
async fn oidcc_codereuse() {
    let (app, _file) = provider_app(&[]).await;
    let cookie = scan_login(&app, "o-reuse", "Reuse").await;
    let code = code_for(&app, &cookie, "web", WEB_CB, None).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", WEB_CB),
    ];
    let (status, first) = token_post(&app, &form, Some(("web", WEB_SECRET))).await;
    assert_eq!(status, 200, "{first}");
    let access = first["access_token"].as_str().unwrap();
    let userinfo = |token: String| {
        let app = &app;
        async move {
            app.http
                .get(app.url("/oauth/userinfo"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(userinfo(access.to_owned()).await, 200);
    let (status, second) = token_post(&app, &form, Some(("web", WEB_SECRET))).await;
    assert_eq!(
        (status, second["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(
        userinfo(access.to_owned()).await,
        401,
        "the first use's token is revoked"
    );
}

#[tokio::test]
async fn oidcc_ensure_registered_redirect_uri() {
    let (app, _file) = provider_app(&[]).await;
    let authorize = |query: &str| {
        let app = &app;
        let url = app.url(&format!("/oauth/authorize?{query}"));
        async move { get(app, &url, None).await }
    };
    // Unknown client, unregistered or look-alike redirect URIs: our page, no redirect.
    for query in [
        "client_id=nope&redirect_uri=https%3A%2F%2Frp.example%2Fcb&response_type=code&scope=openid",
        "client_id=web&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&response_type=code&scope=openid",
        "client_id=web&redirect_uri=https%3A%2F%2Frp.example%2Fcb%2F..%2Fevil&response_type=code&scope=openid",
        "client_id=web&redirect_uri=https%3A%2F%2Frp.example%2Fcb.evil.example&response_type=code&scope=openid",
        "client_id=web&response_type=code&scope=openid",
        "client_id=web&client_id=spa&redirect_uri=https%3A%2F%2Frp.example%2Fcb&response_type=code&scope=openid",
    ] {
        let res = authorize(query).await;
        assert_eq!(res.status(), 400, "{query}");
        assert!(res.headers().get("location").is_none(), "{query}");
    }
    // A trusted redirect URI gets the error, with the state.
    let res = authorize("client_id=web&redirect_uri=https%3A%2F%2Frp.example%2Fcb&response_type=token&scope=openid&state=s1").await;
    let to = location(&res);
    assert!(to.starts_with(WEB_CB), "{to}");
    assert_eq!(
        query_param(&to, "error").as_deref(),
        Some("unsupported_response_type")
    );
    assert_eq!(query_param(&to, "state").as_deref(), Some("s1"));
    let res = authorize("client_id=web&redirect_uri=https%3A%2F%2Frp.example%2Fcb&response_type=code&scope=profile&state=s2").await;
    assert_eq!(
        query_param(&location(&res), "error").as_deref(),
        Some("invalid_scope")
    );
    // A public client without PKCE, or with `plain`.
    let res = authorize("client_id=spa&redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fcb&response_type=code&scope=openid&state=s3").await;
    assert_eq!(
        query_param(&location(&res), "error").as_deref(),
        Some("invalid_request")
    );
    let res = authorize("client_id=spa&redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fcb&response_type=code&scope=openid&code_challenge=abc&code_challenge_method=plain").await;
    assert_eq!(
        query_param(&location(&res), "error").as_deref(),
        Some("invalid_request")
    );

    // The login page's `next` goes only to the authorization endpoint: anything else,
    // after the login, is home.
    let cookie = scan_login(&app, "o-next", "Next").await;
    // `prompt=login` with a session: the login page shows a code again.
    let res = get(
        &app,
        &app.url("/oauth/authorize?client_id=web&redirect_uri=https%3A%2F%2Frp.example%2Fcb&response_type=code&scope=openid&prompt=login"),
        Some(&cookie),
    )
    .await;
    let login = location(&res);
    assert!(
        login.starts_with("/login?next=") && login.ends_with("&again=1"),
        "{login}"
    );
    let page = get(&app, &app.url(&login), Some(&cookie)).await;
    assert_eq!(page.status(), 200, "the page, not a redirect past it");
    // `consent` and `select_account` ask for a new scan too: the phone is where the person
    // consents and picks the WeChat account; the continuation no longer asks.
    for prompt in ["consent", "select_account"] {
        let res = get(
            &app,
            &app.url(&format!("/oauth/authorize?client_id=web&redirect_uri=https%3A%2F%2Frp.example%2Fcb&response_type=code&scope=openid&prompt={prompt}")),
            Some(&cookie),
        )
        .await;
        let login = location(&res);
        assert!(login.ends_with("&again=1"), "{prompt}: {login}");
        assert!(
            !login.contains(prompt),
            "{prompt} is honoured by this scan: {login}"
        );
    }
    // `none` with anything else is no request (OpenID Connect Core §3.1.2.1).
    let res = get(
        &app,
        &app.url("/oauth/authorize?client_id=web&redirect_uri=https%3A%2F%2Frp.example%2Fcb&response_type=code&scope=openid&prompt=none%20login"),
        Some(&cookie),
    )
    .await;
    assert_eq!(
        query_param(&location(&res), "error").as_deref(),
        Some("invalid_request")
    );
    for next in [
        "https%3A%2F%2Fevil.example%2F",
        "%2F%2Fevil.example%2F",
        "%2Fapi%2Fme",
        // A control character would make an invalid `Location` (once a 500).
        "%2Foauth%2Fauthorize%3F%00",
        "/oauth/authorize?%00",
        "/oauth/authorize?%0d%0aSet-Cookie:%20x=1",
    ] {
        let res = get(
            &app,
            &app.url(&format!("/login?next={next}")),
            Some(&cookie),
        )
        .await;
        assert_eq!(location(&res), "/", "{next}");
    }
}

#[tokio::test]
async fn oidcc_userinfo_post_body() {
    let (app, _file) = provider_app(&[]).await;
    let cookie = scan_login(&app, "o-body", "Body").await;
    let (_, tokens) = web_token_answer(&app, &cookie).await;
    let access = tokens["access_token"].as_str().unwrap();
    let in_body = app
        .http
        .post(app.url("/oauth/userinfo"))
        .form(&[("access_token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(in_body.status(), 200);
    let body: Value = in_body.json().await.unwrap();
    assert!(body["sub"].is_string(), "{body}");
    // Both ways at once is no way (RFC 6750 §2).
    let both = app
        .http
        .post(app.url("/oauth/userinfo"))
        .bearer_auth(access)
        .form(&[("access_token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(both.status(), 401);
    assert_eq!(
        both.headers()["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );
}

/// An authorization request of the web client, with `extra` parameters (added, or in
/// place of the usual ones), for the browser of `cookie` (if any): where it sends the
/// browser.
async fn authorize_web(app: &TestApp, cookie: Option<&str>, extra: &[(&str, &str)]) -> String {
    let usual = [
        ("client_id", "web"),
        ("redirect_uri", WEB_CB),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "st"),
    ];
    let mut url = url::Url::parse(&app.url("/oauth/authorize")).unwrap();
    url.query_pairs_mut()
        .extend_pairs(
            usual
                .iter()
                .filter(|(name, _)| !extra.iter().any(|(n, _)| n == name)),
        )
        .extend_pairs(extra);
    let res = get(app, url.as_str(), cookie).await;
    assert_eq!(res.status(), 303);
    location(&res)
}

/// The code in a redirect to the web client, redeemed: the token answer.
async fn redeem_web(app: &TestApp, to: &str) -> Value {
    assert!(to.starts_with(WEB_CB), "{to}");
    let code = query_param(to, "code").unwrap_or_else(|| panic!("no code in {to}"));
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", WEB_CB),
    ];
    let (status, tokens) = token_post(app, &form, Some(("web", WEB_SECRET))).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

#[tokio::test]
async fn oidcc_server_client_secret_post() {
    let (app, _file) = provider_app(&[]).await;
    let cookie = scan_login(&app, "o-secret-post", "Post").await;
    let code = code_for(&app, &cookie, "web", WEB_CB, None).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", WEB_CB),
        ("client_id", "web"),
        ("client_secret", WEB_SECRET),
    ];
    let (status, tokens) = token_post(&app, &form, None).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["id_token"].is_string());
}

/// A new access token of the web client's, sent to userinfo by `method` in the
/// `Authorization` header: the answer, once it is a 200, and the ID token's claims.
async fn userinfo_by(method: reqwest::Method, openid: &str) -> (Value, Value) {
    let (app, _file) = provider_app(&[]).await;
    let cookie = scan_login(&app, openid, "Userinfo").await;
    let (_, tokens) = web_token_answer(&app, &cookie).await;
    let res = app
        .http
        .request(method, app.url("/oauth/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (_, id) = verified_jwt(&app, tokens["id_token"].as_str().unwrap()).await;
    (res.json().await.unwrap(), id)
}

#[tokio::test]
async fn oidcc_userinfo_get() {
    let (info, id) = userinfo_by(reqwest::Method::GET, "o-userinfo-get").await;
    assert_eq!(info["sub"], id["sub"], "the same sub as the ID token");
}

#[tokio::test]
async fn oidcc_userinfo_post_header() {
    let (info, id) = userinfo_by(reqwest::Method::POST, "o-userinfo-header").await;
    assert_eq!(info["sub"], id["sub"], "the same sub as the ID token");
}

#[tokio::test]
async fn oidcc_prompt_none_not_logged_in() {
    let (app, _file) = provider_app(&[]).await;
    let to = authorize_web(&app, None, &[("prompt", "none")]).await;
    assert!(to.starts_with(WEB_CB), "{to}");
    assert_eq!(query_param(&to, "error").as_deref(), Some("login_required"));
    assert_eq!(query_param(&to, "state").as_deref(), Some("st"));
}

#[tokio::test]
async fn oidcc_prompt_none_logged_in() {
    let (app, _file) = provider_app(&[]).await;
    let cookie = scan_login(&app, "o-prompt-none", "None").await;
    let to = authorize_web(&app, Some(&cookie), &[("prompt", "none")]).await;
    redeem_web(&app, &to).await;
}

#[tokio::test]
async fn oidcc_max_age_1() {
    let (app, _file) = provider_app(&[]).await;
    let cookie = scan_login(&app, "o-max-age-1", "Old").await;
    let token = cookie.split_once('=').unwrap().1;
    app.store.backdate_session(token, 5).await.unwrap();
    // A login older than max_age counts as none: a new scan.
    let to = authorize_web(&app, Some(&cookie), &[("max_age", "1")]).await;
    assert!(
        to.starts_with("/login?next=") && to.contains("again=1"),
        "{to}"
    );
    let to = authorize_web(&app, Some(&cookie), &[("max_age", "1"), ("prompt", "none")]).await;
    assert_eq!(query_param(&to, "error").as_deref(), Some("login_required"));
}

#[tokio::test]
async fn oidcc_max_age_10000() {
    let (app, _file) = provider_app(&[]).await;
    let cookie = scan_login(&app, "o-max-age-10000", "Recent").await;
    let to = authorize_web(&app, Some(&cookie), &[("max_age", "10000")]).await;
    let tokens = redeem_web(&app, &to).await;
    let (_, id) = verified_jwt(&app, tokens["id_token"].as_str().unwrap()).await;
    let auth_time = id["auth_time"].as_i64().unwrap();
    assert!(id["iat"].as_i64().unwrap() - auth_time < 10_000, "{id}");
}

#[tokio::test]
async fn oidcc_id_token_hint() {
    let (app, _file) = provider_app(&[]).await;
    let cookie = scan_login(&app, "o-id-token-hint", "Hint").await;
    let (_, first) = web_token_answer(&app, &cookie).await;
    let hint = first["id_token"].as_str().unwrap();
    let to = authorize_web(
        &app,
        Some(&cookie),
        &[("prompt", "none"), ("id_token_hint", hint)],
    )
    .await;
    let tokens = redeem_web(&app, &to).await;
    let (_, before) = verified_jwt(&app, hint).await;
    let (_, after) = verified_jwt(&app, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(before["sub"], after["sub"]);
}

#[tokio::test]
async fn oidcc_ensure_request_with_unknown_parameter_succeeds() {
    let (app, _file) = provider_app(&[]).await;
    let cookie = scan_login(&app, "o-unknown-param", "Unknown").await;
    let to = authorize_web(
        &app,
        Some(&cookie),
        &[("extra", "foobar"), ("display", "page")],
    )
    .await;
    redeem_web(&app, &to).await;
}

#[tokio::test]
async fn oidcc_ui_locales() {
    let (app, _file) = provider_app(&[]).await;
    // The login page the request sends the browser to is in the first language we have.
    let to = authorize_web(&app, None, &[("ui_locales", "fr-FR zh-CN en")]).await;
    assert!(
        to.starts_with("/login?next=") && to.ends_with("&lang=zh-CN"),
        "{to}"
    );
    let page = get(&app, &app.url(&to), None).await.text().await.unwrap();
    assert!(page.contains("<html lang=\"zh-CN\""), "{page}");
    let to = authorize_web(&app, None, &[("ui_locales", "en-US")]).await;
    assert!(to.ends_with("&lang=en"), "{to}");
}

#[tokio::test]
async fn oidcc_claims_essential() {
    let (app, _file) = provider_app(&[]).await;
    assert_eq!(
        discovery_of(&app).await["claims_parameter_supported"],
        false
    );
    let cookie = scan_login(&app, "o-claims", "Claims").await;
    // Not supported, so not honoured, and the request still succeeds (Core §5.5).
    let claims = r#"{"userinfo":{"name":{"essential":true}}}"#;
    let to = authorize_web(
        &app,
        Some(&cookie),
        &[("claims", claims), ("scope", "openid profile")],
    )
    .await;
    let tokens = redeem_web(&app, &to).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(userinfo_status(&app, access).await, 200);
}

#[tokio::test]
async fn oidcc_discovery_endpoint_verification() {
    let (app, _file) = provider_app(&[]).await;
    let res = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let d: Value = res.json().await.unwrap();
    let issuer = app.url("");
    assert_eq!(
        d["issuer"],
        issuer.as_str(),
        "the issuer exactly, no trailing slash"
    );
    for endpoint in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "end_session_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
    ] {
        let url = d[endpoint].as_str().unwrap_or_else(|| panic!("{endpoint}"));
        assert!(url.starts_with(&issuer), "{endpoint}: {url}");
    }
    let has = |field: &str, value: &str| {
        d[field]
            .as_array()
            .unwrap_or_else(|| panic!("{field}"))
            .iter()
            .any(|v| v == value)
    };
    assert!(has("response_types_supported", "code"));
    assert!(has("subject_types_supported", "public"));
    assert!(has("id_token_signing_alg_values_supported", "RS256"));
    assert!(has("scopes_supported", "openid"));
    assert!(has("grant_types_supported", "refresh_token"));
    assert!(has(
        "token_endpoint_auth_methods_supported",
        "client_secret_basic"
    ));
    for claim in ["sub", "iss", "auth_time", "sid"] {
        assert!(has("claims_supported", claim), "{claim}");
    }
    let jwks: Value = app
        .http
        .get(d["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(
        (key["kty"].as_str(), key["use"].as_str()),
        (Some("RSA"), Some("sig"))
    );
    assert!(
        key["kid"].is_string() && key.get("d").is_none(),
        "public halves only"
    );
}
