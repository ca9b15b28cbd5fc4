//! The person's own account, from the outside: only with a session, and only their own;
//! ending a session elsewhere or every other one; a copy of their data with no secret in
//! it, at most one a minute; deleting the account after a fresh scan, which leaves the
//! same WeChat identity a new person. (Revoking an application is tested with the other
//! back-channel logouts, in `oidc/oidcc_backchannel_rp_initiated_logout.rs`.)

use serde_json::Value;

use crate::common::{flow::logged_in, spawn_app, TestApp};

/// An account form, posted from the page: (status, `Location`, `Set-Cookie`).
async fn act(
    app: &TestApp,
    cookie: &str,
    fields: &[(&str, &str)],
) -> (u16, String, Option<String>) {
    app.post_form("/account/act", Some(cookie), fields).await
}

async fn account(app: &TestApp, cookie: &str) -> Value {
    let answer = app.get_with_cookie("/api/account", Some(cookie)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body
}

async fn is_logged_in(app: &TestApp, cookie: &str) -> bool {
    app.get_with_cookie("/api/me", Some(cookie)).await.status == 200
}

/// The session id of the first session of `account` that is not the current one.
fn other_session(account: &Value) -> String {
    account["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .expect("another session")["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_account_is_only_ever_the_sessions_own() {
    let app = spawn_app().await;
    let page = app.http.get(app.url("/account")).send().await.unwrap();
    assert_eq!(page.status(), 303);
    assert_eq!(page.headers()["location"], "/login?next=%2Faccount");
    assert_eq!(app.get_with_cookie("/api/account", None).await.status, 401);
    let data = app.get_with_cookie("/account/data.json", None).await;
    assert_eq!(data.status, 401);
    let posted = app
        .post_form("/account/act", None, &[("action", "end_other_sessions")])
        .await;
    assert_eq!(
        (posted.0, posted.1.as_str()),
        (303, "/login?next=%2Faccount")
    );

    // Another person's session, named by its id, is not found among one's own.
    let alice = logged_in(&app, "o-alice", "Alice").await;
    let alice_too = logged_in(&app, "o-alice", "Alice").await;
    let bob = logged_in(&app, "o-bob", "Bob").await;
    let alices = other_session(&account(&app, &alice).await);
    let tried = act(
        &app,
        &bob,
        &[("action", "end_session"), ("session", &alices)],
    )
    .await;
    assert_eq!(tried.1, "/account?error=not_found");
    assert!(is_logged_in(&app, &alice_too).await);
    let bobs = account(&app, &bob).await;
    assert_eq!(bobs["user"]["nickname"], "Bob");
    assert_eq!(bobs["sessions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_person_ends_a_session_elsewhere_then_every_other_one() {
    let app = spawn_app().await;
    let here = logged_in(&app, "o-many", "Many").await;
    let there = logged_in(&app, "o-many", "Many").await;
    let third = logged_in(&app, "o-many", "Many").await;
    let mine = account(&app, &here).await;
    let sessions = mine["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 3, "{mine}");
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    assert!(sessions[0]["browser"].as_str().unwrap().contains("Chrome"));

    // `there`'s id, as its own page marks it.
    let there_id = {
        let seen_from_there = account(&app, &there).await;
        seen_from_there["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["current"] == true)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let ended = act(
        &app,
        &here,
        &[("action", "end_session"), ("session", &there_id)],
    )
    .await;
    assert_eq!((ended.0, ended.1.as_str()), (303, "/account"));
    assert!(!is_logged_in(&app, &there).await);
    // The page that held it falls to the login on its next request.
    let page = app
        .http
        .get(app.url("/account"))
        .header("cookie", &there)
        .send()
        .await
        .unwrap();
    assert_eq!(page.headers()["location"], "/login?next=%2Faccount");
    assert!(is_logged_in(&app, &third).await);

    let others = act(&app, &here, &[("action", "end_other_sessions")]).await;
    assert_eq!(others.1, "/account");
    assert!(!is_logged_in(&app, &third).await);
    assert!(is_logged_in(&app, &here).await, "this session stays");
    let recent = account(&app, &here).await["recent"].clone();
    assert!(
        recent
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "session_revoked"),
        "{recent}"
    );
}

#[tokio::test]
async fn a_copy_of_ones_data_has_all_of_it_and_no_secret_once_a_minute() {
    let app = spawn_app().await;
    let cookie = logged_in(&app, "o-curious-openid", "Curious").await;
    let res = app
        .http
        .get(app.url("/account/data.json"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let text = res.text().await.unwrap();
    let data: Value = serde_json::from_str(&text).unwrap();
    let me = app.user_id("o-curious-openid").await.unwrap();
    assert_eq!(data["user"]["id"], me);
    assert_eq!(data["user"]["nickname"], "Curious");
    assert_eq!(
        data["wechat_identities"][0]["openid"], "o-curious-openid",
        "their own openid, in full"
    );
    assert_eq!(data["sessions"].as_array().unwrap().len(), 1);
    assert!(data["activity"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["event"] == "login_confirmed"));
    let token = cookie.split_once('=').unwrap().1;
    for secret in [token, "session_key", "token_hash", "\"ticket\""] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    // A second copy within the minute is refused.
    let again = app
        .get_with_cookie("/account/data.json", Some(&cookie))
        .await;
    assert_eq!(again.status, 429, "{}", again.body);
}

#[tokio::test]
async fn deleting_the_account_takes_a_fresh_scan_and_leaves_a_new_person() {
    let app = spawn_app().await;
    let old = logged_in(&app, "o-leaving", "Leaving").await;
    let cookie = logged_in(&app, "o-leaving", "Leaving").await;
    let before = app.user_id("o-leaving").await.unwrap();

    // A login older than ten minutes must scan again; the page says how.
    let token = cookie.split_once('=').unwrap().1;
    app.store.backdate_session(token, 11 * 60).await.unwrap();
    let stale = act(
        &app,
        &cookie,
        &[("action", "delete_account"), ("understood", "on")],
    )
    .await;
    assert_eq!(stale.1, "/account?error=step_up");
    assert_eq!(account(&app, &cookie).await["fresh"], false);
    assert!(app.user_id("o-leaving").await.is_some());

    let fresh = logged_in(&app, "o-leaving", "Leaving").await;
    let unticked = act(&app, &fresh, &[("action", "delete_account")]).await;
    assert_eq!(unticked.1, "/account?error=malformed");
    let (status, to, set_cookie) = act(
        &app,
        &fresh,
        &[("action", "delete_account"), ("understood", "on")],
    )
    .await;
    assert_eq!((status, to.as_str()), (303, "/?deleted=1"));
    assert!(set_cookie.unwrap().contains("Max-Age=0"));
    for cookie in [&old, &cookie, &fresh] {
        assert!(!is_logged_in(&app, cookie).await);
    }
    assert_eq!(app.user_id("o-leaving").await, None);
    // The trail keeps that it happened, under a number that is no one's, with no address.
    let kept = app
        .store
        .audit(
            &scanlogin::server::store::audit::AuditFilter {
                user_id: Some(before),
                ..Default::default()
            },
            100,
            0,
        )
        .await
        .unwrap();
    assert_eq!(kept[0].event, "account_deleted");
    assert!(kept
        .iter()
        .all(|e| e.ip.is_empty() && e.user_agent.is_empty()));

    // The same WeChat identity is a new person: a new user, so a new `sub`.
    let again = logged_in(&app, "o-leaving", "Back").await;
    let after = app.user_id("o-leaving").await.unwrap();
    assert_ne!(after, before);
    assert_eq!(account(&app, &again).await["user"]["id"], after);
}

#[tokio::test]
async fn the_mini_program_reaches_the_account_with_a_fresh_login_code_only() {
    let app = spawn_app().await;
    let web = logged_in(&app, "o-phone-owner", "Owner").await;
    let other = logged_in(&app, "o-phone-owner", "Owner").await;
    let call = |endpoint: &'static str, code: String| {
        let app = &app;
        async move {
            let body = serde_json::json!({ "code": code });
            app.post_json(&format!("/api/mp/{endpoint}"), body).await
        }
    };

    let code = app.wx_login("o-phone-owner").await;
    let mine = call("account", code.clone()).await;
    assert_eq!(mine.status, 200, "{}", mine.body);
    assert_eq!(mine.body["data"]["user"]["nickname"], "Owner");
    assert_eq!(mine.body["data"]["sessions"].as_array().unwrap().len(), 2);
    // A code proves its person once: WeChat spends it.
    assert_eq!(call("account", code).await.status, 401);
    // A WeChat identity with no account has nothing to see or end.
    let stranger = app.wx_login("o-phone-stranger").await;
    assert_eq!(call("logout_everywhere", stranger).await.status, 404);

    let ended = call("logout_everywhere", app.wx_login("o-phone-owner").await).await;
    assert_eq!(ended.body["data"]["ended"], 2, "{}", ended.body);
    assert!(!is_logged_in(&app, &web).await && !is_logged_in(&app, &other).await);

    let before = app.user_id("o-phone-owner").await.unwrap();
    let deleted = call("delete_account", app.wx_login("o-phone-owner").await).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(app.user_id("o-phone-owner").await, None);
    assert_eq!(
        call("account", app.wx_login("o-phone-owner").await)
            .await
            .status,
        404
    );
    logged_in(&app, "o-phone-owner", "Owner").await;
    assert_ne!(app.user_id("o-phone-owner").await.unwrap(), before);
}

/// The simulator pushes `event` to the app as WeChat's message push does: the app's
/// status and answer.
async fn wechat_pushes(app: &TestApp, event: Value) -> (u16, Value) {
    let pushed = app.simulator("push", event).await;
    (pushed.status, pushed.body)
}

#[tokio::test]
async fn wechats_message_push_clears_a_withdrawn_profile_and_deletes_a_cancelled_person() {
    use scanlogin::{
        protocol::Profile,
        server::wechat::{push::signature, simulator::DEMO_APPID, simulator::DEMO_PUSH_TOKEN},
    };
    use serde_json::json;
    let app = spawn_app().await;
    let cookie = logged_in(&app, "o-pushed", "Shown").await;
    app.store.save_avatar("pushed", b"jpeg").await.unwrap();
    let shown = Profile {
        nickname: "Shown".into(),
        avatar_url: "/avatars/pushed".into(),
    };
    let user = app
        .store
        .upsert_user(DEMO_APPID, "o-pushed", None, Some(&shown));
    let id = user.await.unwrap().id;
    let cancel = json!({"event": "user_authorization_cancellation", "openid": "o-pushed"});

    // WeChat checks the URL: its echostr back, only when signed with our token.
    let (ts, nonce) = (scanlogin::server::store::unix_now().to_string(), "42");
    let url = |token: &str| {
        let signed = signature(token, &ts, nonce);
        format!("/wechat/push?signature={signed}&timestamp={ts}&nonce={nonce}&echostr=hello")
    };
    let checked = app.get_with_cookie(&url(DEMO_PUSH_TOKEN), None).await;
    assert_eq!(
        (checked.status, checked.body.as_str()),
        (200, Some("hello"))
    );
    assert_eq!(
        app.get_with_cookie(&url("another1"), None).await.status,
        403
    );

    // A push signed with another token, or not signed, changes nothing.
    let mut forged = cancel.clone();
    forged["token"] = json!("forged123");
    assert_eq!(wechat_pushes(&app, forged).await.0, 403);
    let unsigned = app
        .post_json("/wechat/push", json!({"MsgType": "event"}))
        .await;
    assert_eq!(unsigned.status, 400);
    assert!(app.user_id("o-pushed").await.is_some());

    // Withdrawn: something other than the profile (1), then the profile (6).
    let other =
        json!({"event": "user_authorization_revoke", "openid": "o-pushed", "revoke_info": "1"});
    assert_eq!(
        wechat_pushes(&app, other).await,
        (200, Value::from("success"))
    );
    assert_eq!(app.store.user(id).await.unwrap().unwrap().nickname, "Shown");
    let profile =
        json!({"event": "user_authorization_revoke", "openid": "o-pushed", "revoke_info": "6"});
    assert_eq!(
        wechat_pushes(&app, profile).await,
        (200, Value::from("success"))
    );
    let cleared = app.store.user(id).await.unwrap().unwrap();
    assert_eq!(
        (cleared.nickname.as_str(), cleared.avatar_url.as_str()),
        ("", "")
    );
    assert!(app.store.avatar("pushed").await.unwrap().is_none());
    assert!(is_logged_in(&app, &cookie).await, "still logged in");

    // Cancelled: the person's data goes, their session with it.
    assert_eq!(
        wechat_pushes(&app, cancel).await,
        (200, Value::from("success"))
    );
    assert_eq!(app.user_id("o-pushed").await, None);
    assert!(!is_logged_in(&app, &cookie).await);
}

#[tokio::test]
async fn the_fresh_scan_before_deleting_tells_the_phone_what_it_is_for() {
    use crate::common::flow::id;
    use serde_json::json;
    let app = spawn_app().await;
    for (next, purpose) in [
        (Some("/account?delete=1"), Some("delete_account")),
        (Some("/account"), None),
        (None, None),
    ] {
        let (scene, key) = (id(), id());
        let asked = json!({"scene": scene, "key": key, "next": next});
        let code = app.post_json("/miniapp/getwxacodeunlimit", asked).await;
        assert_eq!(code.status, 200, "{}", code.body);
        let scanned = app.scan(&scene, &app.wx_login("o-purpose").await).await;
        assert_eq!(scanned.status, 200, "{}", scanned.body);
        assert_eq!(
            scanned.body["data"]["purpose"].as_str(),
            purpose,
            "{next:?}"
        );
    }
}
