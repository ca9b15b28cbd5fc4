//! `oidcc-rp-initiated-logout` and its `-bad-id-token-hint`, `-bad-post-logout-redirect-uri`
//! and `-no-state` variants: an application sends the browser to the end-session endpoint
//! and the scanlogin session ends; what cannot be trusted stays on our page; without a
//! hint the person is asked first, in their language.

use super::*;

const BYE: &str = "https://rp.example/bye";
const LOGOUT: &str = "post_logout_redirect_uris = [\"https://rp.example/bye\"]\n";

/// A person logged in to the web app: the browser's cookie and the ID token.
async fn logged_in(app: &TestApp, openid: &str) -> (String, String) {
    let cookie = scan_login(app, openid, "Logout").await;
    let (status, tokens) = web_token_answer(app, &cookie).await;
    assert_eq!(status, 200, "{tokens}");
    (cookie, tokens["id_token"].as_str().unwrap().to_owned())
}

async fn logout(app: &TestApp, cookie: &str, params: &[(&str, &str)]) -> reqwest::Response {
    let mut url = url::Url::parse(&app.url("/oauth/logout")).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    get(app, url.as_str(), Some(cookie)).await
}

async fn logged_in_still(app: &TestApp, cookie: &str) -> bool {
    app.get_with_cookie("/api/me", Some(cookie)).await.status == 200
}

#[tokio::test]
async fn oidcc_rp_initiated_logout() {
    let (app, _file) = provider_app_with(LOGOUT, &[]).await;
    let discovery = discovery_of(&app).await;
    assert_eq!(discovery["end_session_endpoint"], app.url("/oauth/logout"));
    let (cookie, id_token) = logged_in(&app, "o-logout").await;

    let res = logout(
        &app,
        &cookie,
        &[
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", BYE),
            ("state", "s-1"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), format!("{BYE}?state=s-1"));
    let cleared = res.headers()["set-cookie"].to_str().unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert!(!logged_in_still(&app, &cookie).await, "the session ended");
    // The next authorization asks for a scan again.
    let again = get(&app, &app.url(&format!("/oauth/authorize?client_id=web&redirect_uri={WEB_CB}&response_type=code&scope=openid&prompt=none")), Some(&cookie)).await;
    assert_eq!(
        query_param(&location(&again), "error").as_deref(),
        Some("login_required")
    );
}

#[tokio::test]
async fn oidcc_rp_initiated_logout_no_state() {
    let (app, _file) = provider_app_with(LOGOUT, &[]).await;
    let (cookie, id_token) = logged_in(&app, "o-logout-nostate").await;
    // A POST from the application's site carries no cookie (SameSite=Lax): it is sent on
    // as a GET, a navigation, which does.
    let res = app
        .http
        .post(app.url("/oauth/logout"))
        .header("origin", "https://rp.example")
        .form(&[
            ("id_token_hint", id_token.as_str()),
            ("post_logout_redirect_uri", BYE),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let again = location(&res);
    assert!(again.starts_with("/oauth/logout?id_token_hint="), "{again}");
    // Without a state the redirect carries none.
    let res = get(&app, &app.url(&again), Some(&cookie)).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), BYE);
    assert!(!logged_in_still(&app, &cookie).await);
}

#[tokio::test]
async fn oidcc_rp_initiated_logout_bad_id_token_hint() {
    let (app, _file) = provider_app_with(LOGOUT, &[]).await;
    let (cookie, id_token) = logged_in(&app, "o-logout-badhint").await;
    // The same token with its signature's last characters changed.
    let forged = format!("{}AAAA", &id_token[..id_token.len() - 4]);
    for hint in [forged.as_str(), "not-a-jwt"] {
        let res = logout(
            &app,
            &cookie,
            &[
                ("id_token_hint", hint),
                ("post_logout_redirect_uri", BYE),
                ("state", "s"),
            ],
        )
        .await;
        assert_eq!(res.status(), 400, "refused on our page, never redirected");
        assert!(res.headers().get("location").is_none());
        assert!(logged_in_still(&app, &cookie).await, "nothing ended");
    }
    // An ID token of an older session of the same person (found in some application's
    // storage, say): the person is asked, nothing ends by itself.
    let (newer, _) = logged_in(&app, "o-logout-badhint").await;
    let res = logout(
        &app,
        &newer,
        &[
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", BYE),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("/oauth/logout/confirm"));
    assert!(logged_in_still(&app, &newer).await);
    // A hint of the web app, with another client's id.
    let res = logout(
        &app,
        &cookie,
        &[("id_token_hint", &id_token), ("client_id", "spa")],
    )
    .await;
    assert_eq!(res.status(), 400);
    assert!(logged_in_still(&app, &cookie).await);
}

#[tokio::test]
async fn oidcc_rp_initiated_logout_bad_post_logout_redirect_uri() {
    let (app, _file) = provider_app_with(LOGOUT, &[]).await;
    let (cookie, id_token) = logged_in(&app, "o-logout-baduri").await;
    for uri in [
        "https://rp.example/bye/",
        "https://evil.example/bye",
        WEB_CB,
    ] {
        let res = logout(
            &app,
            &cookie,
            &[
                ("id_token_hint", &id_token),
                ("post_logout_redirect_uri", uri),
            ],
        )
        .await;
        assert_eq!(res.status(), 400, "{uri} is not registered for logout");
        assert!(res.headers().get("location").is_none());
    }
    // Without a client to check it against, no redirect either.
    let res = logout(&app, &cookie, &[("post_logout_redirect_uri", BYE)]).await;
    assert_eq!(res.status(), 400);
    assert!(logged_in_still(&app, &cookie).await);
}

#[tokio::test]
async fn without_a_hint_the_person_confirms_in_their_language() {
    let (app, _file) = provider_app_with(LOGOUT, &[]).await;
    let (cookie, _) = logged_in(&app, "o-logout-confirm").await;
    let res = logout(
        &app,
        &cookie,
        &[
            ("client_id", "web"),
            ("post_logout_redirect_uri", BYE),
            ("state", "s<\"2"),
            ("ui_locales", "fr zh-CN"),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("form-action 'self' https://rp.example"),
        "{csp}"
    );
    let page = res.text().await.unwrap();
    assert!(
        page.contains("<html lang=\"zh-CN\"") && page.contains("要退出登录吗"),
        "{page}"
    );
    assert!(page.contains("action=\"/oauth/logout/confirm\""), "{page}");
    assert!(!page.contains("s<\"2"), "the state is escaped: {page}");
    assert!(
        logged_in_still(&app, &cookie).await,
        "nothing ends before the person confirms"
    );

    let confirm = |origin: String| {
        let app = &app;
        let cookie = cookie.clone();
        async move {
            app.http
                .post(app.url("/oauth/logout/confirm"))
                .header("cookie", cookie)
                .header("origin", origin)
                .form(&[
                    ("client_id", "web"),
                    ("post_logout_redirect_uri", BYE),
                    ("state", "s<\"2"),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    // A page elsewhere cannot confirm for the person.
    assert_eq!(confirm("https://evil.example".into()).await.status(), 403);
    assert!(logged_in_still(&app, &cookie).await);
    let res = confirm(app.url("")).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        query_param(&location(&res), "state").as_deref(),
        Some("s<\"2")
    );
    assert!(!logged_in_still(&app, &cookie).await);

    // Nobody logged in: straight to the page that says so, in English here.
    let res = logout(&app, &cookie, &[("ui_locales", "en")]).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("You have logged out."));
}
