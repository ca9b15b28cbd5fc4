//! Class 3: predictable ids. Scene ids and keys are 32 characters of `[A-Za-z0-9]` from a
//! CSPRNG (about 190 bits); scan tokens, tickets and session tokens are 256 random bits.
//! Guessing is also rate-limited.

use std::collections::HashSet;

use scanlogin::protocol::is_valid_id;

use crate::common::{flow::id, spawn_app, spawn_app_with};

#[tokio::test]
async fn guessed_scenes_are_unknown() {
    let app = spawn_app_with(&[("SCANLOGIN_RATE_SCANS_PER_MIN", "1000")]).await;
    let (scene, key) = (id(), id());
    app.code(&scene, &key).await;
    for _ in 0..200 {
        let code = app.wx_login("o-attacker").await;
        let guess = app.scan(&id(), &code).await;
        assert_eq!(guess.status, 404);
    }
    // Sequential, time-based or short ids (the original design's `scend-<time><rand>`) are not ids.
    for guess in [
        "scend-1732500000000123",
        "1",
        &scene[..31],
        &format!("{scene}0"),
    ] {
        let code = app.wx_login("o-attacker").await;
        assert_eq!(app.scan(guess, &code).await.status, 400, "{guess}");
    }
}

#[tokio::test]
async fn brute_force_is_rate_limited() {
    let app = spawn_app().await;
    let mut limited = false;
    for _ in 0..40 {
        let a = app.scan(&id(), "whatever").await;
        if a.status == 429 {
            limited = true;
            break;
        }
        assert_eq!(a.status, 404);
    }
    assert!(
        limited,
        "the 31st scan in a minute from one address is refused"
    );
}

#[tokio::test]
async fn server_made_secrets_do_not_repeat() {
    let app = spawn_app().await;
    let mut seen = HashSet::new();
    for _ in 0..20 {
        let (scene, key) = (id(), id());
        assert!(is_valid_id(&scene));
        app.code(&scene, &key).await;
        let token = app.scan_as(&scene, "o-someone").await;
        assert!(token.len() >= 43, "256 bits");
        assert!(seen.insert(token));
    }
}
