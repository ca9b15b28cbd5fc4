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
    login_notice::LoginNotice,
    store::{access::Sessions, SessionBrowser},
};
use crate::protocol::{BrowserKey, LoginNext, Me, SceneId, SessionSummary, Ticket, User};

/// The cookie's name. Under https: `__Host-`, which pins it to this host and path `/` and
/// requires `Secure`; or, shared with a parent domain (`SCANLOGIN_COOKIE_DOMAIN`, for
/// forward authentication), `__Secure-`, since a `__Host-` cookie cannot name a domain.
pub fn cookie_name(state: &AppState) -> &'static str {
    match (state.secure_cookies, state.config.cookie_domain.is_some()) {
        (true, false) => HOST_COOKIE,
        (true, true) => "__Secure-scanlogin_session",
        (false, _) => "scanlogin_session",
    }
}

const HOST_COOKIE: &str = "__Host-scanlogin_session";

fn cookie(state: &AppState, value: String, max_age: cookie::time::Duration) -> HeaderValue {
    let mut cookie = Cookie::build((cookie_name(state), value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.secure_cookies)
        .max_age(max_age);
    if let Some(domain) = &state.config.cookie_domain {
        cookie = cookie.domain(domain.clone());
    }
    HeaderValue::from_str(&cookie.build().to_string()).expect("a cookie is a valid header value")
}

/// The session token in the request's cookies, if any: the cookie of [`cookie_name`], or,
/// since a cookie domain was set, a `__Host-` one made before (still a session here).
pub fn token_from(state: &AppState, headers: &HeaderMap) -> Option<String> {
    tokens_from(state, headers).into_iter().next()
}

/// Every session token the request carries: [`cookie_name`]'s, then an older `__Host-`
/// one's (a browser holds both for a while after a cookie domain is set).
fn tokens_from(state: &AppState, headers: &HeaderMap) -> Vec<String> {
    let cookies: Vec<Cookie<'_>> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .collect();
    let name = cookie_name(state);
    let old = (state.secure_cookies && name != HOST_COOKIE).then_some(HOST_COOKIE);
    [Some(name), old]
        .into_iter()
        .flatten()
        .filter_map(|wanted| cookies.iter().find(|c| c.name() == wanted))
        .map(|c| c.value().to_owned())
        .collect()
}

/// With a cookie domain, a browser whose session is in the older `__Host-` cookie only
/// (made before the domain was set) gets it in the shared cookie: the `__Host-` cookie
/// never reaches the protected hosts, whose proxies would send it to log in forever.
pub async fn shared_cookie(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<HeaderValue>, AppError> {
    let name = cookie_name(state);
    if state.config.cookie_domain.is_none() || name == HOST_COOKIE {
        return Ok(None);
    }
    let has_shared = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .any(|c| c.name() == name);
    let Some(token) = token_from(state, headers).filter(|_| !has_shared) else {
        return Ok(None);
    };
    let Some(live) = state.store.session(&token, state.config.sessions).await? else {
        return Ok(None);
    };
    let left = (live.expires_at - super::store::unix_now()).max(0);
    Ok(Some(cookie(
        state,
        token,
        cookie::time::Duration::seconds(left),
    )))
}

/// The id the OpenID provider gives a login session (`sid` in ID tokens and logout
/// tokens): derived from the session token's hash, so it tells nothing of the cookie,
/// and known again from the cookie at logout without being stored.
pub fn sid_of(token: &str) -> String {
    sid_of_hash(&super::secret::hash(token))
}

/// A sensitive action needs a login at most this old: a fresh scan (step-up).
pub const STEP_UP_SECS: i64 = 600;

/// The person whose session a request carries.
pub struct LoggedIn {
    pub user: User,
    /// When they scanned for this session (seconds since the epoch).
    pub auth_time: i64,
    /// The session's id ([`sid_of`]).
    pub sid: String,
}

impl LoggedIn {
    /// Refuses a sensitive action by a login older than [`STEP_UP_SECS`].
    pub fn step_up(&self) -> Result<(), AppError> {
        if super::store::unix_now() - self.auth_time > STEP_UP_SECS {
            return Err(AppError::StepUpNeeded);
        }
        Ok(())
    }
}

/// The request's person: `NotLoggedIn` without a live session.
pub async fn require(state: &AppState, headers: &HeaderMap) -> Result<LoggedIn, AppError> {
    let token = token_from(state, headers).ok_or(AppError::NotLoggedIn)?;
    let live = state
        .store
        .session(&token, state.config.sessions)
        .await?
        .ok_or(AppError::NotLoggedIn)?;
    Ok(LoggedIn {
        user: live.user,
        auth_time: live.auth_time,
        sid: sid_of(&token),
    })
}

/// The live sessions of `user_id`, newest first, `current_sid`'s marked.
pub async fn sessions_of(
    state: &AppState,
    user_id: i64,
    current_sid: &str,
) -> Result<Vec<SessionSummary>, AppError> {
    use super::qr_image::rfc3339;
    Ok(state
        .store
        .sessions_of(user_id)
        .await?
        .into_iter()
        .map(|(hash, browser, ip, created_at, last_seen_at)| {
            let sid = sid_of_hash(&hash);
            SessionSummary {
                current: sid == current_sid,
                id: sid,
                browser,
                place: state.config.places.of(&ip),
                ip,
                created_at: rfc3339(created_at),
                last_seen_at: rfc3339(last_seen_at),
            }
        })
        .collect())
}

/// Which of a person's sessions to end, by their ids ([`sid_of`]).
#[derive(Debug, Clone, Copy)]
pub enum Ending<'a> {
    All,
    One(&'a str),
    AllBut(&'a str),
}

/// Ends `which` of `user_id`'s sessions (at once on every instance: each reads sessions
/// from the database) and has the applications they logged in to told. Returns how many
/// ended; `NotFound` for one that is not theirs.
pub async fn end_sessions(
    state: &AppState,
    user_id: i64,
    which: Ending<'_>,
) -> Result<usize, AppError> {
    let hash_of = |sid: &str| {
        let sid = sid.to_owned();
        async move {
            state
                .store
                .sessions_of(user_id)
                .await?
                .into_iter()
                .map(|(hash, ..)| hash)
                .find(|hash| sid_of_hash(hash) == sid)
                .ok_or(AppError::NotFound)
        }
    };
    let ended = match which {
        Ending::All => state.store.end_sessions_of(user_id, Sessions::All).await?,
        Ending::One(sid) => {
            let hash = hash_of(sid).await?;
            state
                .store
                .end_sessions_of(user_id, Sessions::One(&hash))
                .await?
        }
        Ending::AllBut(sid) => {
            let hash = hash_of(sid).await?;
            state
                .store
                .end_sessions_of(user_id, Sessions::AllBut(&hash))
                .await?
        }
    };
    state.session_cache.forget_user(user_id).await;
    for hash in &ended {
        tell_applications(state, &sid_of_hash(hash)).await;
    }
    Ok(ended.len())
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
    if let Some(openid) = redeemed.notify {
        state.login_notices.send(LoginNotice {
            openid,
            session: sid_of(&token),
            browser: browser.user_agent,
            place: state.config.places.of(&browser.ip),
            ip: browser.ip,
            at: super::store::unix_now(),
        });
    }
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
    for token in tokens_from(state, headers) {
        if let Some(user_id) = end(state, &token).await? {
            let entry = Entry::new(Event::SessionRevoked, origin)
                .user(user_id)
                .detail("logged out");
            audit::record(state, entry).await;
        }
    }
    Ok(cleared_cookie(state))
}

/// The `Set-Cookie` that removes the session's cookie from the browser.
pub fn cleared_cookie(state: &AppState) -> HeaderValue {
    cookie(state, String::new(), cookie::time::Duration::ZERO)
}

/// Ends the session of `token`, and has the applications it logged in to told. Returns
/// its user, if it was a session.
async fn end(state: &AppState, token: &str) -> Result<Option<i64>, AppError> {
    let user_id = state.store.delete_session(token).await?;
    if let Some(user_id) = user_id {
        state.session_cache.forget_user(user_id).await;
    }
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

/// The pages that are someone's (the admin console, the account page): a browser without
/// a live session (none, or one that ended) is sent to the scan login, which comes back
/// here. Any other refusal is the page's own (403 from its server function).
pub async fn send_to_login(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let someones = path == "/admin" || path.starts_with("/admin/") || path == "/account";
    if someones
        && req.method() == axum::http::Method::GET
        && matches!(current_user(&state, req.headers()).await, Ok(None))
    {
        let back: String = url::form_urlencoded::byte_serialize(path.as_bytes()).collect();
        return Redirect::to(&format!("/login?next={back}")).into_response();
    }
    next.run(req).await
}

/// `GET /login` when already logged in: straight on, to its `next=` (an authorization
/// request of the OpenID provider) or to `/`; unless `again=1` (an OpenID client's
/// `prompt=login` asks for a new scan). `/login?rd=` (forward authentication) becomes
/// the login going on to that protected application.
pub async fn login_redirect(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let again = req.uri().query().is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes()).any(|(n, v)| n == "again" && v == "1")
    });
    let rd = req.uri().query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(n, _)| n == "rd")
            .map(|(_, v)| v.into_owned())
    });
    if let (Some(rd), "/login") = (rd, req.uri().path()) {
        return super::forward_auth::login_with_return(&state, req.headers(), &rd);
    }
    if req.uri().path() == "/login" && req.method() == axum::http::Method::GET && !again {
        if let Ok(Some(_)) = current_user(&state, req.headers()).await {
            let to = LoginNext::from_query(req.uri().query())
                .map_or_else(|| "/".to_owned(), String::from);
            return Redirect::to(&to).into_response();
        }
    }
    next.run(req).await
}
