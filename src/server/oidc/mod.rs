//! scanlogin as an OpenID Provider: any application with an OpenID Connect client
//! (Grafana, a Django shop, a single-page app) can use the scan login. Authorization code
//! flow only, with PKCE; enabled by `SCANLOGIN_OIDC_CLIENTS` (see [`clients`]), with
//! `SCANLOGIN_PUBLIC_ORIGIN` as the issuer. One file per endpoint:
//!
//! - [`discovery`]: `GET /.well-known/openid-configuration`;
//! - [`authorize`]: `GET|POST /oauth/authorize`, which sends the browser through the scan
//!   login and back to the client with a code;
//! - [`token`]: `POST /oauth/token`, the code for an ID token and an access token;
//! - [`userinfo`]: `GET|POST /oauth/userinfo`, the user for an access token;
//! - [`revocation`]: `POST /oauth/revoke`, a client ends one of its tokens (RFC 7009);
//! - [`introspection`]: `POST /oauth/introspect`, a client asks about one (RFC 7662);
//! - [`logout`]: `GET|POST /oauth/logout`, an application logs the person out here too
//!   (RP-initiated logout), and [`backchannel`], which tells the applications a login
//!   session logged in to when it ends;
//! - [`keys`]: `GET /oauth/jwks`, and the signing keys themselves;
//!
//! with the registered clients in [`clients`], codes and tokens in [`grants`], and OAuth's
//! error answer in [`error`].
//!
//! These are plain axum handlers, not server functions: OAuth's contract is form bodies,
//! Basic authentication, redirects with the answer in the query and its own error JSON
//! (`{"error","error_description"}`), none of which the server functions' JSON envelope
//! can speak.
//!
//! `sub` is our user id (stable, and never the openid).

mod authorize;
pub mod backchannel;
pub mod clients;
mod discovery;
pub mod error;
pub mod grants;
mod introspection;
mod jwt_crypto;
pub mod keys;
mod logout;
mod revocation;
pub mod token;
mod userinfo;

use std::{sync::Arc, time::Duration};

use axum::{
    http::{header, HeaderValue, Method, StatusCode},
    routing::get,
    Router,
};

use super::context::AppState;
pub use clients::Clients;

/// An ID token's life; a retired signing key stays published this long.
pub const DEFAULT_ID_TOKEN_TTL: Duration = Duration::from_secs(600);

/// The provider's settings (`SCANLOGIN_OIDC_*`).
#[derive(Debug, Clone)]
pub struct Provider {
    /// `SCANLOGIN_PUBLIC_ORIGIN`, exactly: the `iss` of every token.
    pub issuer: String,
    pub clients: Clients,
    pub id_token_ttl: Duration,
    /// An authorization code's life (`SCANLOGIN_OIDC_CODE_TTL_SECS`, 60 s).
    pub code_ttl: Duration,
    /// How long refresh tokens live.
    pub refresh: grants::RefreshPolicy,
    /// The first wait before a back-channel logout is tried again
    /// (`SCANLOGIN_OIDC_LOGOUT_RETRY_SECS`, 10 s).
    pub logout_retry: Duration,
}

pub fn router(provider: &Provider) -> Router<AppState> {
    // A single-page client calls the token and userinfo endpoints from its own origin.
    let origins: Vec<HeaderValue> = provider
        .clients
        .browser_origins()
        .into_iter()
        .filter_map(|o| HeaderValue::from_str(&o).ok())
        .collect();
    let cors = tower_http::cors::CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]);
    let for_browsers = Router::new()
        .route("/oauth/token", axum::routing::post(token::token))
        .route(
            "/oauth/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route("/oauth/revoke", axum::routing::post(revocation::revoke))
        .layer(cors);
    // Discovery and the keys are public: any page may read them (a single-page client
    // reads both before it sends anyone anywhere).
    let public = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::discovery),
        )
        .route("/oauth/jwks", get(keys::jwks))
        .layer(
            tower_http::cors::CorsLayer::new()
                .allow_origin(tower_http::cors::Any)
                .allow_methods([Method::GET]),
        );
    Router::new()
        .route(
            "/oauth/authorize",
            get(authorize::authorize_get).post(authorize::authorize_post),
        )
        .route("/oauth/authorize/refused", get(authorize::refused_get))
        .route(
            "/oauth/logout",
            get(logout::end_session_get).post(logout::end_session_post),
        )
        .route(
            "/oauth/logout/confirm",
            axum::routing::post(logout::confirm),
        )
        // Servers ask about their tokens: no CORS.
        .route(
            "/oauth/introspect",
            axum::routing::post(introspection::introspect),
        )
        .merge(public)
        .merge(for_browsers)
}

/// The provider, as the configuration holds it: these routes exist only when it does.
struct ProviderOf(Arc<Provider>);

impl axum::extract::FromRequestParts<AppState> for ProviderOf {
    type Rejection = StatusCode;

    async fn from_request_parts(
        _: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, StatusCode> {
        state
            .config
            .oidc
            .clone()
            .map(ProviderOf)
            .ok_or(StatusCode::NOT_FOUND)
    }
}

/// The `picture` claim of an avatar: absolute (avatars we serve are paths on our origin),
/// and only an avatar of ours or WeChat's (one stored before that rule is left out rather
/// than sent).
fn picture(issuer: &str, avatar_url: &str) -> Option<String> {
    let url = crate::server::profile::check_avatar_url(avatar_url).ok()?;
    if url.is_empty() {
        None
    } else if url.starts_with('/') {
        Some(format!("{issuer}{url}"))
    } else {
        Some(url)
    }
}

/// The parameters, each at most once (RFC 6749 §3.1).
pub(super) fn single_params(
    query: &str,
) -> Result<std::collections::HashMap<String, String>, String> {
    let mut params = std::collections::HashMap::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if params
            .insert(name.to_string(), value.into_owned())
            .is_some()
        {
            // Never the name itself: the error page shows this message.
            return Err("A parameter is given more than once.".to_owned());
        }
    }
    Ok(params)
}

/// A bounded printable value (`state`, `nonce`).
pub(super) fn bounded(value: Option<&String>) -> Result<Option<&str>, ()> {
    match value {
        None => Ok(None),
        Some(v)
            if !v.is_empty() && v.len() <= 512 && v.bytes().all(|b| (0x20..0x7f).contains(&b)) =>
        {
            Ok(Some(v))
        }
        Some(_) => Err(()),
    }
}

/// A form body's parameters, as a query string: `None` unless it is a form, in UTF-8.
pub(super) fn form_params(headers: &axum::http::HeaderMap, body: &[u8]) -> Option<String> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    String::from_utf8(body.to_vec()).ok().filter(|_| form)
}
