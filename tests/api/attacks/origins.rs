//! Cross-origin requests: a page on another site must not be able to make a victim's
//! browser register scenes, exchange tickets, log out, or open the login socket.

use serde_json::json;
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, http::HeaderValue};

use crate::common::{flow::id, spawn_app, spawn_app_with, TestApp};

const EVIL: &str = "https://evil.example";

async fn post_from(
    app: &TestApp,
    origin: &str,
    path: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let res = app
        .http
        .post(app.url(path))
        .header("origin", origin)
        .json(&body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or_default())
}

#[tokio::test]
async fn cross_origin_posts_are_refused() {
    let app = spawn_app().await;
    let own = format!("http://{}", app.addr);
    let code = json!({"scene": id(), "key": id()});
    let (status, body) = post_from(&app, EVIL, "/miniapp/getwxacodeunlimit", code.clone()).await;
    assert_eq!(status, 403);
    assert_eq!(
        body["code"], 400,
        "the original design's envelope says 400 for every failure"
    );
    for path in ["/api/session", "/api/logout"] {
        assert_eq!(
            post_from(&app, EVIL, path, json!({})).await.0,
            403,
            "{path}"
        );
        assert_eq!(
            post_from(&app, "null", path, json!({})).await.0,
            403,
            "{path}: opaque origin"
        );
    }
    assert_eq!(
        post_from(&app, &own, "/miniapp/getwxacodeunlimit", code)
            .await
            .0,
        200
    );
    // The mini-program API is exempt (WeChat sends no browser origin) and answers on
    // its own terms.
    let (status, _) = post_from(
        &app,
        EVIL,
        "/api/mp/scan",
        json!({"scene": id(), "code": "x"}),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn allowed_origins_can_be_added() {
    let app = spawn_app_with(&[(
        "SCANLOGIN_ALLOWED_ORIGINS",
        "https://app.example, https://www.example",
    )])
    .await;
    let code = json!({"scene": id(), "key": id()});
    assert_eq!(
        post_from(
            &app,
            "https://www.example",
            "/miniapp/getwxacodeunlimit",
            code
        )
        .await
        .0,
        200
    );
    let code = json!({"scene": id(), "key": id()});
    assert_eq!(
        post_from(&app, EVIL, "/miniapp/getwxacodeunlimit", code)
            .await
            .0,
        403
    );
}

#[tokio::test]
async fn cross_origin_sockets_are_refused() {
    let app = spawn_app().await;
    let (scene, key) = (id(), id());
    app.code(&scene, &key).await;
    let url = format!("ws://{}/websocket?clientid={scene}", app.addr);
    let mut request = url.clone().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", HeaderValue::from_static(EVIL));
    let refused = tokio_tungstenite::connect_async(request).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        other => panic!("expected a 403 handshake, got {:?}", other.map(|_| ())),
    }
    let mut request = url.into_client_request().unwrap();
    let own = format!("http://{}", app.addr);
    request
        .headers_mut()
        .insert("origin", HeaderValue::from_str(&own).unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_ok());
}
