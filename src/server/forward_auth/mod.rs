//! Forward authentication: the scan login in front of any web application. The reverse
//! proxy (nginx `auth_request`, Caddy `forward_auth`, Traefik `ForwardAuth`) asks
//! `GET /auth/verify` about every request to a protected host, passing the original
//! request in `X-Forwarded-*` headers and the browser's cookies:
//!
//! - **200**: a live session the rules let in, with `X-Scanlogin-User` (the stable `sub`),
//!   `X-Scanlogin-Name` (UTF-8) and `X-Scanlogin-Groups` (comma-separated) for the proxy
//!   to copy to the application;
//! - **401** with `Location`: no session; the proxy sends the browser there, to the scan
//!   login with `rd=` the original URL (a **302** there instead with `?redirect=1`, for
//!   proxies that hand the answer to the browser as it is, as Traefik does);
//! - **403** with a page saying so: a person the rules refuse, or a host they do not name.
//!
//! Sessions are read through [`super::session_cache`], so the common request costs no
//! database round trip. The session cookie reaches every protected host when it is
//! shared with their parent domain (`SCANLOGIN_COOKIE_DOMAIN`).
//!
//! Plain axum handlers, not server functions: the proxy's contract is bare statuses,
//! headers and redirects, and `/logout` is an HTML form.

pub mod rules;

use axum::{
    extract::{ConnectInfo, Query, State},
    http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
    Form,
};
use serde::Deserialize;

use self::rules::Verdict;
use super::{
    audit::Origin,
    context::{AppState, Client},
    locale, session,
};
use crate::i18n::Locale;

pub const VERIFY_PATH: &str = "/auth/verify";
/// Where a login for a protected application goes on to: back to `rd`.
pub const CONTINUE_PATH: &str = "/auth/continue";
pub const LOGOUT_PATH: &str = "/logout";

/// The headers the application receives; the proxy copies them from the 200.
pub const USER_HEADER: &str = "x-scanlogin-user";
pub const NAME_HEADER: &str = "x-scanlogin-name";
pub const GROUPS_HEADER: &str = "x-scanlogin-groups";

/// The request the proxy asks about.
struct Original {
    /// `https` unless the proxy says otherwise.
    proto: String,
    host: String,
    /// Path and query.
    uri: String,
}

impl Original {
    /// What the proxy says of the request it holds: only a trusted proxy is believed,
    /// and only with the host named.
    fn of(state: &AppState, headers: &HeaderMap, peer: std::net::IpAddr) -> Option<Self> {
        if !state.config.trusted_proxies.contains(peer) {
            return None;
        }
        let value = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        // A host and a scheme hold no comma: a list is of hops, the first the browser's. A
        // path may hold commas, and is taken whole.
        let first = |v: String| v.split(',').next().unwrap_or("").trim().to_owned();
        let host = value("x-forwarded-host")
            .map(first)
            .filter(|h| !h.is_empty())?;
        let proto = value("x-forwarded-proto")
            .map(first)
            .unwrap_or_else(|| "https".to_owned());
        // Caddy and Traefik send the path in X-Forwarded-Uri; nginx sites often send the
        // whole URL in X-Original-URL.
        let uri = value("x-forwarded-uri")
            .or_else(|| {
                value("x-original-url").map(|url| match url::Url::parse(&url) {
                    Ok(url) => match url.query() {
                        Some(q) => format!("{}?{q}", url.path()),
                        None => url.path().to_owned(),
                    },
                    Err(_) => url,
                })
            })
            .unwrap_or_else(|| "/".to_owned());
        Some(Self { proto, host, uri })
    }

    fn path(&self) -> &str {
        self.uri.split('?').next().unwrap_or("/")
    }

    fn url(&self) -> String {
        format!("{}://{}{}", self.proto, self.host, self.uri)
    }
}

#[derive(Debug, Deserialize)]
pub struct VerifyQuery {
    /// `1`: no session is answered with a redirect to the login instead of a 401.
    #[serde(default)]
    redirect: Option<String>,
}

/// `GET /auth/verify` (any method: proxies ask with the original one).
pub async fn verify(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    Query(query): Query<VerifyQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(rules) = &state.config.forward_auth else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let locale = locale::of_headers(&headers);
    let Some(original) = Original::of(&state, &headers, peer.ip()) else {
        tracing::warn!(
            peer = %peer.ip(),
            "forward authentication asked without X-Forwarded-Host, or not by a trusted proxy \
             (SCANLOGIN_TRUSTED_PROXIES)"
        );
        return forbidden(locale, None, "");
    };
    if !rules.covers(&original.host, original.path()) {
        return forbidden(locale, None, &original.host);
    }
    let holder = match session::token_from(&state, &headers) {
        Some(token) => {
            let found = state
                .session_cache
                .holder(&state.store, &token, state.config.sessions)
                .await;
            match found {
                Ok(holder) => holder,
                Err(err) => return err.into_response(),
            }
        }
        None => None,
    };
    let Some(holder) = holder else {
        let to = login_url(&state, &original.url());
        let status = match query.redirect.as_deref() {
            Some("1") => StatusCode::FOUND,
            _ => StatusCode::UNAUTHORIZED,
        };
        let mut answer = (status, "log in first").into_response();
        if let Ok(location) = HeaderValue::from_str(&to) {
            answer.headers_mut().insert(header::LOCATION, location);
        }
        return answer;
    };
    match rules.verdict(&original.host, original.path(), &holder) {
        Verdict::Pass => {
            let mut answer = StatusCode::OK.into_response();
            let passed = [
                (USER_HEADER, holder.user_id.to_string()),
                (NAME_HEADER, without_controls(&holder.name)),
                (GROUPS_HEADER, holder.groups.join(",")),
            ];
            for (name, value) in passed {
                if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
                    answer
                        .headers_mut()
                        .insert(HeaderName::from_static(name), value);
                }
            }
            answer
        }
        Verdict::NotAllowed | Verdict::Unprotected => {
            forbidden(locale, Some(&holder.name), &original.host)
        }
    }
}

/// A header value carries no control character (a nickname is the person's own text).
fn without_controls(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}

/// The scan login, coming back to `url` once the person is in.
fn login_url(state: &AppState, url: &str) -> String {
    let rd: String = url::form_urlencoded::byte_serialize(url.as_bytes()).collect();
    format!("{}/login?rd={rd}", state.public_origin)
}

/// A place `rd` may lead: an absolute URL on a host the rules name, https (or http when
/// this server is itself served over http, as in development).
pub fn return_address(state: &AppState, rd: &str) -> Option<url::Url> {
    let rules = state.config.forward_auth.as_ref()?;
    let url = url::Url::parse(rd).ok()?;
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && !state.secure_cookies);
    let host = match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => return None,
    };
    (scheme_ok && url.username().is_empty() && rules.names_host(&host)).then_some(url)
}

#[derive(Debug, Deserialize)]
pub struct ReturnTo {
    #[serde(default)]
    rd: String,
}

/// `GET /auth/continue?rd=`: where the scan login goes on to, back to the protected
/// application. Without a session, to the login again.
pub async fn continue_to(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(ReturnTo { rd }): Query<ReturnTo>,
) -> Response {
    let locale = locale::of_headers(&headers);
    let Some(to) = return_address(&state, &rd) else {
        return not_protected(locale);
    };
    match session::current_user(&state, &headers).await {
        Ok(Some(_)) => {
            let mut answer = Redirect::to(to.as_str()).into_response();
            match session::shared_cookie(&state, &headers).await {
                Ok(Some(shared)) => {
                    answer.headers_mut().insert(header::SET_COOKIE, shared);
                }
                Ok(None) => {}
                Err(err) => return err.into_response(),
            }
            answer
        }
        Ok(None) => Redirect::to(&login_url(&state, to.as_str())).into_response(),
        Err(err) => err.into_response(),
    }
}

/// `/login?rd=URL`: the login, then `rd`, through [`continue_to`]; refused for a URL the
/// rules do not name (never an open redirect).
pub fn login_with_return(state: &AppState, headers: &HeaderMap, rd: &str) -> Response {
    match return_address(state, rd) {
        Some(to) => {
            let next = format!("{CONTINUE_PATH}?rd={}", encoded(to.as_str()));
            Redirect::to(&format!("/login?next={}", encoded(&next))).into_response()
        }
        None => not_protected(locale::of_headers(headers)),
    }
}

fn encoded(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// `GET /logout?rd=`: asks before logging out of every protected application (a link
/// alone must not log anyone out).
pub async fn logout_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(ReturnTo { rd }): Query<ReturnTo>,
) -> Response {
    let t = texts(locale::of_headers(&headers));
    let rd = return_address(&state, &rd)
        .map(String::from)
        .unwrap_or_default();
    page(
        t.lang,
        t.logout_title,
        &format!(
            r#"<h1>{title}</h1><p>{text}</p>
<form method="post" action="{LOGOUT_PATH}"><input type="hidden" name="rd" value="{rd}">
<button type="submit" data-testid="logout-confirm">{button}</button></form>"#,
            title = t.logout_title,
            text = t.logout_text,
            rd = escaped(&rd),
            button = t.logout_button,
        ),
    )
}

/// `POST /logout`: ends the session, for every protected host at once (they share it),
/// and goes on to `rd` (whose proxy then asks for a new login) or the login page.
pub async fn logout(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Form(ReturnTo { rd }): Form<ReturnTo>,
) -> Response {
    let client = Client::resolve(&state, &headers, peer.ip());
    let origin = Origin::of(&headers, client);
    let cleared = match session::logout(&state, &headers, &origin).await {
        Ok(cleared) => cleared,
        Err(err) => return err.into_response(),
    };
    let to = return_address(&state, &rd).map_or_else(|| "/login".to_owned(), String::from);
    let mut answer = Redirect::to(&to).into_response();
    answer.headers_mut().insert(header::SET_COOKIE, cleared);
    answer
}

/// 403: logged in as `name` but not let in at `host`, or (`name` unknown) a host no rule
/// names.
fn forbidden(locale: Locale, name: Option<&str>, host: &str) -> Response {
    let t = texts(locale);
    let who = name.map_or_else(String::new, |n| (t.logged_in_as)(&escaped(n)));
    let body = format!(
        r#"<h1 data-testid="forbidden">{title}</h1><p>{who}{text}</p><p><code>{host}</code></p>"#,
        title = t.forbidden_title,
        text = t.forbidden_text,
        host = escaped(host),
    );
    (
        StatusCode::FORBIDDEN,
        page(t.lang, t.forbidden_title, &body),
    )
        .into_response()
}

/// 400: `rd` is not a protected application's address.
fn not_protected(locale: Locale) -> Response {
    let t = texts(locale);
    let body = format!(
        r#"<h1 data-testid="not-protected">{}</h1><p>{}</p>"#,
        t.not_protected_title, t.not_protected_text
    );
    (
        StatusCode::BAD_REQUEST,
        page(t.lang, t.not_protected_title, &body),
    )
        .into_response()
}

fn page(lang: &str, title: &str, body: &str) -> Response {
    Html(format!(
        r#"<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title></head><body><main class="forward-auth">{body}</main></body></html>"#
    ))
    .into_response()
}

/// `text` safe inside HTML text and double-quoted attributes.
fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

struct Texts {
    lang: &'static str,
    forbidden_title: &'static str,
    forbidden_text: &'static str,
    logged_in_as: fn(&str) -> String,
    not_protected_title: &'static str,
    not_protected_text: &'static str,
    logout_title: &'static str,
    logout_text: &'static str,
    logout_button: &'static str,
}

fn texts(locale: Locale) -> &'static Texts {
    match locale {
        Locale::ZhCn => &ZH,
        Locale::En => &EN,
    }
}

static ZH: Texts = Texts {
    lang: "zh-CN",
    forbidden_title: "无权访问",
    forbidden_text: "你已登录，但此应用的访问规则不允许你进入。如需访问，请联系管理员。",
    logged_in_as: |name| format!("你好，{name}。"),
    not_protected_title: "不是受保护的地址",
    not_protected_text: "登录后要返回的地址不在本登录服务保护的应用之列，因此不会跳转。",
    logout_title: "退出登录",
    logout_text: "退出后，所有使用此登录的应用都需要重新扫码登录。",
    logout_button: "退出登录",
};

static EN: Texts = Texts {
    lang: "en",
    forbidden_title: "Not allowed",
    forbidden_text: "You are logged in, but this application's rules do not let you in. Ask its administrator if you need access.",
    logged_in_as: |name| format!("Hello, {name}. "),
    not_protected_title: "Not a protected address",
    not_protected_text: "The address to return to after the login is not one of the applications this login protects, so it is not followed.",
    logout_title: "Log out",
    logout_text: "After logging out, every application behind this login asks for a new scan.",
    logout_button: "Log out",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_people_is_escaped() {
        assert_eq!(
            escaped(r#"<b a="1">&'"#),
            "&lt;b a=&quot;1&quot;&gt;&amp;&#39;"
        );
        assert_eq!(without_controls("a\r\nb\tc"), "abc");
    }
}
