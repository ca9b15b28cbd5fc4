//! Who may log in (`SCANLOGIN_SIGNUP`, invitations): a refused scan is refused on the
//! phone (403 with its reason) and in the browser (the `refused` event), and leaves no
//! user behind; an invitation admits its holder, as many times as it says, with its
//! groups.

use serde_json::json;

use crate::common::{
    flow::{expect_event, finish_login, id, logged_in, scan_from_page, ScannedPage},
    spawn_app_with, TestApp,
};
use scanlogin::server::{
    store::{access::NewInvitation, unix_now},
    wechat::simulator::DEMO_APPID,
};

/// A refused scan: 403 with `reason` on the phone, the same reason in the browser, and no
/// user for `openid`.
async fn assert_refused(app: &TestApp, openid: &str, invitation: Option<&str>, reason: &str) {
    let ScannedPage {
        mut socket,
        scanned,
        ..
    } = scan_from_page(app, openid, invitation).await;
    assert_eq!(scanned.status, 403, "{}", scanned.body);
    assert_eq!(scanned.body["data"]["refusal"], reason);
    assert!(scanned.body["data"].get("scan_token").is_none());
    assert_eq!(expect_event(&mut socket, "refused").await["reason"], reason);
}

async fn invitation(app: &TestApp, max_uses: i64, group: Option<&str>) -> String {
    let group_ids = match group {
        Some(name) => vec![app.store.create_group(name).await.unwrap().unwrap()],
        None => Vec::new(),
    };
    let new = NewInvitation {
        created_by: None,
        max_uses,
        expires_at: unix_now() + 3600,
        grants_admin: false,
        group_ids,
        note: String::new(),
    };
    app.store.create_invitation(&new).await.unwrap().1
}

#[tokio::test]
async fn by_invitation_a_stranger_is_refused_and_a_known_user_logs_in() {
    let app = spawn_app_with(&[("SCANLOGIN_SIGNUP", "invite")]).await;
    assert_refused(&app, "o-stranger", None, "not_invited").await;
    assert!(
        app.user_id("o-stranger").await.is_none(),
        "no user for a refused stranger"
    );
    app.store
        .upsert_user(DEMO_APPID, "o-known", None, None)
        .await
        .unwrap();
    logged_in(&app, "o-known", "Known").await;
}

#[tokio::test]
async fn an_invitation_admits_as_many_people_as_it_says_with_its_groups() {
    let app = spawn_app_with(&[("SCANLOGIN_SIGNUP", "invite")]).await;
    let token = invitation(&app, 1, Some("staff")).await;
    let page = scan_from_page(&app, "o-invited", Some(&token)).await;
    let cookie = finish_login(&app, page, "Invited").await;
    assert_eq!(
        app.get_with_cookie("/api/me", Some(&cookie)).await.status,
        200
    );
    let user = app.user_id("o-invited").await.unwrap();
    assert_eq!(app.store.groups_of(user).await.unwrap(), ["staff"]);
    // Used up: its page says so at once, and no one else gets in with it.
    let again = app
        .post_json(
            "/miniapp/getwxacodeunlimit",
            json!({"scene": id(), "key": id(), "invitation": token}),
        )
        .await;
    assert_eq!(again.status, 403, "{}", again.body);
    assert_eq!(again.body["data"]["refusal"], "invitation_invalid");
    assert_refused(&app, "o-second", None, "not_invited").await;
}

#[tokio::test]
async fn two_people_racing_for_an_invitations_last_use_let_in_one() {
    let app = spawn_app_with(&[("SCANLOGIN_SIGNUP", "invite")]).await;
    let token = invitation(&app, 1, None).await;
    // Both scan while it can still be used; the first to confirm spends it.
    let first = scan_from_page(&app, "o-first", Some(&token)).await;
    let mut late = scan_from_page(&app, "o-late", Some(&token)).await;
    assert_eq!(late.scanned.status, 200, "{}", late.scanned.body);
    finish_login(&app, first, "Invited").await;
    let late_token = late.scanned.body["data"]["scan_token"].as_str().unwrap();
    let confirmed = app.confirm(&late.scene, late_token, "Late").await;
    assert_eq!(confirmed.status, 403, "{}", confirmed.body);
    assert_eq!(confirmed.body["data"]["refusal"], "invitation_invalid");
    expect_event(&mut late.socket, "scanned").await;
    assert_eq!(
        expect_event(&mut late.socket, "refused").await["reason"],
        "invitation_invalid"
    );
    assert!(app.user_id("o-late").await.is_none());
}

#[tokio::test]
async fn closed_admits_known_users_and_an_administrators_invitation_only() {
    let app = spawn_app_with(&[("SCANLOGIN_SIGNUP", "closed")]).await;
    app.store
        .upsert_user(DEMO_APPID, "o-member", None, None)
        .await
        .unwrap();
    logged_in(&app, "o-member", "Member").await;
    assert_refused(&app, "o-outsider", None, "closed").await;
    let plain = invitation(&app, 5, None).await;
    assert_refused(&app, "o-outsider", Some(&plain), "closed").await;
    assert!(app.user_id("o-outsider").await.is_none());
}
