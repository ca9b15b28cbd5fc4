//! Hole 4: per-address limits that were easy to get around (an IPv6 /64 is 2^64
//! addresses) and easy to abuse (every scene costs one of WeChat's codes, and one that
//! failed or was abandoned still counted).

use std::time::Duration;

use serde_json::json;

use crate::common::{
    eventually_within,
    flow::{id, next, say_hello, Heard},
    spawn_app_with,
};

#[tokio::test]
async fn an_ipv6_64_is_one_client() {
    let app = spawn_app_with(&[
        ("SCANLOGIN_DEMO", "1"),
        ("SCANLOGIN_TRUSTED_PROXIES", "127.0.0.1"),
        ("SCANLOGIN_RATE_CODES_PER_MIN", "2"),
    ])
    .await;
    assert_eq!(app.code_from("2001:db8:1:2::1", &id()).await.status(), 200);
    assert_eq!(app.code_from("2001:db8:1:2::2", &id()).await.status(), 200);
    let res = app
        .code_from("2001:db8:1:2:ffff:ffff:ffff:ffff", &id())
        .await;
    assert_eq!(res.status(), 429, "a third address of the same /64");
    assert_eq!(
        app.code_from("2001:db8:1:3::1", &id()).await.status(),
        200,
        "the next /64 is another client"
    );
}

#[tokio::test]
async fn the_whole_app_has_a_budget_of_new_codes() {
    // 20 a minute: bursts of 2.
    let app = spawn_app_with(&[
        ("SCANLOGIN_DEMO", "1"),
        ("SCANLOGIN_TRUSTED_PROXIES", "127.0.0.1"),
        ("SCANLOGIN_CODE_BUDGET_PER_MIN", "20"),
    ])
    .await;
    let first = id();
    assert_eq!(app.code_from("198.51.100.1", &first).await.status(), 200);
    assert_eq!(app.code_from("198.51.100.2", &id()).await.status(), 200);
    let res = app.code_from("198.51.100.3", &id()).await;
    assert_eq!(res.status(), 429, "every client shares the budget");
    let retry_after: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body["msg"]
            .as_str()
            .unwrap()
            .contains("too many codes right now"),
        "{body}"
    );
    // A code already made costs nothing more.
    assert_eq!(app.code_from("198.51.100.1", &first).await.status(), 200);
}

#[tokio::test]
async fn a_code_that_failed_does_not_count() {
    let app = spawn_app_with(&[("SCANLOGIN_MAX_SCENES_PER_IP", "1")]).await;
    let fault = app
        .http
        .post(app.url("/__wechat/__sim/fault"))
        .json(&json!({"path": "/wxa/getwxacodeunlimit", "kind": "errcode", "errcode": 45009, "count": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(fault.status(), 204);
    let failed = id();
    assert_eq!(app.code(&failed, &id()).await.status, 502);
    assert_eq!(
        app.code(&id(), &id()).await.status,
        200,
        "the failed one left no scene behind"
    );
}

#[tokio::test]
async fn a_scene_no_socket_came_for_is_dropped_early() {
    let app = spawn_app_with(&[
        ("SCANLOGIN_MAX_SCENES_PER_IP", "1"),
        ("SCANLOGIN_SOCKET_GRACE_SECS", "1"),
        ("SCANLOGIN_RATE_CODES_PER_MIN", "1000"),
    ])
    .await;
    let (abandoned, key) = (id(), id());
    assert_eq!(app.code(&abandoned, &key).await.status, 200);
    eventually_within(
        "the abandoned scene is dropped after the grace",
        Duration::from_secs(10),
        || async {
            let status = app.code(&id(), &id()).await.status;
            assert!(status == 200 || status == 429, "{status}");
            status == 200
        },
    )
    .await;
    // The abandoned scene is gone: its page, if it ever comes, gets a fresh code.
    let mut late = app.socket_for(&abandoned).await;
    say_hello(&mut late, &key).await;
    assert_eq!(
        next(&mut late, Duration::from_secs(5)).await,
        Heard::Closed(4401)
    );
}
