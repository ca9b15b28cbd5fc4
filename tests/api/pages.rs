//! The server renders the pages over real HTTP.

use crate::common::{flow::id, spawn_app};

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

/// `/login` as a browser with these headers gets it: the status, `Set-Cookie`, the HTML.
async fn login_page(
    app: &crate::common::TestApp,
    path: &str,
    headers: &[(&str, &str)],
) -> (Option<String>, String) {
    let mut req = app.http.get(app.url(path));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200);
    let cookie = res
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned());
    (cookie, res.text().await.unwrap())
}

#[tokio::test]
async fn pages_are_rendered_in_the_browser_s_language_or_the_one_chosen() {
    let app = spawn_app().await;
    let (_, en) = login_page(&app, "/login", &[("accept-language", "en-US,en;q=0.9")]).await;
    assert!(en.contains(r#"<html lang="en""#), "{en}");
    assert!(en.contains("Log in with WeChat") && en.contains("Getting a code"));
    let (_, zh) = login_page(
        &app,
        "/login",
        &[("accept-language", "zh-CN,zh;q=0.9,en;q=0.8")],
    )
    .await;
    assert!(zh.contains(r#"<html lang="zh-CN""#), "{zh}");
    assert!(zh.contains("微信扫码登录") && zh.contains("正在获取小程序码"));
    assert!(
        !zh.contains("Log in with WeChat"),
        "no English on the Chinese page"
    );

    // The switch: a link to the same page with `?lang=`, remembered in a cookie that
    // then wins over the browser's header.
    assert!(zh.contains(r#"href="/login?lang=en""#), "{zh}");
    let (cookie, chosen) =
        login_page(&app, "/login?lang=en", &[("accept-language", "zh-CN")]).await;
    assert!(chosen.contains(r#"<html lang="en""#));
    let cookie = cookie.expect("the choice is remembered");
    assert!(cookie.starts_with("lang=en;"), "{cookie}");
    let (_, remembered) = login_page(
        &app,
        "/login",
        &[("accept-language", "zh-CN"), ("cookie", "lang=en")],
    )
    .await;
    assert!(remembered.contains(r#"<html lang="en""#));
}
