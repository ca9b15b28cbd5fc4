//! The server renders the pages over real HTTP.

mod common;

use common::{flow::id, spawn_app};

#[tokio::test]
async fn login_page_is_rendered_on_the_server() {
    let app = spawn_app().await;
    let res = app.http.get(app.url("/login")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"data-testid="qr-login""#), "{html}");
    assert!(
        html.contains(r#"data-state="loading""#),
        "the browser makes the scene: {html}"
    );
    assert!(
        html.contains("/pkg/scanlogin"),
        "hydration scripts are linked"
    );
}

#[tokio::test]
async fn home_page_offers_login_when_logged_out() {
    let app = spawn_app().await;
    let html = app
        .http
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"href="/login""#), "{html}");
}

#[tokio::test]
async fn phone_page_renders_for_a_scene() {
    let app = spawn_app().await;
    let res = app
        .http
        .get(app.url(&format!("/phone?scene={}", id())))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"data-testid="phone-scan""#), "{html}");
}

#[tokio::test]
async fn unknown_page_is_404() {
    let app = spawn_app().await;
    let res = app.http.get(app.url("/no-such-page")).send().await.unwrap();
    assert_eq!(res.status(), 404);
}
