//! scanlogin as an OpenID Provider: any application with an OpenID Connect client
//! (Grafana, a Django shop, a single-page app) can use the scan login. Authorization code
//! flow only, with PKCE; enabled by `SCANLOGIN_OIDC_CLIENTS` (see [`clients`]), with
//! `SCANLOGIN_PUBLIC_ORIGIN` as the issuer.
//!
//! - `GET /.well-known/openid-configuration`: discovery;
//! - `GET /oauth/authorize`: checks the request; without a session sends the browser to
//!   the scan login (`/login?next=...`), which comes back here; with one, redirects to the
//!   client with a code;
//! - `POST /oauth/token`: the authorization code for an ID token (RS256, [`keys`]) and an access token
//!   ([`grants`]); exempt from the browser `Origin` check, with CORS for the origins of
//!   public clients' redirect URIs;
//! - `GET|POST /oauth/userinfo`: the user, for an access token;
//! - `GET /oauth/jwks`: the public keys.
//!
//! These are plain axum handlers, not server functions: OAuth's contract is form bodies,
//! Basic authentication, redirects with the answer in the query and its own error JSON
//! (`{"error","error_description"}`), none of which the server functions' JSON envelope
//! can speak.
//!
//! `sub` is our user id (stable, and never the openid).

pub mod clients;
pub mod grants;
pub mod keys;

use std::{sync::Arc, time::Duration};

use axum::{
    extract::{RawQuery, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
    routing::get,
    Form, Json, Router,
};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{context::AppState, error::AppError, session};
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
        .route("/oauth/token", axum::routing::post(token))
        .route("/oauth/userinfo", get(userinfo).post(userinfo))
        .layer(cors);
    // Discovery and the keys are public: any page may read them (a single-page client
    // reads both before it sends anyone anywhere).
    let public = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/oauth/jwks", get(jwks))
        .layer(
            tower_http::cors::CorsLayer::new()
                .allow_origin(tower_http::cors::Any)
                .allow_methods([Method::GET]),
        );
    Router::new()
        .route("/oauth/authorize", get(authorize))
        .merge(public)
        .merge(for_browsers)
}

/// A failure of ours (the database, mostly) in OAuth's error format, counted and logged
/// as the error table says; its details stay in the log.
fn server_error(err: AppError) -> Response {
    let treatment = err.record();
    oauth_error(treatment.status, "server_error", &err.to_string())
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

async fn discovery(ProviderOf(p): ProviderOf) -> Json<serde_json::Value> {
    let at = |path: &str| format!("{}{path}", p.issuer);
    Json(serde_json::json!({
        "issuer": p.issuer,
        "authorization_endpoint": at("/oauth/authorize"),
        "token_endpoint": at("/oauth/token"),
        "userinfo_endpoint": at("/oauth/userinfo"),
        "jwks_uri": at("/oauth/jwks"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": clients::SCOPES,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "name", "picture"],
        "authorization_response_iss_parameter_supported": true,
    }))
}

async fn jwks(State(state): State<AppState>, ProviderOf(p): ProviderOf) -> Response {
    match keys::published(&state.store, p.id_token_ttl).await {
        Ok(set) => Json(set).into_response(),
        Err(err) => server_error(err),
    }
}

/// An error shown on our own page: the redirect URI cannot be trusted, so nothing is
/// sent to it (RFC 6749 §4.1.2.1). `problem` is one of our fixed sentences, never text
/// from the request.
fn error_page(problem: &'static str) -> Response {
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><meta charset=\"utf-8\"><title>Login request refused</title>\
         <main style=\"font-family:system-ui;max-width:32rem;margin:3rem auto\">\
         <h1>This login request cannot be used</h1><p>{problem}</p>\
         <p lang=\"zh-CN\">登录请求无效，请回到原来的网站重新登录。</p></main></html>"
    );
    (StatusCode::BAD_REQUEST, Html(body)).into_response()
}

/// An error sent back to the client's redirect URI, with its `state`.
fn error_redirect(
    redirect_uri: &str,
    error: &str,
    description: &str,
    state: Option<&str>,
    issuer: &str,
) -> Response {
    answer_client(
        redirect_uri,
        &[("error", error), ("error_description", description)],
        state,
        issuer,
    )
}

/// Sends the browser back to the client's redirect URI with `pairs`, its `state` and our
/// `iss` (RFC 9207) added to the URI's own query.
fn answer_client(
    redirect_uri: &str,
    pairs: &[(&str, &str)],
    state: Option<&str>,
    issuer: &str,
) -> Response {
    let mut url = match url::Url::parse(redirect_uri) {
        Ok(url) => url,
        Err(_) => return error_page("The application's redirect address is not a URL."),
    };
    {
        let mut query = url.query_pairs_mut();
        query.extend_pairs(pairs);
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", issuer);
    }
    Redirect::to(url.as_str()).into_response()
}

/// The parameters, each at most once (RFC 6749 §3.1).
fn single_params(query: &str) -> Result<std::collections::HashMap<String, String>, String> {
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
fn bounded(value: Option<&String>) -> Result<Option<&str>, ()> {
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

/// A PKCE S256 challenge: 43 characters of base64url (RFC 7636 §4.2).
fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

async fn authorize(
    State(state): State<AppState>,
    ProviderOf(p): ProviderOf,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let params = match single_params(&query) {
        Ok(params) => params,
        Err(_) => return error_page("A parameter is given more than once."),
    };
    let param = |name: &str| params.get(name).filter(|v| !v.is_empty());
    // Until the client and its redirect URI are known good, errors stay on our page.
    let Some(client) = param("client_id").and_then(|id| p.clients.get(id)) else {
        return error_page("The application (client_id) is not registered here.");
    };
    let Some(redirect_uri) = param("redirect_uri").filter(|uri| client.allows_redirect(uri)) else {
        return error_page(
            "The redirect address (redirect_uri) is not one registered for this application.",
        );
    };
    let Ok(client_state) = bounded(params.get("state")) else {
        return error_page("The state parameter is malformed.");
    };
    let refuse = |error: &str, description: &str| {
        error_redirect(redirect_uri, error, description, client_state, &p.issuer)
    };
    if param("response_type").map(String::as_str) != Some("code") {
        return refuse(
            "unsupported_response_type",
            "only response_type=code is supported",
        );
    }
    let scope = param("scope").map(String::as_str).unwrap_or("");
    let scopes: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
    if !scopes.contains(&"openid") {
        return refuse("invalid_scope", "scope must include openid");
    }
    // Scopes this client may not have (`email`, say) are left out, not refused (RFC 6749
    // §3.3): the token answer's `scope` says what was granted.
    let scopes: Vec<&str> = scopes
        .into_iter()
        .filter(|s| client.scopes.contains(*s))
        .collect();
    let Ok(nonce) = bounded(params.get("nonce")) else {
        return refuse("invalid_request", "nonce is malformed");
    };
    let challenge = param("code_challenge");
    match (
        challenge,
        param("code_challenge_method").map(String::as_str),
    ) {
        (None, None) if !client.is_public() => {}
        (None, _) => {
            return refuse(
                "invalid_request",
                "PKCE is required: code_challenge with code_challenge_method=S256",
            )
        }
        (Some(c), Some("S256")) if is_s256_challenge(c) => {}
        (Some(_), Some("S256")) => {
            return refuse("invalid_request", "code_challenge is not an S256 challenge")
        }
        (Some(_), _) => return refuse("invalid_request", "code_challenge_method must be S256"),
    }
    let prompt = param("prompt").map(String::as_str).unwrap_or("");
    let session = match session::token_from(&state, &headers) {
        Some(token) => match state.store.session(&token, state.config.sessions).await {
            Ok(found) => found,
            Err(err) => return server_error(err),
        },
        None => None,
    };
    // `prompt=login`: a new scan even with a session (the login page then shows the
    // code instead of going straight on: `again=1`).
    // `max_age`: a login older than that counts as none (OpenID Connect Core §3.1.2.1).
    let max_age: Option<i64> = param("max_age").and_then(|m| m.parse().ok());
    let now = super::store::unix_now();
    let again = prompt.split(' ').any(|p| p == "login")
        || session
            .as_ref()
            .is_some_and(|(_, auth_time)| max_age.is_some_and(|max| now - auth_time > max));
    let Some((user, auth_time)) = session.filter(|_| !again) else {
        if prompt.split(' ').any(|p| p == "none") {
            return refuse("login_required", "the person is not logged in");
        }
        // The scan login, then back here with the same request (minus a `prompt=login`
        // honoured by this very login).
        let back = format!("/oauth/authorize?{}", without_prompt_login(&query));
        let next: String = url::form_urlencoded::byte_serialize(back.as_bytes()).collect();
        let again = if again { "&again=1" } else { "" };
        return Redirect::to(&format!("/login?next={next}{again}")).into_response();
    };
    let grant = grants::Grant {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.clone(),
        user_id: user.id,
        scope: scopes.join(" "),
        nonce: nonce.map(str::to_owned),
        code_challenge: challenge.cloned(),
        auth_time,
    };
    let code = match grants::issue_authorization_code(&state.store, &grant, p.code_ttl).await {
        Ok(code) => code,
        Err(err) => return server_error(err),
    };
    tracing::info!(client_id = %client.id, user_id = user.id, "authorization code issued");
    answer_client(redirect_uri, &[("code", &code)], client_state, &p.issuer)
}

/// The query without `prompt=login` (the login it asks for is the one about to happen).
fn without_prompt_login(query: &str) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if name == "prompt" {
            let kept: Vec<&str> = value
                .split(' ')
                .filter(|p| *p != "login" && !p.is_empty())
                .collect();
            if !kept.is_empty() {
                out.append_pair("prompt", &kept.join(" "));
            }
        } else {
            out.append_pair(&name, &value);
        }
    }
    out.finish()
}

/// OAuth's error JSON, never cached.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = (
        status,
        Json(serde_json::json!({"error": error, "error_description": description})),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"scanlogin\""),
        );
    }
    response
}

#[derive(Deserialize)]
struct TokenRequest {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    code_verifier: Option<String>,
}

#[derive(Serialize)]
struct IdTokenClaims<'a> {
    iss: &'a str,
    sub: String,
    aud: &'a str,
    exp: i64,
    iat: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    picture: Option<String>,
}

/// `client_secret_basic`: the id and secret from `Authorization: Basic` (each
/// form-urlencoded first, RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

async fn token(
    State(state): State<AppState>,
    ProviderOf(p): ProviderOf,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<TokenRequest>, axum::extract::rejection::FormRejection>,
) -> Response {
    // Each request may cost an argon2 hash: a client address gets the ticket exchanges'
    // rate (`SCANLOGIN_RATE_SESSIONS_PER_MIN`), which also bounds guessing a secret.
    let caller = super::context::Client::resolve(&state, &headers, peer.ip());
    if let Err(err) = state
        .limits
        .check(super::limits::Bucket::Sessions, caller.key)
        .await
    {
        let treatment = err.record();
        let mut response = oauth_error(treatment.status, "invalid_request", &err.to_string());
        if let Some(secs) = treatment.retry_after_secs {
            if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        return response;
    }
    let mut response = match token_answer(&state, &p, &headers, form).await {
        Ok(json) => Json(json).into_response(),
        Err(response) => response,
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

async fn token_answer(
    state: &AppState,
    p: &Provider,
    headers: &HeaderMap,
    form: Result<Form<TokenRequest>, axum::extract::rejection::FormRejection>,
) -> Result<serde_json::Value, Response> {
    let Ok(Form(req)) = form else {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        ));
    };
    let bad =
        |error: &str, description: &str| oauth_error(StatusCode::BAD_REQUEST, error, description);
    let unauthorized = || {
        oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        )
    };
    // The client: by Basic authentication, or by the body, never both.
    let basic = basic_credentials(headers);
    let (client_id, secret) = match (basic, &req.client_secret) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "invalid_request",
                "use one client authentication method",
            ))
        }
        (Some((id, secret)), None) => (id, Some(secret)),
        (None, secret) => match &req.client_id {
            Some(id) => (id.clone(), secret.clone()),
            None => return Err(unauthorized()),
        },
    };
    if req.client_id.as_ref().is_some_and(|id| *id != client_id) {
        return Err(unauthorized());
    }
    let Some(client) = p.clients.get(&client_id) else {
        return Err(unauthorized());
    };
    let authenticated = match (secret, client.is_public()) {
        (None, true) => true,
        (Some(secret), false) => {
            // argon2 is deliberately slow: off the async workers.
            let client = client.clone();
            tokio::task::spawn_blocking(move || client.secret_matches(&secret))
                .await
                .unwrap_or(false)
        }
        _ => false,
    };
    if !authenticated {
        return Err(unauthorized());
    }
    if req.grant_type.as_deref() != Some("authorization_code") {
        return Err(bad("unsupported_grant_type", "only authorization_code"));
    }
    let Some(code) = req
        .code
        .as_deref()
        .filter(|c| !c.is_empty() && c.len() <= 128)
    else {
        return Err(bad("invalid_request", "code is missing"));
    };
    // Only the client the authorization code was issued to can take (and so use up) it.
    let grant = match grants::redeem_authorization_code(&state.store, code, &client.id)
        .await
        .map_err(server_error)?
    {
        Ok(grant) => grant,
        Err(_) => {
            return Err(bad(
                "invalid_grant",
                "the code is unknown, expired, used, or another client's",
            ))
        }
    };
    if req.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str()) {
        return Err(bad(
            "invalid_grant",
            "redirect_uri differs from the authorization request's",
        ));
    }
    match (&grant.code_challenge, &req.code_verifier) {
        (None, None) => {}
        (Some(challenge), Some(verifier)) => {
            let ok_verifier = (43..=128).contains(&verifier.len())
                && verifier
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(Sha256::digest(verifier.as_bytes()));
            let same: bool =
                subtle::ConstantTimeEq::ct_eq(computed.as_bytes(), challenge.as_bytes()).into();
            if !ok_verifier || !same {
                return Err(bad(
                    "invalid_grant",
                    "the PKCE code_verifier does not match",
                ));
            }
        }
        (Some(_), None) => return Err(bad("invalid_grant", "the PKCE code_verifier is missing")),
        (None, Some(_)) => {
            return Err(bad(
                "invalid_grant",
                "no PKCE challenge was given for this code",
            ))
        }
    }
    let user = state
        .store
        .user(grant.user_id)
        .await
        .map_err(server_error)?;
    let Some(user) = user else {
        return Err(bad("invalid_grant", "the user no longer exists"));
    };
    let access_token = grants::issue_access_token(&state.store, code, &grant)
        .await
        .map_err(server_error)?;
    let now = super::store::unix_now();
    let profile = grant.scope.split(' ').any(|s| s == "profile");
    let claims = IdTokenClaims {
        iss: &p.issuer,
        sub: user.id.to_string(),
        aud: &client.id,
        exp: now + p.id_token_ttl.as_secs() as i64,
        iat: now,
        auth_time: grant.auth_time,
        nonce: grant.nonce.as_deref(),
        name: profile
            .then(|| user.nickname.clone())
            .filter(|n| !n.is_empty()),
        picture: profile
            .then(|| picture(&p.issuer, &user.avatar_url))
            .flatten(),
    };
    let key = keys::active(&state.store).await.map_err(server_error)?;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(key.kid);
    let id_token = jsonwebtoken::encode(&header, &claims, &key.key)
        .map_err(|e| server_error(AppError::Internal(format!("signing an ID token: {e}"))))?;
    tracing::info!(client_id = %client.id, user_id = user.id, "tokens issued");
    Ok(serde_json::json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": grants::ACCESS_TOKEN_TTL.as_secs(),
        "id_token": id_token,
        "scope": grant.scope,
    }))
}

/// Avatars we serve are paths on our origin: clients get an absolute URL.
/// The `picture` claim of an avatar: absolute, and only an avatar of ours or WeChat's
/// (one stored before that rule is left out rather than sent).
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

async fn userinfo(
    State(state): State<AppState>,
    ProviderOf(p): ProviderOf,
    headers: HeaderMap,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let invalid = || {
        let mut r = (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({"error": "invalid_token"})),
        )
            .into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
        r
    };
    let Some(token) = bearer.filter(|t| t.len() <= 128) else {
        return invalid();
    };
    let found = match grants::access_token(&state.store, token).await {
        Ok(found) => found,
        Err(err) => return server_error(err),
    };
    let Some((user_id, scope)) = found else {
        return invalid();
    };
    let user = match state.store.user(user_id).await {
        Ok(Some(user)) => user,
        Ok(None) => return invalid(),
        Err(err) => return server_error(err),
    };
    let mut answer = serde_json::json!({"sub": user.id.to_string()});
    if scope.split(' ').any(|s| s == "profile") {
        answer["name"] = user.nickname.into();
        if let Some(picture) = picture(&p.issuer, &user.avatar_url) {
            answer["picture"] = picture.into();
        }
    }
    Json(answer).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut headers = HeaderMap::new();
        let raw = base64::engine::general_purpose::STANDARD.encode("my%20app:s%3Acret");
        headers.insert(
            header::AUTHORIZATION,
            format!("Basic {raw}").parse().unwrap(),
        );
        assert_eq!(
            basic_credentials(&headers),
            Some(("my app".into(), "s:cret".into()))
        );
    }

    #[test]
    fn prompt_login_is_dropped_from_the_continuation() {
        assert_eq!(
            without_prompt_login("a=1&prompt=login+consent&b=2"),
            "a=1&prompt=consent&b=2"
        );
        assert_eq!(without_prompt_login("prompt=login"), "");
    }
}
