//! Class 1: a code not bound to the browser that asked. The scene id is public (it is in
//! the QR code), so everything after registration needs the browser key.

use std::time::Duration;

use crate::common::{
    flow::{confirmed_ticket, expect_event, id, next, say_hello, Heard},
    spawn_app,
};

#[tokio::test]
async fn a_second_socket_on_a_known_scene_without_the_key_hears_nothing() {
    let app = spawn_app().await;
    let (scene, key) = (id(), id());
    app.code(&scene, &key).await;
    let mut victim = app.hello(&scene, &key).await;

    // The attacker read the scene from the QR code and listens on it: with no key,
    // with a guessed key, and with no hello at all.
    let mut wrong_key = app.hello(&scene, &id()).await;
    let mut silent = app.socket_for(&scene).await;
    let mut empty = app.socket_for(&scene).await;
    say_hello(&mut empty, "").await;

    let token = app.scan_as(&scene, "o-victim").await;
    expect_event(&mut victim, "scanned").await;
    app.confirm(&scene, &token, "Victim").await;
    expect_event(&mut victim, "confirmed").await;
    assert_eq!(
        next(&mut wrong_key, Duration::from_secs(2)).await,
        Heard::Closed(4401)
    );
    assert_eq!(
        next(&mut empty, Duration::from_secs(2)).await,
        Heard::Closed(4401)
    );
    assert_eq!(
        next(&mut silent, Duration::from_secs(7)).await,
        Heard::Closed(4401)
    );
}

#[tokio::test]
async fn the_ticket_is_useless_without_the_browser_key() {
    let app = spawn_app().await;
    let (scene, key, ticket) = confirmed_ticket(&app, "o-victim", "Victim").await;
    // Even a leaked ticket (a log, a proxy) cannot be exchanged by another browser.
    for _ in 0..5 {
        assert_eq!(app.session(&scene, &ticket, &id()).await.status, 401);
    }
    assert_eq!(app.session(&scene, &ticket, &key).await.status, 200);
}

#[tokio::test]
async fn the_socket_cap_keeps_a_scene_from_being_flooded() {
    let app = spawn_app().await;
    let (scene, key) = (id(), id());
    app.code(&scene, &key).await;
    let mut sockets = Vec::new();
    for _ in 0..3 {
        sockets.push(app.hello(&scene, &key).await);
    }
    // Each of the three is listening once it hears the scan.
    app.scan_as(&scene, "o-victim").await;
    for socket in &mut sockets {
        crate::common::flow::expect_event(socket, "scanned").await;
    }
    let mut extra = app.hello(&scene, &key).await;
    assert_eq!(
        next(&mut extra, Duration::from_secs(2)).await,
        Heard::Closed(4429)
    );
}
