//! The metrics move exactly as a login, a cancel and an expiry should. In a test binary of
//! its own: the metrics recorder is one per process.

mod common;

use std::collections::HashMap;

use common::{
    eventually_within,
    flow::{confirmed_ticket, expect_event, id, logged_in_asking},
    services::free_port,
    spawn_app_with,
};

/// Every sample of the exposition, by name and labels as written.
async fn scrape(port: u16) -> HashMap<String, f64> {
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn get(samples: &HashMap<String, f64>, name: &str) -> f64 {
    samples.get(name).copied().unwrap_or(0.0)
}

/// The recorder is the process's: a test holds this while it counts, so that another's
/// logins do not move its counts.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn the_funnel_counts_a_login_a_cancel_and_an_expiry() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let app = spawn_app_with(&[
        ("SCANLOGIN_METRICS_ADDR", addr.as_str()),
        ("SCANLOGIN_SCENE_TTL_SECS", "2"),
    ])
    .await;
    let funnel = [
        "scanlogin_codes_issued_total",
        "scanlogin_scans_total",
        "scanlogin_logins_confirmed_total",
        "scanlogin_tickets_redeemed_total",
        "scanlogin_logins_cancelled_total",
        "scanlogin_scenes_expired_total",
    ];
    let before = scrape(port).await;
    let delta = |after: &HashMap<String, f64>| -> Vec<f64> {
        funnel
            .iter()
            .map(|n| get(after, n) - get(&before, n))
            .collect()
    };

    // A whole login.
    let (scene, key, ticket) = confirmed_ticket(&app, "o-metrics", "M").await;
    assert_eq!(app.session(&scene, &ticket, &key).await.status, 200);
    assert_eq!(delta(&scrape(port).await), [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]);

    // A cancel.
    let (scene, key) = (id(), id());
    app.code(&scene, &key).await;
    let token = app.scan_as(&scene, "o-metrics").await;
    assert_eq!(app.cancel(&scene, &token).await.status, 200);
    assert_eq!(delta(&scrape(port).await), [2.0, 2.0, 1.0, 1.0, 1.0, 0.0]);

    // An expiry, watched by a socket.
    let (scene, key) = (id(), id());
    app.code(&scene, &key).await;
    let mut socket = app.hello(&scene, &key).await;
    expect_event(&mut socket, "expired").await;
    eventually_within(
        "the expiry is counted",
        std::time::Duration::from_secs(5),
        || async { delta(&scrape(port).await) == [3.0, 2.0, 1.0, 1.0, 1.0, 1.0] },
    )
    .await;

    // WeChat calls by path and errcode, latency by route, refusals by reason.
    let after = scrape(port).await;
    assert!(
        get(
            &after,
            r#"scanlogin_wechat_calls_total{path="/wxa/getwxacodeunlimit",errcode="0"}"#
        ) >= 3.0,
        "{after:?}"
    );
    assert!(after.keys().any(
        |k| k.starts_with("scanlogin_http_request_duration_seconds_count{")
            && k.contains(r#"route="/miniapp/getwxacodeunlimit""#)
    ));
    let refused = app.code(&scene, &id()).await;
    assert_eq!(refused.status, 400, "another key");
    for _ in 0..40 {
        app.code(&id(), &id()).await;
    }
    let after = scrape(port).await;
    assert!(
        get(
            &after,
            r#"scanlogin_rejections_total{reason="rate_limited"}"#
        ) >= 1.0
            || get(&after, r#"scanlogin_rejections_total{reason="scene_cap"}"#) >= 1.0,
        "{after:?}"
    );
}

#[tokio::test]
async fn login_notices_are_counted_by_what_wechat_said() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let app = spawn_app_with(&[("SCANLOGIN_METRICS_ADDR", addr.as_str())]).await;
    let sent = "scanlogin_login_notices_total{result=\"sent\"}";
    let declined = "scanlogin_login_notices_total{result=\"declined\"}";
    let before = scrape(port).await;
    let allowed = app
        .post_json(
            "/__wechat/__sim/subscribe",
            serde_json::json!({"openid": "o-counted"}),
        )
        .await;
    assert_eq!(allowed.status, 204);
    logged_in_asking(&app, "o-counted", "C", true).await;
    // Allowed once: the second message is refused.
    logged_in_asking(&app, "o-counted", "C", true).await;
    eventually_within(
        "both are counted",
        std::time::Duration::from_secs(30),
        || async {
            let after = scrape(port).await;
            get(&after, sent) - get(&before, sent) == 1.0
                && get(&after, declined) - get(&before, declined) == 1.0
        },
    )
    .await;
}
