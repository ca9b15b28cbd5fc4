//! `oidcc-backchannel-rp-initiated-logout`: when a login session ends, every client it
//! logged in to that registered a `backchannel_logout_uri` receives a logout token signed
//! by the provider, naming the session of the ID tokens it got; a client that does not
//! answer is tried again, one that refuses is not.

use std::sync::{Arc, Mutex};

use super::*;

/// A relying party's back-channel endpoint: keeps every logout token posted to it and
/// answers the `refusals` in turn, then 200.
struct Receiver {
    url: String,
    tokens: Arc<Mutex<Vec<String>>>,
}

async fn receiver(refusals: &[axum::http::StatusCode]) -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/backchannel", listener.local_addr().unwrap());
    let tokens: Arc<Mutex<Vec<String>>> = Arc::default();
    let (kept, refusals) = (tokens.clone(), refusals.to_vec());
    let endpoint =
        move |axum::Form(form): axum::Form<std::collections::HashMap<String, String>>| {
            let (kept, refusals) = (kept.clone(), refusals.clone());
            async move {
                let mut kept = kept.lock().unwrap();
                kept.push(form.get("logout_token").cloned().unwrap_or_default());
                refusals
                    .get(kept.len() - 1)
                    .copied()
                    .unwrap_or(axum::http::StatusCode::OK)
            }
        };
    let rp = axum::Router::new().route("/backchannel", axum::routing::post(endpoint));
    tokio::spawn(async move { axum::serve(listener, rp).await.unwrap() });
    Receiver { url, tokens }
}

impl Receiver {
    fn received(&self) -> Vec<String> {
        self.tokens.lock().unwrap().clone()
    }
}

async fn app_telling(rp: &Receiver) -> (TestApp, tempfile_path::Path) {
    let web = format!(
        "backchannel_logout_uri = \"{}\"\npost_logout_redirect_uris = [\"https://rp.example/bye\"]\n",
        rp.url
    );
    provider_app_with(&web, &[("SCANLOGIN_OIDC_LOGOUT_RETRY_SECS", "1")]).await
}

/// `POST /api/logout` with the browser's `cookie`.
async fn log_out_on_our_site(app: &TestApp, cookie: &str) {
    let out = app
        .post_raw(
            "/api/logout",
            "application/x-www-form-urlencoded",
            String::new(),
            Some(cookie),
        )
        .await;
    assert_eq!(out.status, 200);
}

/// The claims of the first logout token the relying party receives, once it has one, its
/// signature checked against the JWKS.
async fn first_logout_claims(app: &TestApp, rp: &Receiver) -> Value {
    eventually("a logout token is delivered", || async {
        !rp.received().is_empty()
    })
    .await;
    verified_jwt(app, &rp.received()[0]).await.1
}

/// The person of `cookie` logs in to the web app: the `sid` of its ID token.
async fn web_login_sid(app: &TestApp, cookie: &str) -> (String, Value) {
    let (status, tokens) = web_token_answer(app, cookie).await;
    assert_eq!(status, 200, "{tokens}");
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    let (_, claims) = verified_jwt(app, &id_token).await;
    (id_token, claims)
}

#[tokio::test]
async fn oidcc_backchannel_rp_initiated_logout() {
    let rp = receiver(&[axum::http::StatusCode::SERVICE_UNAVAILABLE]).await;
    let (app, _file) = app_telling(&rp).await;
    let discovery = discovery_of(&app).await;
    assert_eq!(discovery["backchannel_logout_supported"], true);
    assert_eq!(discovery["backchannel_logout_session_supported"], true);
    let cookie = scan_login(&app, "o-backchannel", "Back").await;
    let (id_token, id) = web_login_sid(&app, &cookie).await;
    // Two logins of the same session to the same client: one logout.
    web_login_sid(&app, &cookie).await;

    let mut url = url::Url::parse(&app.url("/oauth/logout")).unwrap();
    url.query_pairs_mut()
        .append_pair("id_token_hint", &id_token)
        .append_pair("post_logout_redirect_uri", "https://rp.example/bye");
    let res = get(&app, url.as_str(), Some(&cookie)).await;
    assert_eq!(
        res.status(),
        303,
        "the person is not kept waiting for the client"
    );

    // Refused once (503), delivered on the retry.
    eventually(
        "the logout token is delivered again after a refusal",
        || async { rp.received().len() >= 2 },
    )
    .await;
    let received = rp.received();
    let (header, first) = verified_jwt(&app, &received[0]).await;
    let (_, second) = verified_jwt(&app, &received[1]).await;
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    assert_eq!(first["sid"], id["sid"]);
    assert_eq!(first["sub"], id["sub"]);
    assert_eq!(first["aud"], "web");
    assert!(first["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(first.get("nonce").is_none());
    assert_eq!(first["jti"], second["jti"], "one logout, sent twice");
    // Delivered: nothing is left to send, and it was sent no more.
    eventually("the delivery is done", || async {
        app.store
            .due_logout_deliveries(i64::MAX, 10)
            .await
            .unwrap()
            .is_empty()
    })
    .await;
    assert_eq!(rp.received().len(), 2);
}

#[tokio::test]
async fn logging_out_on_our_own_site_tells_the_clients_too() {
    let rp = receiver(&[]).await;
    let (app, _file) = app_telling(&rp).await;
    let cookie = scan_login(&app, "o-backchannel-site", "Site").await;
    let (_, id) = web_login_sid(&app, &cookie).await;
    // Another session of the same person is another sid, and stays.
    let other = scan_login(&app, "o-backchannel-site", "Site").await;
    let (_, other_id) = web_login_sid(&app, &other).await;
    assert_ne!(id["sid"], other_id["sid"]);

    log_out_on_our_site(&app, &cookie).await;
    assert_eq!(first_logout_claims(&app, &rp).await["sid"], id["sid"]);
}

#[tokio::test]
async fn a_new_login_in_the_same_browser_tells_the_clients_of_the_old_session() {
    let rp = receiver(&[]).await;
    let (app, _file) = app_telling(&rp).await;
    let cookie = scan_login(&app, "o-backchannel-relogin", "Again").await;
    let (_, id) = web_login_sid(&app, &cookie).await;
    // Another scan in the same browser (prompt=login, another person at the desk): the
    // session it brought along ends.
    let (scene, key, ticket) =
        crate::common::flow::confirmed_ticket(&app, "o-backchannel-relogin-2", "Next").await;
    let body = serde_json::json!({"scene": scene, "ticket": ticket, "key": key});
    let exchanged = app
        .post_raw(
            "/api/session",
            "application/json",
            body.to_string(),
            Some(&cookie),
        )
        .await;
    assert_eq!(exchanged.status, 200);
    assert_eq!(first_logout_claims(&app, &rp).await["sid"], id["sid"]);
}

#[tokio::test]
async fn a_client_that_refuses_a_logout_token_is_not_sent_it_again() {
    let rp = receiver(&[axum::http::StatusCode::BAD_REQUEST]).await;
    let (app, _file) = app_telling(&rp).await;
    let cookie = scan_login(&app, "o-backchannel-refused", "Refused").await;
    web_login_sid(&app, &cookie).await;
    log_out_on_our_site(&app, &cookie).await;
    // Its 400 is final (Back-Channel Logout 1.0 §2.8): the delivery is dropped, not retried.
    eventually("the refused delivery is dropped", || async {
        !rp.received().is_empty()
            && app
                .store
                .due_logout_deliveries(i64::MAX, 10)
                .await
                .unwrap()
                .is_empty()
    })
    .await;
    assert_eq!(rp.received().len(), 1);
}

#[tokio::test]
async fn disabling_a_user_tells_the_clients_of_each_of_their_sessions() {
    let rp = receiver(&[]).await;
    let (app, _file) = app_telling(&rp).await;
    let cookie = scan_login(&app, "o-backchannel-disabled", "Gone").await;
    let (_, id) = web_login_sid(&app, &cookie).await;
    let admin = scan_login(&app, "o-backchannel-admin", "Admin").await;
    let appid = scanlogin::server::wechat::simulator::DEMO_APPID;
    let standing = |openid: &'static str| {
        let app = &app;
        async move {
            app.store
                .standing(appid, openid, None)
                .await
                .unwrap()
                .unwrap()
                .user_id
        }
    };
    let admin_id = standing("o-backchannel-admin").await;
    app.store.set_role(admin_id, true).await.unwrap();
    let disabled = app
        .post_raw(
            "/api/admin/act",
            "application/json",
            serde_json::json!({"action": {"action": "disable_user",
                "user_id": standing("o-backchannel-disabled").await}})
            .to_string(),
            Some(&admin),
        )
        .await;
    assert_eq!(disabled.status, 200, "{}", disabled.body);
    let claims = first_logout_claims(&app, &rp).await;
    assert_eq!(claims["sid"], id["sid"]);
    assert_eq!(claims["sub"], id["sub"]);
}

#[tokio::test]
async fn a_person_revoking_an_application_ends_its_tokens_and_tells_it() {
    let rp = receiver(&[]).await;
    let web = format!(
        "backchannel_logout_uri = \"{}\"\nscopes = [\"openid\", \"profile\", \"offline_access\"]\n",
        rp.url
    );
    let (app, _file) = provider_app_with(&web, &[]).await;
    let cookie = scan_login(&app, "o-revoker", "Revoker").await;
    let (status, tokens) =
        web_token_answer_for(&app, &cookie, "openid profile offline_access").await;
    assert_eq!(status, 200, "{tokens}");
    let (_, id) = verified_jwt(&app, tokens["id_token"].as_str().unwrap()).await;
    let mine = app.get_with_cookie("/api/account", Some(&cookie)).await;
    assert_eq!(
        mine.body["applications"][0]["client_id"], "web",
        "{}",
        mine.body
    );

    let fields = [("action", "revoke_application"), ("client_id", "web")];
    let (status, to, _) = app.post_form("/account/act", Some(&cookie), &fields).await;
    assert_eq!((status, to.as_str()), (303, "/account"));
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
    ];
    let (status, refused) = token_post(&app, &refresh, Some(("web", WEB_SECRET))).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(userinfo_status(&app, access).await, 401);
    assert_eq!(first_logout_claims(&app, &rp).await["sid"], id["sid"]);
    // Logged in here still; the application is gone from the page, and a second
    // revocation finds nothing.
    let mine = app.get_with_cookie("/api/account", Some(&cookie)).await;
    assert_eq!(mine.body["applications"], serde_json::json!([]));
    let (_, again, _) = app.post_form("/account/act", Some(&cookie), &fields).await;
    assert_eq!(again, "/account?error=not_found");
}
