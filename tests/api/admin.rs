//! The admin console, from the outside: the first administrator from the command line's
//! invitation; every console page and server function refused to anyone else; sensitive
//! actions refused to a stale login (step-up); the last administrator kept; disabling a
//! user ends their sessions on every instance and refuses their next scan; the audit
//! trail names each actor, and exports as CSV.

use serde_json::{json, Value};

use crate::common::{
    config_with,
    flow::{cookie_pair, expect_event, finish_login, logged_in, scan_from_page, Answer},
    services::SharedStores,
    spawn_app_with, spawn_app_with_config, TestApp,
};
use scanlogin::server::wechat::simulator::DEMO_APPID;

/// The first administrator, as a new deployment gets one: `scanlogin invite --admin`'s
/// link, opened and scanned. Returns the admin's cookie and user id.
pub async fn first_admin(app: &TestApp, openid: &str) -> (String, i64) {
    let url = scanlogin::server::admin::invite_from_command_line(
        &config_with(&[]),
        &app.store,
        true,
        1,
        7,
    )
    .await
    .unwrap();
    let token = url.rsplit('/').next().unwrap();
    let page = scan_from_page(app, openid, Some(token)).await;
    let cookie = finish_login(app, page, "Admin").await;
    (cookie, app.user_id(openid).await.unwrap())
}

/// A console server function, as the console's page calls it (JSON, from our origin).
async fn call(app: &TestApp, cookie: Option<&str>, endpoint: &str, body: Value) -> Answer {
    app.post_raw(
        &format!("/api/admin/{endpoint}"),
        "application/json",
        body.to_string(),
        cookie,
    )
    .await
}

pub async fn act(app: &TestApp, cookie: &str, action: Value) -> Answer {
    call(app, Some(cookie), "act", json!({ "action": action })).await
}

/// Every console server function, with a body it takes.
fn every_function(victim: i64) -> Vec<(&'static str, Value)> {
    vec![
        ("users", json!({"query": {}})),
        ("user", json!({"id": victim})),
        ("groups", json!({})),
        ("invitations", json!({})),
        ("audit", json!({"query": {}})),
        (
            "invite",
            json!({"request": {"max_uses": 1, "valid_days": 1, "admin": true, "group_ids": []}}),
        ),
        (
            "act",
            json!({"action": {"action": "disable_user", "user_id": victim}}),
        ),
        (
            "act",
            json!({"action": {"action": "set_admin", "user_id": victim, "admin": true}}),
        ),
        (
            "act",
            json!({"action": {"action": "revoke_all_sessions", "user_id": victim}}),
        ),
        (
            "act",
            json!({"action": {"action": "create_group", "name": "x"}}),
        ),
    ]
}

const PAGES: &[&str] = &[
    "/admin",
    "/admin/users/1",
    "/admin/groups",
    "/admin/invitations",
    "/admin/audit",
    "/admin/audit.csv",
];

#[tokio::test]
async fn every_console_page_and_function_is_refused_to_a_non_admin_and_to_no_session() {
    let app = spawn_app_with(&[]).await;
    let (admin, _) = first_admin(&app, "o-root").await;
    let person = logged_in(&app, "o-person", "Person").await;
    let victim = app.user_id("o-root").await.unwrap();
    for (endpoint, body) in every_function(victim) {
        let refused = call(&app, Some(&person), endpoint, body.clone()).await;
        assert_eq!(refused.status, 403, "{endpoint} {body}: {}", refused.body);
        let anonymous = call(&app, None, endpoint, body.clone()).await;
        assert_eq!(
            anonymous.status, 401,
            "{endpoint} {body}: {}",
            anonymous.body
        );
    }
    for page in PAGES {
        let refused = app.get_with_cookie(page, Some(&person)).await;
        assert_eq!(refused.status, 403, "{page}");
        let anonymous = app.http.get(app.url(page)).send().await.unwrap();
        assert!(anonymous.status().is_redirection(), "{page}");
        let to = anonymous.headers()["location"].to_str().unwrap();
        assert!(to.starts_with("/login?next=%2Fadmin"), "{page}: {to}");
    }
    // The administrator's own cookie, from a page elsewhere: refused before it counts.
    let forged = app
        .http
        .post(app.url("/api/admin/act"))
        .header("origin", "https://evil.example")
        .header("cookie", &admin)
        .header("content-type", "application/json")
        .body(json!({"action": {"action": "create_group", "name": "evil"}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    // Nothing changed: the administrator is still one, and enabled.
    let me = call(&app, Some(&admin), "user", json!({"id": victim})).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["user"]["admin"], true);
    assert_eq!(me.body["user"]["disabled"], false);
    let groups = call(&app, Some(&admin), "groups", json!({})).await;
    assert_eq!(
        groups.body,
        json!([]),
        "no group made by the forged request"
    );
    // The console's pages render for the administrator.
    for page in PAGES {
        assert_eq!(
            app.get_with_cookie(page, Some(&admin)).await.status,
            200,
            "{page}"
        );
    }
}

#[tokio::test]
async fn a_person_cannot_read_another_persons_sessions_by_id() {
    let app = spawn_app_with(&[]).await;
    let _other = logged_in(&app, "o-other", "Other").await;
    let me = logged_in(&app, "o-me", "Me").await;
    let other = app.user_id("o-other").await.unwrap();
    let read = call(&app, Some(&me), "user", json!({"id": other})).await;
    assert_eq!(read.status, 403, "{}", read.body);
    assert!(read.body.get("sessions").is_none());
}

#[tokio::test]
async fn a_stale_admin_session_cannot_do_sensitive_things_without_a_fresh_scan() {
    let app = spawn_app_with(&[]).await;
    let (admin, _) = first_admin(&app, "o-stale-admin").await;
    logged_in(&app, "o-target", "Target").await;
    let target = app.user_id("o-target").await.unwrap();
    let token = admin.split_once('=').unwrap().1;
    app.store.backdate_session(token, 11 * 60).await.unwrap();
    for action in [
        json!({"action": "disable_user", "user_id": target}),
        json!({"action": "set_admin", "user_id": target, "admin": true}),
        json!({"action": "revoke_all_sessions", "user_id": target}),
    ] {
        let refused = act(&app, &admin, action.clone()).await;
        assert_eq!(refused.status, 403, "{action}: {}", refused.body);
        assert_eq!(refused.body["data"]["step_up"], true, "{action}");
    }
    let export = app.get_with_cookie("/admin/audit.csv", Some(&admin)).await;
    assert_eq!(export.status, 403);
    // What is not sensitive still works.
    let made = act(
        &app,
        &admin,
        json!({"action": "create_group", "name": "ops"}),
    )
    .await;
    assert_eq!(made.status, 200, "{}", made.body);
    // A fresh scan, and the same action goes through.
    let fresh = logged_in(&app, "o-stale-admin", "Admin").await;
    let disabled = act(
        &app,
        &fresh,
        json!({"action": "disable_user", "user_id": target}),
    )
    .await;
    assert_eq!(disabled.status, 200, "{}", disabled.body);
}

#[tokio::test]
async fn the_last_administrator_cannot_be_disabled_or_demoted() {
    let app = spawn_app_with(&[]).await;
    let (admin, me) = first_admin(&app, "o-only-admin").await;
    for action in [
        json!({"action": "disable_user", "user_id": me}),
        json!({"action": "set_admin", "user_id": me, "admin": false}),
    ] {
        let refused = act(&app, &admin, action.clone()).await;
        assert_eq!(refused.status, 409, "{action}: {}", refused.body);
    }
    // With a second administrator, the first may step down.
    logged_in(&app, "o-second-admin", "Second").await;
    let second = app.user_id("o-second-admin").await.unwrap();
    let made = act(
        &app,
        &admin,
        json!({"action": "set_admin", "user_id": second, "admin": true}),
    )
    .await;
    assert_eq!(made.status, 200, "{}", made.body);
    let stepped_down = act(
        &app,
        &admin,
        json!({"action": "set_admin", "user_id": me, "admin": false}),
    )
    .await;
    assert_eq!(stepped_down.status, 200, "{}", stepped_down.body);
    assert_eq!(
        call(&app, Some(&admin), "groups", json!({})).await.status,
        403
    );
}

/// Whether `cookie` is a live session on `app`.
async fn logged_in_still(app: &TestApp, cookie: &str) -> bool {
    app.get_with_cookie("/api/me", Some(cookie)).await.status == 200
}

#[tokio::test]
async fn disabling_a_user_ends_their_sessions_on_every_instance_and_refuses_their_next_scan() {
    let stores = SharedStores::new().await;
    let vars = stores.vars();
    let a = spawn_app_with_config(config_with(&vars)).await;
    let b = spawn_app_with_config(config_with(&vars)).await;
    let (admin, _) = first_admin(&a, "o-admin").await;
    let on_a = logged_in(&a, "o-leaver", "Leaver").await;
    let on_b = logged_in(&b, "o-leaver", "Leaver").await;
    let leaver = a.user_id("o-leaver").await.unwrap();

    let done = act(
        &a,
        &admin,
        json!({"action": "disable_user", "user_id": leaver}),
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(!logged_in_still(&a, &on_a).await);
    assert!(
        !logged_in_still(&b, &on_b).await,
        "ended on the other instance at once"
    );

    // Their next scan, on either instance, is refused with the reason.
    for app in [&a, &b] {
        let mut page = scan_from_page(app, "o-leaver", None).await;
        assert_eq!(page.scanned.status, 403, "{}", page.scanned.body);
        assert_eq!(page.scanned.body["data"]["refusal"], "disabled");
        assert_eq!(
            expect_event(&mut page.socket, "refused").await["reason"],
            "disabled"
        );
    }

    // Enabled again, they log in.
    let enabled = act(
        &a,
        &admin,
        json!({"action": "enable_user", "user_id": leaver}),
    )
    .await;
    assert_eq!(enabled.status, 200, "{}", enabled.body);
    logged_in(&b, "o-leaver", "Leaver").await;
}

#[tokio::test]
async fn an_administrator_ends_one_session_of_a_user_or_all() {
    let app = spawn_app_with(&[]).await;
    let (admin, _) = first_admin(&app, "o-admin-sessions").await;
    let first = logged_in(&app, "o-many-sessions", "Many").await;
    let second = logged_in(&app, "o-many-sessions", "Many").await;
    let id = app.user_id("o-many-sessions").await.unwrap();
    let detail = call(&app, Some(&admin), "user", json!({"id": id})).await;
    let sessions = detail.body["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2, "{}", detail.body);
    assert!(sessions
        .iter()
        .all(|s| s["browser"].as_str().unwrap().contains("Chrome")));
    let one = sessions[0]["id"].as_str().unwrap();
    let ended = act(
        &app,
        &admin,
        json!({"action": "revoke_session", "user_id": id, "session": one}),
    )
    .await;
    assert_eq!(ended.status, 200, "{}", ended.body);
    let alive = [
        logged_in_still(&app, &first).await,
        logged_in_still(&app, &second).await,
    ];
    assert_eq!(alive.iter().filter(|a| **a).count(), 1, "{alive:?}");
    let all = act(
        &app,
        &admin,
        json!({"action": "revoke_all_sessions", "user_id": id}),
    )
    .await;
    assert_eq!(all.status, 200, "{}", all.body);
    assert!(!logged_in_still(&app, &first).await && !logged_in_still(&app, &second).await);
}

/// The audit entries whose event is `event`.
fn entries<'a>(log: &'a Value, event: &str) -> Vec<&'a Value> {
    log.as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == event)
        .collect()
}

#[tokio::test]
async fn the_audit_trail_names_each_actor_and_exports_as_csv() {
    let app = spawn_app_with(&[("SCANLOGIN_SIGNUP", "invite")]).await;
    let (admin, admin_id) = first_admin(&app, "o-auditor").await;
    // A refused stranger, a group, a member disabled.
    let refused = scan_from_page(&app, "o-refused-stranger", None).await;
    assert_eq!(refused.scanned.status, 403);
    act(
        &app,
        &admin,
        json!({"action": "create_group", "name": "ops"}),
    )
    .await;
    app.store
        .upsert_user(DEMO_APPID, "o-audited", None, None)
        .await
        .unwrap();
    let audited = app.user_id("o-audited").await.unwrap();
    act(
        &app,
        &admin,
        json!({"action": "disable_user", "user_id": audited}),
    )
    .await;

    let log = call(&app, Some(&admin), "audit", json!({"query": {}})).await;
    assert_eq!(log.status, 200, "{}", log.body);
    let refusal = entries(&log.body, "login_refused");
    assert_eq!(refusal.len(), 1, "{}", log.body);
    assert_eq!(refusal[0]["result"], "refused");
    assert_eq!(refusal[0]["detail"], "not_invited");
    assert_eq!(
        refusal[0]["subject"], "o-re…ger",
        "the WeChat identity, masked"
    );
    let disabled = entries(&log.body, "user_disabled");
    assert_eq!(disabled[0]["actor_id"], admin_id);
    assert_eq!(disabled[0]["user_id"], audited);
    assert!(!disabled[0]["request_id"].as_str().unwrap().is_empty());
    let admin_login = entries(&log.body, "session_created");
    assert!(admin_login
        .iter()
        .any(|e| e["user_id"] == admin_id && e["ip"] == "127.0.0.1"));
    assert_eq!(entries(&log.body, "invitation_used").len(), 1);
    // Filtered by user.
    let theirs = call(
        &app,
        Some(&admin),
        "audit",
        json!({"query": {"user": audited.to_string()}}),
    )
    .await;
    assert!(theirs
        .body
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["user_id"] == audited || e["actor_id"] == audited));

    let csv = app
        .http
        .get(app.url("/admin/audit.csv"))
        .header("cookie", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    assert!(
        text.starts_with("id,time,event,result,actor_id,user_id"),
        "{text}"
    );
    assert!(
        text.contains(&format!(",user_disabled,ok,{admin_id},{audited},")),
        "{text}"
    );
    assert!(text.contains(",group_created,ok,"), "{text}");
    // The export itself is in the trail.
    let after = call(
        &app,
        Some(&admin),
        "audit",
        json!({"query": {"event": "audit_exported"}}),
    )
    .await;
    assert_eq!(after.body[0]["actor_id"], admin_id);
}

/// A console form posted as a browser posts it (from our origin): the answer's status,
/// `Location` and `Set-Cookie`.
async fn post_form(
    app: &TestApp,
    cookie: Option<&str>,
    fields: &[(&str, &str)],
) -> (u16, String, Option<String>) {
    app.post_form("/admin/act", cookie, fields).await
}

#[tokio::test]
async fn the_consoles_forms_post_then_go_back_and_say_what_was_refused() {
    let app = spawn_app_with(&[]).await;
    let (admin, _) = first_admin(&app, "o-form-admin").await;
    let made = post_form(
        &app,
        Some(&admin),
        &[
            ("action", "create_group"),
            ("name", "ops"),
            ("back", "/admin/groups"),
        ],
    )
    .await;
    assert_eq!((made.0, made.1.as_str()), (303, "/admin/groups"));
    let groups = call(&app, Some(&admin), "groups", json!({})).await;
    assert_eq!(groups.body[0]["name"], "ops");
    // Back only to a console page.
    let elsewhere = post_form(
        &app,
        Some(&admin),
        &[
            ("action", "create_group"),
            ("name", "x"),
            ("back", "https://evil.example/"),
        ],
    )
    .await;
    assert_eq!(elsewhere.1, "/admin");
    // A refusal comes back as ?error=, which the page words.
    let taken = post_form(
        &app,
        Some(&admin),
        &[
            ("action", "create_group"),
            ("name", "ops"),
            ("back", "/admin/groups"),
        ],
    )
    .await;
    assert_eq!(taken.1, "/admin/groups?error=conflict");
    let page = app
        .http
        .get(app.url(&taken.1))
        .header("cookie", &admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("data-testid=\"admin-error\""), "{page}");

    // A new invitation's link is shown once, by the page the form goes back to.
    let (status, to, set_cookie) = post_form(
        &app,
        Some(&admin),
        &[
            ("action", "invite"),
            ("max_uses", "2"),
            ("valid_days", "1"),
            ("back", "/admin/invitations"),
        ],
    )
    .await;
    assert_eq!((status, to.as_str()), (303, "/admin/invitations"));
    let flash = cookie_pair(&set_cookie.expect("the new invitation's cookie"));
    let shown = app
        .http
        .get(app.url("/admin/invitations"))
        .header("cookie", format!("{admin}; {flash}"))
        .send()
        .await
        .unwrap();
    let cleared = shown.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let page = shown.text().await.unwrap();
    assert!(page.contains("/invite/"), "the link is on the page");

    // A stale login: the sensitive action goes back with the way to a fresh scan.
    logged_in(&app, "o-form-target", "Target").await;
    let target = app.user_id("o-form-target").await.unwrap();
    let token = admin.split_once('=').unwrap().1;
    app.store.backdate_session(token, 11 * 60).await.unwrap();
    let back = format!("/admin/users/{target}");
    let target_text = target.to_string();
    let stale = post_form(
        &app,
        Some(&admin),
        &[
            ("action", "disable_user"),
            ("user_id", &target_text),
            ("back", &back),
        ],
    )
    .await;
    assert_eq!(stale.1, format!("{back}?error=step_up"));
    let page = app.get_with_cookie(&stale.1, Some(&admin)).await;
    assert_eq!(page.status, 200);
    let html = page.body.as_str().unwrap();
    assert!(html.contains("data-testid=\"step-up\""), "{html}");

    // Anyone else: refused, or sent to log in.
    let person = logged_in(&app, "o-form-person", "Person").await;
    let fields = [
        ("action", "disable_user"),
        ("user_id", target_text.as_str()),
        ("back", "/admin"),
    ];
    assert_eq!(post_form(&app, Some(&person), &fields).await.0, 403);
    let anonymous = post_form(&app, None, &fields).await;
    assert_eq!(
        (anonymous.0, anonymous.1.as_str()),
        (303, "/login?next=%2Fadmin")
    );
    let still = call(&app, Some(&admin), "user", json!({"id": target})).await;
    assert_eq!(still.body["user"]["disabled"], false);
}
