//! The WeChat client against the built-in simulator, over real HTTP: the app runs in
//! demo mode on a free port, and each test drives a client of its own at the mount.

use std::time::Duration;

use crate::common::{eventually, spawn_app, spawn_app_with, TestApp};
use scanlogin::server::wechat::{
    simulator::{Counters, DEMO_APPID, DEMO_SECRET},
    MiniProgramPage, TokenApi, WeChatClient, WeChatError, WeChatSettings, WxaCodeRequest,
};
use serde_json::json;

fn client_with(
    app: &TestApp,
    token_api: TokenApi,
    timeout: Duration,
    secret: &str,
) -> WeChatClient {
    WeChatClient::new(
        WeChatSettings {
            base: app.url("/__wechat"),
            appid: DEMO_APPID.to_owned(),
            secret: secret.into(),
            token_api,
            timeout,
        },
        None,
    )
    .expect("client")
}

fn client(app: &TestApp) -> WeChatClient {
    client_with(app, TokenApi::Stable, Duration::from_secs(5), DEMO_SECRET)
}

fn code_request(scene: &str) -> WxaCodeRequest {
    WxaCodeRequest {
        scene: scene.to_owned(),
        page: "pages/login/login".to_owned(),
        check_path: true,
        env_version: scanlogin::server::wechat::EnvVersion::Release,
        width: 280,
    }
}

async fn counters(app: &TestApp) -> Counters {
    app.http
        .get(app.url("/__wechat/__sim/counters"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn calls(c: &Counters, path: &str) -> u64 {
    c.calls.get(path).copied().unwrap_or(0)
}

/// Revokes the simulator's tokens, as WeChat does when something else refreshed them.
async fn invalidate_token(app: &TestApp) {
    let res = app
        .http
        .post(app.url("/__wechat/__sim/invalidate_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
}

async fn fault(app: &TestApp, spec: serde_json::Value) {
    let res = app.simulator("fault", spec.clone()).await;
    assert_eq!(res.status, 204, "{spec}");
}

async fn mint(app: &TestApp, body: serde_json::Value) -> String {
    let res: serde_json::Value = app
        .http
        .post(app.url("/__wechat/__sim/login_code"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    res["code"].as_str().unwrap().to_owned()
}

const TOKEN: &str = "/cgi-bin/stable_token";
const CODE: &str = "/wxa/getwxacodeunlimit";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_callers_on_a_cold_cache_cause_one_token_request() {
    let app = // A thousand loopback connections from the server's own address to its simulator:
    // its WeChat client is not held to the per-address cap.
    spawn_app().await;
    // A generous timeout: 1000 images are drawn on 2 cores; what counts is the token.
    let client = std::sync::Arc::new(client_with(
        &app,
        TokenApi::Stable,
        Duration::from_secs(60),
        DEMO_SECRET,
    ));
    let calls_made: Vec<_> = (0..1000)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .get_wxacode_unlimit(&code_request(&format!("s{i}")))
                    .await
            })
        })
        .collect();
    for call in calls_made {
        let code = call.await.unwrap().expect("every call gets its code");
        assert_eq!(code.mime, "image/png");
    }
    let c = counters(&app).await;
    assert_eq!(calls(&c, TOKEN), 1, "{c:?}");
    assert_eq!(calls(&c, CODE), 1000, "{c:?}");
}

#[tokio::test]
async fn a_rejected_token_is_replaced_and_the_call_retried_once() {
    for errcode in [40001, 42001, 40014] {
        let app = spawn_app().await;
        let client = client(&app);
        fault(
            &app,
            json!({"path": CODE, "kind": "errcode", "errcode": errcode, "count": 1}),
        )
        .await;
        let code = client.get_wxacode_unlimit(&code_request("retry")).await;
        assert!(code.is_ok(), "{errcode}: {code:?}");
        let c = counters(&app).await;
        assert_eq!(calls(&c, CODE), 2, "{errcode}: one retry");
        // The simulator's token was fine, so normal mode gave it back and the client
        // forced a refresh (allowed once per 30 s).
        assert_eq!(calls(&c, TOKEN), 3, "{errcode}: {c:?}");
    }
}

#[tokio::test]
async fn a_retry_that_fails_too_is_not_retried_again() {
    for errcode in [40001, 42001, 40014] {
        let app = spawn_app().await;
        let client = client(&app);
        fault(
            &app,
            json!({"path": CODE, "kind": "errcode", "errcode": errcode, "count": 5}),
        )
        .await;
        let err = client
            .get_wxacode_unlimit(&code_request("retry"))
            .await
            .unwrap_err();
        assert_eq!(err.errcode(), Some(errcode));
        assert_eq!(
            calls(&counters(&app).await, CODE),
            2,
            "{errcode}: exactly one retry"
        );
    }
}

#[tokio::test]
async fn a_token_invalidated_at_wechat_is_replaced_without_forcing() {
    let app = spawn_app().await;
    let client = client(&app);
    client
        .get_wxacode_unlimit(&code_request("one"))
        .await
        .unwrap();
    invalidate_token(&app).await;
    client
        .get_wxacode_unlimit(&code_request("two"))
        .await
        .unwrap();
    let c = counters(&app).await;
    assert_eq!(calls(&c, CODE), 3, "one rejected call, retried once");
    assert_eq!(
        calls(&c, TOKEN),
        2,
        "normal mode handed out a new token: no forced refresh"
    );
    assert_eq!(c.errors.get(&40001), Some(&1));
}

#[tokio::test]
async fn the_token_is_renewed_before_it_expires() {
    // Tokens live 2 s here; the client renews from 80% (1.6 s) of their life.
    let app = spawn_app_with(&[("SCANLOGIN_SIM_TOKEN_TTL_SECS", "2")]).await;
    let client = client_with(&app, TokenApi::Classic, Duration::from_secs(5), DEMO_SECRET);
    let first_token_at = std::time::Instant::now();
    let asked = std::sync::atomic::AtomicU64::new(0);
    let ask = || async {
        let n = asked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        client
            .get_wxacode_unlimit(&code_request(&n.to_string()))
            .await
            .unwrap();
    };
    ask().await;
    eventually("the token is renewed", || async {
        ask().await;
        calls(&counters(&app).await, "/cgi-bin/token") == 2
    })
    .await;
    let renewed_after = first_token_at.elapsed();
    assert!(
        renewed_after >= Duration::from_millis(1600) && renewed_after < Duration::from_secs(2),
        "renewed at 80% of its life, before it expired: after {renewed_after:?}"
    );
    // The first token expires: the renewed one is used, with no error.
    eventually("the first token has expired", || async {
        ask().await;
        first_token_at.elapsed() > Duration::from_millis(2200)
    })
    .await;
    let c = counters(&app).await;
    assert_eq!(calls(&c, "/cgi-bin/token"), 2, "{c:?}");
    assert_eq!(
        calls(&c, CODE),
        asked.load(std::sync::atomic::Ordering::Relaxed)
    );
    assert!(c.errors.is_empty(), "no call was refused: {c:?}");
}

#[tokio::test]
async fn json_errors_and_images_are_told_apart() {
    let app = spawn_app().await;
    let client = client(&app);

    // An image, and what it encodes: the phone page for that scene.
    let code = client
        .get_wxacode_unlimit(&code_request("a=1&b"))
        .await
        .unwrap();
    assert_eq!(code.mime, "image/png");
    let img = image_luma(&code.bytes);
    let mut prepared = rqrr::PreparedImage::prepare(img);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1);
    let (_, content) = grids[0].decode().unwrap();
    assert_eq!(content, format!("{}/phone?scene=a%3D1%26b", app.url("")));

    // WeChat's JSON errors.
    let err = client
        .get_wxacode_unlimit(&code_request(&"x".repeat(33)))
        .await
        .unwrap_err();
    assert_eq!(err.errcode(), Some(40169));
    let err = client
        .get_wxacode_unlimit(&code_request("中文"))
        .await
        .unwrap_err();
    assert_eq!(err.errcode(), Some(40129));
    let mut bad_page = code_request("ok");
    bad_page.page = "pages/nope/nope".into();
    assert_eq!(
        client
            .get_wxacode_unlimit(&bad_page)
            .await
            .unwrap_err()
            .errcode(),
        Some(41030)
    );

    // Garbage labelled as an image or as JSON, and a 500, are not images.
    fault(
        &app,
        json!({"path": CODE, "kind": "garbage", "content_type": "image/jpeg"}),
    )
    .await;
    let err = client
        .get_wxacode_unlimit(&code_request("g1"))
        .await
        .unwrap_err();
    assert!(matches!(err, WeChatError::BadResponse(_)), "{err:?}");
    fault(&app, json!({"path": CODE, "kind": "garbage"})).await;
    let err = client
        .get_wxacode_unlimit(&code_request("g2"))
        .await
        .unwrap_err();
    assert!(matches!(err, WeChatError::BadResponse(_)), "{err:?}");
    fault(&app, json!({"path": CODE, "kind": "http500"})).await;
    let err = client
        .get_wxacode_unlimit(&code_request("g3"))
        .await
        .unwrap_err();
    assert_eq!(err, WeChatError::Status(500));
}

fn image_luma(png: &[u8]) -> image::GrayImage {
    image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .expect("a PNG")
        .to_luma8()
}

#[tokio::test]
async fn the_code_rate_limit_answers_45009() {
    let app = spawn_app_with(&[("SCANLOGIN_SIM_CODES_PER_MINUTE", "3")]).await;
    let client = client(&app);
    for i in 0..3 {
        client
            .get_wxacode_unlimit(&code_request(&format!("r{i}")))
            .await
            .unwrap();
    }
    let err = client
        .get_wxacode_unlimit(&code_request("r3"))
        .await
        .unwrap_err();
    assert_eq!(err.errcode(), Some(45009));
}

#[tokio::test]
async fn slow_answers_time_out() {
    let app = spawn_app().await;
    let client = client_with(
        &app,
        TokenApi::Stable,
        Duration::from_millis(300),
        DEMO_SECRET,
    );
    client.access_token().await.unwrap();
    fault(
        &app,
        json!({"path": CODE, "kind": "delay", "delay_ms": 2000}),
    )
    .await;
    let started = std::time::Instant::now();
    let err = client
        .get_wxacode_unlimit(&code_request("slow"))
        .await
        .unwrap_err();
    assert_eq!(err, WeChatError::Timeout(Duration::from_millis(300)));
    assert!(started.elapsed() < Duration::from_millis(1500));
}

#[tokio::test]
async fn bad_appid_or_secret_are_refused() {
    let app = spawn_app().await;
    let wrong_secret = client_with(&app, TokenApi::Stable, Duration::from_secs(5), "nope");
    assert_eq!(
        wrong_secret.access_token().await.unwrap_err().errcode(),
        Some(40125)
    );
    let wrong_classic = client_with(&app, TokenApi::Classic, Duration::from_secs(5), "nope");
    assert_eq!(
        wrong_classic.access_token().await.unwrap_err().errcode(),
        Some(40125)
    );
    let wrong_appid = WeChatClient::new(
        WeChatSettings {
            base: app.url("/__wechat"),
            appid: "wx0000000000000000".into(),
            secret: DEMO_SECRET.into(),
            token_api: TokenApi::Stable,
            timeout: Duration::from_secs(5),
        },
        None,
    )
    .unwrap();
    assert_eq!(
        wrong_appid.access_token().await.unwrap_err().errcode(),
        Some(40013)
    );
    let err = wrong_appid.code_to_session("whatever").await.unwrap_err();
    assert_eq!(err.errcode(), Some(40013));
}

#[tokio::test]
async fn login_codes_are_single_use_and_expire() {
    let app = spawn_app().await;
    let client = client(&app);
    let code = mint(&app, json!({"openid": "o-alice", "unionid": "u-alice"})).await;
    let session = client.code_to_session(&code).await.unwrap();
    assert_eq!(session.openid, "o-alice");
    assert_eq!(session.unionid.as_deref(), Some("u-alice"));
    assert_eq!(
        client.code_to_session(&code).await.unwrap_err().errcode(),
        Some(40163)
    );

    let old = mint(&app, json!({"openid": "o-bob", "age_secs": 301})).await;
    assert_eq!(
        client.code_to_session(&old).await.unwrap_err().errcode(),
        Some(40029)
    );
    assert_eq!(
        client
            .code_to_session("never-issued")
            .await
            .unwrap_err()
            .errcode(),
        Some(40029)
    );
    let fresh = mint(&app, json!({"openid": "o-bob", "age_secs": 299})).await;
    let session = client.code_to_session(&fresh).await.unwrap();
    assert_eq!(session.unionid, None);
}

#[tokio::test]
async fn the_control_surface_answers_bad_input_with_4xx() {
    let app = spawn_app().await;
    let res = app
        .http
        .post(app.url("/__wechat/__sim/fault"))
        .header("content-type", "application/json")
        .body("{\"path\":1}")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    let res = app
        .http
        .post(app.url("/__wechat/__sim/login_code"))
        .json(&json!({"openid": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn no_simulator_with_real_credentials() {
    let app = spawn_app_with(&[
        ("SCANLOGIN_WECHAT_APPID", "wx1234567890abcdef"),
        (
            "SCANLOGIN_WECHAT_SECRET",
            "0123456789abcdef0123456789abcdef",
        ),
        ("SCANLOGIN_WECHAT_API_BASE", "http://127.0.0.1:9"),
    ])
    .await;
    for path in ["/__wechat/cgi-bin/token", "/__wechat/__sim/counters"] {
        let res = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
    let res = app
        .http
        .post(app.url("/__wechat/__sim/login_code"))
        .json(&json!({"openid": "x"}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error() && res.status() != 204);
}

fn login_page(query: &str) -> MiniProgramPage {
    MiniProgramPage {
        path: "pages/login/login".to_owned(),
        query: query.to_owned(),
        env_version: scanlogin::server::wechat::EnvVersion::Release,
    }
}

#[tokio::test]
async fn links_and_schemes_open_a_page_with_its_query_and_follow_wechat_s_rules() {
    let app = spawn_app().await;
    let wechat = client(&app);
    let scene = crate::common::flow::id();
    let link = wechat
        .generate_urllink(&login_page(&format!("scene={scene}")), 1)
        .await
        .unwrap();
    // In demo mode the link opens the demo phone, as WeChat opens the page.
    assert_eq!(link, app.url(&format!("/phone?scene={scene}")));
    let scheme = wechat
        .generate_scheme(&login_page(&format!("scene={scene}")), 1)
        .await
        .unwrap();
    assert!(scheme.starts_with("weixin://dl/business/?t="), "{scheme}");

    // WeChat's rules: a published page without a query, a query of its characters,
    // 1 to 30 days.
    let mut unknown_page = login_page("scene=x");
    unknown_page.path = "pages/nope/nope".into();
    let err = wechat.generate_urllink(&unknown_page, 1).await.unwrap_err();
    assert_eq!(err.errcode(), Some(40165), "{err}");
    let err = wechat
        .generate_urllink(&login_page("scene=a b"), 1)
        .await
        .unwrap_err();
    assert_eq!(err.errcode(), Some(40212), "{err}");
    let err = wechat
        .generate_scheme(&login_page("scene=x"), 31)
        .await
        .unwrap_err();
    assert_eq!(err.errcode(), Some(85401), "{err}");

    // A mini program that may not make links (an individual's) gets 40002.
    fault(
        &app,
        json!({"path": "/wxa/generate_urllink", "kind": "errcode", "errcode": 40002}),
    )
    .await;
    let err = wechat
        .generate_urllink(&login_page("scene=x"), 1)
        .await
        .unwrap_err();
    assert_eq!(err.errcode(), Some(40002), "{err}");
}

#[tokio::test]
async fn a_rejected_token_is_renewed_once_for_links_too() {
    let app = spawn_app().await;
    let wechat = client(&app);
    wechat.access_token().await.unwrap();
    invalidate_token(&app).await;
    wechat
        .generate_urllink(&login_page("scene=x"), 1)
        .await
        .unwrap();
    let c = counters(&app).await;
    assert_eq!(calls(&c, "/wxa/generate_urllink"), 2, "{c:?}");
}
