//! The mode, decided here and never by accident: real WeChat when both credentials are
//! set; demo mode (the built-in simulator, in which anyone who can reach the server can
//! log in as anyone) only when `SCANLOGIN_DEMO=1`, or when nothing is configured and
//! nobody but this machine can reach the server.

use std::{fmt, net::IpAddr};

use leptos::config::LeptosOptions;
use secrecy::SecretString;

use super::vars::{ConfigError, Vars, APPID, DEMO, PUBLIC_ORIGIN, SECRET, TRUSTED_PROXIES};
use crate::server::client::TrustedProxies;

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

/// The mode, from the credentials, `SCANLOGIN_DEMO`, and who can reach the server.
pub(super) fn decide_mode(
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
pub(super) fn parse_origin(value: &str) -> Result<String, String> {
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
