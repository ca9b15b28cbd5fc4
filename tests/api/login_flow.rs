//! The whole login flow over real HTTP and WebSocket, against the app in demo mode:
//! the code endpoint, the socket, the mini-program API and the session.

use std::time::Duration;

use crate::common::{
    flow::{confirmed_ticket, cookie_pair, expect_event, id, next, say_hello, Heard},
    spawn_app, spawn_app_with,
};
use serde_json::json;

#[tokio::test]
async fn the_qr_image_endpoint_answers_the_original_envelope_and_fetches_once_per_scene() {
    let app = spawn_app_with(&[("SCANLOGIN_RATE_CODES_PER_MIN", "100")]).await;
    let (scene, key) = (id(), id());
    let a = app.code(&scene, &key).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["code"], 200);
    assert_eq!(a.body["msg"], "ok");
    assert!(a.body["data"]
        .as_str()
        .unwrap()
        .starts_with("data:image/png;base64,"));
    let expires_in = a.body["expires_in"].as_u64().unwrap();
    assert!((118..=120).contains(&expires_in), "{expires_in}");

    // The same browser asking twice at once: one WeChat call, the same image for both.
    let (scene2, key2) = (id(), id());
    let (x, y) = tokio::join!(app.code(&scene2, &key2), app.code(&scene2, &key2));
    assert_eq!((x.status, y.status), (200, 200));
    assert_eq!(x.body["data"], y.body["data"]);
    let counters = app
        .get_with_cookie("/__wechat/__sim/counters", None)
        .await
        .body;
    assert_eq!(
        counters["calls"]["/wxa/getwxacodeunlimit"], 2,
        "one per scene"
    );
    // The same scene asked 30 times more, one after the other: its kept image, and no
    // WeChat call (asking again must not spend WeChat's quota for everyone).
    for _ in 0..30 {
        let again = app.code(&scene, &key).await;
        assert_eq!(again.status, 200, "{}", again.body);
        assert_eq!(again.body["data"], a.body["data"]);
    }
    let counters = app
        .get_with_cookie("/__wechat/__sim/counters", None)
        .await
        .body;
    assert_eq!(
        counters["calls"]["/wxa/getwxacodeunlimit"], 2,
        "still one per scene"
    );

    // Another browser cannot take the scene.
    let taken = app.code(&scene, &id()).await;
    assert_eq!(taken.status, 400);
    assert_eq!(taken.body["code"], 400);
    assert!(taken.body["msg"]
        .as_str()
        .unwrap()
        .contains("another browser"));
}

#[tokio::test]
async fn the_code_endpoint_refuses_malformed_input_with_400() {
    let app = spawn_app().await;
    let cases = [
        json!({"scene": "short", "key": id()}).to_string(),
        json!({"scene": id(), "key": "short"}).to_string(),
        json!({"scene": format!("{}!", &id()[..31]), "key": id()}).to_string(),
        json!({"scene": id()}).to_string(),
        json!({"scene": 5, "key": id()}).to_string(),
        "{not json".to_owned(),
        String::new(),
    ];
    for body in cases {
        let a = app
            .post_raw(
                "/miniapp/getwxacodeunlimit",
                "application/json",
                body.clone(),
                None,
            )
            .await;
        assert_eq!(a.status, 400, "{body}: {}", a.body);
        assert_eq!(a.body["code"], 400, "{body}");
        assert!(a.body["msg"].is_string(), "{body}");
    }
}

#[tokio::test]
async fn a_person_scans_confirms_and_the_browser_is_logged_in() {
    let app = spawn_app().await;
    let (scene, key) = (id(), id());
    assert_eq!(app.code(&scene, &key).await.status, 200);
    let mut socket = app.hello(&scene, &key).await;
    assert_eq!(
        next(&mut socket, Duration::from_millis(300)).await,
        Heard::Nothing
    );

    let code = app.wx_login("o-alice").await;
    let scanned = app.scan(&scene, &code).await;
    assert_eq!(scanned.status, 200, "{}", scanned.body);
    let data = &scanned.body["data"];
    assert_eq!(scanned.body["code"], 200);
    assert!(data["scan_token"].as_str().unwrap().len() >= 32);
    assert!(data["expires_in"].as_u64().unwrap() > 100);
    // The network, not the exact address.
    assert_eq!(data["browser"]["ip"], "127.0.0.x");
    // Coarse: enough to recognise a browser, not a fingerprint.
    assert_eq!(data["browser"]["user_agent"], "Chrome 120 on Linux");
    assert!(data["browser"]["requested_at"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    expect_event(&mut socket, "scanned").await;

    let token = data["scan_token"].as_str().unwrap();
    let confirmed = app.confirm(&scene, token, "Alice").await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    let event = expect_event(&mut socket, "confirmed").await;
    let ticket = event["ticket"].as_str().unwrap();
    assert_eq!(
        next(&mut socket, Duration::from_secs(2)).await,
        Heard::Closed(1000)
    );

    let session = app.session(&scene, ticket, &key).await;
    assert_eq!(session.status, 200, "{}", session.body);
    assert_eq!(session.body["user"]["nickname"], "Alice");
    let set_cookie = session.set_cookie.expect("a session cookie");
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    assert!(set_cookie.contains("Path=/"), "{set_cookie}");
    assert!(!set_cookie.contains("Secure"), "plain http: no Secure");
    let cookie = cookie_pair(&set_cookie);

    let me = app.get_with_cookie("/api/me", Some(&cookie)).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["user"]["nickname"], "Alice");
    assert!(me.body["user"]["id"].is_i64());
    let home = app.get_with_cookie("/", Some(&cookie)).await;
    assert!(
        home.body.as_str().unwrap().contains("Alice"),
        "/ shows the user"
    );
    let login = app.get_with_cookie("/login", Some(&cookie)).await;
    assert!(
        matches!(login.status, 302 | 303 | 307),
        "logged in: /login redirects"
    );

    let out = app
        .post_raw(
            "/api/logout",
            "application/x-www-form-urlencoded",
            String::new(),
            Some(&cookie),
        )
        .await;
    assert_eq!(out.status, 200, "{}", out.body);
    assert!(out.set_cookie.unwrap().contains("Max-Age=0"));
    assert_eq!(
        app.get_with_cookie("/api/me", Some(&cookie)).await.status,
        401,
        "logout ends the session on the server"
    );
}

#[tokio::test]
async fn me_without_a_session_is_401_json() {
    let app = spawn_app().await;
    let a = app.get_with_cookie("/api/me", None).await;
    assert_eq!(a.status, 401);
    assert_eq!(a.body["code"], 401);
    let a = app
        .get_with_cookie("/api/me", Some("scanlogin_session=forged"))
        .await;
    assert_eq!(a.status, 401);
    assert_eq!(
        app.get_with_cookie("/login", Some("scanlogin_session=forged"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn the_mini_program_api_answers_each_status() {
    let app = spawn_app().await;
    let (scene, key) = (id(), id());
    app.code(&scene, &key).await;

    // 404: a scene nobody registered.
    let code = app.wx_login("o-alice").await;
    let a = app.scan(&id(), &code).await;
    assert_eq!((a.status, a.body["code"].clone()), (404, json!(404)));
    // 401: a login code WeChat does not know, or one used already.
    assert_eq!(app.scan(&scene, "not-a-real-code").await.status, 401);
    let used = app.wx_login("o-alice").await;
    assert_eq!(app.scan(&scene, &used).await.status, 200);
    assert_eq!(app.scan(&scene, &used).await.status, 401);
    // 409: another WeChat user scans a scanned code.
    let bob = app.wx_login("o-bob").await;
    assert_eq!(app.scan(&scene, &bob).await.status, 409);
    // The same person scanning again gets a new token; the old one stops working.
    let first = app.scan_as(&scene, "o-alice").await;
    let second = app.scan_as(&scene, "o-alice").await;
    assert_eq!(app.confirm(&scene, &first, "A").await.status, 401);
    // 401 and 404 on confirm and cancel.
    assert_eq!(app.confirm(&scene, "wrong-token", "A").await.status, 401);
    assert_eq!(app.cancel(&scene, "wrong-token").await.status, 401);
    assert_eq!(app.confirm(&id(), &second, "A").await.status, 404);
    assert_eq!(app.cancel(&id(), &second).await.status, 404);
    // Cancel; cancelling again is the same answer (a retry after a lost one), confirming
    // is a 409 that says how the login ended.
    assert_eq!(app.cancel(&scene, &second).await.status, 200);
    assert_eq!(app.cancel(&scene, &second).await.status, 200);
    let late = app.confirm(&scene, &second, "A").await;
    assert_eq!(
        (late.status, late.body["data"].clone()),
        (409, json!({"scene_status": "cancelled"}))
    );
    let carol = app.wx_login("o-carol").await;
    assert_eq!(app.scan(&scene, &carol).await.status, 409);
    // Confirmed once: the same scanner confirming again is told 200 (nothing changes),
    // cancelling after it is a 409 that says it was confirmed.
    let (scene2, key2) = (id(), id());
    app.code(&scene2, &key2).await;
    let token = app.scan_as(&scene2, "o-alice").await;
    assert_eq!(app.confirm(&scene2, &token, "A").await.status, 200);
    assert_eq!(app.confirm(&scene2, &token, "A").await.status, 200);
    let cancel = app.cancel(&scene2, &token).await;
    assert_eq!(
        (cancel.status, cancel.body["data"].clone()),
        (409, json!({"scene_status": "confirmed"}))
    );
    assert_eq!(app.confirm(&scene2, "wrong-token", "A").await.status, 401);
}

#[tokio::test]
async fn the_mini_program_api_refuses_malformed_input_with_400() {
    let app = spawn_app().await;
    for (path, body) in [
        ("/api/mp/scan", "{}".to_owned()),
        ("/api/mp/scan", json!({"scene": "x", "code": "c"}).to_string()),
        ("/api/mp/scan", json!({"scene": id(), "code": ""}).to_string()),
        ("/api/mp/confirm", json!({"scene": id()}).to_string()),
        ("/api/mp/confirm", json!({"scene": id(), "scan_token": "t", "profile": {"avatar_url": "javascript:alert(1)"}}).to_string()),
        ("/api/mp/cancel", "[]".to_owned()),
        ("/api/session", json!({"scene": id(), "ticket": "t"}).to_string()),
        ("/api/session", "nonsense".to_owned()),
    ] {
        let a = app.post_raw(path, "application/json", body.clone(), None).await;
        assert_eq!(a.status, 400, "{path} {body}: {}", a.body);
        assert_eq!(a.body["code"], 400, "{path} {body}");
    }
}

#[tokio::test]
async fn tickets_are_single_use_and_need_the_browser_key() {
    let app = spawn_app().await;
    let (scene, key, ticket) = confirmed_ticket(&app, "o-alice", "Alice").await;

    assert_eq!(
        app.session(&scene, &ticket, &id()).await.status,
        401,
        "wrong key"
    );
    assert_eq!(
        app.session(&scene, "forged-ticket", &key).await.status,
        401,
        "wrong ticket"
    );
    assert_eq!(
        app.session(&id(), &ticket, &key).await.status,
        404,
        "wrong scene"
    );
    assert_eq!(app.session(&scene, &ticket, &key).await.status, 200);
    assert_eq!(
        app.session(&scene, &ticket, &key).await.status,
        401,
        "replayed"
    );
}

#[tokio::test]
async fn a_socket_without_the_key_is_closed_4401_and_hears_nothing() {
    let app = spawn_app().await;
    let (scene, key) = (id(), id());
    app.code(&scene, &key).await;
    let mut owner = app.hello(&scene, &key).await;
    // Someone who read the scene from the QR code.
    let mut intruder = app.socket_for(&scene).await;
    say_hello(&mut intruder, &id()).await;
    assert_eq!(
        next(&mut intruder, Duration::from_secs(2)).await,
        Heard::Closed(4401)
    );
    // Not a hello at all.
    let mut rude = app.socket_for(&scene).await;
    futures::SinkExt::send(
        &mut rude,
        tokio_tungstenite::tungstenite::Message::Text("{\"type\":\"scanned\"}".into()),
    )
    .await
    .unwrap();
    assert_eq!(
        next(&mut rude, Duration::from_secs(2)).await,
        Heard::Closed(4401)
    );
    // A scene that does not exist gets the same answer.
    let mut stranger = app.hello(&id(), &key).await;
    assert_eq!(
        next(&mut stranger, Duration::from_secs(2)).await,
        Heard::Closed(4401)
    );

    app.scan_as(&scene, "o-alice").await;
    expect_event(&mut owner, "scanned").await;
}

#[tokio::test]
async fn a_silent_socket_is_closed_after_5_seconds() {
    let app = spawn_app().await;
    let (scene, key) = (id(), id());
    app.code(&scene, &key).await;
    let mut silent = app.socket_for(&scene).await;
    let started = std::time::Instant::now();
    assert_eq!(
        next(&mut silent, Duration::from_secs(8)).await,
        Heard::Closed(4401)
    );
    assert!(started.elapsed() >= Duration::from_millis(4500));
}

#[tokio::test]
async fn a_socket_that_comes_back_catches_up() {
    let app = spawn_app().await;
    let (scene, key) = (id(), id());
    app.code(&scene, &key).await;
    let socket = app.hello(&scene, &key).await;
    drop(socket); // the page's connection dropped
    let token = app.scan_as(&scene, "o-alice").await;
    let mut back = app.hello(&scene, &key).await;
    expect_event(&mut back, "scanned").await;
    drop(back);
    app.confirm(&scene, &token, "Alice").await;
    let mut again = app.hello(&scene, &key).await;
    let ticket = expect_event(&mut again, "confirmed").await["ticket"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.session(&scene, &ticket, &key).await.status, 200);
}

#[tokio::test]
async fn cancelling_is_pushed() {
    let app = spawn_app().await;
    let (scene, key) = (id(), id());
    app.code(&scene, &key).await;
    let mut socket = app.hello(&scene, &key).await;
    let token = app.scan_as(&scene, "o-alice").await;
    expect_event(&mut socket, "scanned").await;
    assert_eq!(app.cancel(&scene, &token).await.status, 200);
    expect_event(&mut socket, "cancelled").await;
    assert_eq!(
        next(&mut socket, Duration::from_secs(2)).await,
        Heard::Closed(1000)
    );
}

#[tokio::test]
async fn scenes_expire_and_say_so() {
    let app = spawn_app_with(&[("SCANLOGIN_SCENE_TTL_SECS", "1")]).await;
    let (scene, key) = (id(), id());
    let a = app.code(&scene, &key).await;
    assert_eq!(a.body["expires_in"], 1);
    let mut socket = app.hello(&scene, &key).await;
    expect_event(&mut socket, "expired").await;
    let code = app.wx_login("o-alice").await;
    assert_eq!(app.scan(&scene, &code).await.status, 404, "expired");
    let again = app.code(&scene, &key).await;
    assert_eq!(
        again.status, 404,
        "an expired scene gets no new code: {}",
        again.body
    );
    assert_eq!(
        again.body["code"], 400,
        "the original design's envelope says 400 for every failure"
    );

    // Scanned but never confirmed: expires too.
    let (scene, key) = (id(), id());
    app.code(&scene, &key).await;
    let mut socket = app.hello(&scene, &key).await;
    let token = app.scan_as(&scene, "o-alice").await;
    expect_event(&mut socket, "scanned").await;
    expect_event(&mut socket, "expired").await;
    assert_eq!(app.confirm(&scene, &token, "A").await.status, 404);
}

#[tokio::test]
async fn two_logins_at_once_do_not_cross() {
    let app = spawn_app().await;
    let (scene_a, key_a, scene_b, key_b) = (id(), id(), id(), id());
    app.code(&scene_a, &key_a).await;
    app.code(&scene_b, &key_b).await;
    let mut socket_a = app.hello(&scene_a, &key_a).await;
    let mut socket_b = app.hello(&scene_b, &key_b).await;
    let (token_a, token_b) = tokio::join!(
        app.scan_as(&scene_a, "o-alice"),
        app.scan_as(&scene_b, "o-bob")
    );
    expect_event(&mut socket_a, "scanned").await;
    expect_event(&mut socket_b, "scanned").await;
    let (ca, cb) = tokio::join!(
        app.confirm(&scene_a, &token_a, "Alice"),
        app.confirm(&scene_b, &token_b, "Bob")
    );
    assert_eq!((ca.status, cb.status), (200, 200));
    let ticket_a = expect_event(&mut socket_a, "confirmed").await["ticket"]
        .as_str()
        .unwrap()
        .to_owned();
    let ticket_b = expect_event(&mut socket_b, "confirmed").await["ticket"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(ticket_a, ticket_b);
    // Each ticket works only for its own scene.
    assert_eq!(app.session(&scene_a, &ticket_b, &key_a).await.status, 401);
    let a = app.session(&scene_a, &ticket_a, &key_a).await;
    let b = app.session(&scene_b, &ticket_b, &key_b).await;
    assert_eq!(a.body["user"]["nickname"], "Alice");
    assert_eq!(b.body["user"]["nickname"], "Bob");
    let me_a = app
        .get_with_cookie("/api/me", Some(&cookie_pair(&a.set_cookie.unwrap())))
        .await;
    let me_b = app
        .get_with_cookie("/api/me", Some(&cookie_pair(&b.set_cookie.unwrap())))
        .await;
    assert_eq!(me_a.body["user"]["nickname"], "Alice");
    assert_eq!(me_b.body["user"]["nickname"], "Bob");
    assert_ne!(me_a.body["user"]["id"], me_b.body["user"]["id"]);
}

/// A PNG of `width` × `height`, as a phone's photo would be.
fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x * y) % 239) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// `POST /api/mp/avatar` as `wx.uploadFile` sends it.
async fn upload_avatar(
    app: &crate::common::TestApp,
    scene: &str,
    token: &str,
    file: Vec<u8>,
) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        .text("scene", scene.to_owned())
        .text("scan_token", token.to_owned())
        .part(
            "avatar",
            reqwest::multipart::Part::bytes(file).file_name("tmp_abc.jpg"),
        );
    app.http
        .post(app.url("/api/mp/avatar"))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_uploaded_avatar_is_reencoded_served_by_us_and_kept_with_the_user() {
    let app = spawn_app().await;
    let (scene, key) = (id(), id());
    app.code(&scene, &key).await;
    let mut socket = app.hello(&scene, &key).await;
    let token = app.scan_as(&scene, "o-avatar").await;

    let answer = upload_avatar(&app, &scene, &token, png(1200, 900)).await;
    assert_eq!(answer.status(), 200);
    let body: serde_json::Value = answer.json().await.unwrap();
    let url = body["data"]["avatar_url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("/avatars/"), "{url}");

    let image = app.http.get(app.url(&url)).send().await.unwrap();
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/jpeg");
    assert_eq!(
        image.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let served = image::load_from_memory(&image.bytes().await.unwrap()).unwrap();
    assert_eq!((served.width(), served.height()), (256, 192));

    // The profile carries our path, and the user keeps it.
    let confirm = app
        .post_json(
            "/api/mp/confirm",
            json!({"scene": scene, "scan_token": token, "profile": {"nickname": "A", "avatar_url": url}}),
        )
        .await;
    assert_eq!(confirm.status, 200);
    let ticket = crate::common::flow::pushed_ticket(&mut socket).await;
    let session = app.session(&scene, &ticket, &key).await;
    assert_eq!(session.body["user"]["avatar_url"], json!(url));
    let unknown = app
        .http
        .get(app.url("/avatars/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn avatar_uploads_need_the_scan_token_an_image_and_at_most_2_mib() {
    let app = spawn_app().await;
    let (scene, key) = (id(), id());
    app.code(&scene, &key).await;
    let token = app.scan_as(&scene, "o-avatar").await;
    let status = |r: reqwest::Response| r.status().as_u16();

    assert_eq!(
        status(upload_avatar(&app, &scene, "wrong-token", png(10, 10)).await),
        401
    );
    assert_eq!(
        status(upload_avatar(&app, &id(), &token, png(10, 10)).await),
        404
    );
    let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>".to_vec();
    let refused = upload_avatar(&app, &scene, &token, svg).await;
    assert_eq!(refused.status(), 400);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["code"], 400);
    assert!(
        body["msg"].as_str().unwrap().contains("JPEG, PNG or WebP"),
        "{body}"
    );
    // Over 2 MiB in all is refused before it is read; just under it is read.
    let noise: Vec<u8> = (0u64..2 * 1024 * 1024 + 1)
        .map(|i| (i * 7919 % 251) as u8)
        .collect();
    assert_eq!(
        status(upload_avatar(&app, &scene, &token, noise).await),
        413
    );
    let mut big = png(1, 1);
    big.resize(2 * 1024 * 1024 - 4096, 0);
    assert_eq!(
        status(upload_avatar(&app, &scene, &token, big).await),
        200,
        "just under the limit is read (a 1-pixel PNG with padding, which re-encoding drops)"
    );
    // One avatar per scan: every upload is kept a day, so a second is refused.
    assert_eq!(
        status(upload_avatar(&app, &scene, &token, png(10, 10)).await),
        409
    );
    // After the decision, no more uploads for this scan.
    assert_eq!(app.cancel(&scene, &token).await.status, 200);
    assert_eq!(
        status(upload_avatar(&app, &scene, &token, png(10, 10)).await),
        409
    );
}

#[tokio::test]
async fn a_nickname_with_a_lone_surrogate_is_refused_with_a_clear_400() {
    let app = spawn_app().await;
    let (scene, key) = (id(), id());
    app.code(&scene, &key).await;
    let token = app.scan_as(&scene, "o-surrogate").await;
    // An emoji cut in half by UTF-16 units: the JSON escape of a lone high surrogate.
    let body = format!(
        r#"{{"scene":"{scene}","scan_token":"{token}","profile":{{"nickname":"ab\ud83d","avatar_url":""}}}}"#
    );
    let answer = app
        .post_raw("/api/mp/confirm", "application/json", body, None)
        .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(
        answer.body["msg"].as_str().unwrap().contains("surrogate"),
        "{}",
        answer.body
    );
    assert_eq!(app.confirm(&scene, &token, "ab😀").await.status, 200);
}

async fn status(
    app: &crate::common::TestApp,
    scene: &str,
    key: &str,
    known: &str,
    wait: bool,
) -> crate::common::flow::Answer {
    app.post_json(
        "/api/scene/status",
        json!({"scene": scene, "key": key, "known": known, "wait": wait}),
    )
    .await
}

#[tokio::test]
async fn the_status_endpoint_long_polls_what_the_socket_would_push() {
    let app = spawn_app_with(&[("SCANLOGIN_POLL_WAIT_SECS", "1")]).await;
    let (scene, key) = (id(), id());
    assert_eq!(app.code(&scene, &key).await.status, 200);
    let now = status(&app, &scene, &key, "waiting", false).await;
    assert_eq!((now.status, &now.body), (200, &json!({"event": null})));
    // Nothing happens within the wait: the answer says so when it ends, not before.
    let asked = std::time::Instant::now();
    let quiet = status(&app, &scene, &key, "waiting", true).await;
    assert!(asked.elapsed() >= Duration::from_millis(900), "it waited");
    assert_eq!((quiet.status, &quiet.body), (200, &json!({"event": null})));

    // A poll held open hears the scan (whichever reaches the server first: a poll
    // that comes after the scan is answered at once, as a socket catches up)...
    let held = status(&app, &scene, &key, "waiting", true);
    let (heard, token) = tokio::join!(held, app.scan_as(&scene, "o-poll"));
    assert_eq!(
        heard.body,
        json!({"event": {"type": "scanned"}}),
        "{}",
        heard.body
    );
    // ...and the next, knowing `scanned`, hears the confirmation and its ticket.
    let held = status(&app, &scene, &key, "scanned", true);
    let (heard, confirmed) = tokio::join!(held, app.confirm(&scene, &token, "Poll"));
    assert_eq!(confirmed.status, 200);
    assert_eq!(heard.body["event"]["type"], "confirmed", "{}", heard.body);
    let ticket = heard.body["event"]["ticket"].as_str().unwrap();
    assert_eq!(app.session(&scene, ticket, &key).await.status, 200);
}

#[tokio::test]
async fn the_status_endpoint_needs_the_browser_key_and_well_formed_input() {
    let app = spawn_app().await;
    let (scene, key) = (id(), id());
    app.code(&scene, &key).await;
    let wrong = status(&app, &scene, &id(), "waiting", false).await;
    assert_eq!(wrong.status, 404, "{}", wrong.body);
    let unknown = status(&app, &id(), &key, "waiting", true).await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    let malformed = app
        .post_json(
            "/api/scene/status",
            json!({"scene": scene, "key": key, "known": "confirmed", "wait": true}),
        )
        .await;
    assert_eq!(malformed.status, 400, "{}", malformed.body);
    assert_eq!(malformed.body["code"], 400);
}

#[tokio::test]
async fn a_scene_that_ends_while_polled_answers_expired() {
    let app = spawn_app_with(&[
        ("SCANLOGIN_SCENE_TTL_SECS", "1"),
        ("SCANLOGIN_POLL_WAIT_SECS", "30"),
    ])
    .await;
    let (scene, key) = (id(), id());
    app.code(&scene, &key).await;
    let held = status(&app, &scene, &key, "waiting", true).await;
    assert_eq!(
        held.body,
        json!({"event": {"type": "expired"}}),
        "{}",
        held.body
    );
}

#[tokio::test]
async fn open_link_gives_one_link_per_scene_falls_back_to_a_scheme_and_remembers_a_refusal() {
    let app = spawn_app().await;
    let open = |scene: String, key: String| {
        let app = &app;
        async move {
            app.post_json("/api/scene/open_link", json!({"scene": scene, "key": key}))
                .await
        }
    };
    let calls = |path: &'static str| {
        let app = &app;
        async move {
            app.get_with_cookie("/__wechat/__sim/counters", None)
                .await
                .body["calls"][path]
                .as_u64()
                .unwrap_or(0)
        }
    };
    let fault = |path: &str, errcode: i64| {
        app.post_json(
            "/__wechat/__sim/fault",
            json!({"path": path, "kind": "errcode", "errcode": errcode}),
        )
    };
    let new_scene = || async {
        let (scene, key) = (id(), id());
        assert_eq!(app.code(&scene, &key).await.status, 200);
        (scene, key)
    };

    let (scene, key) = new_scene().await;
    let link = open(scene.clone(), key.clone()).await;
    assert_eq!(link.status, 200, "{}", link.body);
    assert_eq!(link.body["url"], app.url(&format!("/phone?scene={scene}")));
    // Only the scene's browser may ask; asking again gives the same link, no new call.
    assert_eq!(open(scene.clone(), id()).await.status, 404);
    assert_eq!(open(scene.clone(), key.clone()).await.body, link.body);
    assert_eq!(calls("/wxa/generate_urllink").await, 1);

    // WeChat cannot make a link just now (system busy): the scheme.
    fault("/wxa/generate_urllink", -1).await;
    let (scene, key) = new_scene().await;
    let scheme = open(scene, key).await;
    assert_eq!(scheme.status, 200, "{}", scheme.body);
    assert!(scheme.body["url"]
        .as_str()
        .unwrap()
        .starts_with("weixin://dl/business/?t="));

    // No permission (an individual's mini program): a 502 the page words itself, no
    // scheme asked (it would be refused too), and the next pages cost WeChat nothing.
    fault("/wxa/generate_urllink", 40002).await;
    let schemes_before = calls("/wxa/generatescheme").await;
    let links_before = calls("/wxa/generate_urllink").await;
    let (scene, key) = new_scene().await;
    let refused = open(scene, key).await;
    assert_eq!(refused.status, 502, "{}", refused.body);
    assert_eq!(refused.body["code"], 502);
    let (scene, key) = new_scene().await;
    assert_eq!(open(scene, key).await.status, 502);
    assert_eq!(calls("/wxa/generatescheme").await, schemes_before);
    assert_eq!(calls("/wxa/generate_urllink").await, links_before + 1);
}
