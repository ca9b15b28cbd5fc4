//! Who may pass to which protected application (`SCANLOGIN_FORWARD_AUTH_RULES`, a TOML
//! file): per host, and optionally per path prefix, anyone logged in, named groups (of
//! the admin console) or named users (by `sub`). A host the file does not name is
//! refused to everyone, and is never a place `rd` may return to.
//!
//! ```toml
//! [[rule]]
//! host = "grafana.example.com"
//! allow = "anyone"
//!
//! [[rule]]
//! host = "docs.example.com"
//! path = "/internal/"     # the longest matching path of a host's rules decides
//! groups = ["staff"]
//! users = ["42"]
//! ```
//!
//! The file is read and checked at start-up, every mistake reported at once.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::server::session_cache::Holder;

/// The rules, checked.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    /// Lowercase, with its port if the rule names one.
    host: String,
    /// Starts with `/`; `/` for the whole host.
    path: String,
    who: Who,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Who {
    Anyone,
    Some {
        groups: BTreeSet<String>,
        users: BTreeSet<i64>,
    },
}

/// A rule as written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Written {
    host: String,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    allow: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    users: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    rule: Vec<Written>,
}

/// What the rules say of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The person may pass.
    Pass,
    /// Logged in, but not among those the rule lets in.
    NotAllowed,
    /// No rule covers this host and path: nobody passes.
    Unprotected,
}

impl Rules {
    /// Reads the file's text; every mistake, each naming its rule.
    pub fn parse(text: &str) -> Result<Self, Vec<String>> {
        let file: File = toml::from_str(text).map_err(|e| vec![e.message().to_owned()])?;
        let mut errors = Vec::new();
        let mut rules: Vec<Rule> = Vec::new();
        for (n, written) in file.rule.into_iter().enumerate() {
            let name = format!("rule {} ({})", n + 1, written.host);
            match checked(written) {
                Ok(rule) => {
                    if rules
                        .iter()
                        .any(|r| r.host == rule.host && r.path == rule.path)
                    {
                        errors.push(format!(
                            "{name}: a rule for this host and path comes earlier"
                        ));
                    }
                    rules.push(rule);
                }
                Err(why) => errors.extend(why.into_iter().map(|w| format!("{name}: {w}"))),
            }
        }
        if rules.is_empty() && errors.is_empty() {
            errors.push("no [[rule]]: name at least one host".to_owned());
        }
        if errors.is_empty() {
            Ok(Self { rules })
        } else {
            Err(errors)
        }
    }

    /// Whether `host` (as the browser named it, port and all) is protected: the only
    /// hosts `rd` may lead to.
    pub fn names_host(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        self.rules.iter().any(|r| host_matches(&r.host, &host))
    }

    /// The rule for `host` and `path` (a request's path, without its query): the
    /// longest matching path among the host's rules.
    fn rule_for(&self, host: &str, path: &str) -> Option<&Rule> {
        let host = host.to_ascii_lowercase();
        self.rules
            .iter()
            .filter(|r| host_matches(&r.host, &host) && path_within(path, &r.path))
            .max_by_key(|r| r.path.len())
    }

    /// Whether `holder` may have `path` of `host`. A path with an encoded slash, dot or
    /// backslash could mean one thing here and another to the application: none passes.
    pub fn verdict(&self, host: &str, path: &str, holder: &Holder) -> Verdict {
        let Some(path) = normalized(path) else {
            return Verdict::NotAllowed;
        };
        match self.rule_for(host, &path) {
            None => Verdict::Unprotected,
            Some(rule) => match &rule.who {
                Who::Anyone => Verdict::Pass,
                Who::Some { groups, users } => {
                    if users.contains(&holder.user_id)
                        || holder.groups.iter().any(|g| groups.contains(g))
                    {
                        Verdict::Pass
                    } else {
                        Verdict::NotAllowed
                    }
                }
            },
        }
    }

    /// Whether any rule covers `host` and `path` (anyone logging in could pass).
    pub fn covers(&self, host: &str, path: &str) -> bool {
        normalized(path).is_some_and(|path| self.rule_for(host, &path).is_some())
    }
}

fn checked(written: Written) -> Result<Rule, Vec<String>> {
    let mut errors = Vec::new();
    let host = without_default_port(&written.host.trim().to_ascii_lowercase()).to_owned();
    if !is_host(&host) {
        errors.push("host: a host name such as app.example.com, with an optional :port".into());
    }
    let path = written.path.unwrap_or_else(|| "/".to_owned());
    if !path.starts_with('/') || path.contains(['?', '#', '%', '\\']) {
        errors.push("path: a path prefix such as /internal/, with no query or escapes".into());
    }
    let mut users = BTreeSet::new();
    for user in &written.users {
        match user.parse::<i64>() {
            Ok(id) if id > 0 => {
                users.insert(id);
            }
            _ => errors.push(format!("users: {user:?} is not a sub (a user's number)")),
        }
    }
    let groups: BTreeSet<String> = written.groups.iter().map(|g| g.trim().to_owned()).collect();
    if groups.iter().any(String::is_empty) {
        errors.push("groups: a group's name is empty".into());
    }
    let who = match written.allow.as_deref() {
        Some("anyone") if groups.is_empty() && users.is_empty() => Some(Who::Anyone),
        Some("anyone") => {
            errors.push("allow = \"anyone\" goes without groups and users".into());
            None
        }
        Some(other) => {
            errors.push(format!("allow: {other:?}; the only value is \"anyone\""));
            None
        }
        None if groups.is_empty() && written.users.is_empty() => {
            errors.push("say who passes: allow = \"anyone\", groups or users".into());
            None
        }
        None => Some(Who::Some { groups, users }),
    };
    match who {
        Some(who) if errors.is_empty() => Ok(Rule { host, path, who }),
        _ => Err(errors),
    }
}

/// A DNS name (letters, digits, hyphens, dots) with an optional port.
fn is_host(host: &str) -> bool {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    name_ok && port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0))
}

/// A rule's host matches a request's: the same name, and the same port when the rule
/// names one (a default port, `:443` or `:80`, is no port: browsers and proxies leave it
/// out).
fn host_matches(rule: &str, request: &str) -> bool {
    let request = without_default_port(request);
    if rule.contains(':') {
        rule == request
    } else {
        rule == request.rsplit_once(':').map_or(request, |(name, _)| name)
    }
}

fn without_default_port(host: &str) -> &str {
    host.strip_suffix(":443")
        .or_else(|| host.strip_suffix(":80"))
        .unwrap_or(host)
}

/// `path` is `prefix` or below it, segment by segment (`/internal` covers
/// `/internal/x`, not `/internalx`).
fn path_within(path: &str, prefix: &str) -> bool {
    if prefix.ends_with('/') {
        path.starts_with(prefix) || path == prefix.trim_end_matches('/')
    } else {
        path == prefix
            || path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

/// The path as the application will read it: percent-escapes decoded, `.` and `..`
/// segments resolved, repeated slashes made one. `None` for one whose reading depends on
/// the application: an encoded slash, dot, backslash or NUL (decoded or not?), a
/// backslash (a separator to some), a `;` (path parameters, which some servers drop
/// before matching: `/public/..;/admin`), or an escape that is not UTF-8.
fn normalized(path: &str) -> Option<String> {
    let lower = path.to_ascii_lowercase();
    if ["%2f", "%2e", "%5c", "%00", "\\", ";"]
        .iter()
        .any(|bad| lower.contains(bad))
    {
        return None;
    }
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .ok()?;
    let path: &str = &decoded;
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = format!("/{}", segments.join("/"));
    if path.ends_with('/') && out.len() > 1 {
        out.push('/');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = r#"
        [[rule]]
        host = "app.example.com"
        allow = "anyone"

        [[rule]]
        host = "docs.example.com"
        groups = ["staff"]

        [[rule]]
        host = "docs.example.com"
        path = "/public/"
        allow = "anyone"

        [[rule]]
        host = "docs.example.com"
        path = "/public/secret"
        users = ["7"]
    "#;

    fn person(user_id: i64, groups: &[&str]) -> Holder {
        Holder {
            user_id,
            name: "n".into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            expires_at: i64::MAX,
        }
    }

    #[test]
    fn the_longest_path_of_the_host_decides_and_other_hosts_are_refused() {
        let rules = Rules::parse(RULES).unwrap();
        let (nobody, staff, seven) = (person(1, &[]), person(2, &["staff"]), person(7, &[]));
        let cases = [
            ("app.example.com", "/x", &nobody, Verdict::Pass),
            ("APP.example.com:443", "/", &nobody, Verdict::Pass),
            ("docs.example.com", "/", &nobody, Verdict::NotAllowed),
            ("docs.example.com", "/", &staff, Verdict::Pass),
            ("docs.example.com", "/public/a", &nobody, Verdict::Pass),
            ("docs.example.com", "/public", &nobody, Verdict::Pass),
            (
                "docs.example.com",
                "/publicity",
                &nobody,
                Verdict::NotAllowed,
            ),
            (
                "docs.example.com",
                "/public/secret/x",
                &staff,
                Verdict::NotAllowed,
            ),
            ("docs.example.com", "/public/secret", &seven, Verdict::Pass),
            // Dot segments resolved before matching; encoded ones refused.
            (
                "docs.example.com",
                "/public/../internal",
                &nobody,
                Verdict::NotAllowed,
            ),
            (
                "docs.example.com",
                "/public/%2e%2e/internal",
                &staff,
                Verdict::NotAllowed,
            ),
            (
                "docs.example.com",
                "/public//secret",
                &nobody,
                Verdict::NotAllowed,
            ),
            // Escapes are read as the application reads them; ambiguous ones refused.
            (
                "docs.example.com",
                "/public/%73ecret",
                &nobody,
                Verdict::NotAllowed,
            ),
            (
                "docs.example.com",
                "/public/%73ecret",
                &seven,
                Verdict::Pass,
            ),
            (
                "docs.example.com",
                "/public/..;/internal",
                &nobody,
                Verdict::NotAllowed,
            ),
            (
                "docs.example.com",
                "/public/a;b",
                &nobody,
                Verdict::NotAllowed,
            ),
            (
                "docs.example.com",
                "/public/%ff",
                &nobody,
                Verdict::NotAllowed,
            ),
            (
                "docs.example.com",
                "/public/,/../../internal",
                &nobody,
                Verdict::NotAllowed,
            ),
            (
                "docs.example.com",
                "/public/caf%C3%A9",
                &nobody,
                Verdict::Pass,
            ),
            ("evil.example.com", "/", &staff, Verdict::Unprotected),
            ("example.com", "/", &staff, Verdict::Unprotected),
        ];
        for (host, path, who, expected) in cases {
            assert_eq!(rules.verdict(host, path, who), expected, "{host}{path}");
        }
        assert!(rules.names_host("docs.example.com:8443"));
        let port = Rules::parse("[[rule]]\nhost = \"a.test:443\"\nallow = \"anyone\"").unwrap();
        assert!(port.names_host("a.test") && port.names_host("a.test:443"));
        let other = Rules::parse("[[rule]]\nhost = \"a.test:8443\"\nallow = \"anyone\"").unwrap();
        assert!(other.names_host("a.test:8443") && !other.names_host("a.test"));
        assert!(!rules.names_host("docs.example.com.evil.test"));
    }

    #[test]
    fn every_mistake_is_reported_at_once_naming_its_rule() {
        let errors = Rules::parse(
            r#"
            [[rule]]
            host = "bad host"
            allow = "everyone"

            [[rule]]
            host = "ok.example.com"
            path = "relative"
            users = ["alice"]

            [[rule]]
            host = "ok.example.com"

            [[rule]]
            host = "x.example.com"
            allow = "anyone"
            [[rule]]
            host = "x.example.com"
            allow = "anyone"
            "#,
        )
        .unwrap_err();
        let all = errors.join("\n");
        assert!(all.contains("rule 1 (bad host): host"), "{all}");
        assert!(all.contains("rule 1 (bad host): allow"), "{all}");
        assert!(all.contains("rule 2 (ok.example.com): path"), "{all}");
        assert!(
            all.contains("rule 2 (ok.example.com): users: \"alice\""),
            "{all}"
        );
        assert!(
            all.contains("rule 3 (ok.example.com): say who passes"),
            "{all}"
        );
        assert!(
            all.contains("rule 5 (x.example.com): a rule for this host and path comes earlier"),
            "{all}"
        );
        assert!(
            Rules::parse("[[rule]]\nhost = \"a.test\"\nallow = \"anyone\"\ncolour = 1")
                .unwrap_err()[0]
                .contains("colour")
        );
        assert!(Rules::parse("").is_err(), "no rule at all");
    }
}
