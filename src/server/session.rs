//! Browser sessions: the one-time ticket becomes a cookie; the cookie names a session
//! row (its token stored hashed); `/api/me` and `/api/logout` read it, and a logged-in
//! browser that opens `/login` goes straight on.

use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use cookie::{Cookie, SameSite};

use super::{
    audit::{self, Entry, Event, Origin},
    context::AppState,
    error::AppError,
    store::SessionBrowser,
};
use crate::protocol::{BrowserKey, LoginNext, Me, SceneId, Ticket, User};

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

/// The id the OpenID provider gives a login session (`sid` in ID tokens and logout
/// tokens): derived from the session token's hash, so it tells nothing of the cookie,
/// and known again from the cookie at logout without being stored.
pub fn sid_of(token: &str) -> String {
    sid_of_hash(&super::secret::hash(token))
}

/// [`sid_of`] from the session token's hash, as the database keeps it.
pub fn sid_of_hash(token_hash: &[u8]) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let digest = sha2::Sha256::new()
        .chain_update(b"scanlogin sid:")
        .chain_update(token_hash)
        .finalize();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// The logged-in user of a request.
pub async fn current_user(state: &AppState, headers: &HeaderMap) -> Result<Option<User>, AppError> {
    match token_from(state, headers) {
        Some(token) => {
            state
                .store
                .session_user(&token, state.config.sessions)
                .await
        }
        None => Ok(None),
    }
}

/// `POST /api/session`: exchanges a confirmed scene's ticket for a session cookie.
/// Returns the user and the `Set-Cookie` value.
pub async fn exchange_ticket(
    state: &AppState,
    headers: &HeaderMap,
    origin: &Origin,
    scene: &SceneId,
    ticket: &Ticket,
    key: &BrowserKey,
) -> Result<(Me, HeaderValue), AppError> {
    let redeemed = state.registry.redeem_ticket(scene, key, ticket).await?;
    let user = redeemed.user;
    super::metrics::login_step(super::metrics::Step::TicketRedeemed);
    // A new session at every login (never one the browser brought along), and the
    // old one, if any, ends.
    if let Some(old) = token_from(state, headers) {
        end(state, &old).await?;
    }
    let browser = SessionBrowser {
        user_agent: crate::user_agent::BrowserName::of(&origin.user_agent).words(),
        ip: origin.ip.clone(),
    };
    let token = state
        .store
        .create_session(
            user.id,
            state.config.sessions,
            redeemed.application.as_deref(),
            &browser,
        )
        .await?;
    let max_age = cookie::time::Duration::seconds(state.config.sessions.ttl.as_secs() as i64);
    tracing::info!(user_id = user.id, "logged in");
    let mut entry = Entry::new(Event::SessionCreated, origin).user(user.id);
    if let Some(client_id) = &redeemed.application {
        entry = entry.client(client_id);
    }
    audit::record(state, entry).await;
    Ok((Me { user }, cookie(state, token, max_age)))
}

/// `POST /api/logout` (and the OpenID provider's logout): ends the session server-side
/// and returns the `Set-Cookie` that clears the cookie. The applications the session
/// logged in to through the OpenID provider are told in the background.
pub async fn logout(
    state: &AppState,
    headers: &HeaderMap,
    origin: &Origin,
) -> Result<HeaderValue, AppError> {
    if let Some(token) = token_from(state, headers) {
        if let Some(user_id) = end(state, &token).await? {
            let entry = Entry::new(Event::SessionRevoked, origin)
                .user(user_id)
                .detail("logged out");
            audit::record(state, entry).await;
        }
    }
    Ok(cookie(state, String::new(), cookie::time::Duration::ZERO))
}

/// Ends the session of `token`, and has the applications it logged in to told. Returns
/// its user, if it was a session.
async fn end(state: &AppState, token: &str) -> Result<Option<i64>, AppError> {
    let user_id = state.store.delete_session(token).await?;
    tell_applications(state, &sid_of(token)).await;
    Ok(user_id)
}

/// Has the applications the login session `sid` logged in to told that it ended (sessions
/// ended elsewhere: by an administrator, by disabling their user).
pub async fn tell_applications(state: &AppState, sid: &str) {
    if let Err(err) = super::oidc::backchannel::session_ended(state, sid).await {
        // The person is logged out here whatever the applications are told.
        tracing::warn!(%err, "recording back-channel logouts failed");
    }
}

/// `GET /login` when already logged in: straight on, to its `next=` (an authorization
/// request of the OpenID provider) or to `/`; unless `again=1` (an OpenID client's
/// `prompt=login` asks for a new scan).
pub async fn login_redirect(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let again = req.uri().query().is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes()).any(|(n, v)| n == "again" && v == "1")
    });
    if req.uri().path() == "/login" && req.method() == axum::http::Method::GET && !again {
        if let Ok(Some(_)) = current_user(&state, req.headers()).await {
            let to = LoginNext::from_query(req.uri().query())
                .map_or_else(|| "/".to_owned(), String::from);
            return Redirect::to(&to).into_response();
        }
    }
    next.run(req).await
}
