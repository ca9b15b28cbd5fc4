//! Configuration from environment variables (`SCANLOGIN_*`, plus Leptos's own `LEPTOS_*`),
//! as typed sections, each default written once, where its section is read.
//!
//! Every variable, with its default, is listed in `docs/configuration.md`; tests check
//! that the names read, [`VARIABLES`] and that page agree. Reading collects every problem
//! before it answers, so one start-up names them all: a blank value, a value that does
//! not parse, an unknown `SCANLOGIN_*` name (a typo would otherwise silently keep a
//! default), and a combination that would be unsafe (`vars.rs`). The mode is decided in
//! `mode.rs`.

mod mode;
mod vars;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use leptos::config::LeptosOptions;
use secrecy::{ExposeSecret, SecretString};

pub use mode::Mode;
pub use vars::{ConfigError, ConfigErrors, VARIABLES};

use crate::protocol::PlacesCredit;
use mode::{decide_mode, parse_origin};
use vars::{Vars, PUBLIC_ORIGIN, TRUSTED_PROXIES};

use super::{
    client::{Ipv6Networks, TrustedProxies},
    forward_auth::rules::Rules,
    login_notice::{NoticeFields, NoticeTemplate, ACCOUNT_PAGE},
    place::{Places, DBIP_CREDIT},
    registry::RegistryConfig,
    store::SessionPolicy,
    wechat::{simulator::SimulatorConfig, EnvVersion, TokenApi},
};

#[derive(Debug, Clone)]
pub struct Config {
    /// Leptos's options: site root, output name, and the address to listen on.
    pub leptos: LeptosOptions,
    pub mode: Mode,
    /// The origin people's browsers use (`SCANLOGIN_PUBLIC_ORIGIN`); by default
    /// `http://` and the address the server listens on.
    pub public_origin: Option<String>,
    /// Origins besides the public one allowed to open sockets and post
    /// (`SCANLOGIN_ALLOWED_ORIGINS`, comma-separated).
    pub other_origins: Vec<String>,
    /// Proxies whose `X-Forwarded-For` is believed (`SCANLOGIN_TRUSTED_PROXIES`).
    pub trusted_proxies: TrustedProxies,
    /// IPv6 clients are grouped by this prefix for every limit (`SCANLOGIN_IPV6_PREFIX`).
    pub ipv6_prefix: u8,
    /// The wider IPv6 networks every limit also counts (`SCANLOGIN_IPV6_NETWORK_LIMITS`).
    pub ipv6_networks: Ipv6Networks,
    pub wechat: WeChatConfig,
    /// Demo mode's WeChat simulator (the same settings as `scanlogin simulator`'s).
    pub simulator: SimulatorConfig,
    /// The scene registry: a scene's life and the caps on scenes and their sockets.
    pub registry: RegistryConfig,
    pub login_page: LoginPageConfig,
    /// Users and sessions (`SCANLOGIN_DATABASE_URL`); secret, since it may hold a
    /// password (see [`Config::database_for_logs`]).
    pub database_url: SecretString,
    /// A session's lifetime from login, and how long it survives unused.
    pub sessions: SessionPolicy,
    /// Who may become a user by scanning (`SCANLOGIN_SIGNUP`).
    pub signup: super::access::Signup,
    /// The audit trail's retention and its copy in the log.
    pub audit: AuditConfig,
    /// Where addresses are (`SCANLOGIN_GEOIP_DB`, `SCANLOGIN_GEOIP_CREDIT`); unset: none.
    pub places: Places,
    /// The parent domain the session cookie is shared with (`SCANLOGIN_COOKIE_DOMAIN`,
    /// without a leading dot); unset: this host only.
    pub cookie_domain: Option<String>,
    /// Forward authentication's rules (`SCANLOGIN_FORWARD_AUTH_RULES`); unset: no
    /// `/auth/verify`.
    pub forward_auth: Option<Rules>,
    /// Scenes, events, limits and the WeChat token shared by every instance; unset: all
    /// in this process.
    pub redis: Option<RedisConfig>,
    /// Where `GET /metrics` is served (`SCANLOGIN_METRICS_ADDR`); unset: no metrics.
    pub metrics_addr: Option<SocketAddr>,
    /// The OpenID provider (`SCANLOGIN_OIDC_CLIENTS`); unset: none.
    pub oidc: Option<Arc<super::oidc::Provider>>,
    pub limits: LimitsConfig,
    pub connections: ConnectionLimits,
}

/// The audit trail.
#[derive(Debug, Clone, Copy)]
pub struct AuditConfig {
    /// Entries older than this are purged (`SCANLOGIN_AUDIT_RETENTION_DAYS`).
    pub retention_days: u32,
    /// Each entry is also logged as a JSON line (`SCANLOGIN_AUDIT_LOG=1`), for a SIEM.
    pub log: bool,
}

/// WeChat's API, and what the QR images and links open.
#[derive(Debug, Clone)]
pub struct WeChatConfig {
    /// WeChat's API (`SCANLOGIN_WECHAT_API_BASE`); ignored in demo mode.
    pub api_base: String,
    pub token_api: TokenApi,
    pub timeout: Duration,
    /// The mini-program page a QR image opens (`SCANLOGIN_MP_PAGE`).
    pub mp_page: String,
    /// Which version of the mini program it opens (`SCANLOGIN_MP_ENV_VERSION`).
    pub env_version: EnvVersion,
    /// Width of the QR image in pixels, 280 to 1280 (`SCANLOGIN_MP_CODE_WIDTH`).
    pub code_width: u32,
    /// The token of WeChat's message push (`SCANLOGIN_WECHAT_PUSH_TOKEN`); unset: no
    /// `/wechat/push` (demo mode: the simulator's).
    pub push_token: Option<SecretString>,
    /// The template of the message after a login (`SCANLOGIN_NOTIFY_TEMPLATE_ID`, its
    /// fields `SCANLOGIN_NOTIFY_FIELDS`); unset: none sent (demo mode: the simulator's).
    pub notice: Option<NoticeTemplate>,
}

/// What the login page does by itself.
#[derive(Debug, Clone)]
pub struct LoginPageConfig {
    /// QR images the page gets by itself in a row, without the person doing anything
    /// (`SCANLOGIN_AUTO_REFRESHES`).
    pub auto_refreshes: u32,
    /// How long `POST /api/scene/status` holds a long poll (`SCANLOGIN_POLL_WAIT_SECS`).
    pub poll_wait: Duration,
    /// Bytes of QR images kept while their scenes live (`SCANLOGIN_CODE_CACHE_BYTES`).
    pub code_cache_bytes: u64,
}

/// Several instances' shared Redis.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// `SCANLOGIN_REDIS_URL`; secret, since it may hold a password.
    pub url: SecretString,
    /// Prefix of every key and channel (`SCANLOGIN_REDIS_PREFIX`).
    pub prefix: String,
}

/// Every limit on the login flow, per client unless said otherwise (see
/// docs/security.md). The caps on scenes are the registry's ([`RegistryConfig`]).
#[derive(Debug, Clone)]
pub struct LimitsConfig {
    /// QR images a client may ask for per minute (`SCANLOGIN_RATE_CODES_PER_MIN`).
    pub codes_per_min: u32,
    /// Scans per minute (`SCANLOGIN_RATE_SCANS_PER_MIN`).
    pub scans_per_min: u32,
    /// Ticket exchanges per minute (`SCANLOGIN_RATE_SESSIONS_PER_MIN`).
    pub sessions_per_min: u32,
    /// QR images fetched from WeChat per minute for the whole app
    /// (`SCANLOGIN_CODE_BUDGET_PER_MIN`), below WeChat's quota of 5,000.
    pub code_budget_per_min: u32,
    /// Open-in-WeChat links made per day (China's) for the whole app
    /// (`SCANLOGIN_LINK_BUDGET_PER_DAY`), below WeChat's quota of 500,000.
    pub link_budget_per_day: u32,
    /// Uploaded images decoded at once (`SCANLOGIN_IMAGE_DECODES`).
    pub image_decodes: usize,
    /// Requests an authenticated OpenID client may make per minute to the token endpoint
    /// (`SCANLOGIN_OIDC_TOKENS_PER_CLIENT_PER_MIN`), whatever its address.
    pub oidc_tokens_per_client_per_min: u32,
    /// Request bodies (`SCANLOGIN_MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// Time a socket has to prove its key (`SCANLOGIN_WS_HELLO_TIMEOUT_SECS`).
    pub ws_hello_timeout: Duration,
    /// Largest WebSocket message or frame (`SCANLOGIN_WS_MAX_MESSAGE_BYTES`).
    pub ws_max_message_bytes: usize,
    /// Database operations of logins under way above which new QR images are refused,
    /// in all (`SCANLOGIN_MAX_STORE_QUEUE`).
    pub max_store_queue: usize,
}

/// Limits on connections, so that slow or idle clients cannot hold the server.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// A request's head must arrive this soon (`SCANLOGIN_HEADER_TIMEOUT_SECS`).
    pub header_timeout: Duration,
    /// A keep-alive connection with no request in flight is closed after this
    /// (`SCANLOGIN_IDLE_TIMEOUT_SECS`).
    pub idle_timeout: Duration,
    /// The longest wait between two reads of a request's body, and between two writes
    /// of an answer (`SCANLOGIN_BODY_TIMEOUT_SECS`).
    pub body_timeout: Duration,
    /// Open connections in all (`SCANLOGIN_MAX_CONNECTIONS`); unset: the
    /// descriptor limit less a reserve, decided at start-up.
    pub max_connections: Option<usize>,
    /// Open connections per peer address, trusted proxies exempt
    /// (`SCANLOGIN_MAX_CONNECTIONS_PER_PEER`).
    pub max_connections_per_peer: usize,
    /// Sockets that have not said hello yet, per client
    /// (`SCANLOGIN_MAX_PENDING_SOCKETS_PER_CLIENT`).
    pub max_pending_sockets_per_client: usize,
}

/// The standalone simulator's settings (`scanlogin simulator`): where it listens, and
/// the same [`SimulatorConfig`] as demo mode's.
#[derive(Debug, Clone)]
pub struct SimulatorSettings {
    /// Where it listens (`SCANLOGIN_SIM_LISTEN`).
    pub listen: SocketAddr,
    pub simulator: SimulatorConfig,
}

impl SimulatorSettings {
    pub fn from_env() -> Result<Self, ConfigErrors> {
        Self::from_vars(std::env::vars())
    }

    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigErrors> {
        let vars = Vars::new(vars);
        let settings = Self::read(&vars);
        vars.finish().map(|()| settings)
    }

    fn read(vars: &Vars) -> Self {
        // What its QR images encode: `{origin}/phone?scene=…`, the app's own origin.
        let public_origin =
            read_public_origin(vars).unwrap_or_else(|| "http://127.0.0.1:3000".into());
        Self {
            listen: vars.parse(
                "SCANLOGIN_SIM_LISTEN",
                SocketAddr::from(([127, 0, 0, 1], 3100)),
            ),
            simulator: read_simulator(vars, public_origin, read_mp_page(vars)),
        }
    }
}

/// `SCANLOGIN_PUBLIC_ORIGIN`, checked.
fn read_public_origin(vars: &Vars) -> Option<String> {
    vars.get(PUBLIC_ORIGIN)
        .and_then(|origin| match parse_origin(&origin) {
            Ok(origin) => Some(origin),
            Err(reason) => {
                vars.invalid(PUBLIC_ORIGIN, origin, reason);
                None
            }
        })
}

fn read_mp_page(vars: &Vars) -> String {
    vars.get("SCANLOGIN_MP_PAGE")
        .unwrap_or_else(|| "pages/login/login".into())
}

/// The simulator as demo mode and `scanlogin simulator` both run it: WeChat's own
/// defaults ([`SimulatorConfig::demo`]) unless the `SCANLOGIN_SIM_*` variables say
/// otherwise.
fn read_simulator(vars: &Vars, public_origin: String, mp_page: String) -> SimulatorConfig {
    // The demo mini program's pages (miniprogram/app.json), and the one codes open.
    let mut pages: Vec<String> = ["pages/home/home", "pages/login/login", ACCOUNT_PAGE]
        .map(str::to_owned)
        .into();
    if !pages.contains(&mp_page) {
        pages.push(mp_page);
    }
    let defaults = SimulatorConfig::demo(public_origin, pages);
    SimulatorConfig {
        token_ttl: vars.seconds("SCANLOGIN_SIM_TOKEN_TTL_SECS", defaults.token_ttl.as_secs()),
        codes_per_minute: vars
            .positive("SCANLOGIN_SIM_CODES_PER_MINUTE", defaults.codes_per_minute),
        image: vars.parse("SCANLOGIN_SIM_IMAGE", defaults.image),
        ..defaults
    }
}

impl Config {
    /// Reads the process environment. Leptos's options come from `LEPTOS_*` variables,
    /// with the values cargo-leptos compiled in as defaults.
    pub fn from_env() -> Result<Self, ConfigErrors> {
        let mut leptos = leptos::config::get_configuration(None)
            .map_err(|e| ConfigErrors(vec![ConfigError::Leptos(e.to_string())]))?
            .leptos_options;
        if leptos.output_name.is_empty() {
            // Built by plain cargo rather than cargo-leptos: use the crate's name.
            leptos.output_name = env!("CARGO_PKG_NAME").into();
        }
        Self::from_vars(std::env::vars(), leptos)
    }

    /// A configuration for tests: listening on a free loopback port, an in-memory
    /// database unless `vars` name one.
    pub fn for_tests<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, ConfigErrors> {
        let leptos = LeptosOptions::builder()
            .output_name(env!("CARGO_PKG_NAME"))
            .site_root("target/site")
            .site_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
            .build();
        let mut vars: std::collections::BTreeMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        vars.entry("SCANLOGIN_DATABASE_URL".into())
            .or_insert_with(|| "sqlite::memory:".into());
        Self::from_vars(vars, leptos)
    }

    /// Builds a configuration from the environment's variables; only `SCANLOGIN_*` ones
    /// are looked at.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
        leptos: LeptosOptions,
    ) -> Result<Self, ConfigErrors> {
        let vars = Vars::new(vars);
        let config = Self::read(&vars, leptos);
        vars.finish().map(|()| config)
    }

    fn read(vars: &Vars, leptos: LeptosOptions) -> Self {
        let public_origin = read_public_origin(vars);
        let trusted_proxies: TrustedProxies =
            vars.parse(TRUSTED_PROXIES, TrustedProxies::default());
        let oidc = read_oidc(vars, public_origin.as_deref());
        let mode = decide_mode(vars, &leptos, public_origin.as_deref(), &trusted_proxies);
        // Read by telemetry before the configuration; checked here with the rest.
        if let Some(format) = vars.get("SCANLOGIN_LOG_FORMAT") {
            if !matches!(format.as_str(), "text" | "json") {
                vars.invalid("SCANLOGIN_LOG_FORMAT", format, "use text or json");
            }
        }
        let ipv6_prefix = vars.in_range("SCANLOGIN_IPV6_PREFIX", 64u8, 0..=128);
        let ipv6_networks: Ipv6Networks =
            vars.parse("SCANLOGIN_IPV6_NETWORK_LIMITS", Ipv6Networks::default());
        if let Err(why) = ipv6_networks.check_against(ipv6_prefix) {
            vars.invalid(
                "SCANLOGIN_IPV6_NETWORK_LIMITS",
                ipv6_networks.to_string(),
                why,
            );
        }
        let wechat = read_wechat(vars);
        let cookie_domain = read_cookie_domain(vars, public_origin.as_deref());
        // Its QR images lead to this server's phone page: the public origin, or the
        // address it listens on (start-up puts the bound address there for port 0).
        let simulator = read_simulator(
            vars,
            public_origin
                .clone()
                .unwrap_or_else(|| format!("http://{}", leptos.site_addr)),
            wechat.mp_page.clone(),
        );
        Self {
            leptos,
            mode,
            other_origins: read_other_origins(vars),
            public_origin,
            trusted_proxies,
            ipv6_prefix,
            ipv6_networks,
            wechat,
            simulator,
            registry: RegistryConfig {
                ttl: vars.seconds("SCANLOGIN_SCENE_TTL_SECS", 120),
                socket_grace: vars.seconds("SCANLOGIN_SOCKET_GRACE_SECS", 30),
                max_scenes: vars.positive("SCANLOGIN_MAX_SCENES", 100_000),
                max_scenes_per_client: vars.positive("SCANLOGIN_MAX_SCENES_PER_IP", 20),
                max_sockets_per_scene: vars.positive("SCANLOGIN_MAX_SOCKETS_PER_SCENE", 3),
            },
            login_page: LoginPageConfig {
                auto_refreshes: vars.parse(
                    "SCANLOGIN_AUTO_REFRESHES",
                    crate::protocol::DEFAULT_AUTO_REFRESHES,
                ),
                poll_wait: vars.seconds("SCANLOGIN_POLL_WAIT_SECS", 25),
                code_cache_bytes: vars.positive("SCANLOGIN_CODE_CACHE_BYTES", 4 * 1024 * 1024),
            },
            database_url: read_database_url(vars),
            sessions: SessionPolicy {
                ttl: vars.seconds("SCANLOGIN_SESSION_TTL_SECS", 7 * 86_400),
                idle: vars.seconds("SCANLOGIN_SESSION_IDLE_SECS", 86_400),
            },
            signup: vars.parse("SCANLOGIN_SIGNUP", super::access::Signup::Open),
            audit: AuditConfig {
                retention_days: vars.positive("SCANLOGIN_AUDIT_RETENTION_DAYS", 180),
                log: vars.flag("SCANLOGIN_AUDIT_LOG"),
            },
            places: read_places(vars),
            cookie_domain,
            forward_auth: read_forward_auth(vars),
            redis: read_redis(vars),
            metrics_addr: vars.get("SCANLOGIN_METRICS_ADDR").and_then(|addr| {
                addr.parse::<SocketAddr>()
                    .map_err(|_| {
                        vars.invalid(
                            "SCANLOGIN_METRICS_ADDR",
                            &addr,
                            "an address such as 127.0.0.1:9464",
                        )
                    })
                    .ok()
            }),
            oidc,
            limits: LimitsConfig {
                codes_per_min: vars.positive("SCANLOGIN_RATE_CODES_PER_MIN", 30),
                scans_per_min: vars.positive("SCANLOGIN_RATE_SCANS_PER_MIN", 30),
                sessions_per_min: vars.positive("SCANLOGIN_RATE_SESSIONS_PER_MIN", 30),
                code_budget_per_min: vars.positive("SCANLOGIN_CODE_BUDGET_PER_MIN", 4000u32),
                link_budget_per_day: vars.positive("SCANLOGIN_LINK_BUDGET_PER_DAY", 400_000u32),
                image_decodes: vars.positive("SCANLOGIN_IMAGE_DECODES", default_image_decodes()),
                oidc_tokens_per_client_per_min: vars
                    .positive("SCANLOGIN_OIDC_TOKENS_PER_CLIENT_PER_MIN", 600u32),
                max_body_bytes: vars.positive("SCANLOGIN_MAX_BODY_BYTES", 16 * 1024),
                ws_hello_timeout: vars.seconds(
                    "SCANLOGIN_WS_HELLO_TIMEOUT_SECS",
                    crate::protocol::HELLO_TIMEOUT_SECS,
                ),
                ws_max_message_bytes: vars.positive("SCANLOGIN_WS_MAX_MESSAGE_BYTES", 1024),
                max_store_queue: vars.positive("SCANLOGIN_MAX_STORE_QUEUE", 64),
            },
            connections: ConnectionLimits {
                header_timeout: vars.seconds("SCANLOGIN_HEADER_TIMEOUT_SECS", 10),
                idle_timeout: vars.seconds("SCANLOGIN_IDLE_TIMEOUT_SECS", 60),
                body_timeout: vars.seconds("SCANLOGIN_BODY_TIMEOUT_SECS", 10),
                max_connections: vars
                    .get("SCANLOGIN_MAX_CONNECTIONS")
                    .map(|_| vars.positive("SCANLOGIN_MAX_CONNECTIONS", 1usize)),
                max_connections_per_peer: vars.positive("SCANLOGIN_MAX_CONNECTIONS_PER_PEER", 256),
                max_pending_sockets_per_client: vars
                    .positive("SCANLOGIN_MAX_PENDING_SOCKETS_PER_CLIENT", 16),
            },
        }
    }

    pub fn mode_name(&self) -> &'static str {
        match self.mode {
            Mode::Demo { forced: false } => "demo (nothing configured, loopback only)",
            Mode::Demo { forced: true } => "demo (SCANLOGIN_DEMO=1)",
            Mode::WeChat { .. } => "wechat",
        }
    }

    pub fn is_demo(&self) -> bool {
        matches!(self.mode, Mode::Demo { .. })
    }

    /// The database URL as it may be logged: without a password.
    pub fn database_for_logs(&self) -> String {
        without_password(self.database_url.expose_secret())
    }

    /// The Redis URL as it may be logged, or `none`.
    pub fn redis_for_logs(&self) -> String {
        self.redis.as_ref().map_or_else(
            || "none".into(),
            |redis| without_password(redis.url.expose_secret()),
        )
    }
}

fn without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// The OpenID provider, when `SCANLOGIN_OIDC_CLIENTS` names its clients' file: every
/// problem in the file is a start-up error of its own, and the issuer must be known.
fn read_oidc(vars: &Vars, public_origin: Option<&str>) -> Option<Arc<super::oidc::Provider>> {
    const CLIENTS: &str = "SCANLOGIN_OIDC_CLIENTS";
    let id_token_ttl = vars.seconds(
        "SCANLOGIN_OIDC_ID_TOKEN_TTL_SECS",
        super::oidc::DEFAULT_ID_TOKEN_TTL.as_secs(),
    );
    let code_ttl = vars.seconds("SCANLOGIN_OIDC_CODE_TTL_SECS", 60);
    let logout_retry = vars.seconds("SCANLOGIN_OIDC_LOGOUT_RETRY_SECS", 10);
    let refresh_default = super::oidc::grants::RefreshPolicy::default();
    let refresh = super::oidc::grants::RefreshPolicy {
        idle: vars.seconds(
            "SCANLOGIN_OIDC_REFRESH_IDLE_SECS",
            refresh_default.idle.as_secs(),
        ),
        max: vars.seconds(
            "SCANLOGIN_OIDC_REFRESH_MAX_SECS",
            refresh_default.max.as_secs(),
        ),
    };
    if refresh.idle > refresh.max {
        vars.invalid(
            "SCANLOGIN_OIDC_REFRESH_IDLE_SECS",
            refresh.idle.as_secs().to_string(),
            "longer than SCANLOGIN_OIDC_REFRESH_MAX_SECS, a refresh family's whole life",
        );
    }
    let path = vars.get(CLIENTS)?;
    let clients = super::oidc::Clients::load(&path).map_err(|problems| {
        for problem in problems {
            vars.invalid(CLIENTS, &path, problem);
        }
    });
    let Some(issuer) = public_origin else {
        vars.invalid(
            CLIENTS,
            &path,
            "an OpenID provider needs SCANLOGIN_PUBLIC_ORIGIN: it is the issuer",
        );
        return None;
    };
    Some(Arc::new(super::oidc::Provider {
        issuer: issuer.to_owned(),
        clients: clients.ok()?,
        id_token_ttl,
        code_ttl,
        refresh,
        logout_retry,
    }))
}

fn read_wechat(vars: &Vars) -> WeChatConfig {
    let token_api = match vars.get("SCANLOGIN_WECHAT_TOKEN_API").as_deref() {
        None | Some("stable_token") => TokenApi::Stable,
        Some("token") => TokenApi::Classic,
        Some(other) => {
            vars.invalid(
                "SCANLOGIN_WECHAT_TOKEN_API",
                other,
                "use stable_token or token",
            );
            TokenApi::Stable
        }
    };
    WeChatConfig {
        api_base: vars.api_base("SCANLOGIN_WECHAT_API_BASE", "https://api.weixin.qq.com"),
        token_api,
        timeout: Duration::from_millis(vars.positive("SCANLOGIN_WECHAT_TIMEOUT_MS", 5000)),
        mp_page: read_mp_page(vars),
        env_version: vars.parse("SCANLOGIN_MP_ENV_VERSION", EnvVersion::Release),
        code_width: vars.in_range("SCANLOGIN_MP_CODE_WIDTH", 280u32, 280..=1280),
        push_token: vars.get("SCANLOGIN_WECHAT_PUSH_TOKEN").and_then(|token| {
            if crate::server::wechat::push::is_push_token(&token) {
                return Some(SecretString::from(token));
            }
            // Not the value itself: it is a secret.
            let said = "(hidden)";
            vars.invalid(
                "SCANLOGIN_WECHAT_PUSH_TOKEN",
                said,
                "3 to 32 letters and digits",
            );
            None
        }),
        notice: read_notice(vars),
    }
}

/// `example.com` or `.example.com`: a domain the public origin's host is in (a browser
/// refuses a cookie for any other).
fn read_cookie_domain(vars: &Vars, public_origin: Option<&str>) -> Option<String> {
    const NAME: &str = "SCANLOGIN_COOKIE_DOMAIN";
    let written = vars.get(NAME)?;
    let domain = written.trim_start_matches('.').to_ascii_lowercase();
    let host = public_origin
        .and_then(|o| url::Url::parse(o).ok())
        .and_then(|u| u.host_str().map(str::to_owned));
    let Some(host) = host else {
        vars.invalid(
            NAME,
            &written,
            "needs SCANLOGIN_PUBLIC_ORIGIN, a host within it",
        );
        return None;
    };
    let within = host == domain || host.ends_with(&format!(".{domain}"));
    if domain.is_empty() || !domain.contains('.') && domain != "localhost" || !within {
        vars.invalid(
            NAME,
            &written,
            format!("a parent domain of the public origin's host {host}, such as example.com"),
        );
        return None;
    }
    Some(domain)
}

/// The rules file, read and checked now: every mistake at once.
fn read_forward_auth(vars: &Vars) -> Option<Rules> {
    const NAME: &str = "SCANLOGIN_FORWARD_AUTH_RULES";
    let path = vars.get(NAME)?;
    let text = std::fs::read_to_string(&path)
        .map_err(|e| vars.invalid(NAME, &path, format!("cannot read {path}: {e}")))
        .ok()?;
    Rules::parse(&text)
        .map_err(|problems| {
            for problem in problems {
                vars.invalid(NAME, &path, problem);
            }
        })
        .ok()
}

/// The geolocation databases, opened (and so checked) now, and their attribution: DB-IP's
/// unless said otherwise, `none` for none.
fn read_places(vars: &Vars) -> Places {
    const DB: &str = "SCANLOGIN_GEOIP_DB";
    const CREDIT: &str = "SCANLOGIN_GEOIP_CREDIT";
    let credit = match vars.get(CREDIT) {
        Some(words) if words == "none" => None,
        Some(words) => words
            .parse::<PlacesCredit>()
            .map_err(|reason| vars.invalid(CREDIT, &words, reason))
            .ok(),
        None => DBIP_CREDIT.parse().ok(),
    };
    let Some(paths) = vars.get(DB) else {
        return Places::default();
    };
    let paths: Vec<&str> = paths.split(',').map(str::trim).collect();
    if paths.iter().any(|p| p.is_empty()) {
        vars.invalid(DB, paths.join(","), "comma-separated paths of .mmdb files");
        return Places::default();
    }
    Places::open(&paths, credit)
        .map_err(|err| vars.invalid(DB, paths.join(","), err.to_string()))
        .unwrap_or_default()
}

fn read_notice(vars: &Vars) -> Option<NoticeTemplate> {
    let fields = vars.parse("SCANLOGIN_NOTIFY_FIELDS", NoticeFields::default());
    let id = vars.get("SCANLOGIN_NOTIFY_TEMPLATE_ID")?;
    match id.parse() {
        Ok(id) => Some(NoticeTemplate { id, fields }),
        Err(reason) => {
            vars.invalid("SCANLOGIN_NOTIFY_TEMPLATE_ID", id, reason);
            None
        }
    }
}

fn read_other_origins(vars: &Vars) -> Vec<String> {
    let Some(list) = vars.get("SCANLOGIN_ALLOWED_ORIGINS") else {
        return Vec::new();
    };
    list.split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .filter_map(|o| match parse_origin(o) {
            Ok(origin) => Some(origin),
            Err(reason) => {
                vars.invalid("SCANLOGIN_ALLOWED_ORIGINS", o, reason);
                None
            }
        })
        .collect()
}

fn read_database_url(vars: &Vars) -> SecretString {
    let url = vars
        .get("SCANLOGIN_DATABASE_URL")
        .unwrap_or_else(|| "sqlite://scanlogin.db".into());
    if super::store::Dialect::of(&url).is_none() {
        vars.invalid(
            "SCANLOGIN_DATABASE_URL",
            "<hidden>",
            "use sqlite://FILE, sqlite::memory: or postgres://USER:PASSWORD@HOST/DB",
        );
    }
    url.into()
}

fn read_redis(vars: &Vars) -> Option<RedisConfig> {
    let prefix = vars
        .get("SCANLOGIN_REDIS_PREFIX")
        .unwrap_or_else(|| "scanlogin:".into());
    let url = vars.get("SCANLOGIN_REDIS_URL")?;
    if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
        vars.invalid(
            "SCANLOGIN_REDIS_URL",
            "<hidden>",
            "use redis://[:PASSWORD@]HOST[:PORT][/DB]",
        );
    }
    Some(RedisConfig {
        url: url.into(),
        prefix,
    })
}

/// Half the cores, at least one: decoding a large image takes a core for a while, and
/// uploads must never take them all.
fn default_image_decodes() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vars::{APPID, DEMO, SECRET};

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
        Config::for_tests(vars.iter().copied())
    }

    #[test]
    fn the_wechat_api_base_must_be_an_http_url_with_a_host() {
        for bad in [
            "api.weixin.qq.com:443",
            "ftp://example.com",
            "https://x.test/?a=1",
        ] {
            let err = config(&[("SCANLOGIN_WECHAT_API_BASE", bad)])
                .unwrap_err()
                .to_string();
            assert!(err.contains("SCANLOGIN_WECHAT_API_BASE"), "{bad}: {err}");
        }
        let base = "http://127.0.0.1:3000/__wechat";
        let ok = config(&[("SCANLOGIN_WECHAT_API_BASE", base)]).unwrap();
        assert_eq!(ok.wechat.api_base, base);
    }

    #[test]
    fn an_openid_provider_needs_its_clients_file_and_the_public_origin() {
        let err = config(&[("SCANLOGIN_OIDC_CLIENTS", "/no/such/clients.toml")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot read /no/such/clients.toml"), "{err}");
        assert!(err.contains("needs SCANLOGIN_PUBLIC_ORIGIN"), "{err}");
    }

    #[test]
    fn a_places_database_that_cannot_be_opened_is_named_at_start_up() {
        let err = config(&[
            ("SCANLOGIN_GEOIP_DB", "/no/such/city.mmdb"),
            ("SCANLOGIN_GEOIP_CREDIT", "https://db-ip.com"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("SCANLOGIN_GEOIP_DB"), "{err}");
        assert!(
            err.contains("/no/such/city.mmdb: not a MaxMind-format database"),
            "{err}"
        );
        assert!(
            err.contains("SCANLOGIN_GEOIP_CREDIT"),
            "every error at once: {err}"
        );
        assert!(!config(&[]).unwrap().places.enabled());
    }

    fn on(addr: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
        let leptos = LeptosOptions::builder()
            .output_name("scanlogin")
            .site_addr(addr.parse::<SocketAddr>().unwrap())
            .build();
        Config::from_vars(
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
            leptos,
        )
    }

    fn errors(result: Result<Config, ConfigErrors>) -> String {
        result.expect_err("a configuration error").to_string()
    }

    #[test]
    fn nothing_configured_on_loopback_is_demo_mode_with_defaults() {
        let c = config(&[]).unwrap();
        assert!(matches!(c.mode, Mode::Demo { forced: false }));
        assert_eq!(c.wechat.mp_page, "pages/login/login");
        assert_eq!(c.wechat.env_version, EnvVersion::Release);
        assert_eq!(c.wechat.timeout, Duration::from_secs(5));
        assert_eq!(c.wechat.token_api, TokenApi::Stable);
        assert_eq!(c.simulator.token_ttl, Duration::from_secs(7200));
        assert_eq!(c.connections.header_timeout, Duration::from_secs(10));
        assert_eq!(c.connections.max_connections, None);
        assert!(on(
            "[::1]:3000",
            &[("SCANLOGIN_PUBLIC_ORIGIN", "http://localhost:3000")]
        )
        .is_ok());
    }

    #[test]
    fn demo_mode_is_never_chosen_for_a_reachable_server() {
        let e = errors(on("0.0.0.0:3000", &[]));
        assert!(
            e.contains("0.0.0.0:3000") && e.contains("SCANLOGIN_DEMO=1"),
            "{e}"
        );
        let e = errors(on(
            "127.0.0.1:3000",
            &[("SCANLOGIN_PUBLIC_ORIGIN", "https://login.example.com")],
        ));
        assert!(e.contains("https://login.example.com is public"), "{e}");
        let e = errors(on(
            "127.0.0.1:3000",
            &[("SCANLOGIN_TRUSTED_PROXIES", "127.0.0.1")],
        ));
        assert!(e.contains("behind a proxy"), "{e}");
        let e = errors(on("127.0.0.1:3000", &[("SCANLOGIN_DEMO", "0")]));
        assert!(e.contains("SCANLOGIN_DEMO=0"), "{e}");
        // On purpose, anywhere.
        let c = on("0.0.0.0:3000", &[("SCANLOGIN_DEMO", "1")]).unwrap();
        assert!(matches!(c.mode, Mode::Demo { forced: true }));
    }

    #[test]
    fn both_credentials_mean_wechat_mode() {
        let c = on("0.0.0.0:3000", &[(APPID, "wx123"), (SECRET, "s3cr3t")]).unwrap();
        assert_eq!(c.mode_name(), "wechat");
        let e = errors(config(&[(APPID, "wx123"), (SECRET, "s3cr3t"), (DEMO, "1")]));
        assert!(e.contains("choose one"), "{e}");
    }

    #[test]
    fn one_credential_alone_or_a_blank_one_is_named() {
        let e = errors(config(&[(APPID, "wx123")]));
        assert!(e.contains("SCANLOGIN_WECHAT_SECRET is not"), "{e}");
        let e = errors(config(&[(SECRET, "s3cr3t")]));
        assert!(e.contains("SCANLOGIN_WECHAT_APPID is not"), "{e}");
        let e = errors(config(&[(APPID, " "), (SECRET, "")]));
        assert!(e.contains("SCANLOGIN_WECHAT_APPID is set but empty"), "{e}");
        assert!(
            e.contains("SCANLOGIN_WECHAT_SECRET is set but empty"),
            "{e}"
        );
    }

    #[test]
    fn unknown_and_replaced_variables_are_errors() {
        let e = errors(config(&[("SCANLOGIN_WECHAT_APP_ID", "wx123")]));
        assert!(
            e.contains("SCANLOGIN_WECHAT_APP_ID is not a scanlogin setting"),
            "{e}"
        );
        let e = errors(config(&[("SCANLOGIN_TRUST_PROXY", "true")]));
        assert!(e.contains("use SCANLOGIN_TRUSTED_PROXIES"), "{e}");
        // Other programs' variables are none of our business.
        assert!(Config::for_tests([("PATH", "/bin"), ("LEPTOS_ENV", "PROD")]).is_ok());
    }

    #[test]
    fn every_problem_is_listed_at_once() {
        let e = errors(config(&[
            ("SCANLOGIN_WECHAT_TIMEOUT_MS", "soon"),
            ("SCANLOGIN_MP_ENV_VERSION", "beta"),
            ("SCANLOGIN_MP_CODE_WIDTH", "100"),
            ("SCANLOGIN_WECHAT_TOKEN_API", "x"),
            ("SCANLOGIN_MAX_SCENES_PER_IP", "0"),
            ("SCANLOGIN_IPV6_PREFIX", "129"),
            ("SCANLOGIN_TRUSTED_PROXIES", "10.0.0.0/33"),
            ("SCANLOGIN_PUBLIC_ORIGIN", "https://a.example/login"),
        ]));
        for name in [
            "SCANLOGIN_WECHAT_TIMEOUT_MS",
            "SCANLOGIN_MP_ENV_VERSION",
            "SCANLOGIN_MP_CODE_WIDTH",
            "SCANLOGIN_WECHAT_TOKEN_API",
            "SCANLOGIN_MAX_SCENES_PER_IP",
            "SCANLOGIN_IPV6_PREFIX",
            "SCANLOGIN_TRUSTED_PROXIES",
            "SCANLOGIN_PUBLIC_ORIGIN",
        ] {
            assert!(e.contains(name), "{name} missing from:\n{e}");
        }
        assert!(e.starts_with("8 configuration problem(s)"), "{e}");
    }

    #[test]
    fn origins_are_normalised() {
        let c = config(&[(
            "SCANLOGIN_ALLOWED_ORIGINS",
            "https://a.example/, https://B.example:8443",
        )])
        .unwrap();
        assert_eq!(
            c.other_origins,
            ["https://a.example", "https://b.example:8443"]
        );
    }

    #[test]
    fn debug_output_and_logs_hide_secrets() {
        let c = config(&[
            (APPID, "wx123"),
            (SECRET, "s3cr3t"),
            (
                "SCANLOGIN_DATABASE_URL",
                "postgres://app:hunter2@db/scanlogin",
            ),
        ])
        .unwrap();
        let shown = format!("{c:?}");
        assert!(shown.contains("wx123"));
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(c.database_for_logs(), "postgres://app:***@db/scanlogin");
    }

    #[test]
    fn the_configuration_reference_documents_every_variable() {
        let readme = include_str!("../../../docs/configuration.md");
        for name in VARIABLES {
            assert!(
                readme.contains(&format!("`{name}`")),
                "{name} is not in docs/configuration.md"
            );
        }
    }

    /// The names the code reads are the documented ones, and each is read: by the server
    /// (with an OpenID provider, so that its variables are read too) and by the
    /// standalone simulator.
    #[test]
    fn every_variable_read_is_documented_and_every_documented_one_is_read() {
        let vars = Vars::new([("SCANLOGIN_OIDC_CLIENTS".to_owned(), "/none".to_owned())]);
        let leptos = LeptosOptions::builder().output_name("scanlogin").build();
        Config::read(&vars, leptos);
        SimulatorSettings::read(&vars);
        let read: Vec<&str> = vars.asked().into_iter().collect();
        let mut documented = VARIABLES.to_vec();
        documented.sort_unstable();
        assert_eq!(read, documented);
    }
}
