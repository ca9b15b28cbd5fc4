//! Secrets never reach the logs: every log line of a whole run (the app, the client,
//! the simulator, reqwest and hyper, at TRACE) is captured and searched for the app
//! secret, the access token and the session key.

mod common;

use std::{
    io::Write,
    sync::{Arc, Mutex},
    time::Duration,
};

use common::{eventually, spawn_app, TestApp};
use scanlogin::server::wechat::{
    simulator::{DEMO_APPID, DEMO_SECRET},
    TokenApi, WeChatClient, WeChatSettings, WxaCodeRequest,
};
use secrecy::ExposeSecret;
use serde_json::json;
use tracing_subscriber::{fmt::MakeWriter, EnvFilter};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

async fn post(app: &TestApp, path: &str, body: serde_json::Value) -> serde_json::Value {
    let res = app
        .http
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    res.json().await.unwrap_or_default()
}

#[tokio::test]
async fn no_secret_token_or_session_key_is_logged() {
    let logs = Captured::default();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new("trace"))
        .with_writer(logs.clone())
        .with_ansi(false)
        .init();

    let app = spawn_app().await;
    let settings = |token_api| WeChatSettings {
        base: app.url("/__wechat"),
        appid: DEMO_APPID.to_owned(),
        secret: DEMO_SECRET.into(),
        token_api,
        timeout: Duration::from_secs(5),
    };
    let stable = WeChatClient::new(settings(TokenApi::Stable), None).unwrap();
    let classic = WeChatClient::new(settings(TokenApi::Classic), None).unwrap();
    tracing::debug!(client = ?stable, "client made");

    let request = WxaCodeRequest {
        scene: "abc".into(),
        page: "pages/login/login".into(),
        check_path: true,
        env_version: scanlogin::server::wechat::EnvVersion::Release,
        width: 280,
    };
    let mut tokens = Vec::new();
    for client in [&stable, &classic] {
        client.get_wxacode_unlimit(&request).await.unwrap();
        tokens.push(client.access_token().await.unwrap().expose().to_owned());
        // A rejected token and the retry log their errors too.
        post(
            &app,
            "/__wechat/__sim/fault",
            json!({"path": "/wxa/getwxacodeunlimit", "kind": "errcode", "errcode": 40001}),
        )
        .await;
        client.get_wxacode_unlimit(&request).await.unwrap();
        tokens.push(client.access_token().await.unwrap().expose().to_owned());
    }
    // A timeout and a transport error, whose reqwest errors would name the URL.
    post(
        &app,
        "/__wechat/__sim/fault",
        json!({"path": "/wxa/getwxacodeunlimit", "kind": "delay", "delay_ms": 1500}),
    )
    .await;
    let impatient = WeChatClient::new(
        WeChatSettings {
            timeout: Duration::from_millis(200),
            ..settings(TokenApi::Stable)
        },
        None,
    )
    .unwrap();
    let err = impatient.get_wxacode_unlimit(&request).await.unwrap_err();
    tracing::error!(%err, ?err, "as an app would log it");
    let unreachable = WeChatClient::new(
        WeChatSettings {
            base: "http://127.0.0.1:9".into(),
            ..settings(TokenApi::Classic)
        },
        None,
    )
    .unwrap();
    let err = unreachable.access_token().await.unwrap_err();
    tracing::error!(%err, ?err, "as an app would log it");

    let code = post(
        &app,
        "/__wechat/__sim/login_code",
        json!({"openid": "o-carol"}),
    )
    .await;
    let session = stable
        .code_to_session(code["code"].as_str().unwrap())
        .await
        .unwrap();
    tracing::info!(?session, "logged in");
    let session_key = session.session_key.expose_secret().to_owned();

    drop(app);
    eventually("the app has stopped and logged it", || {
        std::future::ready(
            String::from_utf8_lossy(&logs.0.lock().unwrap()).contains("startup: stopped"),
        )
    })
    .await;
    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(
        text.contains("fetched a WeChat access token"),
        "logs were captured"
    );
    assert!(
        text.contains("/wxa/getwxacodeunlimit"),
        "requests were logged"
    );
    assert!(!text.contains(DEMO_SECRET), "the app secret is in the logs");
    assert!(
        !text.contains(&session_key),
        "the session key is in the logs"
    );
    for token in &tokens {
        assert!(
            !text.contains(token.as_str()),
            "an access token is in the logs"
        );
    }
}
