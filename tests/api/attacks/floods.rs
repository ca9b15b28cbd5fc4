//! Floods: per-IP rate limits (429 with Retry-After), caps on scenes in all and per IP,
//! new logins refused while the database is behind,
//! body size limits, and the server still serving others meanwhile.

use serde_json::json;

use crate::common::{eventually_within, flow::id, spawn_app, spawn_app_with};

#[tokio::test]
async fn flooding_code_issuance_is_limited_and_others_are_still_served() {
    // Behind a trusted proxy, so that the test can be several clients.
    let app = spawn_app_with(&[
        ("SCANLOGIN_TRUSTED_PROXIES", "127.0.0.1"),
        ("SCANLOGIN_DEMO", "1"),
        ("SCANLOGIN_MAX_SCENES_PER_IP", "1000"),
    ])
    .await;
    let mut refused = None;
    for i in 0..40 {
        let res = app.code_from("203.0.113.7", &id()).await;
        if res.status() == 429 {
            refused = Some((i, res));
            break;
        }
        assert_eq!(res.status(), 200);
    }
    let (i, res) = refused.expect("the flood is cut off");
    assert_eq!(i, 30, "30 codes a minute by default");
    let retry_after: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], 400, "the original design's envelope");
    // Another client is served as usual.
    assert_eq!(app.code_from("198.51.100.9", &id()).await.status(), 200);
}

#[tokio::test]
async fn forwarded_for_is_ignored_unless_the_proxy_is_trusted() {
    // (Automatic demo mode refuses forwarded requests outright: see demo_mode.rs.)
    let app = spawn_app_with(&[("SCANLOGIN_DEMO", "1")]).await;
    let mut statuses = Vec::new();
    for i in 0..35 {
        // A different forged address each time: it must not buy a fresh allowance.
        statuses.push(
            app.code_from(&format!("192.0.2.{i}"), &id())
                .await
                .status()
                .as_u16(),
        );
    }
    assert!(statuses.contains(&429), "{statuses:?}");
}

#[tokio::test]
async fn scenes_are_capped_per_ip_and_in_all() {
    let app = spawn_app_with(&[
        ("SCANLOGIN_TRUSTED_PROXIES", "127.0.0.1"),
        ("SCANLOGIN_DEMO", "1"),
        ("SCANLOGIN_MAX_SCENES_PER_IP", "3"),
        ("SCANLOGIN_MAX_SCENES", "5"),
    ])
    .await;
    for _ in 0..3 {
        assert_eq!(app.code_from("203.0.113.1", &id()).await.status(), 200);
    }
    let res = app.code_from("203.0.113.1", &id()).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    for _ in 0..2 {
        assert_eq!(app.code_from("203.0.113.2", &id()).await.status(), 200);
    }
    assert_eq!(
        app.code_from("203.0.113.3", &id()).await.status(),
        503,
        "5 scenes in all"
    );
}

#[tokio::test]
async fn scans_and_ticket_exchanges_are_rate_limited() {
    let app = spawn_app_with(&[
        ("SCANLOGIN_RATE_SCANS_PER_MIN", "3"),
        ("SCANLOGIN_RATE_SESSIONS_PER_MIN", "2"),
    ])
    .await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(app.scan(&id(), "x").await.status);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        1,
        "{statuses:?}"
    );
    let mut last = 0;
    for _ in 0..3 {
        last = app.session(&id(), "t", &id()).await.status;
    }
    assert_eq!(last, 429);
}

#[tokio::test]
async fn oversize_bodies_are_refused_with_413() {
    let app = spawn_app().await;
    let huge = json!({"scene": id(), "key": id(), "pad": "x".repeat(64 * 1024)}).to_string();
    for path in ["/miniapp/getwxacodeunlimit", "/api/mp/scan", "/api/session"] {
        let a = app
            .post_raw(path, "application/json", huge.clone(), None)
            .await;
        assert_eq!(a.status, 413, "{path}");
        let code = if path == "/miniapp/getwxacodeunlimit" {
            400
        } else {
            413
        };
        assert_eq!(
            a.body["code"], code,
            "{path}: the envelope, the original design's 400 at its endpoint"
        );
    }
}

#[tokio::test]
async fn oversize_socket_messages_and_slow_hellos_end_the_socket() {
    use crate::common::flow::{next, Heard};
    use futures::SinkExt;
    use std::time::Duration;
    use tokio_tungstenite::tungstenite::Message;

    let app = spawn_app_with(&[
        ("SCANLOGIN_WS_HELLO_TIMEOUT_SECS", "1"),
        ("SCANLOGIN_WS_MAX_MESSAGE_BYTES", "256"),
    ])
    .await;
    let (scene, key) = (id(), id());
    app.code(&scene, &key).await;
    let mut big = app.socket_for(&scene).await;
    let hello = json!({"type": "hello", "key": key, "pad": "x".repeat(1024)}).to_string();
    let _ = big.send(Message::Text(hello.into())).await;
    assert!(
        matches!(
            next(&mut big, Duration::from_secs(3)).await,
            Heard::Closed(_)
        ),
        "a 1 KiB message over a 256-byte limit"
    );
    let mut slow = app.socket_for(&scene).await;
    let started = std::time::Instant::now();
    assert_eq!(
        next(&mut slow, Duration::from_secs(3)).await,
        Heard::Closed(4401)
    );
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "the configured 1 s, not 5 s"
    );
}

#[tokio::test]
async fn when_the_database_falls_behind_new_logins_are_refused_and_those_under_way_finish() {
    use crate::common::flow::{pushed_ticket, Answer};
    use sqlx::Connection;
    // SQLite's write lock is what a test can hold from outside; the queue it fills is the
    // store's own, the same in front of PostgreSQL.
    if crate::common::backend_is_redis_postgres() {
        return;
    }
    let file = std::env::temp_dir().join(format!("scanlogin-queue-{}.db", id()));
    let url = format!("sqlite://{}", file.display());
    let app = spawn_app_with(&[
        ("SCANLOGIN_DATABASE_URL", url.as_str()),
        ("SCANLOGIN_MAX_STORE_QUEUE", "2"),
    ])
    .await;
    // Three logins scanned, their pages listening.
    let mut logins = Vec::new();
    for n in 0..3 {
        let (scene, key) = (id(), id());
        assert_eq!(app.code(&scene, &key).await.status, 200);
        let socket = app.hello(&scene, &key).await;
        let token = app.scan_as(&scene, &format!("queued-{n}")).await;
        logins.push((scene, key, socket, token));
    }
    // Another writer holds the write lock: the three confirms wait behind it.
    let mut writer = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut writer)
        .await
        .unwrap();
    let confirms = futures::future::join_all(
        logins
            .iter()
            .map(|(scene, _, _, token)| app.confirm(scene, token, "queued")),
    );
    let refused_while_behind = async {
        eventually_within(
            "the confirms wait for the database",
            std::time::Duration::from_secs(4),
            || std::future::ready(app.store.operations_under_way() >= 3),
        )
        .await;
        let refused = app.code(&id(), &id()).await;
        sqlx::query("ROLLBACK").execute(&mut writer).await.unwrap();
        refused
    };
    let (confirmed, refused): (Vec<Answer>, Answer) = tokio::join!(confirms, refused_while_behind);
    assert_eq!(refused.status, 503, "{}", refused.body["msg"]);
    assert_eq!(refused.body["code"], 400, "the original design's envelope");
    // The logins under way were not refused: each completes.
    for (answer, (scene, key, socket, _)) in confirmed.iter().zip(&mut logins) {
        assert_eq!(answer.status, 200, "{}", answer.body);
        let ticket = pushed_ticket(socket).await;
        assert_eq!(app.session(scene, &ticket, key).await.status, 200);
    }
    // Caught up, new logins start again.
    assert_eq!(app.code(&id(), &id()).await.status, 200);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
}
