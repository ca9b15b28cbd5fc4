//! Configuration from environment variables (`SCANLOGIN_*`, plus Leptos's own `LEPTOS_*`).
//!
//! Every variable, with its default, is listed in the README. Reading goes through a
//! lookup function so tests can build a configuration without touching the process
//! environment.

use std::net::SocketAddr;

use leptos::config::LeptosOptions;

/// How the server talks to WeChat.
#[derive(Clone, PartialEq, Eq)]
pub enum Mode {
    /// No credentials: the built-in WeChat simulator answers instead of WeChat.
    Demo,
    /// Real credentials for WeChat's API.
    WeChat { appid: String, secret: String },
}

impl std::fmt::Debug for Mode {
    // The app secret must never reach logs, so `Debug` shows the appid only.
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

    /// Builds a configuration from `lookup` (a variable's value, if set).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        leptos: LeptosOptions,
    ) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mode = match (get(APPID), get(SECRET)) {
            (None, None) => Mode::Demo,
            (Some(appid), Some(secret)) => Mode::WeChat { appid, secret },
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
        Ok(Self { leptos, mode })
    }

    /// A configuration for tests: demo mode, listening on a free loopback port.
    pub fn for_tests(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let leptos = LeptosOptions::builder()
            .output_name(env!("CARGO_PKG_NAME"))
            .site_root("target/site")
            .site_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
            .build();
        Self::from_lookup(lookup, leptos)
    }

    pub fn mode_name(&self) -> &'static str {
        match self.mode {
            Mode::Demo => "demo",
            Mode::WeChat { .. } => "wechat",
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
    fn no_credentials_means_demo_mode() {
        assert_eq!(config(&[]).unwrap().mode, Mode::Demo);
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
}
