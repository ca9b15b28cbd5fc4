//! Class 4: client-controllable ids. Our users asked for the scene id to be made in the
//! browser, so it is neutralised by design: the first registration wins, bound to a hash
//! of the browser key, and everything after needs that key.

use std::time::Duration;

use crate::common::{
    flow::{expect_event, id, next, Heard},
    spawn_app,
};

#[tokio::test]
async fn registering_a_scene_another_browser_registered_is_refused() {
    let app = spawn_app().await;
    let (scene, key) = (id(), id());
    assert_eq!(app.code(&scene, &key).await.status, 200);
    // The attacker saw the scene in the victim's QR code and claims it.
    let hijack = app.code(&scene, &id()).await;
    assert_eq!(hijack.status, 400);
    assert_eq!(hijack.body["code"], 400);
    assert!(
        hijack.body["data"].is_null(),
        "no code image for the attacker"
    );
}

#[tokio::test]
async fn an_attacker_who_registers_first_only_logs_in_whoever_scans_their_code() {
    // QRLJacking: the attacker makes a scene and shows its code to a victim. The victim's
    // phone shows which browser asks (see class 5 and docs/security.md); if the victim still
    // confirms, the attacker's browser is logged in as the victim: the remaining risk.
    // What the design guarantees: the victim's own browser is never affected, and the
    // attacker cannot take over the victim's scene.
    let app = spawn_app().await;
    let (victim_scene, victim_key) = (id(), id());
    app.code(&victim_scene, &victim_key).await;
    let mut victim_socket = app.hello(&victim_scene, &victim_key).await;
    let (attacker_scene, attacker_key) = (id(), id());
    app.code(&attacker_scene, &attacker_key).await;
    let scanned = app
        .scan(&attacker_scene, &app.wx_login("o-victim").await)
        .await;
    assert_eq!(scanned.status, 200);
    assert_eq!(
        scanned.body["data"]["browser"]["ip"], "127.0.0.x",
        "the phone sees who asks"
    );
    assert_eq!(
        next(&mut victim_socket, Duration::from_millis(500)).await,
        Heard::Nothing
    );
    let token = app.scan_as(&victim_scene, "o-victim").await;
    expect_event(&mut victim_socket, "scanned").await;
    app.confirm(&victim_scene, &token, "Victim").await;
    expect_event(&mut victim_socket, "confirmed").await;
}
