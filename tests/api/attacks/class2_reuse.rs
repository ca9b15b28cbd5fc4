//! Class 2: reusable codes and tickets.

use std::time::Duration;

use crate::common::{
    flow::{confirmed_ticket, expect_event, id, pushed_ticket},
    spawn_app, spawn_app_with,
};

#[tokio::test]
async fn a_ticket_is_exchanged_once() {
    let app = spawn_app().await;
    let (scene, key, ticket) = confirmed_ticket(&app, "o-victim", "Victim").await;
    assert_eq!(app.session(&scene, &ticket, &key).await.status, 200);
    // Replayed, by the same browser or with the same key elsewhere.
    assert_eq!(app.session(&scene, &ticket, &key).await.status, 401);
}

#[tokio::test]
async fn a_ticket_expires_after_60_seconds() {
    // The jump below would also pass the keep-alive idle timeout (60 s) and close the
    // client's pooled connection under it.
    let app = spawn_app_with(&[("SCANLOGIN_IDLE_TIMEOUT_SECS", "3600")]).await;
    let (scene, key, ticket) = confirmed_ticket(&app, "o-victim", "Victim").await;
    // Time passes for the server (its clock is tokio's; the test moves it).
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(61)).await;
    tokio::time::resume();
    assert_eq!(app.session(&scene, &ticket, &key).await.status, 401);
}

#[tokio::test]
async fn a_confirmed_scene_is_never_confirmed_again() {
    let app = spawn_app().await;
    let (scene, key) = (id(), id());
    app.code(&scene, &key).await;
    let mut socket = app.hello(&scene, &key).await;
    let token = app.scan_as(&scene, "o-victim").await;
    assert_eq!(app.confirm(&scene, &token, "Victim").await.status, 200);
    let ticket = pushed_ticket(&mut socket).await;
    // The scanner's repeat (a double tap) is answered 200 but mints no second ticket:
    // the first one still works, once.
    assert_eq!(app.confirm(&scene, &token, "Other").await.status, 200);
    let session = app.session(&scene, &ticket, &key).await;
    assert_eq!(session.status, 200);
    assert_eq!(
        session.body["user"]["nickname"], "Victim",
        "the repeat changed nothing"
    );
    assert_eq!(app.session(&scene, &ticket, &key).await.status, 401);
    let code = app.wx_login("o-attacker").await;
    assert_eq!(
        app.scan(&scene, &code).await.status,
        409,
        "nor scanned again"
    );
    assert_eq!(
        app.code(&scene, &key).await.status,
        404,
        "nor given a new code"
    );
}

#[tokio::test]
async fn cancelled_and_expired_scenes_cannot_be_confirmed() {
    let app = spawn_app_with(&[("SCANLOGIN_SCENE_TTL_SECS", "1")]).await;
    let (scene, key) = (id(), id());
    app.code(&scene, &key).await;
    let token = app.scan_as(&scene, "o-victim").await;
    assert_eq!(app.cancel(&scene, &token).await.status, 200);
    assert_eq!(app.confirm(&scene, &token, "Victim").await.status, 409);

    let (scene, key) = (id(), id());
    app.code(&scene, &key).await;
    let mut socket = app.hello(&scene, &key).await;
    let token = app.scan_as(&scene, "o-victim").await;
    expect_event(&mut socket, "scanned").await;
    expect_event(&mut socket, "expired").await;
    assert_eq!(app.confirm(&scene, &token, "Victim").await.status, 404);
}

#[tokio::test]
async fn a_login_code_from_wx_login_is_used_once() {
    let app = spawn_app().await;
    let (scene, key) = (id(), id());
    app.code(&scene, &key).await;
    let code = app.wx_login("o-victim").await;
    assert_eq!(app.scan(&scene, &code).await.status, 200);
    let (other, other_key) = (id(), id());
    app.code(&other, &other_key).await;
    assert_eq!(
        app.scan(&other, &code).await.status,
        401,
        "replayed on another scene"
    );
}
