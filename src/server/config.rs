//! Configuration from environment variables (`SCANLOGIN_*`, plus Leptos's own `LEPTOS_*`).
//!
//! Every variable, with its default, is listed in the README (a test checks that the two
//! agree). Reading collects every problem before it answers, so one start-up names them
//! all: a blank value, a value that does not parse, an unknown `SCANLOGIN_*` name (a typo
//! would otherwise silently keep a default), and a combination that would be unsafe.
//!
//! The mode is decided here, and never by accident: real WeChat when both credentials are
//! set; demo mode (the built-in simulator, in which anyone who can reach the server can log
//! in as anyone) only when `SCANLOGIN_DEMO=1`, or when nothing is configured and nobody but
//! this machine can reach the server.

use std::{
    collections::BTreeMap,
    fmt,
    net::{IpAddr, SocketAddr},
    str::FromStr,
    sync::Mutex,
    time::Duration,
};

use leptos::config::LeptosOptions;
use secrecy::{ExposeSecret, SecretString};

use super::{
    client::TrustedProxies,
    wechat::{simulator::CodeImageFormat, TokenApi},
};

/// How the server talks to WeChat.
#[derive(Clone)]
pub enum Mode {
    /// The built-in WeChat simulator answers instead of WeChat. `forced`: asked for with
    /// `SCANLOGIN_DEMO=1` (rather than chosen because nothing is configured on a loopback
    /// address), which also opens the simulator's control surface to other machines.
    Demo { forced: bool },
    /// Real credentials for WeChat's API.
    WeChat { appid: String, secret: SecretString },
}

impl fmt::Debug for Mode {
    // The app secret must never reach logs: `Debug` shows the appid only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mode::Demo { forced } => f.debug_struct("Demo").field("forced", forced).finish(),
            Mode::WeChat { appid, .. } => f
                .debug_struct("WeChat")
                .field("appid", appid)
                .field("secret", &"<redacted>")
                .finish(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Leptos's options: site root, output name, and the address to listen on.
    pub leptos: LeptosOptions,
    pub mode: Mode,
    /// The origin people's browsers use (`SCANLOGIN_PUBLIC_ORIGIN`); by default
    /// `http://` and the address the server listens on.
    pub public_origin: Option<String>,
    /// WeChat's API (`SCANLOGIN_WECHAT_API_BASE`); ignored in demo mode.
    pub wechat_api_base: String,
    pub wechat_token_api: TokenApi,
    pub wechat_timeout: Duration,
    /// The mini-program page a code opens (`SCANLOGIN_MP_PAGE`).
    pub mp_page: String,
    /// `release`, `trial` or `develop` (`SCANLOGIN_MP_ENV_VERSION`).
    pub mp_env_version: String,
    /// Width of the code image in pixels, 280 to 1280 (`SCANLOGIN_MP_CODE_WIDTH`).
    pub mp_code_width: u32,
    /// Demo mode's simulator: token lifetime and codes allowed per minute.
    pub sim_token_ttl: Duration,
    pub sim_codes_per_minute: u32,
    pub sim_image: CodeImageFormat,
    /// How long a code (scene) stays valid (`SCANLOGIN_SCENE_TTL_SECS`).
    pub scene_ttl: Duration,
    /// Codes the page gets by itself in a row, without the person doing anything
    /// (`SCANLOGIN_AUTO_REFRESHES`).
    pub auto_refreshes: u32,
    /// How long `POST /api/scene/status` holds a long poll (`SCANLOGIN_POLL_WAIT_SECS`).
    pub poll_wait: Duration,
    /// The OpenID provider (`SCANLOGIN_OIDC_CLIENTS`); unset: none.
    pub oidc: Option<super::oidc::Provider>,
    /// Users and sessions (`SCANLOGIN_DATABASE_URL`); secret, since it may hold a
    /// password (see [`Config::database_for_logs`]).
    pub database_url: SecretString,
    /// Scenes, events, limits and the WeChat token shared by every instance
    /// (`SCANLOGIN_REDIS_URL`); unset: all in this process. Secret: it may hold a password.
    pub redis_url: Option<SecretString>,
    /// Prefix of every Redis key and channel (`SCANLOGIN_REDIS_PREFIX`).
    pub redis_prefix: String,
    /// Bytes of code images kept (`SCANLOGIN_CODE_CACHE_BYTES`).
    pub code_cache_bytes: u64,
    /// Where `GET /metrics` is served (`SCANLOGIN_METRICS_ADDR`); unset: no metrics.
    pub metrics_addr: Option<SocketAddr>,
    /// A session's lifetime from login, and how long it survives unused.
    pub session_ttl: Duration,
    pub session_idle: Duration,
    /// Origins, besides the public one, allowed to open sockets and post
    /// (`SCANLOGIN_ALLOWED_ORIGINS`, comma-separated).
    pub allowed_origins: Vec<String>,
    /// Proxies whose `X-Forwarded-For` is believed (`SCANLOGIN_TRUSTED_PROXIES`).
    pub trusted_proxies: TrustedProxies,
    /// IPv6 clients are grouped by this prefix for every limit (`SCANLOGIN_IPV6_PREFIX`).
    pub ipv6_prefix: u8,
    pub limits: LimitsConfig,
    pub connections: ConnectionLimits,
}

/// Every limit on the login flow, per client unless said otherwise (see SECURITY.md).
#[derive(Debug, Clone)]
pub struct LimitsConfig {
    /// Codes a client may ask for per minute (`SCANLOGIN_RATE_CODES_PER_MIN`).
    pub codes_per_min: u32,
    /// Scans per minute (`SCANLOGIN_RATE_SCANS_PER_MIN`).
    pub scans_per_min: u32,
    /// Ticket exchanges per minute (`SCANLOGIN_RATE_SESSIONS_PER_MIN`).
    pub sessions_per_min: u32,
    /// New codes per minute for the whole app (`SCANLOGIN_CODE_BUDGET_PER_MIN`), below
    /// WeChat's quota of 5,000.
    pub code_budget_per_min: u32,
    /// Scenes alive at once, in all (`SCANLOGIN_MAX_SCENES`) and per client
    /// (`SCANLOGIN_MAX_SCENES_PER_IP`).
    pub max_scenes: usize,
    pub max_scenes_per_ip: usize,
    /// A scene without an authenticated socket this long after its code is dropped
    /// (`SCANLOGIN_SOCKET_GRACE_SECS`).
    pub socket_grace: Duration,
    /// Sockets on one scene (`SCANLOGIN_MAX_SOCKETS_PER_SCENE`).
    pub max_sockets_per_scene: usize,
    /// Request bodies (`SCANLOGIN_MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// Time a socket has to prove its key (`SCANLOGIN_WS_HELLO_TIMEOUT_SECS`).
    pub ws_hello_timeout: Duration,
    /// Largest WebSocket message or frame (`SCANLOGIN_WS_MAX_MESSAGE_BYTES`).
    pub ws_max_message_bytes: usize,
    /// Database operations of logins under way above which new codes are refused, in all
    /// (`SCANLOGIN_MAX_STORE_QUEUE`).
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

/// The standalone simulator's settings (`scanlogin simulator`).
#[derive(Debug, Clone)]
pub struct SimulatorSettings {
    /// Where it listens (`SCANLOGIN_SIM_LISTEN`).
    pub listen: SocketAddr,
    /// What its codes encode: `{origin}/phone?scene=…` (`SCANLOGIN_PUBLIC_ORIGIN`).
    pub public_origin: String,
    pub mp_page: String,
    pub token_ttl: Duration,
    pub codes_per_minute: u32,
    pub image: CodeImageFormat,
}

impl SimulatorSettings {
    pub fn from_env() -> Result<Self, ConfigErrors> {
        Self::from_vars(std::env::vars())
    }

    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigErrors> {
        let vars = Vars::new(vars);
        let settings = Self {
            listen: vars.parse(
                "SCANLOGIN_SIM_LISTEN",
                SocketAddr::from(([127, 0, 0, 1], 3100)),
            ),
            public_origin: vars
                .get(PUBLIC_ORIGIN)
                .map(|o| {
                    parse_origin(&o).unwrap_or_else(|reason| {
                        vars.invalid(PUBLIC_ORIGIN, &o, reason);
                        o
                    })
                })
                .unwrap_or_else(|| "http://127.0.0.1:3000".into()),
            mp_page: vars
                .get("SCANLOGIN_MP_PAGE")
                .unwrap_or_else(|| "pages/login/login".into()),
            token_ttl: vars.seconds("SCANLOGIN_SIM_TOKEN_TTL_SECS", 7200),
            codes_per_minute: vars.positive("SCANLOGIN_SIM_CODES_PER_MINUTE", 5000),
            image: vars.parse("SCANLOGIN_SIM_IMAGE", CodeImageFormat::Png),
        };
        let errors = vars.errors.into_inner().unwrap_or_else(|e| e.into_inner());
        if errors.is_empty() {
            Ok(settings)
        } else {
            Err(ConfigErrors(errors))
        }
    }
}

/// Every variable the server reads. Anything else named `SCANLOGIN_*` is a mistake.
pub const VARIABLES: &[&str] = &[
    DEMO,
    APPID,
    SECRET,
    "SCANLOGIN_WECHAT_API_BASE",
    "SCANLOGIN_WECHAT_TOKEN_API",
    "SCANLOGIN_WECHAT_TIMEOUT_MS",
    "SCANLOGIN_MP_PAGE",
    "SCANLOGIN_MP_ENV_VERSION",
    "SCANLOGIN_MP_CODE_WIDTH",
    PUBLIC_ORIGIN,
    "SCANLOGIN_SIM_TOKEN_TTL_SECS",
    "SCANLOGIN_SIM_CODES_PER_MINUTE",
    "SCANLOGIN_SIM_IMAGE",
    "SCANLOGIN_SIM_LISTEN",
    "SCANLOGIN_SCENE_TTL_SECS",
    "SCANLOGIN_AUTO_REFRESHES",
    "SCANLOGIN_POLL_WAIT_SECS",
    "SCANLOGIN_OIDC_CLIENTS",
    "SCANLOGIN_OIDC_ID_TOKEN_TTL_SECS",
    "SCANLOGIN_OIDC_CODE_TTL_SECS",
    "SCANLOGIN_DATABASE_URL",
    "SCANLOGIN_REDIS_URL",
    "SCANLOGIN_REDIS_PREFIX",
    "SCANLOGIN_CODE_CACHE_BYTES",
    "SCANLOGIN_SESSION_TTL_SECS",
    "SCANLOGIN_SESSION_IDLE_SECS",
    "SCANLOGIN_ALLOWED_ORIGINS",
    TRUSTED_PROXIES,
    "SCANLOGIN_IPV6_PREFIX",
    "SCANLOGIN_RATE_CODES_PER_MIN",
    "SCANLOGIN_RATE_SCANS_PER_MIN",
    "SCANLOGIN_RATE_SESSIONS_PER_MIN",
    "SCANLOGIN_CODE_BUDGET_PER_MIN",
    "SCANLOGIN_MAX_SCENES",
    "SCANLOGIN_MAX_SCENES_PER_IP",
    "SCANLOGIN_SOCKET_GRACE_SECS",
    "SCANLOGIN_MAX_SOCKETS_PER_SCENE",
    "SCANLOGIN_MAX_BODY_BYTES",
    "SCANLOGIN_WS_HELLO_TIMEOUT_SECS",
    "SCANLOGIN_WS_MAX_MESSAGE_BYTES",
    "SCANLOGIN_MAX_STORE_QUEUE",
    "SCANLOGIN_HEADER_TIMEOUT_SECS",
    "SCANLOGIN_IDLE_TIMEOUT_SECS",
    "SCANLOGIN_MAX_CONNECTIONS",
    "SCANLOGIN_MAX_CONNECTIONS_PER_PEER",
    "SCANLOGIN_MAX_PENDING_SOCKETS_PER_CLIENT",
    "SCANLOGIN_LOG_FORMAT",
    "SCANLOGIN_METRICS_ADDR",
];

/// Variables that once existed, and what replaced them.
const REPLACED: &[(&str, &str)] = &[(
    "SCANLOGIN_TRUST_PROXY",
    "SCANLOGIN_TRUSTED_PROXIES (the proxies' networks, e.g. 127.0.0.1/32 or 10.0.0.0/8)",
)];

const DEMO: &str = "SCANLOGIN_DEMO";
const APPID: &str = "SCANLOGIN_WECHAT_APPID";
const SECRET: &str = "SCANLOGIN_WECHAT_SECRET";
const PUBLIC_ORIGIN: &str = "SCANLOGIN_PUBLIC_ORIGIN";
const TRUSTED_PROXIES: &str = "SCANLOGIN_TRUSTED_PROXIES";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is set but empty: give it a value, or unset it")]
    Blank { name: String },
    #[error("{name} is not a scanlogin setting (a typo?); the README lists them all")]
    Unknown { name: String },
    #[error("{old} is no longer read: use {new}")]
    Replaced { old: String, new: &'static str },
    #[error(
        "{present} is set but {missing} is not: set both for WeChat, or neither for demo mode"
    )]
    HalfCredentials {
        present: &'static str,
        missing: &'static str,
    },
    #[error("SCANLOGIN_DEMO=1 and WeChat credentials are both set: choose one")]
    DemoWithCredentials,
    #[error(
        "no WeChat credentials ({APPID}, {SECRET}) and {why}; demo mode would let anyone who \
         can reach the server log in as any user. Set the credentials, or {DEMO}=1 to run \
         the demo on purpose"
    )]
    NoCredentials { why: String },
    #[error("{name}={value:?} is not valid: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
    #[error("Leptos configuration: {0}")]
    Leptos(String),
}

/// Every problem found in one reading of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(|e| format!("  - {e}")).collect();
        write!(
            f,
            "{} configuration problem(s):\n{}",
            self.0.len(),
            lines.join("\n")
        )
    }
}

impl std::error::Error for ConfigErrors {}

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
        let mut vars: BTreeMap<String, String> = vars
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
        let errors = vars.errors.into_inner().unwrap_or_else(|e| e.into_inner());
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigErrors(errors))
        }
    }

    fn read(vars: &Vars, leptos: LeptosOptions) -> Self {
        let public_origin =
            vars.get(PUBLIC_ORIGIN)
                .and_then(|origin| match parse_origin(&origin) {
                    Ok(origin) => Some(origin),
                    Err(reason) => {
                        vars.invalid(PUBLIC_ORIGIN, origin, reason);
                        None
                    }
                });
        let trusted_proxies: TrustedProxies =
            vars.parse(TRUSTED_PROXIES, TrustedProxies::default());
        let oidc = read_oidc(vars, public_origin.as_deref());
        let mode = decide_mode(vars, &leptos, public_origin.as_deref(), &trusted_proxies);

        let wechat_token_api = match vars.get("SCANLOGIN_WECHAT_TOKEN_API").as_deref() {
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
        let mp_env_version = vars
            .get("SCANLOGIN_MP_ENV_VERSION")
            .unwrap_or_else(|| "release".into());
        if !matches!(mp_env_version.as_str(), "release" | "trial" | "develop") {
            vars.invalid(
                "SCANLOGIN_MP_ENV_VERSION",
                &mp_env_version,
                "use release, trial or develop",
            );
        }
        let mp_code_width = vars.in_range("SCANLOGIN_MP_CODE_WIDTH", 280u32, 280..=1280);
        // Read by telemetry before the configuration; checked here with the rest.
        if let Some(format) = vars.get("SCANLOGIN_LOG_FORMAT") {
            if !matches!(format.as_str(), "text" | "json") {
                vars.invalid("SCANLOGIN_LOG_FORMAT", format, "use text or json");
            }
        }
        let ipv6_prefix = vars.in_range("SCANLOGIN_IPV6_PREFIX", 64u8, 0..=128);
        let code_budget_per_min = vars.positive("SCANLOGIN_CODE_BUDGET_PER_MIN", 4000u32);
        let max_connections = vars
            .get("SCANLOGIN_MAX_CONNECTIONS")
            .map(|_| vars.positive("SCANLOGIN_MAX_CONNECTIONS", 1usize));

        Self {
            leptos,
            mode,
            public_origin,
            wechat_api_base: vars
                .api_base("SCANLOGIN_WECHAT_API_BASE", "https://api.weixin.qq.com"),
            wechat_token_api,
            wechat_timeout: Duration::from_millis(
                vars.positive("SCANLOGIN_WECHAT_TIMEOUT_MS", 5000),
            ),
            mp_page: vars
                .get("SCANLOGIN_MP_PAGE")
                .unwrap_or_else(|| "pages/login/login".into()),
            mp_env_version,
            mp_code_width,
            sim_token_ttl: vars.seconds("SCANLOGIN_SIM_TOKEN_TTL_SECS", 7200),
            sim_codes_per_minute: vars.positive("SCANLOGIN_SIM_CODES_PER_MINUTE", 5000),
            sim_image: vars.parse("SCANLOGIN_SIM_IMAGE", CodeImageFormat::Png),
            scene_ttl: vars.seconds("SCANLOGIN_SCENE_TTL_SECS", 120),
            auto_refreshes: vars.parse(
                "SCANLOGIN_AUTO_REFRESHES",
                crate::protocol::DEFAULT_AUTO_REFRESHES,
            ),
            poll_wait: vars.seconds("SCANLOGIN_POLL_WAIT_SECS", 25),
            oidc,
            database_url: {
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
            },
            redis_url: vars.get("SCANLOGIN_REDIS_URL").map(|url| {
                if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                    vars.invalid(
                        "SCANLOGIN_REDIS_URL",
                        "<hidden>",
                        "use redis://[:PASSWORD@]HOST[:PORT][/DB]",
                    );
                }
                url.into()
            }),
            redis_prefix: vars
                .get("SCANLOGIN_REDIS_PREFIX")
                .unwrap_or_else(|| "scanlogin:".into()),
            code_cache_bytes: vars.positive("SCANLOGIN_CODE_CACHE_BYTES", 64 * 1024 * 1024),
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
            session_ttl: vars.seconds("SCANLOGIN_SESSION_TTL_SECS", 7 * 86_400),
            session_idle: vars.seconds("SCANLOGIN_SESSION_IDLE_SECS", 86_400),
            allowed_origins: vars
                .get("SCANLOGIN_ALLOWED_ORIGINS")
                .map(|list| {
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
                })
                .unwrap_or_default(),
            trusted_proxies,
            ipv6_prefix,
            limits: LimitsConfig {
                codes_per_min: vars.positive("SCANLOGIN_RATE_CODES_PER_MIN", 30),
                scans_per_min: vars.positive("SCANLOGIN_RATE_SCANS_PER_MIN", 30),
                sessions_per_min: vars.positive("SCANLOGIN_RATE_SESSIONS_PER_MIN", 30),
                code_budget_per_min,
                max_scenes: vars.positive("SCANLOGIN_MAX_SCENES", 100_000),
                max_scenes_per_ip: vars.positive("SCANLOGIN_MAX_SCENES_PER_IP", 20),
                socket_grace: vars.seconds("SCANLOGIN_SOCKET_GRACE_SECS", 30),
                max_sockets_per_scene: vars.positive("SCANLOGIN_MAX_SOCKETS_PER_SCENE", 3),
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
                max_connections,
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
        self.redis_url.as_ref().map_or_else(
            || "none".into(),
            |url| without_password(url.expose_secret()),
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
fn read_oidc(vars: &Vars, public_origin: Option<&str>) -> Option<super::oidc::Provider> {
    const CLIENTS: &str = "SCANLOGIN_OIDC_CLIENTS";
    let path = vars.get(CLIENTS)?;
    let id_token_ttl = vars.seconds("SCANLOGIN_OIDC_ID_TOKEN_TTL_SECS", 600);
    let code_ttl = vars.seconds("SCANLOGIN_OIDC_CODE_TTL_SECS", 60);
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
    Some(super::oidc::Provider {
        issuer: issuer.to_owned(),
        clients: clients.ok()?,
        id_token_ttl,
        code_ttl,
    })
}

/// The mode, from the credentials, `SCANLOGIN_DEMO`, and who can reach the server.
fn decide_mode(
    vars: &Vars,
    leptos: &LeptosOptions,
    public_origin: Option<&str>,
    trusted_proxies: &TrustedProxies,
) -> Mode {
    let demo = vars.get(DEMO).and_then(|v| match v.as_str() {
        "1" | "true" => Some(true),
        "0" | "false" => Some(false),
        _ => {
            vars.invalid(DEMO, &v, "use 1 (demo mode on purpose) or 0");
            None
        }
    });
    let fallback = Mode::Demo { forced: false };
    match (vars.get(APPID), vars.get(SECRET)) {
        (Some(appid), Some(secret)) => {
            if demo == Some(true) {
                vars.error(ConfigError::DemoWithCredentials);
            }
            Mode::WeChat {
                appid,
                secret: SecretString::from(secret),
            }
        }
        (Some(_), None) => {
            vars.error(ConfigError::HalfCredentials {
                present: APPID,
                missing: SECRET,
            });
            fallback
        }
        (None, Some(_)) => {
            vars.error(ConfigError::HalfCredentials {
                present: SECRET,
                missing: APPID,
            });
            fallback
        }
        (None, None) => {
            if demo == Some(true) {
                return Mode::Demo { forced: true };
            }
            let why = if demo == Some(false) {
                Some(format!("{DEMO}=0"))
            } else if !leptos.site_addr.ip().is_loopback() {
                Some(format!(
                    "the server listens on {}, which other machines can reach (LEPTOS_SITE_ADDR)",
                    leptos.site_addr
                ))
            } else if let Some(origin) = public_origin.filter(|o| !origin_is_loopback(o)) {
                Some(format!("{PUBLIC_ORIGIN}={origin} is public"))
            } else if !trusted_proxies.is_empty() {
                Some(format!(
                    "{TRUSTED_PROXIES} is set: a loopback server behind a proxy is public"
                ))
            } else {
                None
            };
            match why {
                Some(why) => {
                    vars.error(ConfigError::NoCredentials { why });
                    fallback
                }
                None => fallback,
            }
        }
    }
}

/// `scheme://host[:port]`, http or https, nothing after: as browsers send `Origin`.
fn parse_origin(value: &str) -> Result<String, String> {
    let url = url::Url::parse(value.trim()).map_err(|e| e.to_string())?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("an http(s) origin such as https://login.example.com".into());
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err("an origin has no path, query or fragment".into());
    }
    Ok(url.origin().ascii_serialization())
}

fn origin_is_loopback(origin: &str) -> bool {
    match url::Url::parse(origin)
        .ok()
        .and_then(|u| u.host().map(|h| h.to_owned()))
    {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).to_canonical().is_loopback(),
        None => false,
    }
}

/// The `SCANLOGIN_*` variables, and every problem found while reading them.
struct Vars {
    values: BTreeMap<String, String>,
    errors: Mutex<Vec<ConfigError>>,
}

impl Vars {
    fn new(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let values: BTreeMap<String, String> = vars
            .into_iter()
            .filter(|(name, _)| name.starts_with("SCANLOGIN_"))
            .collect();
        let this = Self {
            values,
            errors: Mutex::new(Vec::new()),
        };
        for name in this.values.keys() {
            if let Some((old, new)) = REPLACED.iter().find(|(old, _)| old == name) {
                this.error(ConfigError::Replaced {
                    old: (*old).to_owned(),
                    new,
                });
            } else if !VARIABLES.contains(&name.as_str()) {
                this.error(ConfigError::Unknown { name: name.clone() });
            }
        }
        this
    }

    fn error(&self, error: ConfigError) {
        self.errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(error);
    }

    fn invalid(&self, name: &'static str, value: impl Into<String>, reason: impl Into<String>) {
        self.error(ConfigError::Invalid {
            name,
            value: value.into(),
            reason: reason.into(),
        });
    }

    /// A variable's value; a blank one is an error (and counts as unset).
    fn get(&self, name: &str) -> Option<String> {
        let value = self.values.get(name)?;
        if value.trim().is_empty() {
            self.error(ConfigError::Blank { name: name.into() });
            return None;
        }
        Some(value.trim().to_owned())
    }

    fn parse<T>(&self, name: &'static str, default: T) -> T
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.get(name) {
            None => default,
            Some(value) => value.parse().unwrap_or_else(|e: T::Err| {
                self.invalid(name, value, e.to_string());
                default
            }),
        }
    }

    /// A number that must not be 0.
    fn positive<T>(&self, name: &'static str, default: T) -> T
    where
        T: FromStr + PartialEq + Default + fmt::Display + Copy,
        T::Err: fmt::Display,
    {
        let value = self.parse(name, default);
        if value == T::default() {
            self.invalid(name, value.to_string(), "must be at least 1");
            return default;
        }
        value
    }

    fn in_range<T>(&self, name: &'static str, default: T, range: std::ops::RangeInclusive<T>) -> T
    where
        T: FromStr + PartialOrd + fmt::Display + Copy,
        T::Err: fmt::Display,
    {
        let value = self.parse(name, default);
        if !range.contains(&value) {
            self.invalid(
                name,
                value.to_string(),
                format!("must be {} to {}", range.start(), range.end()),
            );
            return default;
        }
        value
    }

    /// A base URL that calls' paths go after: http or https, a host, no query or fragment.
    fn api_base(&self, name: &'static str, default: &str) -> String {
        let Some(value) = self.get(name) else {
            return default.to_owned();
        };
        match url::Url::parse(&value) {
            Ok(url)
                if matches!(url.scheme(), "http" | "https")
                    && url.host().is_some()
                    && url.query().is_none()
                    && url.fragment().is_none() =>
            {
                value
            }
            Ok(_) => {
                self.invalid(
                    name,
                    value,
                    "must be an http(s) URL with a host and no query",
                );
                default.to_owned()
            }
            Err(err) => {
                self.invalid(name, value, err.to_string());
                default.to_owned()
            }
        }
    }

    fn seconds(&self, name: &'static str, default: u64) -> Duration {
        Duration::from_secs(self.positive(name, default))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(ok.wechat_api_base, base);
    }

    #[test]
    fn an_openid_provider_needs_its_clients_file_and_the_public_origin() {
        let err = config(&[("SCANLOGIN_OIDC_CLIENTS", "/no/such/clients.toml")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot read /no/such/clients.toml"), "{err}");
        assert!(err.contains("needs SCANLOGIN_PUBLIC_ORIGIN"), "{err}");
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
        assert_eq!(c.mp_page, "pages/login/login");
        assert_eq!(c.mp_env_version, "release");
        assert_eq!(c.wechat_timeout, Duration::from_secs(5));
        assert_eq!(c.wechat_token_api, TokenApi::Stable);
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
            c.allowed_origins,
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
    fn the_readme_documents_every_variable() {
        let readme = include_str!("../../README.md");
        for name in VARIABLES {
            assert!(
                readme.contains(&format!("`{name}`")),
                "{name} is not in the README"
            );
        }
    }
}
