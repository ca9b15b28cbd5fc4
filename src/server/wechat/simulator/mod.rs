//! A WeChat server simulator, mounted at `/__wechat` in demo mode and used by every
//! test. It speaks WeChat's paths, JSON and error codes, including its quirks:
//! errors come with HTTP 200, `jscode2session` answers `text/plain`, error JSON is
//! `application/json; encoding=utf-8`.
//!
//! Under `/__sim/` a control surface lets tests mint `wx.login` codes, invalidate the
//! token, inject faults, read counters, push events, and allow and read subscribe
//! messages. It exists only in demo mode.
//!
//! Here: its settings, its state, its router with the faults and counters every call
//! goes through, and WeChat's way of answering; by WeChat API, `tokens.rs`,
//! `qr_images.rs`, `links.rs`, `login.rs` (`jscode2session`), `messages.rs` (subscribe
//! messages); `control.rs` is the control surface.

mod control;
mod links;
mod login;
mod messages;
mod qr_images;
mod tokens;

pub use control::mint_remote_login_code;
pub use messages::{Delivered, DEMO_NOTICE_TEMPLATE_ID};

use control::{inject_fault, invalidate_token, mint_login_code, push_event};
use links::{generate_scheme, generate_urllink};
use login::{jscode2session, LoginCode};
use messages::Mailbox;
use qr_images::wxacode_unlimit;
use tokens::{classic_token, stable_token, TokenBook};

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use axum::{
    extract::{Request, State},
    http::{header::CONTENT_TYPE, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::errcode::*;
use crate::server::random;

/// The demo mini program's credentials. Demo mode only: they protect nothing.
pub const DEMO_APPID: &str = "wxdemo00scanlogin0";
pub const DEMO_SECRET: &str = "scanlogin-demo-secret";

#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    pub appid: String,
    pub secret: String,
    /// The QR images encode `{public_origin}/phone?scene=<scene>`.
    pub public_origin: String,
    /// WeChat's tokens live 7200 s.
    pub token_ttl: Duration,
    /// WeChat allows 5,000 codes a minute.
    pub codes_per_minute: u32,
    /// Pages of the mini program that exist (for `check_path`).
    pub pages: Vec<String>,
    /// How codes are drawn (`SCANLOGIN_SIM_IMAGE`).
    pub image: QrImageFormat,
    /// Where WeChat's message push goes (`/__sim/push` posts there), and the token it is
    /// signed with; `None`: nowhere.
    pub push: Option<PushTarget>,
}

/// A URL of the app's for WeChat's message push, and its token.
#[derive(Debug, Clone)]
pub struct PushTarget {
    pub url: String,
    pub token: String,
}

/// Demo mode's message-push token, when `SCANLOGIN_WECHAT_PUSH_TOKEN` names none.
pub const DEMO_PUSH_TOKEN: &str = "scanlogindemo";

/// How the simulator draws a code. WeChat's own codes are JPEGs of 10 to 30 KiB (PNG only
/// with `is_hyaline`); a plain QR PNG is about 1 KiB, which hides what images cost a server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum QrImageFormat {
    /// A black-and-white PNG (small and quick: tests and demo mode).
    #[default]
    Png,
    /// A JPEG the size of WeChat's (about 25 KiB at the default width): for load tests.
    Jpeg,
}

impl std::str::FromStr for QrImageFormat {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "png" => Ok(Self::Png),
            "jpeg" => Ok(Self::Jpeg),
            _ => Err("expected png or jpeg"),
        }
    }
}

impl SimulatorConfig {
    pub fn demo(public_origin: String, pages: Vec<String>) -> Self {
        Self {
            appid: DEMO_APPID.to_owned(),
            secret: DEMO_SECRET.to_owned(),
            public_origin,
            token_ttl: Duration::from_secs(7200),
            codes_per_minute: 5000,
            pages,
            image: QrImageFormat::Png,
            push: None,
        }
    }
}

/// An injected fault, for the next `count` calls of one path.
#[derive(Debug, Clone, Deserialize)]
pub struct FaultSpec {
    /// A path under the mount, such as `/wxa/getwxacodeunlimit`.
    pub path: String,
    #[serde(default = "one")]
    pub count: u32,
    #[serde(flatten)]
    pub kind: FaultKind,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer normally, but only after this long.
    Delay { delay_ms: u64 },
    /// HTTP 500 with a text body.
    Http500,
    /// WeChat's error JSON with this code.
    Errcode {
        errcode: i64,
        #[serde(default)]
        errmsg: Option<String>,
    },
    /// Random bytes labelled with `content_type` (default `application/json`).
    Garbage {
        #[serde(default)]
        content_type: Option<String>,
    },
}

#[derive(Debug)]
struct Inner {
    config: SimulatorConfig,
    tokens: Mutex<TokenBook>,
    login_codes: DashMap<String, LoginCode>,
    /// When used login codes were last swept: at most once a [`LOGIN_CODE_SWEEP`], as a
    /// sweep on every mint walks them all (at 600 mints a second, 2% of the server's CPU
    /// in a ten-second run, and growing with the run).
    login_codes_swept: Mutex<Instant>,
    code_window: Mutex<(Instant, u32)>,
    /// Links and schemes made in the current day.
    link_day: Mutex<(Instant, u32)>,
    faults: Mutex<HashMap<String, (FaultKind, u32)>>,
    mailbox: Mutex<Mailbox>,
    calls: DashMap<String, u64>,
    errors: DashMap<i64, u64>,
}

/// The simulator's state; clone it freely.
#[derive(Debug, Clone)]
pub struct Simulator(Arc<Inner>);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Simulator {
    pub fn new(config: SimulatorConfig) -> Self {
        Self(Arc::new(Inner {
            config,
            tokens: Mutex::default(),
            login_codes: DashMap::new(),
            login_codes_swept: Mutex::new(Instant::now()),
            code_window: Mutex::new((Instant::now(), 0)),
            link_day: Mutex::new((Instant::now(), 0)),
            faults: Mutex::default(),
            mailbox: Mutex::default(),
            calls: DashMap::new(),
            errors: DashMap::new(),
        }))
    }

    pub fn config(&self) -> &SimulatorConfig {
        &self.0.config
    }

    /// WeChat's API paths, with faults and counters, and the control surface.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let api = Router::new()
            .route("/cgi-bin/token", get(classic_token))
            .route("/cgi-bin/stable_token", post(stable_token))
            .route("/wxa/getwxacodeunlimit", post(wxacode_unlimit))
            .route("/wxa/generate_urllink", post(generate_urllink))
            .route("/wxa/generatescheme", post(generate_scheme))
            .route("/sns/jscode2session", get(jscode2session))
            .route("/cgi-bin/message/subscribe/send", post(messages::send))
            .layer(middleware::from_fn_with_state(
                self.clone(),
                count_and_inject,
            ));
        let control = Router::new()
            .route("/login_code", post(mint_login_code))
            .route("/invalidate_token", post(invalidate_token))
            .route("/fault", post(inject_fault))
            .route("/counters", get(counters))
            .route("/push", post(push_event))
            .route("/subscribe", post(messages::accept))
            .route("/messages", get(messages::arrived));
        api.nest("/__sim", control).with_state(self.clone())
    }

    /// Serves the simulator on its own (`scanlogin simulator`): WeChat's paths at `/`,
    /// the control surface at `/__sim/`, for several instances in real-WeChat mode that
    /// share one WeChat (tests, and a local multi-instance demo). Its control surface
    /// answers whoever reaches it: listen on loopback.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router::<()>())
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// `path` is a page of the mini program (without a query).
    fn has_page(&self, path: &str) -> bool {
        self.0.config.pages.iter().any(|p| p == path)
    }

    fn error(&self, errcode: i64, errmsg: &str) -> WeChatJson {
        *self.0.errors.entry(errcode).or_default() += 1;
        WeChatJson::error(errcode, errmsg)
    }

    fn check_credentials(
        &self,
        appid: Option<&str>,
        secret: Option<&str>,
    ) -> Result<(), WeChatJson> {
        if appid != Some(self.0.config.appid.as_str()) {
            return Err(self.error(INVALID_APPID, "invalid appid"));
        }
        if secret != Some(self.0.config.secret.as_str()) {
            return Err(self.error(INVALID_SECRET, "invalid appsecret"));
        }
        Ok(())
    }
}

/// WeChat's JSON answer, always HTTP 200.
struct WeChatJson {
    body: serde_json::Value,
    content_type: &'static str,
}

impl WeChatJson {
    const JSON: &'static str = "application/json; encoding=utf-8";

    fn ok(body: serde_json::Value) -> Self {
        Self {
            body,
            content_type: Self::JSON,
        }
    }

    fn error(errcode: i64, errmsg: &str) -> Self {
        Self::ok(
            serde_json::json!({ "errcode": errcode, "errmsg": format!("{errmsg} rid: {}", random::alphanumeric(8)) }),
        )
    }

    fn text_plain(mut self) -> Self {
        self.content_type = "text/plain";
        self
    }
}

impl IntoResponse for WeChatJson {
    fn into_response(self) -> Response {
        ([(CONTENT_TYPE, self.content_type)], self.body.to_string()).into_response()
    }
}

async fn count_and_inject(State(sim): State<Simulator>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    *sim.0.calls.entry(path.clone()).or_default() += 1;
    let fault = {
        let mut faults = lock(&sim.0.faults);
        match faults.get_mut(&path) {
            Some((kind, left)) if *left > 0 => {
                *left -= 1;
                let kind = kind.clone();
                if *left == 0 {
                    faults.remove(&path);
                }
                Some(kind)
            }
            _ => None,
        }
    };
    match fault {
        None => next.run(req).await,
        Some(FaultKind::Delay { delay_ms }) => {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            next.run(req).await
        }
        Some(FaultKind::Http500) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "simulated server error").into_response()
        }
        Some(FaultKind::Errcode { errcode, errmsg }) => sim
            .error(errcode, errmsg.as_deref().unwrap_or("simulated error"))
            .into_response(),
        Some(FaultKind::Garbage { content_type }) => {
            let content_type = content_type.unwrap_or_else(|| "application/json".into());
            let body = random::bytes::<64>().to_vec();
            ([(CONTENT_TYPE, content_type)], body).into_response()
        }
    }
}

/// Checks the `access_token` of a call as WeChat does.
fn check_token(sim: &Simulator, token: Option<&str>) -> Result<(), WeChatJson> {
    let token = token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| sim.error(ACCESS_TOKEN_MISSING, "access_token missing"))?;
    let checked = lock(&sim.0.tokens).check(token);
    checked.map_err(|code| match code {
        INVALID_CREDENTIAL => sim.error(
            code,
            "invalid credential, access_token is invalid or not latest",
        ),
        ACCESS_TOKEN_EXPIRED => sim.error(code, "access_token expired"),
        _ => sim.error(code, "invalid access_token"),
    })
}

#[derive(Serialize, Deserialize, Debug, Default)]
pub struct Counters {
    /// Calls per API path (faulted ones included).
    pub calls: BTreeMap<String, u64>,
    /// Error answers per errcode.
    pub errors: BTreeMap<i64, u64>,
}

impl Simulator {
    pub fn counters(&self) -> Counters {
        Counters {
            calls: self
                .0
                .calls
                .iter()
                .map(|e| (e.key().clone(), *e.value()))
                .collect(),
            errors: self
                .0
                .errors
                .iter()
                .map(|e| (*e.key(), *e.value()))
                .collect(),
        }
    }
}

async fn counters(State(sim): State<Simulator>) -> Json<Counters> {
    Json(sim.counters())
}

#[cfg(test)]
mod tests {
    use super::{
        qr_images::{check_wxacode, render_qr},
        tokens::{Slot, TOKEN_LEN, TOKEN_PREFIX},
        *,
    };

    fn sim() -> Simulator {
        Simulator::new(SimulatorConfig::demo(
            "http://127.0.0.1:3000".into(),
            vec!["pages/login/login".into()],
        ))
    }

    fn token(sim: &Simulator) -> String {
        lock(&sim.0.tokens)
            .issue(Slot::Stable, Duration::from_secs(60), false)
            .0
    }

    fn errcode<T>(result: Result<T, WeChatJson>) -> i64 {
        result.err().expect("an error").body["errcode"]
            .as_i64()
            .unwrap()
    }

    #[tokio::test]
    async fn scene_rules_follow_wechat() {
        let sim = sim();
        let t = token(&sim);
        let call =
            |body: serde_json::Value| check_wxacode(&sim, Some(&t), body.to_string().as_bytes());
        assert!(call(serde_json::json!({"scene": "a=1&b=2!#$'()*+,/:;?@-._~"})).is_ok());
        assert_eq!(
            errcode(call(serde_json::json!({"scene": ""}))),
            INVALID_SCENE_LENGTH
        );
        assert_eq!(
            errcode(call(serde_json::json!({"scene": "x".repeat(33)}))),
            INVALID_SCENE_LENGTH
        );
        assert_eq!(
            errcode(call(serde_json::json!({"scene": "中文"}))),
            INVALID_SCENE
        );
        assert_eq!(
            errcode(call(serde_json::json!({"scene": "a b"}))),
            INVALID_SCENE
        );
        assert_eq!(
            errcode(call(serde_json::json!({"scene": "ok", "page": "/pages/x"}))),
            INVALID_PAGE
        );
        assert_eq!(
            errcode(call(
                serde_json::json!({"scene": "ok", "page": "pages/nope/nope"})
            )),
            INVALID_PAGE
        );
        assert!(call(
            serde_json::json!({"scene": "ok", "page": "pages/nope/nope", "check_path": false})
        )
        .is_ok());
        assert_eq!(
            errcode(call(
                serde_json::json!({"scene": "ok", "env_version": "beta"})
            )),
            INVALID_ARGS
        );
    }

    #[tokio::test]
    async fn tokens_are_checked() {
        let sim = sim();
        assert_eq!(
            errcode(check_wxacode(&sim, None, b"{}")),
            ACCESS_TOKEN_MISSING
        );
        assert_eq!(
            errcode(check_wxacode(&sim, Some("short"), b"{}")),
            INVALID_ACCESS_TOKEN
        );
        let unknown = format!("{TOKEN_PREFIX}{}", "a".repeat(TOKEN_LEN));
        assert_eq!(
            errcode(check_wxacode(&sim, Some(&unknown), b"{}")),
            INVALID_CREDENTIAL
        );
    }

    #[tokio::test(start_paused = true)]
    async fn classic_token_replaces_the_previous_and_tokens_expire() {
        let mut book = TokenBook::default();
        let (a, _) = book.issue(Slot::Classic, Duration::from_secs(7200), true);
        let (b, _) = book.issue(Slot::Classic, Duration::from_secs(7200), true);
        assert_eq!(book.check(&a), Err(INVALID_CREDENTIAL));
        assert_eq!(book.check(&b), Ok(()));
        tokio::time::advance(Duration::from_secs(7200)).await;
        assert_eq!(book.check(&b), Err(ACCESS_TOKEN_EXPIRED));
    }

    #[test]
    fn codes_are_drawn_as_png_or_as_a_wechat_sized_jpeg_and_scan() {
        let scanned = |bytes: &[u8]| {
            let image = image::load_from_memory(bytes).unwrap().to_luma8();
            let width = image.width();
            let mut prepared = rqrr::PreparedImage::prepare(image);
            let grids = prepared.detect_grids();
            assert_eq!(grids.len(), 1, "one code in the image");
            (width, grids[0].decode().unwrap().1)
        };
        let long = "http://127.0.0.1:3000/phone?scene=0123456789abcdefghijABCDEFGHIJ";
        let (kind, png) = render_qr(long, 430, QrImageFormat::Png).unwrap();
        assert_eq!(kind, "image/png");
        assert!(png.starts_with(b"\x89PNG"));
        assert_eq!(png[24], 1, "one bit per pixel (the IHDR's bit depth)");
        assert!(png.len() < 4_000, "{} bytes", png.len());
        let (width, text) = scanned(&png);
        assert!((430..480).contains(&width), "{width} px");
        assert_eq!(text, long);
        let (kind, jpeg) = render_qr(long, 430, QrImageFormat::Jpeg).unwrap();
        assert_eq!(kind, "image/jpeg");
        assert!(jpeg.starts_with(&[0xFF, 0xD8, 0xFF]), "a JPEG");
        assert!(
            (20_000..32_000).contains(&jpeg.len()),
            "{} bytes",
            jpeg.len()
        );
        assert_eq!(scanned(&jpeg).1, long);
    }
}
