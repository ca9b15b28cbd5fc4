//! Configuration from environment variables (`SCANLOGIN_*`, plus Leptos's own `LEPTOS_*`).
//!
//! Every variable, with its default, is listed in the README. Reading goes through a
//! lookup function so tests can build a configuration without touching the process
//! environment.

use std::{net::SocketAddr, str::FromStr, time::Duration};

use leptos::config::LeptosOptions;
use secrecy::SecretString;

use super::wechat::TokenApi;

/// How the server talks to WeChat.
#[derive(Clone)]
pub enum Mode {
    /// No credentials: the built-in WeChat simulator answers instead of WeChat.
    Demo,
    /// Real credentials for WeChat's API.
    WeChat { appid: String, secret: SecretString },
}

impl std::fmt::Debug for Mode {
    // The app secret must never reach logs: `Debug` shows the appid only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mode::Demo => f.write_str("Demo"),
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
    /// How long a code (scene) stays valid (`SCANLOGIN_SCENE_TTL_SECS`).
    pub scene_ttl: Duration,
    /// Users and sessions (`SCANLOGIN_DATABASE_URL`).
    pub database_url: String,
    /// A session's lifetime from login, and how long it survives unused.
    pub session_ttl: Duration,
    pub session_idle: Duration,
    /// Origins, besides the public one, allowed to open sockets and post
    /// (`SCANLOGIN_ALLOWED_ORIGINS`, comma-separated).
    pub allowed_origins: Vec<String>,
    /// Take the client's IP from `X-Forwarded-For` (`SCANLOGIN_TRUST_PROXY`).
    pub trust_proxy: bool,
    pub limits: LimitsConfig,
}

/// Every limit, per client IP unless said otherwise (see SECURITY.md).
#[derive(Debug, Clone)]
pub struct LimitsConfig {
    /// Codes a client may ask for per minute (`SCANLOGIN_RATE_CODES_PER_MIN`).
    pub codes_per_min: u32,
    /// Scans per minute (`SCANLOGIN_RATE_SCANS_PER_MIN`).
    pub scans_per_min: u32,
    /// Ticket exchanges per minute (`SCANLOGIN_RATE_SESSIONS_PER_MIN`).
    pub sessions_per_min: u32,
    /// Scenes alive at once, in all (`SCANLOGIN_MAX_SCENES`) and per IP
    /// (`SCANLOGIN_MAX_SCENES_PER_IP`).
    pub max_scenes: usize,
    pub max_scenes_per_ip: usize,
    /// Sockets on one scene (`SCANLOGIN_MAX_SOCKETS_PER_SCENE`).
    pub max_sockets_per_scene: usize,
    /// Request bodies (`SCANLOGIN_MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// Time a socket has to prove its key (`SCANLOGIN_WS_HELLO_TIMEOUT_SECS`).
    pub ws_hello_timeout: Duration,
    /// Largest WebSocket message or frame (`SCANLOGIN_WS_MAX_MESSAGE_BYTES`).
    pub ws_max_message_bytes: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "{present} is set but {missing} is not: set both for WeChat, or neither for demo mode"
    )]
    HalfCredentials {
        present: &'static str,
        missing: &'static str,
    },
    #[error("{name}={value:?} is not valid: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
    #[error("Leptos configuration: {0}")]
    Leptos(String),
}

const APPID: &str = "SCANLOGIN_WECHAT_APPID";
const SECRET: &str = "SCANLOGIN_WECHAT_SECRET";

impl Config {
    /// Reads the process environment. Leptos's options come from `LEPTOS_*` variables,
    /// with the values cargo-leptos compiled in as defaults.
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut leptos = leptos::config::get_configuration(None)
            .map_err(|e| ConfigError::Leptos(e.to_string()))?
            .leptos_options;
        if leptos.output_name.is_empty() {
            // Built by plain cargo rather than cargo-leptos: use the crate's name.
            leptos.output_name = env!("CARGO_PKG_NAME").into();
        }
        Self::from_lookup(|name| std::env::var(name).ok(), leptos)
    }

    /// A configuration for tests: listening on a free loopback port, an in-memory
    /// database unless `lookup` names one, `lookup` for the `SCANLOGIN_*` variables.
    pub fn for_tests(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let leptos = LeptosOptions::builder()
            .output_name(env!("CARGO_PKG_NAME"))
            .site_root("target/site")
            .site_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
            .build();
        Self::from_lookup(
            |name| {
                lookup(name).or_else(|| {
                    (name == "SCANLOGIN_DATABASE_URL").then(|| "sqlite::memory:".to_owned())
                })
            },
            leptos,
        )
    }

    /// Builds a configuration from `lookup` (a variable's value, if set).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        leptos: LeptosOptions,
    ) -> Result<Self, ConfigError> {
        let vars = Vars(&|name| lookup(name).filter(|v| !v.trim().is_empty()));
        let mode = match (vars.get(APPID), vars.get(SECRET)) {
            (None, None) => Mode::Demo,
            (Some(appid), Some(secret)) => Mode::WeChat {
                appid,
                secret: SecretString::from(secret),
            },
            (Some(_), None) => {
                return Err(ConfigError::HalfCredentials {
                    present: APPID,
                    missing: SECRET,
                })
            }
            (None, Some(_)) => {
                return Err(ConfigError::HalfCredentials {
                    present: SECRET,
                    missing: APPID,
                })
            }
        };
        let wechat_token_api = match vars.get("SCANLOGIN_WECHAT_TOKEN_API").as_deref() {
            None | Some("stable_token") => TokenApi::Stable,
            Some("token") => TokenApi::Classic,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "SCANLOGIN_WECHAT_TOKEN_API",
                    value: other.to_owned(),
                    reason: "use stable_token or token".into(),
                })
            }
        };
        let mp_env_version = vars
            .get("SCANLOGIN_MP_ENV_VERSION")
            .unwrap_or_else(|| "release".into());
        if !matches!(mp_env_version.as_str(), "release" | "trial" | "develop") {
            return Err(ConfigError::Invalid {
                name: "SCANLOGIN_MP_ENV_VERSION",
                value: mp_env_version,
                reason: "use release, trial or develop".into(),
            });
        }
        let mp_code_width = vars.parse("SCANLOGIN_MP_CODE_WIDTH", 280u32)?;
        if !(280..=1280).contains(&mp_code_width) {
            return Err(ConfigError::Invalid {
                name: "SCANLOGIN_MP_CODE_WIDTH",
                value: mp_code_width.to_string(),
                reason: "WeChat draws codes 280 to 1280 pixels wide".into(),
            });
        }
        Ok(Self {
            leptos,
            mode,
            public_origin: vars
                .get("SCANLOGIN_PUBLIC_ORIGIN")
                .map(|o| o.trim_end_matches('/').to_owned()),
            wechat_api_base: vars
                .get("SCANLOGIN_WECHAT_API_BASE")
                .unwrap_or_else(|| "https://api.weixin.qq.com".into()),
            wechat_token_api,
            wechat_timeout: Duration::from_millis(vars.parse("SCANLOGIN_WECHAT_TIMEOUT_MS", 5000)?),
            mp_page: vars
                .get("SCANLOGIN_MP_PAGE")
                .unwrap_or_else(|| "pages/login/login".into()),
            mp_env_version,
            mp_code_width,
            sim_token_ttl: Duration::from_secs(vars.parse("SCANLOGIN_SIM_TOKEN_TTL_SECS", 7200)?),
            sim_codes_per_minute: vars.parse("SCANLOGIN_SIM_CODES_PER_MINUTE", 5000)?,
            scene_ttl: Duration::from_secs(positive(
                vars.parse("SCANLOGIN_SCENE_TTL_SECS", 120)?,
                "SCANLOGIN_SCENE_TTL_SECS",
            )?),
            database_url: vars
                .get("SCANLOGIN_DATABASE_URL")
                .unwrap_or_else(|| "sqlite://scanlogin.db".into()),
            session_ttl: Duration::from_secs(positive(
                vars.parse("SCANLOGIN_SESSION_TTL_SECS", 7 * 86_400)?,
                "SCANLOGIN_SESSION_TTL_SECS",
            )?),
            session_idle: Duration::from_secs(positive(
                vars.parse("SCANLOGIN_SESSION_IDLE_SECS", 86_400)?,
                "SCANLOGIN_SESSION_IDLE_SECS",
            )?),
            allowed_origins: vars
                .get("SCANLOGIN_ALLOWED_ORIGINS")
                .map(|list| {
                    list.split(',')
                        .map(|o| o.trim().trim_end_matches('/').to_owned())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            trust_proxy: vars.parse("SCANLOGIN_TRUST_PROXY", false)?,
            limits: LimitsConfig {
                codes_per_min: vars.positive("SCANLOGIN_RATE_CODES_PER_MIN", 30)?,
                scans_per_min: vars.positive("SCANLOGIN_RATE_SCANS_PER_MIN", 30)?,
                sessions_per_min: vars.positive("SCANLOGIN_RATE_SESSIONS_PER_MIN", 30)?,
                max_scenes: vars.positive("SCANLOGIN_MAX_SCENES", 100_000)?,
                max_scenes_per_ip: vars.positive("SCANLOGIN_MAX_SCENES_PER_IP", 20)?,
                max_sockets_per_scene: vars.positive("SCANLOGIN_MAX_SOCKETS_PER_SCENE", 3)?,
                max_body_bytes: vars.positive("SCANLOGIN_MAX_BODY_BYTES", 16 * 1024)?,
                ws_hello_timeout: Duration::from_secs(vars.positive(
                    "SCANLOGIN_WS_HELLO_TIMEOUT_SECS",
                    crate::protocol::HELLO_TIMEOUT_SECS,
                )?),
                ws_max_message_bytes: vars.positive("SCANLOGIN_WS_MAX_MESSAGE_BYTES", 1024)?,
            },
        })
    }

    pub fn mode_name(&self) -> &'static str {
        match self.mode {
            Mode::Demo => "demo",
            Mode::WeChat { .. } => "wechat",
        }
    }
}

fn positive<T: PartialEq + Default + std::fmt::Display>(
    value: T,
    name: &'static str,
) -> Result<T, ConfigError> {
    if value == T::default() {
        return Err(ConfigError::Invalid {
            name,
            value: value.to_string(),
            reason: "must be at least 1".into(),
        });
    }
    Ok(value)
}

/// Typed access to the variables.
struct Vars<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Vars<'_> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
    }

    /// A number that must not be 0.
    fn positive<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr + PartialEq + Default + std::fmt::Display,
        T::Err: std::fmt::Display,
    {
        positive(self.parse(name, default)?, name)
    }

    fn parse<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(value) => value
                .trim()
                .parse()
                .map_err(|e: T::Err| ConfigError::Invalid {
                    name,
                    reason: e.to_string(),
                    value,
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::for_tests(move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn no_credentials_means_demo_mode_with_defaults() {
        let c = config(&[]).unwrap();
        assert!(matches!(c.mode, Mode::Demo));
        assert_eq!(c.mp_page, "pages/login/login");
        assert_eq!(c.mp_env_version, "release");
        assert_eq!(c.wechat_timeout, Duration::from_secs(5));
        assert_eq!(c.wechat_token_api, TokenApi::Stable);
    }

    #[test]
    fn both_credentials_mean_wechat_mode() {
        let c = config(&[(APPID, "wx123"), (SECRET, "s3cr3t")]).unwrap();
        assert_eq!(c.mode_name(), "wechat");
    }

    #[test]
    fn one_credential_alone_names_the_missing_one() {
        let err = config(&[(APPID, "wx123")]).unwrap_err().to_string();
        assert!(err.contains("SCANLOGIN_WECHAT_SECRET is not"), "{err}");
        let err = config(&[(SECRET, "s3cr3t")]).unwrap_err().to_string();
        assert!(err.contains("SCANLOGIN_WECHAT_APPID is not"), "{err}");
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let c = config(&[(APPID, "wx123"), (SECRET, "s3cr3t")]).unwrap();
        let shown = format!("{c:?}");
        assert!(shown.contains("wx123"));
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }

    #[test]
    fn bad_values_are_named() {
        let err = config(&[("SCANLOGIN_WECHAT_TIMEOUT_MS", "soon")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("SCANLOGIN_WECHAT_TIMEOUT_MS"), "{err}");
        assert!(config(&[("SCANLOGIN_MP_ENV_VERSION", "beta")]).is_err());
        assert!(config(&[("SCANLOGIN_MP_CODE_WIDTH", "100")]).is_err());
        assert!(config(&[("SCANLOGIN_WECHAT_TOKEN_API", "x")]).is_err());
        assert!(config(&[("SCANLOGIN_MAX_SCENES_PER_IP", "0")]).is_err());
        assert!(config(&[("SCANLOGIN_TRUST_PROXY", "yes please")]).is_err());
        let c = config(&[(
            "SCANLOGIN_ALLOWED_ORIGINS",
            "https://a.example/, https://b.example",
        )])
        .unwrap();
        assert_eq!(
            c.allowed_origins,
            ["https://a.example", "https://b.example"]
        );
    }
}
