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

#[tokio::test]
async fn the_wider_ipv6_networks_have_limits_of_their_own() {
    // 2 codes a minute per /64; by default a /56 gets 4 clients' worth, a /48 16.
    let app = spawn_app_with(&[
        ("SCANLOGIN_DEMO", "1"),
        ("SCANLOGIN_TRUSTED_PROXIES", "127.0.0.1"),
        ("SCANLOGIN_RATE_CODES_PER_MIN", "2"),
        ("SCANLOGIN_MAX_SCENES_PER_IP", "1000"),
    ])
    .await;
    let served = |addresses: Vec<String>| {
        let app = &app;
        async move {
            let mut served = 0;
            for address in addresses {
                for _ in 0..2 {
                    served += usize::from(app.code_from(&address, &id()).await.status() == 200);
                }
            }
            served
        }
    };
    // Eight /64s of one /56 (one subscriber's): 4 clients' worth, not 8.
    let one_56 = (0..8).map(|i| format!("2001:db8:1:{i:x}::1")).collect();
    assert_eq!(served(one_56).await, 8);
    // Forty /56s of one /48 (free from a tunnel broker): 16 clients' worth in all, not 80.
    let one_48 = (1..=40)
        .map(|i| format!("2001:db8:1:{:x}::1", i * 0x100))
        .collect();
    assert_eq!(served(one_48).await, 32 - 8);
    assert_eq!(
        app.code_from("2001:db8:2::1", &id()).await.status(),
        200,
        "another /48 is another subscriber"
    );
}

#[tokio::test]
async fn asking_again_for_an_image_no_longer_kept_is_charged_to_the_budget() {
    // Nothing kept (a 1-byte cache), and a budget of 20 a minute: bursts of 2.
    let app = spawn_app_with(&[
        ("SCANLOGIN_DEMO", "1"),
        ("SCANLOGIN_TRUSTED_PROXIES", "127.0.0.1"),
        ("SCANLOGIN_CODE_BUDGET_PER_MIN", "20"),
        ("SCANLOGIN_CODE_CACHE_BYTES", "1"),
    ])
    .await;
    let scene = id();
    assert_eq!(app.code_from("198.51.100.1", &scene).await.status(), 200);
    assert_eq!(
        app.code_from("198.51.100.1", &scene).await.status(),
        200,
        "a repeat is one more WeChat call, paid for"
    );
    let res = app.code_from("198.51.100.1", &scene).await;
    assert_eq!(res.status(), 429, "the budget pays for every WeChat call");
    assert!(res.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn the_whole_app_has_a_daily_budget_of_links() {
    let app = spawn_app_with(&[("SCANLOGIN_LINK_BUDGET_PER_DAY", "2")]).await;
    let link = || async {
        let (scene, key) = (id(), id());
        assert_eq!(app.code(&scene, &key).await.status, 200);
        app.post_json("/api/scene/open_link", json!({"scene": scene, "key": key}))
            .await
    };
    for _ in 0..2 {
        let made = link().await;
        assert_eq!(made.status, 200, "{}", made.body);
    }
    let refused = link().await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(
        refused.body["msg"].as_str().unwrap().contains("for today"),
        "{}",
        refused.body
    );
    let calls = app
        .get_with_cookie("/__wechat/__sim/counters", None)
        .await
        .body["calls"]["/wxa/generate_urllink"]
        .as_u64();
    assert_eq!(calls, Some(2), "WeChat was not asked");
}
