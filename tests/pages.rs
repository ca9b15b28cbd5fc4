//! The server renders the pages and answers server functions over real HTTP.

mod common;

use common::spawn_app;

#[tokio::test]
async fn login_page_is_rendered_on_the_server() {
    let app = spawn_app().await;
    let res = app.http.get(app.url("/login")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"data-testid="server-check""#), "{html}");
    assert!(
        html.contains("/pkg/scanlogin"),
        "hydration scripts are linked"
    );
}

#[tokio::test]
async fn check_server_function_answers_json() {
    let app = spawn_app().await;
    let res = app
        .http
        .post(app.url("/api/check_server"))
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["name"], "scanlogin");
    assert_eq!(body["mode"], "demo");
}

#[tokio::test]
async fn unknown_page_is_404() {
    let app = spawn_app().await;
    let res = app.http.get(app.url("/no-such-page")).send().await.unwrap();
    assert_eq!(res.status(), 404);
}
