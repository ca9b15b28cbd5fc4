//! What every request passes through: the `Origin` check on state-changing requests,
//! the simulator's control surface kept to this machine, `Cache-Control: no-store` on
//! everything that may carry user data, and security headers.

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
/// provider's token and userinfo endpoints are called by other sites (a single-page
/// client posts from its own origin, under CORS) and authenticated by client credentials,
/// codes and tokens, never by our cookie.
fn is_origin_exempt(path: &str) -> bool {
    path.starts_with("/api/mp/") || path == "/oauth/token" || path == "/oauth/userinfo"
}

/// The simulator's control surface: it mints `wx.login` codes for any openid (a login as
/// anyone) and breaks WeChat on demand.
const SIMULATOR_CONTROL: &str = "/__wechat/__sim/";

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

/// The simulator's control surface answers only this machine (the client's address as
/// resolved behind trusted proxies), unless demo mode was asked for with
/// `SCANLOGIN_DEMO=1`, when a phone on the network plays the mini program.
pub async fn keep_simulator_control_local(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if req.uri().path().starts_with(SIMULATOR_CONTROL)
        && !matches!(state.config.mode, Mode::Demo { forced: true })
    {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip());
        let local = peer.is_some_and(|peer| {
            is_loopback(state.config.trusted_proxies.resolve(peer, req.headers()))
        });
        if !local {
            return error_response(
                req.uri().path(),
                StatusCode::FORBIDDEN,
                "the simulator's control surface answers this machine only (SCANLOGIN_DEMO=1 opens it)",
            );
        }
    }
    next.run(req).await
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
/// WebAssembly needs `'wasm-unsafe-eval'`; the code is a `data:` image; avatars are
/// `https:` or our own (see `profile.rs`); the socket is same-origin.
pub fn page_csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' https: data:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// For every response that did not set its own: no framing, no sniffing, no referrer.
pub fn security_headers() -> [(header::HeaderName, HeaderValue); 4] {
    [
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ),
    ]
}
