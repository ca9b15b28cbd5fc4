//! Reading the environment: the documented variables ([`VARIABLES`]), each read through
//! [`Vars`], which checks its value and collects every problem before start-up answers.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
    str::FromStr,
    sync::Mutex,
    time::Duration,
};

/// Every variable the server reads. Anything else named `SCANLOGIN_*` is a mistake.
pub const VARIABLES: &[&str] = &[
    DEMO,
    APPID,
    SECRET,
    "SCANLOGIN_WECHAT_API_BASE",
    "SCANLOGIN_WECHAT_TOKEN_API",
    "SCANLOGIN_WECHAT_TIMEOUT_MS",
    "SCANLOGIN_WECHAT_PUSH_TOKEN",
    "SCANLOGIN_NOTIFY_TEMPLATE_ID",
    "SCANLOGIN_NOTIFY_FIELDS",
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
    "SCANLOGIN_OIDC_TOKENS_PER_CLIENT_PER_MIN",
    "SCANLOGIN_OIDC_REFRESH_IDLE_SECS",
    "SCANLOGIN_OIDC_REFRESH_MAX_SECS",
    "SCANLOGIN_OIDC_LOGOUT_RETRY_SECS",
    "SCANLOGIN_DATABASE_URL",
    "SCANLOGIN_REDIS_URL",
    "SCANLOGIN_REDIS_PREFIX",
    "SCANLOGIN_CODE_CACHE_BYTES",
    "SCANLOGIN_SESSION_TTL_SECS",
    "SCANLOGIN_SESSION_IDLE_SECS",
    "SCANLOGIN_SIGNUP",
    "SCANLOGIN_AUDIT_RETENTION_DAYS",
    "SCANLOGIN_AUDIT_LOG",
    "SCANLOGIN_GEOIP_DB",
    "SCANLOGIN_COOKIE_DOMAIN",
    "SCANLOGIN_FORWARD_AUTH_RULES",
    "SCANLOGIN_GEOIP_CREDIT",
    "SCANLOGIN_ALLOWED_ORIGINS",
    TRUSTED_PROXIES,
    "SCANLOGIN_IPV6_PREFIX",
    "SCANLOGIN_IPV6_NETWORK_LIMITS",
    "SCANLOGIN_RATE_CODES_PER_MIN",
    "SCANLOGIN_RATE_SCANS_PER_MIN",
    "SCANLOGIN_RATE_SESSIONS_PER_MIN",
    "SCANLOGIN_CODE_BUDGET_PER_MIN",
    "SCANLOGIN_LINK_BUDGET_PER_DAY",
    "SCANLOGIN_IMAGE_DECODES",
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
    "SCANLOGIN_BODY_TIMEOUT_SECS",
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

pub(super) const DEMO: &str = "SCANLOGIN_DEMO";
pub(super) const APPID: &str = "SCANLOGIN_WECHAT_APPID";
pub(super) const SECRET: &str = "SCANLOGIN_WECHAT_SECRET";
pub(super) const PUBLIC_ORIGIN: &str = "SCANLOGIN_PUBLIC_ORIGIN";
pub(super) const TRUSTED_PROXIES: &str = "SCANLOGIN_TRUSTED_PROXIES";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is set but empty: give it a value, or unset it")]
    Blank { name: String },
    #[error("{name} is not a scanlogin setting (a typo?); docs/configuration.md lists them all")]
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

/// The `SCANLOGIN_*` variables, and every problem found while reading them.
pub(super) struct Vars {
    values: BTreeMap<String, String>,
    errors: Mutex<Vec<ConfigError>>,
    /// Every name asked for: the names read must be the documented ones (a test checks).
    asked: Mutex<BTreeSet<&'static str>>,
}

impl Vars {
    pub(super) fn new(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let values: BTreeMap<String, String> = vars
            .into_iter()
            .filter(|(name, _)| name.starts_with("SCANLOGIN_"))
            .collect();
        let this = Self {
            values,
            errors: Mutex::new(Vec::new()),
            asked: Mutex::new(BTreeSet::new()),
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

    pub(super) fn error(&self, error: ConfigError) {
        self.errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(error);
    }

    pub(super) fn invalid(
        &self,
        name: &'static str,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) {
        self.error(ConfigError::Invalid {
            name,
            value: value.into(),
            reason: reason.into(),
        });
    }

    /// Every problem found, or nothing.
    pub(super) fn finish(self) -> Result<(), ConfigErrors> {
        let errors = self.errors.into_inner().unwrap_or_else(|e| e.into_inner());
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// The names asked for so far.
    #[cfg(test)]
    pub(super) fn asked(&self) -> BTreeSet<&'static str> {
        self.asked.lock().unwrap().clone()
    }

    /// A variable's value; a blank one is an error (and counts as unset). Asking for a
    /// name that is not in [`VARIABLES`] fails every test that reads it.
    pub(super) fn get(&self, name: &'static str) -> Option<String> {
        debug_assert!(
            VARIABLES.contains(&name),
            "{name} is read but not in VARIABLES (and so not documented)"
        );
        self.asked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name);
        let value = self.values.get(name)?;
        if value.trim().is_empty() {
            self.error(ConfigError::Blank { name: name.into() });
            return None;
        }
        Some(value.trim().to_owned())
    }

    pub(super) fn parse<T>(&self, name: &'static str, default: T) -> T
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

    /// A switch: `1` (or `true`) on, `0` (or `false`) off; unset: off.
    pub(super) fn flag(&self, name: &'static str) -> bool {
        match self.get(name).as_deref() {
            None | Some("0" | "false") => false,
            Some("1" | "true") => true,
            Some(other) => {
                self.invalid(name, other, "use 1 or 0");
                false
            }
        }
    }

    /// A number that must not be 0.
    pub(super) fn positive<T>(&self, name: &'static str, default: T) -> T
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

    pub(super) fn in_range<T>(
        &self,
        name: &'static str,
        default: T,
        range: std::ops::RangeInclusive<T>,
    ) -> T
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
    pub(super) fn api_base(&self, name: &'static str, default: &str) -> String {
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

    pub(super) fn seconds(&self, name: &'static str, default: u64) -> Duration {
        Duration::from_secs(self.positive(name, default))
    }
}
