//! The applications that may use scanlogin as their login: a TOML file named by
//! `SCANLOGIN_OIDC_CLIENTS`, validated at start-up with every error reported at once.
//!
//! ```toml
//! [[clients]]
//! id = "grafana"
//! redirect_uris = ["https://grafana.example.com/login/generic_oauth"]
//! secret_hash = "$argon2id$v=19$..."   # from `scanlogin hash-secret`
//! scopes = ["openid", "profile"]       # the default; add "offline_access" for refresh tokens
//! post_logout_redirect_uris = ["https://grafana.example.com/login"]
//! backchannel_logout_uri = "https://grafana.example.com/oidc/backchannel"
//! name = "Grafana"                      # what the phone calls it (default: the id)
//! logo_uri = "https://grafana.example.com/public/img/grafana_icon.svg"
//! require_consent_per_login = false     # true: every login to it is a new scan
//! allowed_groups = ["ops"]              # only these groups' members (default: everyone)
//!
//! [[clients]]
//! id = "spa"
//! public = true                         # no secret; PKCE S256 required
//! redirect_uris = ["http://127.0.0.1:8080/cb"]
//! ```

use std::collections::{BTreeSet, HashMap};

use argon2::{
    password_hash::{PasswordHash, PasswordHasher, SaltString},
    Argon2,
};
use serde::Deserialize;

/// The scopes a client may ask for: `offline_access` (refresh tokens) only when its
/// `scopes` name it.
pub const SCOPES: &[&str] = &["openid", "profile", "offline_access"];

/// A client's scopes when its entry names none.
const DEFAULT_SCOPES: &[&str] = &["openid", "profile"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientsFile {
    #[serde(default)]
    clients: Vec<ClientEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientEntry {
    id: Option<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    secret_hash: Option<String>,
    #[serde(default)]
    public: bool,
    scopes: Option<Vec<String>>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    backchannel_logout_uri: Option<String>,
    name: Option<String>,
    logo_uri: Option<String>,
    #[serde(default)]
    require_consent_per_login: bool,
    #[serde(default)]
    allowed_groups: Vec<String>,
}

/// One registered application.
#[derive(Clone)]
pub struct Client {
    pub id: String,
    /// Matched by string equality, never by prefix or pattern.
    pub redirect_uris: Vec<String>,
    /// `None`: a public client (a single-page or native app), which must use PKCE S256.
    secret_hash: Option<String>,
    pub scopes: BTreeSet<String>,
    /// Where RP-initiated logout may send the browser back to, matched exactly.
    pub post_logout_redirect_uris: Vec<String>,
    /// Where back-channel logout tokens are posted, if the client takes them.
    pub backchannel_logout_uri: Option<String>,
    /// What the phone calls it ("Grafana wants you to log in"): `name`, else the id.
    pub name: String,
    /// Its logo for the phone, an https URL.
    pub logo_uri: Option<String>,
    /// Every login to it is a new scan, so the phone names it every time, even for a
    /// person already logged in to scanlogin.
    pub require_consent_per_login: bool,
    /// Only members of these groups (the admin console's) may use it; empty: everyone
    /// who may log in.
    pub allowed_groups: BTreeSet<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.id)
            .field("redirect_uris", &self.redirect_uris)
            .field("public", &self.is_public())
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }

    /// Whether `secret` is this client's (argon2, constant time in the hash's compare).
    /// A public client has none to check.
    pub fn secret_matches(&self, secret: &str) -> bool {
        self.secret_matches_in(secret, &mut Vec::new())
    }

    /// [`Self::secret_matches`] with argon2's working memory (19 MiB) in `memory`, which
    /// a caller that checks many keeps and hands in again, instead of the allocator
    /// getting and freeing a block that large at every check (see `token::SecretChecks`).
    pub fn secret_matches_in(&self, secret: &str, memory: &mut Vec<argon2::Block>) -> bool {
        let Some(hash) = &self.secret_hash else {
            return false;
        };
        let mut computed = || -> Option<bool> {
            let hash = PasswordHash::new(hash).ok()?;
            let algorithm = argon2::Algorithm::try_from(hash.algorithm).ok()?;
            let version = argon2::Version::try_from(hash.version.unwrap_or(0x13)).ok()?;
            let params = argon2::Params::try_from(&hash).ok()?;
            let expected = hash.hash?;
            let mut salt = [0u8; 64];
            let salt = hash.salt?.decode_b64(&mut salt).ok()?;
            memory.resize(params.block_count(), argon2::Block::default());
            let mut out = vec![0u8; expected.len()];
            Argon2::new(algorithm, version, params)
                .hash_password_into_with_memory(secret.as_bytes(), salt, &mut out, &mut **memory)
                .ok()?;
            Some(subtle::ConstantTimeEq::ct_eq(&out[..], expected.as_bytes()).into())
        };
        computed().unwrap_or(false)
    }

    pub fn allows_redirect(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|u| u == uri)
    }

    /// The client as the phone names it.
    pub fn application(&self) -> crate::protocol::Application {
        crate::protocol::Application {
            client_id: self.id.clone(),
            name: self.name.clone(),
            logo_uri: self.logo_uri.clone(),
        }
    }

    pub fn allows_post_logout_redirect(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris.iter().any(|u| u == uri)
    }
}

/// Every configured client, by id.
#[derive(Debug, Clone, Default)]
pub struct Clients {
    by_id: HashMap<String, Client>,
}

impl Clients {
    pub fn get(&self, id: &str) -> Option<&Client> {
        self.by_id.get(id)
    }

    /// Whether some client's back-channel logout address is https (the logouts then
    /// need the machine's CA certificates).
    pub fn any_https_backchannel(&self) -> bool {
        self.by_id.values().any(|c| {
            c.backchannel_logout_uri
                .as_deref()
                .is_some_and(|uri| uri.starts_with("https://"))
        })
    }

    /// The origins of public clients' redirect URIs: the pages that may call the token
    /// endpoint from a browser (CORS).
    pub fn browser_origins(&self) -> Vec<String> {
        let mut origins: BTreeSet<String> = BTreeSet::new();
        for client in self.by_id.values().filter(|c| c.is_public()) {
            for uri in &client.redirect_uris {
                if let Ok(url) = url::Url::parse(uri) {
                    origins.insert(url.origin().ascii_serialization());
                }
            }
        }
        origins.into_iter().collect()
    }

    /// Reads and checks the file: every problem, each naming the client and the field.
    pub fn load(path: &str) -> Result<Self, Vec<String>> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| vec![format!("SCANLOGIN_OIDC_CLIENTS: cannot read {path}: {e}")])?;
        Self::parse(&text).map_err(|errors| {
            errors
                .into_iter()
                .map(|e| format!("SCANLOGIN_OIDC_CLIENTS ({path}): {e}"))
                .collect()
        })
    }

    pub fn parse(text: &str) -> Result<Self, Vec<String>> {
        let file: ClientsFile = toml::from_str(text).map_err(|e| vec![e.to_string()])?;
        let mut errors = Vec::new();
        let mut by_id = HashMap::new();
        if file.clients.is_empty() {
            errors.push("no [[clients]]".to_owned());
        }
        for (index, entry) in file.clients.into_iter().enumerate() {
            let name = match &entry.id {
                Some(id) => format!("client {id:?}"),
                None => format!("client #{}", index + 1),
            };
            let mut error =
                |field: &str, problem: &str| errors.push(format!("{name}: {field}: {problem}"));
            let id = entry.id.clone().unwrap_or_default();
            let id_ok = (1..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            if !id_ok {
                error("id", "1 to 64 characters of A-Z, a-z, 0-9, '-', '_', '.'");
            }
            if entry.redirect_uris.is_empty() {
                error("redirect_uris", "at least one");
            }
            let uris = [
                ("redirect_uris", &entry.redirect_uris),
                (
                    "post_logout_redirect_uris",
                    &entry.post_logout_redirect_uris,
                ),
            ];
            for (field, uri) in uris
                .into_iter()
                .flat_map(|(field, uris)| uris.iter().map(move |uri| (field, uri)))
                .chain(
                    entry
                        .backchannel_logout_uri
                        .iter()
                        .map(|uri| ("backchannel_logout_uri", uri)),
                )
            {
                if let Err(problem) = check_uri(uri) {
                    error(field, &problem);
                }
            }
            match (entry.public, &entry.secret_hash) {
                (true, Some(_)) => error("secret_hash", "a public client has no secret"),
                (false, None) => error(
                    "secret_hash",
                    "required unless public = true (make one with `scanlogin hash-secret`)",
                ),
                (false, Some(hash)) => {
                    if PasswordHash::new(hash).map(|h| h.algorithm.as_str().starts_with("argon2"))
                        != Ok(true)
                    {
                        error(
                            "secret_hash",
                            "not an argon2 hash from `scanlogin hash-secret`",
                        );
                    }
                }
                (true, None) => {}
            }
            let scopes: BTreeSet<String> = entry
                .scopes
                .clone()
                .unwrap_or_else(|| DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect())
                .into_iter()
                .collect();
            if !scopes.contains("openid") {
                error("scopes", "must include \"openid\"");
            }
            for scope in scopes.iter().filter(|s| !SCOPES.contains(&s.as_str())) {
                error(
                    "scopes",
                    &format!("unknown scope {scope:?} (known: {})", SCOPES.join(", ")),
                );
            }
            if let Some(name) = &entry.name {
                if name.trim().is_empty()
                    || name.chars().count() > 40
                    || name.chars().any(char::is_control)
                {
                    error(
                        "name",
                        "1 to 40 characters, none of them control characters",
                    );
                }
            }
            if let Some(logo) = &entry.logo_uri {
                if !url::Url::parse(logo).is_ok_and(|u| u.scheme() == "https") {
                    error("logo_uri", &format!("{logo:?} must be an https URL"));
                }
            }
            if entry
                .allowed_groups
                .iter()
                .any(|g| !crate::server::admin::is_group_name(g))
            {
                error(
                    "allowed_groups",
                    "group names are 1 to 40 characters, none of them control characters",
                );
            }
            if by_id.contains_key(&id) {
                error("id", "used by another client");
            }
            let name = entry.name.clone().unwrap_or_else(|| id.clone());
            by_id.insert(
                id.clone(),
                Client {
                    id,
                    redirect_uris: entry.redirect_uris,
                    secret_hash: entry.secret_hash,
                    scopes,
                    post_logout_redirect_uris: entry.post_logout_redirect_uris,
                    backchannel_logout_uri: entry.backchannel_logout_uri,
                    name,
                    logo_uri: entry.logo_uri,
                    require_consent_per_login: entry.require_consent_per_login,
                    allowed_groups: entry.allowed_groups.into_iter().collect(),
                },
            );
        }
        if errors.is_empty() {
            Ok(Self { by_id })
        } else {
            Err(errors)
        }
    }
}

/// A URI a client registers: absolute, https (or http on a loopback address), no fragment
/// (RFC 6749 §3.1.2).
fn check_uri(uri: &str) -> Result<(), String> {
    match url::Url::parse(uri) {
        Ok(url) if url.fragment().is_some() => Err(format!("{uri:?} has a fragment")),
        Ok(url) if url.scheme() == "https" => Ok(()),
        Ok(url) if url.scheme() == "http" && is_loopback_host(&url) => Ok(()),
        Ok(_) => Err(format!(
            "{uri:?} must be https (or http on a loopback address)"
        )),
        Err(e) => Err(format!("{uri:?} is not a URL: {e}")),
    }
}

fn is_loopback_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// `scanlogin hash-secret`: an argon2id hash of a client secret, for `secret_hash`.
pub fn hash_secret(secret: &str) -> Result<String, String> {
    let salt =
        SaltString::encode_b64(&super::super::random::bytes::<16>()).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_file_loads_with_default_scopes_and_checks_secrets() {
        let hash = hash_secret("s3cret").unwrap();
        let clients = Clients::parse(&format!(
            r#"
            [[clients]]
            id = "grafana"
            redirect_uris = ["https://grafana.example.com/login/generic_oauth"]
            secret_hash = "{hash}"

            [[clients]]
            id = "spa"
            public = true
            redirect_uris = ["http://127.0.0.1:8080/cb"]
            "#
        ))
        .unwrap();
        let grafana = clients.get("grafana").unwrap();
        assert!(grafana.secret_matches("s3cret") && !grafana.secret_matches("s3cret "));
        assert_eq!(
            grafana.scopes.iter().collect::<Vec<_>>(),
            ["openid", "profile"]
        );
        let spa = clients.get("spa").unwrap();
        assert!(spa.is_public() && !spa.secret_matches(""));
        assert!(spa.allows_redirect("http://127.0.0.1:8080/cb"));
        assert!(
            !spa.allows_redirect("http://127.0.0.1:8080/cb/"),
            "exact match only"
        );
        assert_eq!(clients.browser_origins(), ["http://127.0.0.1:8080"]);
        assert!(
            !format!("{grafana:?}").contains("argon2"),
            "no hash in Debug"
        );
    }

    #[test]
    fn every_error_is_reported_at_once_naming_client_and_field() {
        let errors = Clients::parse(
            r#"
            [[clients]]
            id = "a b"
            redirect_uris = ["http://example.com/cb", "https://x.example/cb#frag"]

            [[clients]]
            id = "spa"
            public = true
            secret_hash = "x"
            redirect_uris = []
            scopes = ["profile", "email"]
            post_logout_redirect_uris = ["http://spa.example/bye"]
            backchannel_logout_uri = "https://spa.example/bc#x"
            "#,
        )
        .unwrap_err();
        let all = errors.join("\n");
        for expected in [
            "client \"a b\": id:",
            "client \"a b\": redirect_uris: \"http://example.com/cb\" must be https",
            "client \"a b\": redirect_uris: \"https://x.example/cb#frag\" has a fragment",
            "client \"a b\": secret_hash: required unless public = true",
            "client \"spa\": secret_hash: a public client has no secret",
            "client \"spa\": redirect_uris: at least one",
            "client \"spa\": scopes: must include \"openid\"",
            "client \"spa\": scopes: unknown scope \"email\"",
            "client \"spa\": post_logout_redirect_uris: \"http://spa.example/bye\" must be https",
            "client \"spa\": backchannel_logout_uri: \"https://spa.example/bc#x\" has a fragment",
        ] {
            assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
        }
        assert!(
            Clients::parse("[[clients]]\nid = \"x\"\nfoo = 1\n").unwrap_err()[0].contains("foo")
        );
    }
}
