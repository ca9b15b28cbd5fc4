//! Browser sessions: the one-time ticket becomes a cookie; the cookie names a session
//! row (its token stored hashed); `/api/me` and `/api/logout` read it.

use super::{error::AppError, startup::AppState};
use crate::protocol::{BrowserKey, Me, SceneId, Ticket, User};
use axum::http::{header, HeaderMap, HeaderValue};
use cookie::{Cookie, SameSite};

/// The cookie's name: with `__Host-` under https, which pins it to this host and path `/`
/// and requires `Secure`.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-scanlogin_session"
    } else {
        "scanlogin_session"
    }
}

fn cookie(state: &AppState, value: String, max_age: cookie::time::Duration) -> HeaderValue {
    let cookie = Cookie::build((cookie_name(state.secure_cookies), value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.secure_cookies)
        .max_age(max_age)
        .build();
    HeaderValue::from_str(&cookie.to_string()).expect("a cookie is a valid header value")
}

/// The session token in the request's cookies, if any.
pub fn token_from(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let name = cookie_name(state.secure_cookies);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

/// The logged-in user of a request.
pub async fn current_user(state: &AppState, headers: &HeaderMap) -> Result<Option<User>, AppError> {
    match token_from(state, headers) {
        Some(token) => state.store.session_user(&token, state.session_policy).await,
        None => Ok(None),
    }
}

/// `POST /api/session`: exchanges a confirmed scene's ticket for a session cookie.
/// Returns the user and the `Set-Cookie` value.
pub async fn exchange_ticket(
    state: &AppState,
    headers: &HeaderMap,
    scene: &SceneId,
    ticket: &Ticket,
    key: &BrowserKey,
) -> Result<(Me, HeaderValue), AppError> {
    let user = state.registry.redeem_ticket(scene, key, ticket).await?;
    super::metrics::login_step(super::metrics::Step::TicketRedeemed);
    // A new session at every login (never one the browser brought along), and the
    // old one, if any, ends.
    if let Some(old) = token_from(state, headers) {
        state.store.delete_session(&old).await?;
    }
    let token = state
        .store
        .create_session(user.id, state.session_policy)
        .await?;
    let max_age = cookie::time::Duration::seconds(state.session_policy.ttl.as_secs() as i64);
    tracing::info!(user_id = user.id, "logged in");
    Ok((Me { user }, cookie(state, token, max_age)))
}

/// `POST /api/logout`: ends the session server-side and clears the cookie.
pub async fn logout(state: &AppState, headers: &HeaderMap) -> Result<HeaderValue, AppError> {
    if let Some(token) = token_from(state, headers) {
        state.store.delete_session(&token).await?;
    }
    Ok(cookie(state, String::new(), cookie::time::Duration::ZERO))
}
