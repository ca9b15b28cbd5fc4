//! Hole 2: a forged `X-Forwarded-For`. The address it yields is what the phone shows (the
//! person's main sign that the code is their own) and the key of every limit.

use serde_json::json;

use crate::common::{flow::id, spawn_app_with, TestApp};

/// The network the phone is shown for a browser whose request carried `forwarded`.
async fn shown_to_phone(app: &TestApp, forwarded: Option<&str>) -> String {
    let (scene, key) = (id(), id());
    let mut req = app
        .http
        .post(app.url("/miniapp/getwxacodeunlimit"))
        .json(&json!({"scene": scene, "key": key}));
    if let Some(forwarded) = forwarded {
        req = req.header("x-forwarded-for", forwarded);
    }
    assert_eq!(req.send().await.unwrap().status(), 200);
    let code = app.wx_login("o-phone").await;
    let scanned = app.scan(&scene, &code).await;
    assert_eq!(scanned.status, 200, "{}", scanned.body);
    scanned.body["data"]["browser"]["ip"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn behind_a_trusted_proxy_only_what_it_appended_counts() {
    let app = spawn_app_with(&[
        ("SCANLOGIN_DEMO", "1"),
        // The proxy, and a second hop in front of it.
        ("SCANLOGIN_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8"),
        ("SCANLOGIN_RATE_SCANS_PER_MIN", "1000"),
    ])
    .await;
    let cases = [
        // The client forged the left entry; the proxy appended the real one.
        (Some("203.0.113.66, 198.51.100.7"), "198.51.100.x"),
        // Through two trusted hops.
        (Some("203.0.113.66, 198.51.100.7, 10.1.2.3"), "198.51.100.x"),
        // Entries that do not parse end the walk at the proxy: nothing left of them counts.
        (Some("203.0.113.66, 198.51.100.7:4242"), "127.0.0.x"),
        (Some("203.0.113.66, unknown"), "127.0.0.x"),
        (Some("203.0.113.66, unknown, 10.1.2.3"), "10.1.2.x"),
        // A proxy that sent no header: the proxy itself.
        (None, "127.0.0.x"),
    ];
    for (forwarded, expected) in cases {
        assert_eq!(
            shown_to_phone(&app, forwarded).await,
            expected,
            "{forwarded:?}"
        );
    }
}

#[tokio::test]
async fn a_direct_connection_cannot_choose_its_address() {
    // (Automatic demo mode refuses forwarded requests outright: see demo_mode.rs.)
    let app = spawn_app_with(&[("SCANLOGIN_DEMO", "1")]).await;
    assert_eq!(
        shown_to_phone(&app, Some("198.51.100.7")).await,
        "127.0.0.x"
    );
}
