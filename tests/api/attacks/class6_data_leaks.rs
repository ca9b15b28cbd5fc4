//! Class 6: personal data in responses. Neither the openid, the unionid nor the
//! session_key ever leaves the server; the browser gets a user id, a nickname and an
//! avatar, and only after the ticket exchange.

use serde_json::json;

use crate::common::{
    flow::{cookie_pair, expect_event, id},
    spawn_app,
};

#[tokio::test]
async fn no_answer_or_push_carries_openid_unionid_or_session_key() {
    let app = spawn_app().await;
    let (scene, key) = (id(), id());
    let mut seen = vec![app.code(&scene, &key).await.body.to_string()];
    let mut socket = app.hello(&scene, &key).await;
    let minted = app
        .post_json(
            "/__wechat/__sim/login_code",
            json!({"openid": "o-private-openid", "unionid": "u-private-unionid"}),
        )
        .await;
    let scanned = app
        .scan(&scene, minted.body["code"].as_str().unwrap())
        .await;
    seen.push(scanned.body.to_string());
    let token = scanned.body["data"]["scan_token"]
        .as_str()
        .unwrap()
        .to_owned();
    seen.push(expect_event(&mut socket, "scanned").await.to_string());
    seen.push(app.confirm(&scene, &token, "Victim").await.body.to_string());
    let confirmed = expect_event(&mut socket, "confirmed").await;
    seen.push(confirmed.to_string());
    let session = app
        .session(&scene, confirmed["ticket"].as_str().unwrap(), &key)
        .await;
    seen.push(session.body.to_string());
    let cookie = cookie_pair(&session.set_cookie.unwrap());
    seen.push(
        app.get_with_cookie("/api/me", Some(&cookie))
            .await
            .body
            .to_string(),
    );
    seen.push(
        app.get_with_cookie("/", Some(&cookie))
            .await
            .body
            .to_string(),
    );
    // Errors say no more.
    seen.push(app.scan(&scene, "bad").await.body.to_string());
    seen.push(app.confirm(&scene, "bad", "x").await.body.to_string());
    for body in &seen {
        for private in [
            "o-private-openid",
            "u-private-unionid",
            "session_key",
            "openid",
            "unionid",
        ] {
            assert!(!body.contains(private), "{private} in {body}");
        }
    }
}

#[tokio::test]
async fn the_push_before_confirmation_carries_no_user_data() {
    let app = spawn_app().await;
    let (scene, key) = (id(), id());
    app.code(&scene, &key).await;
    let mut socket = app.hello(&scene, &key).await;
    app.scan_as(&scene, "o-victim").await;
    let scanned = expect_event(&mut socket, "scanned").await;
    assert_eq!(scanned, json!({"type": "scanned"}));
}
