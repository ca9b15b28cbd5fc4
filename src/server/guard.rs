//! What every request passes through: automatic demo mode kept to requests made on this
//! machine (the simulator's control surface with it: it mints `wx.login` codes for any
//! openid, a login as anyone), the `Origin` check on state-changing requests,
//! `Cache-Control: no-store` on everything that may carry user data, and security headers.

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::Response,
};

use super::{
    client::is_loopback,
    config::Mode,
    context::AppState,
    error::{error_response, is_api_path},
};

/// The mini program calls these from WeChat, which sends no browser origin; they are
/// authenticated by WeChat's login code and the scan token instead. The OpenID
/// provider's token, userinfo, revocation and introspection endpoints are called by other sites (a single-page
/// client posts from its own origin, under CORS) and authenticated by client credentials,
/// codes and tokens, never by our cookie. Its authorization endpoint is where other
/// sites send the browser, by a link or a form posted from their own origin (OpenID
/// Connect Core §3.1.2.1); what it does with our cookie, a GET does as well, and it
/// answers only the client's registered redirect URI. Its logout endpoint too is where
/// applications send the browser, by a link or a form; without an ID token of ours it
/// only asks the person, whose answer (`/oauth/logout/confirm`) is checked here.
fn is_origin_exempt(path: &str) -> bool {
    path.starts_with("/api/mp/")
        || path == "/oauth/authorize"
        || path == "/oauth/token"
        || path == "/oauth/userinfo"
        || path == "/oauth/revoke"
        || path == "/oauth/introspect"
        || path == "/oauth/logout"
}

/// An `Origin` header, if sent, must be one of ours. Browsers send it on every
/// cross-origin request, on POSTs and on WebSocket upgrades, so a page elsewhere cannot
/// hide it; clients that are not browsers (the tests, curl) send none.
pub fn origin_allowed(state: &AppState, headers: &HeaderMap) -> bool {
    match headers.get(header::ORIGIN) {
        None => true,
        Some(origin) => origin
            .to_str()
            .is_ok_and(|origin| state.allowed_origins.iter().any(|o| o == origin)),
    }
}

/// Refuses state-changing requests from other origins (403).
pub async fn check_origin(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let changes_state = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if changes_state
        && !is_origin_exempt(req.uri().path())
        && !origin_allowed(&state, req.headers())
    {
        return error_response(
            req.uri().path(),
            StatusCode::FORBIDDEN,
            "cross-origin request refused",
        );
    }
    next.run(req).await
}

/// Automatic demo mode (nothing configured, a loopback address) lets anyone who reaches
/// the server log in as anyone, on the grounds that only this machine can. A forwarder on
/// this machine breaks that ground while every peer still looks local: `ssh -R`, a tunnel
/// client, socat, a sidecar, nginx. So in automatic demo mode a request is answered only
/// if it is plainly made here: a loopback peer, no `X-Forwarded-For`, `Forwarded` or
/// `X-Real-IP` (which forwarders add), and a `Host` that names this machine (which a
/// forwarder passes on from the outside: `login.example.com`, a tunnel's name). A
/// deployment behind a proxy is not demo mode by accident: it sets `SCANLOGIN_DEMO=1`.
pub async fn keep_automatic_demo_local(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if matches!(state.config.mode, Mode::Demo { forced: false }) && !is_plainly_local(&req) {
        return error_response(
            req.uri().path(),
            StatusCode::FORBIDDEN,
            "demo mode answers requests made on this machine only, not through a proxy or a \
             tunnel (SCANLOGIN_DEMO=1 opens it on purpose)",
        );
    }
    next.run(req).await
}

fn is_plainly_local(req: &Request) -> bool {
    let peer_local = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(peer)| is_loopback(peer.ip()));
    let headers = req.headers();
    let forwarded = ["x-forwarded-for", "forwarded", "x-real-ip"]
        .iter()
        .any(|name| headers.contains_key(*name));
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().host());
    peer_local && !forwarded && host.is_some_and(is_loopback_host)
}

/// `localhost`, a name under `.localhost`, or a loopback address, with any port.
fn is_loopback_host(host: &str) -> bool {
    let Ok(authority) = host.parse::<axum::http::uri::Authority>() else {
        return false;
    };
    let name = authority.host().to_ascii_lowercase();
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name == "localhost"
        || name.ends_with(".localhost")
        || name.parse::<std::net::IpAddr>().is_ok_and(is_loopback)
}

/// Pages and API answers may carry who is logged in, a code or a ticket: no cache, no
/// proxy, no back-forward cache may keep them. Static assets (under `/pkg/`, and files
/// from `public/`) are not touched.
pub async fn no_store(req: Request, next: Next) -> Response {
    let api = is_api_path(req.uri().path());
    let mut response = next.run(req).await;
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    // Redirects too: where `/login` sends a logged-in person depends on who they are.
    if api || html || response.status().is_redirection() {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The Content-Security-Policy of an HTML page, with the nonce of its inline scripts.
/// WebAssembly needs `'wasm-unsafe-eval'`; the code is a `data:` image; avatars are our
/// own or on WeChat's avatar hosts (see `profile.rs`); the socket is same-origin.
pub fn page_csp(nonce: &str) -> String {
    let [host_a, host_b] = super::profile::WECHAT_AVATAR_HOSTS;
    format!(
        "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' https://{host_a} https://{host_b} data:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// For every response that did not set its own: no framing, no sniffing, and no referrer
/// to other sites. `same-origin` rather than `no-referrer`: under `no-referrer` a browser
/// sends `Origin: null` with a plain form's post, even to our own origin, and
/// [`check_origin`] would refuse the admin console's forms.
pub fn security_headers() -> [(header::HeaderName, HeaderValue); 4] {
    [
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::is_loopback_host;

    #[test]
    fn loopback_hosts_are_names_of_this_machine() {
        for host in [
            "localhost",
            "localhost:3000",
            "LOCALHOST",
            "app.localhost:3000",
            "127.0.0.1:3000",
            "127.1.2.3",
            "[::1]:3000",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "login.example.com",
            "localhost.example.com",
            "abc.trycloudflare.com",
            "10.0.0.5:3000",
            "[2001:db8::1]",
            "",
            "127.0.0.1:3000/x",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
