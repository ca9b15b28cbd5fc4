//! A client's group rule (`allowed_groups`): a person outside its groups is refused on
//! the phone when they scan for it (and the browser hears why), and a person already
//! logged in is sent back to the client with `access_denied`; members get a code.

use super::*;
use crate::common::flow::{expect_event, id};

const OPS_ONLY: &str = "allowed_groups = [\"ops\"]\n";

/// The web client's authorization request, on `app`.
fn authorize_url(app: &TestApp, path: &str) -> String {
    let mut url = url::Url::parse(&app.url(path)).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", "web")
        .append_pair("redirect_uri", WEB_CB)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid")
        .append_pair("state", "st");
    url.to_string()
}

/// Makes the user `openid` logs in as a member of group `name`.
async fn join(app: &TestApp, openid: &str, name: &str) {
    let user = app
        .store
        .upsert_user(
            scanlogin::server::wechat::simulator::DEMO_APPID,
            openid,
            None,
            None,
        )
        .await
        .unwrap();
    let group = match app.store.create_group(name).await.unwrap() {
        Some(id) => id,
        None => app.store.groups().await.unwrap()[0].id,
    };
    app.store.set_member(group, user.id, true).await.unwrap();
}

#[tokio::test]
async fn a_person_outside_the_clients_groups_gets_access_denied_and_a_member_a_code() {
    let (app, _file) = provider_app_with(OPS_ONLY, &[]).await;
    let outsider = scan_login(&app, "o-outsider", "Out").await;
    let res = get(
        &app,
        &authorize_url(&app, "/oauth/authorize"),
        Some(&outsider),
    )
    .await;
    assert_eq!(res.status(), 303);
    let back = location(&res);
    assert!(back.starts_with(WEB_CB), "{back}");
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_param(&back, "state").as_deref(), Some("st"));

    join(&app, "o-member", "ops").await;
    let member = scan_login(&app, "o-member", "Member").await;
    code_for(&app, &member, "web", WEB_CB, None).await;
}

#[tokio::test]
async fn a_scan_for_a_client_the_person_may_not_use_is_refused_on_the_phone_and_in_the_browser() {
    let (app, _file) = provider_app_with(OPS_ONLY, &[]).await;
    let next = authorize_url(&app, "/oauth/authorize");
    let next = &next[next.find("/oauth/").unwrap()..];
    let (scene, key) = (id(), id());
    let code = app
        .post_json(
            "/miniapp/getwxacodeunlimit",
            serde_json::json!({"scene": scene, "key": key, "next": next}),
        )
        .await;
    assert_eq!(code.status, 200, "{}", code.body);
    let mut socket = app.hello(&scene, &key).await;
    let login_code = app.wx_login("o-not-ops").await;
    let scanned = app.scan(&scene, &login_code).await;
    assert_eq!(scanned.status, 403, "{}", scanned.body);
    assert_eq!(scanned.body["data"]["refusal"], "not_allowed");
    let heard = expect_event(&mut socket, "refused").await;
    assert_eq!(heard["reason"], "not_allowed");
    // No user was made for the refused stranger.
    let appid = scanlogin::server::wechat::simulator::DEMO_APPID;
    assert_eq!(
        app.store.standing(appid, "o-not-ops", None).await.unwrap(),
        None
    );

    // The login page's way back to the application tells it `access_denied`.
    let res = get(&app, &authorize_url(&app, "/oauth/authorize/refused"), None).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        query_param(&location(&res), "error").as_deref(),
        Some("access_denied")
    );
    // ...and only to a registered redirect URI.
    let elsewhere =
        authorize_url(&app, "/oauth/authorize/refused").replace("rp.example", "evil.example");
    assert_eq!(get(&app, &elsewhere, None).await.status(), 400);
}
