//! Class 5: weak checks that the phone's token belongs to the user who confirms. The
//! scan token is bound to the scene and to the WeChat user who scanned it.

use crate::common::{flow::id, spawn_app};

#[tokio::test]
async fn confirming_with_another_users_scan_token_fails() {
    let app = spawn_app().await;
    let (scene, key) = (id(), id());
    app.code(&scene, &key).await;
    let victim_token = app.scan_as(&scene, "o-victim").await;
    // The attacker scans their own scene and tries their token on the victim's scene.
    let (own, own_key) = (id(), id());
    app.code(&own, &own_key).await;
    let attacker_token = app.scan_as(&own, "o-attacker").await;
    assert_eq!(
        app.confirm(&scene, &attacker_token, "Attacker")
            .await
            .status,
        401
    );
    assert_eq!(app.cancel(&scene, &attacker_token).await.status, 401);
    // And the victim's token on the attacker's scene.
    assert_eq!(app.confirm(&own, &victim_token, "Victim").await.status, 401);
    // A second WeChat user cannot take over a scanned scene.
    let code = app.wx_login("o-attacker").await;
    assert_eq!(app.scan(&scene, &code).await.status, 409);
    assert_eq!(
        app.confirm(&scene, &victim_token, "Victim").await.status,
        200
    );
}

#[tokio::test]
async fn a_rescan_by_the_same_user_revokes_the_old_token() {
    let app = spawn_app().await;
    let (scene, key) = (id(), id());
    app.code(&scene, &key).await;
    let old = app.scan_as(&scene, "o-victim").await;
    let new = app.scan_as(&scene, "o-victim").await;
    assert_eq!(app.confirm(&scene, &old, "Victim").await.status, 401);
    assert_eq!(app.confirm(&scene, &new, "Victim").await.status, 200);
}
