//! A WeChat server simulator, mounted at `/__wechat` in demo mode and used by every
//! test. It speaks WeChat's paths, JSON and error codes, including its quirks:
//! errors come with HTTP 200, `jscode2session` answers `text/plain`, error JSON is
//! `application/json; encoding=utf-8`.
//!
//! Under `/__sim/` a control surface lets tests mint `wx.login` codes, invalidate the
//! token, inject faults and read counters. It exists only in demo mode.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use axum::{
    body::Bytes,
    extract::{Query, Request, State},
    http::{header::CONTENT_TYPE, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use base64::Engine as _;
use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::{errcode::*, WeChatError};
use crate::server::random;

/// The demo mini program's credentials. Demo mode only: they protect nothing.
pub const DEMO_APPID: &str = "wxdemo00scanlogin0";
pub const DEMO_SECRET: &str = "scanlogin-demo-secret";

/// The characters WeChat allows in a `scene`, besides ASCII letters and digits.
const SCENE_PUNCTUATION: &str = "!#$&'()*+,/:;=?@-._~";
const SCENE_MAX_LEN: usize = 32;
/// `wx.login` codes live five minutes.
const LOGIN_CODE_TTL: Duration = Duration::from_secs(300);
/// How often minting sweeps out login codes past twice their life.
const LOGIN_CODE_SWEEP: Duration = Duration::from_secs(1);
/// A forced stable-token refresh at most every 30 s.
const FORCE_REFRESH_SPACING: Duration = Duration::from_secs(30);
const TOKEN_PREFIX: &str = "SIM_";
const TOKEN_LEN: usize = 96;

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
    pub image: CodeImageFormat,
}

/// How the simulator draws a code. WeChat's own codes are JPEGs of 10 to 30 KiB (PNG only
/// with `is_hyaline`); a plain QR PNG is about 1 KiB, which hides what images cost a server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CodeImageFormat {
    /// A black-and-white PNG (small and quick: tests and demo mode).
    #[default]
    Png,
    /// A JPEG the size of WeChat's (about 25 KiB at the default width): for load tests.
    Jpeg,
}

impl std::str::FromStr for CodeImageFormat {
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
            image: CodeImageFormat::Png,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Classic,
    Stable,
}

#[derive(Debug)]
struct IssuedToken {
    expires_at: Instant,
    revoked: bool,
}

#[derive(Debug, Default)]
struct TokenBook {
    issued: HashMap<String, IssuedToken>,
    classic: Option<String>,
    stable: Option<String>,
    forced_at: Option<Instant>,
}

impl TokenBook {
    fn slot(&mut self, slot: Slot) -> &mut Option<String> {
        match slot {
            Slot::Classic => &mut self.classic,
            Slot::Stable => &mut self.stable,
        }
    }

    fn issue(&mut self, slot: Slot, ttl: Duration, revoke_previous: bool) -> (String, Duration) {
        let now = Instant::now();
        self.issued
            .retain(|_, t| t.expires_at + Duration::from_secs(3600) > now);
        if revoke_previous {
            if let Some(old) = self.slot(slot).take() {
                if let Some(t) = self.issued.get_mut(&old) {
                    t.revoked = true;
                }
            }
        }
        let token = format!("{TOKEN_PREFIX}{}", random::alphanumeric(TOKEN_LEN));
        self.issued.insert(
            token.clone(),
            IssuedToken {
                expires_at: now + ttl,
                revoked: false,
            },
        );
        *self.slot(slot) = Some(token.clone());
        (token, ttl)
    }

    fn check(&self, token: &str) -> Result<(), i64> {
        match self.issued.get(token) {
            None if token.starts_with(TOKEN_PREFIX)
                && token.len() == TOKEN_PREFIX.len() + TOKEN_LEN =>
            {
                Err(INVALID_CREDENTIAL)
            }
            None => Err(INVALID_ACCESS_TOKEN),
            Some(t) if t.revoked => Err(INVALID_CREDENTIAL),
            Some(t) if Instant::now() >= t.expires_at => Err(ACCESS_TOKEN_EXPIRED),
            Some(_) => Ok(()),
        }
    }
}

#[derive(Debug)]
struct LoginCode {
    openid: String,
    unionid: Option<String>,
    issued_at: Instant,
    used: bool,
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
            .layer(middleware::from_fn_with_state(
                self.clone(),
                count_and_inject,
            ));
        let control = Router::new()
            .route("/login_code", post(mint_login_code))
            .route("/invalidate_token", post(invalidate_token))
            .route("/fault", post(inject_fault))
            .route("/counters", get(counters));
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

    /// Mints a `wx.login` code for `openid`, as if that person's phone had called
    /// `wx.login`; `age` makes it that old already.
    pub fn mint_login_code(&self, openid: &str, unionid: Option<&str>, age: Duration) -> String {
        let now = Instant::now();
        let mut swept = lock(&self.0.login_codes_swept);
        if now.duration_since(*swept) >= LOGIN_CODE_SWEEP {
            *swept = now;
            self.0
                .login_codes
                .retain(|_, c| now.duration_since(c.issued_at) < LOGIN_CODE_TTL * 2);
        }
        drop(swept);
        let code = random::alphanumeric(32);
        self.0.login_codes.insert(
            code.clone(),
            LoginCode {
                openid: openid.to_owned(),
                unionid: unionid.map(str::to_owned),
                issued_at: now.checked_sub(age).unwrap_or(now),
                used: false,
            },
        );
        code
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

#[derive(Deserialize)]
struct ClassicTokenQuery {
    grant_type: Option<String>,
    appid: Option<String>,
    secret: Option<String>,
}

async fn classic_token(
    State(sim): State<Simulator>,
    Query(q): Query<ClassicTokenQuery>,
) -> WeChatJson {
    if q.grant_type.as_deref() != Some("client_credential") {
        return sim.error(40002, "invalid grant_type");
    }
    if let Err(e) = sim.check_credentials(q.appid.as_deref(), q.secret.as_deref()) {
        return e;
    }
    let (token, ttl) = lock(&sim.0.tokens).issue(Slot::Classic, sim.0.config.token_ttl, true);
    WeChatJson::ok(serde_json::json!({ "access_token": token, "expires_in": ttl.as_secs() }))
}

#[derive(Deserialize)]
struct StableTokenBody {
    grant_type: Option<String>,
    appid: Option<String>,
    secret: Option<String>,
    #[serde(default)]
    force_refresh: bool,
}

async fn stable_token(State(sim): State<Simulator>, body: Bytes) -> WeChatJson {
    let Ok(body) = serde_json::from_slice::<StableTokenBody>(&body) else {
        return sim.error(47001, "data format error");
    };
    if body.grant_type.as_deref() != Some("client_credential") {
        return sim.error(40002, "invalid grant_type");
    }
    if let Err(e) = sim.check_credentials(body.appid.as_deref(), body.secret.as_deref()) {
        return e;
    }
    let ttl = sim.0.config.token_ttl;
    let mut book = lock(&sim.0.tokens);
    let now = Instant::now();
    let (token, expires_in) = if body.force_refresh {
        if book
            .forced_at
            .is_some_and(|at| now.duration_since(at) < FORCE_REFRESH_SPACING)
        {
            drop(book);
            return sim.error(
                MINUTE_QUOTA_LIMIT,
                "api minute-quota reach limit, force_refresh too frequently",
            );
        }
        book.forced_at = Some(now);
        book.issue(Slot::Stable, ttl, true)
    } else {
        // Normal mode hands out the same token while it lives, and a new one during its
        // last 1/24 of life (WeChat: the last 5 of 120 minutes), the old one still valid.
        let renewal_window = ttl / 24;
        let current = book.stable.clone().and_then(|t| {
            let issued = book.issued.get(&t)?;
            let left = issued.expires_at.checked_duration_since(now)?;
            (!issued.revoked && left > renewal_window).then_some((t, left))
        });
        match current {
            Some(current) => current,
            None => book.issue(Slot::Stable, ttl, false),
        }
    };
    WeChatJson::ok(serde_json::json!({ "access_token": token, "expires_in": expires_in.as_secs() }))
}

#[derive(Deserialize)]
struct WxaCodeBody {
    scene: Option<String>,
    page: Option<String>,
    check_path: Option<bool>,
    env_version: Option<String>,
    width: Option<u32>,
}

async fn wxacode_unlimit(
    State(sim): State<Simulator>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let target = match check_wxacode(&sim, query.get("access_token").map(String::as_str), &body) {
        Ok(target) => target,
        Err(json) => return json.into_response(),
    };
    let format = sim.0.config.image;
    let drawn = match format {
        // Tens of microseconds at the usual widths: drawn here, as a thread hand-over
        // would cost as much.
        CodeImageFormat::Png if target.1 <= DRAWN_ON_THE_WORKER_UP_TO => {
            Ok(render_qr(&target.0, target.1, format))
        }
        // A JPEG, or a wide PNG (up to 1280 px, nine times the pixels): off the workers.
        _ => tokio::task::spawn_blocking(move || render_qr(&target.0, target.1, format)).await,
    };
    match drawn {
        Ok(Ok((content_type, image))) => ([(CONTENT_TYPE, content_type)], image).into_response(),
        Ok(Err(e)) => sim.error(-1, &format!("system error: {e}")).into_response(),
        Err(_) => sim.error(-1, "system error").into_response(),
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

/// Checks a code request as WeChat does; on success, what the code encodes and its width.
fn check_wxacode(
    sim: &Simulator,
    token: Option<&str>,
    body: &[u8],
) -> Result<(String, u32), WeChatJson> {
    check_token(sim, token)?;
    {
        let mut window = lock(&sim.0.code_window);
        let now = Instant::now();
        if now.duration_since(window.0) >= Duration::from_secs(60) {
            *window = (now, 0);
        }
        if window.1 >= sim.0.config.codes_per_minute {
            drop(window);
            return Err(sim.error(QUOTA_LIMIT, "reach max api daily quota limit"));
        }
        window.1 += 1;
    }
    let body: WxaCodeBody = serde_json::from_slice(body).map_err(|_| {
        sim.error(
            INVALID_SCENE_LENGTH,
            "invalid length for scene, or the data is not json string",
        )
    })?;
    let scene = body.scene.unwrap_or_default();
    if scene.is_empty() || scene.chars().count() > SCENE_MAX_LEN {
        return Err(sim.error(
            INVALID_SCENE_LENGTH,
            "invalid length for scene, or the data is not json string",
        ));
    }
    if !scene
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || SCENE_PUNCTUATION.contains(c))
    {
        return Err(sim.error(INVALID_SCENE, "invalid scene"));
    }
    let env_version = body.env_version.as_deref().unwrap_or("release");
    if !matches!(env_version, "release" | "trial" | "develop") {
        return Err(sim.error(INVALID_ARGS, "invalid args"));
    }
    if let Some(page) = body.page.as_deref().filter(|p| !p.is_empty()) {
        let well_formed = !page.starts_with('/')
            && page.split('/').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
            });
        let exists = sim.0.config.pages.iter().any(|p| p == page);
        if !well_formed || (body.check_path.unwrap_or(true) && !exists) {
            return Err(sim.error(INVALID_PAGE, "invalid page"));
        }
    }
    let width = body.width.unwrap_or(430).clamp(280, 1280);
    let target = format!(
        "{}/phone?scene={}",
        sim.0.config.public_origin.trim_end_matches('/'),
        url::form_urlencoded::byte_serialize(scene.as_bytes()).collect::<String>()
    );
    Ok((target, width))
}

/// Links and schemes made today, together (WeChat allows 500,000 a day).
const LINKS_PER_DAY: u32 = 500_000;
/// A link's query: at most 1,024 characters of this set, letters and digits besides.
const LINK_QUERY_PUNCTUATION: &str = "!#$&'()*+,/:;=?@-._~%";

/// What a link opens, as `generate_urllink` and `generatescheme` take it.
#[derive(Deserialize, Default)]
struct LinkTarget {
    path: Option<String>,
    query: Option<String>,
    env_version: Option<String>,
}

#[derive(Deserialize)]
struct UrlLinkBody {
    #[serde(flatten)]
    target: LinkTarget,
    #[serde(flatten)]
    expiry: LinkExpiry,
}

#[derive(Deserialize)]
struct SchemeBody {
    #[serde(default)]
    jump_wxa: LinkTarget,
    #[serde(flatten)]
    expiry: LinkExpiry,
}

#[derive(Deserialize)]
struct LinkExpiry {
    expire_type: Option<u8>,
    expire_time: Option<u64>,
    expire_interval: Option<u32>,
}

async fn generate_urllink(
    State(sim): State<Simulator>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> WeChatJson {
    // What a link opens in demo mode: the demo phone, as the simulated WeChat opening the
    // mini program's page with the link's query. WeChat's own are `https://wxaurl.cn/<ticket>`.
    let origin = sim.0.config.public_origin.trim_end_matches('/').to_owned();
    link_answer(
        &sim,
        &query,
        &body,
        |b: &UrlLinkBody| (&b.target, &b.expiry),
        |query| serde_json::json!({ "url_link": format!("{origin}/phone?{query}") }),
    )
}

async fn generate_scheme(
    State(sim): State<Simulator>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> WeChatJson {
    link_answer(
        &sim,
        &query,
        &body,
        |b: &SchemeBody| (&b.jump_wxa, &b.expiry),
        |_| serde_json::json!({ "openlink": format!("weixin://dl/business/?t={}", random::alphanumeric(12)) }),
    )
}

/// A link API's answer: the token and the body checked as WeChat does, then `made`'s
/// fields beside `errcode: 0`.
fn link_answer<B: serde::de::DeserializeOwned>(
    sim: &Simulator,
    query: &HashMap<String, String>,
    body: &[u8],
    parts: impl Fn(&B) -> (&LinkTarget, &LinkExpiry),
    made: impl Fn(&str) -> serde_json::Value,
) -> WeChatJson {
    let checked = check_token(sim, query.get("access_token").map(String::as_str))
        .and_then(|()| {
            serde_json::from_slice::<B>(body).map_err(|_| sim.error(INVALID_ARGS, "invalid args"))
        })
        .and_then(|b| {
            let (target, expiry) = parts(&b);
            check_link(sim, target, expiry)
        });
    match checked {
        Ok(link_query) => {
            let mut answer = made(&link_query);
            answer["errcode"] = 0.into();
            answer["errmsg"] = "ok".into();
            WeChatJson::ok(answer)
        }
        Err(json) => json,
    }
}

/// Checks a link request as WeChat does and counts it; on success, the link's query.
fn check_link(
    sim: &Simulator,
    target: &LinkTarget,
    expiry: &LinkExpiry,
) -> Result<String, WeChatJson> {
    let path = target.path.as_deref().unwrap_or("");
    if !path.is_empty() && (path.contains('?') || !sim.0.config.pages.iter().any(|p| p == path)) {
        return Err(sim.error(INVALID_LINK_PATH, "invalid path"));
    }
    let query = target.query.clone().unwrap_or_default();
    let query_ok = query.chars().count() <= 1024
        && query
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || LINK_QUERY_PUNCTUATION.contains(c));
    if !query_ok {
        return Err(sim.error(INVALID_LINK_QUERY, "invalid query"));
    }
    if !matches!(
        target.env_version.as_deref().unwrap_or("release"),
        "release" | "trial" | "develop"
    ) {
        return Err(sim.error(INVALID_LINK_ENV_VERSION, "invalid env_version"));
    }
    const DAY: u64 = 86_400;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let expiry_ok = match expiry.expire_type.unwrap_or(0) {
        0 => expiry
            .expire_time
            .is_some_and(|t| t >= now + 60 && t <= now + 30 * DAY),
        1 => expiry
            .expire_interval
            .is_some_and(|d| (1..=30).contains(&d)),
        _ => false,
    };
    if !expiry_ok {
        return Err(sim.error(INVALID_LINK_EXPIRY, "invalid expire time"));
    }
    {
        let mut day = lock(&sim.0.link_day);
        let today = Instant::now();
        if today.duration_since(day.0) >= Duration::from_secs(DAY) {
            *day = (today, 0);
        }
        if day.1 >= LINKS_PER_DAY {
            drop(day);
            return Err(sim.error(LINK_DAILY_QUOTA, "reach max daily quota limit"));
        }
        day.1 += 1;
    }
    Ok(query)
}

/// The widest PNG code drawn on an async worker (WeChat's default is 430 px).
const DRAWN_ON_THE_WORKER_UP_TO: u32 = 640;

/// A QR code of `text` at least `width` pixels wide, with its content type.
///
/// WeChat draws the real codes; the simulator's only have to scan. In demo mode one is
/// drawn for every login, in the server's own process, so it is drawn cheaply: one fixed
/// mask (choosing the best of the eight, as QR libraries do by default, was most of the
/// drawing's time) and whole pixels per module with the standard's 4-module quiet zone.
/// The PNG has one bit per pixel (an eighth of the bytes of a grey image to filter and
/// compress, and no 200 KB buffer per code) and is compressed fast with the Up filter (a
/// module row repeats its pixel rows, which that filter turns to zeros): about 2.6 KB at
/// 430 px, drawn in tens of microseconds. The JPEG (WeChat's format and size, for
/// measuring memory) is a grey image.
fn render_qr(
    text: &str,
    width: u32,
    format: CodeImageFormat,
) -> Result<(&'static str, Vec<u8>), String> {
    use qrcodegen::{Mask, QrCode, QrCodeEcc, QrSegment, Version};
    const QUIET: usize = 4;
    let code = QrCode::encode_segments_advanced(
        &QrSegment::make_segments(text),
        QrCodeEcc::Medium,
        Version::MIN,
        Version::MAX,
        Some(Mask::new(0)),
        false,
    )
    .map_err(|e| e.to_string())?;
    let size = code.size().unsigned_abs() as usize;
    let scale = (width as usize).div_ceil(size + 2 * QUIET).max(1);
    let side = (size + 2 * QUIET) * scale;
    // Each module row is drawn once as a grey pixel row (0 dark, 255 light), encoded into
    // the image's row format, and repeated `scale` times.
    let code = &code;
    let draw = |bytes_per_row: usize, encode: &dyn Fn(&[u8], &mut [u8])| {
        let mut image = vec![u8::MAX; bytes_per_row * side];
        let mut grey = vec![u8::MAX; side];
        for y in 0..size {
            grey.fill(u8::MAX);
            for x in (0..size).filter(|&x| code.get_module(x as i32, y as i32)) {
                grey[(x + QUIET) * scale..(x + QUIET + 1) * scale].fill(0);
            }
            let top = (y + QUIET) * scale * bytes_per_row;
            encode(&grey, &mut image[top..top + bytes_per_row]);
            for copy in 1..scale {
                image.copy_within(top..top + bytes_per_row, top + copy * bytes_per_row);
            }
        }
        image
    };
    let side_u32 = u32::try_from(side).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let content_type = match format {
        CodeImageFormat::Png => {
            // Grey at one bit per pixel: 1 is white, the first pixel the highest bit.
            let bits = draw(side.div_ceil(8), &|grey, row| {
                for (byte, eight) in row.iter_mut().zip(grey.chunks(8)) {
                    *byte = eight.iter().enumerate().fold(u8::MAX, |b, (i, &p)| {
                        if p == 0 {
                            b & !(0x80 >> i)
                        } else {
                            b
                        }
                    });
                }
            });
            let mut encoder = png::Encoder::new(&mut out, side_u32, side_u32);
            encoder.set_color(png::ColorType::Grayscale);
            encoder.set_depth(png::BitDepth::One);
            encoder.set_compression(png::Compression::Fast);
            encoder.set_filter(png::Filter::Up);
            let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
            writer.write_image_data(&bits).map_err(|e| e.to_string())?;
            writer.finish().map_err(|e| e.to_string())?;
            "image/png"
        }
        CodeImageFormat::Jpeg => {
            let grey = draw(side, &|grey, row| row.copy_from_slice(grey));
            let image = image::GrayImage::from_raw(side_u32, side_u32, grey)
                .ok_or("a QR image's pixels")?;
            // Quality 50 on sharp black-and-white edges: about 25 KiB at 430 px, as WeChat's.
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 50)
                .encode_image(&image)
                .map_err(|e| e.to_string())?;
            "image/jpeg"
        }
    };
    Ok((content_type, out))
}

#[derive(Deserialize)]
struct Code2SessionQuery {
    appid: Option<String>,
    secret: Option<String>,
    js_code: Option<String>,
    grant_type: Option<String>,
}

async fn jscode2session(
    State(sim): State<Simulator>,
    Query(q): Query<Code2SessionQuery>,
) -> WeChatJson {
    code_to_session(&sim, q).text_plain()
}

fn code_to_session(sim: &Simulator, q: Code2SessionQuery) -> WeChatJson {
    if let Err(e) = sim.check_credentials(q.appid.as_deref(), q.secret.as_deref()) {
        return e;
    }
    if q.grant_type.as_deref() != Some("authorization_code") {
        return sim.error(40002, "invalid grant_type");
    }
    let Some(js_code) = q.js_code.filter(|c| !c.is_empty()) else {
        return sim.error(41008, "missing code");
    };
    let found = match sim.0.login_codes.get_mut(&js_code) {
        None => Err(INVALID_CODE),
        Some(c) if c.issued_at.elapsed() >= LOGIN_CODE_TTL => Err(INVALID_CODE),
        Some(c) if c.used => Err(CODE_BEEN_USED),
        Some(mut c) => {
            c.used = true;
            Ok((c.openid.clone(), c.unionid.clone()))
        }
    };
    match found {
        Err(INVALID_CODE) => sim.error(INVALID_CODE, "invalid code"),
        Err(code) => sim.error(code, "code been used"),
        Ok((openid, unionid)) => {
            let session_key =
                base64::engine::general_purpose::STANDARD.encode(random::bytes::<16>());
            let mut body = serde_json::json!({ "session_key": session_key, "openid": openid });
            if let Some(unionid) = unionid {
                body["unionid"] = unionid.into();
            }
            WeChatJson::ok(body)
        }
    }
}

#[derive(Deserialize)]
struct MintRequest {
    openid: String,
    #[serde(default)]
    unionid: Option<String>,
    /// Make the code this old already (to test expiry).
    #[serde(default)]
    age_secs: u64,
}

#[derive(Serialize)]
struct MintAnswer {
    code: String,
}

async fn mint_login_code(State(sim): State<Simulator>, Json(req): Json<MintRequest>) -> Response {
    if req.openid.is_empty() || req.openid.len() > 64 {
        return (StatusCode::BAD_REQUEST, "openid: 1 to 64 characters").into_response();
    }
    let code = sim.mint_login_code(
        &req.openid,
        req.unionid.as_deref(),
        Duration::from_secs(req.age_secs),
    );
    Json(MintAnswer { code }).into_response()
}

async fn invalidate_token(State(sim): State<Simulator>) -> StatusCode {
    let mut book = lock(&sim.0.tokens);
    for slot in [Slot::Classic, Slot::Stable] {
        if let Some(old) = book.slot(slot).take() {
            if let Some(t) = book.issued.get_mut(&old) {
                t.revoked = true;
            }
        }
    }
    StatusCode::NO_CONTENT
}

async fn inject_fault(State(sim): State<Simulator>, Json(spec): Json<FaultSpec>) -> StatusCode {
    lock(&sim.0.faults).insert(spec.path, (spec.kind, spec.count));
    StatusCode::NO_CONTENT
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

/// Mints a `wx.login` code at a standalone simulator (`scanlogin simulator` at `base`).
pub async fn mint_remote_login_code(base: &str, openid: &str) -> Result<String, WeChatError> {
    #[derive(Deserialize)]
    struct Minted {
        code: String,
    }
    // One client for every mint: building one reads the system's root certificates, a
    // quarter of an instance's CPU in a two-instance benchmark when built for each call.
    static HTTP: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let url = format!("{}/__sim/login_code", base.trim_end_matches('/'));
    let response = HTTP
        .get_or_init(reqwest::Client::new)
        .post(url)
        .json(&serde_json::json!({ "openid": openid }))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map_err(|e| WeChatError::from_reqwest(e, Duration::from_secs(5)))?;
    if !response.status().is_success() {
        return Err(WeChatError::Status(response.status().as_u16()));
    }
    let minted: Minted = response
        .json()
        .await
        .map_err(|e| WeChatError::from_reqwest(e, Duration::from_secs(5)))?;
    Ok(minted.code)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let (kind, png) = render_qr(long, 430, CodeImageFormat::Png).unwrap();
        assert_eq!(kind, "image/png");
        assert!(png.starts_with(b"\x89PNG"));
        assert_eq!(png[24], 1, "one bit per pixel (the IHDR's bit depth)");
        assert!(png.len() < 4_000, "{} bytes", png.len());
        let (width, text) = scanned(&png);
        assert!((430..480).contains(&width), "{width} px");
        assert_eq!(text, long);
        let (kind, jpeg) = render_qr(long, 430, CodeImageFormat::Jpeg).unwrap();
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
