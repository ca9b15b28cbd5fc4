//! The person's own account (`/account`): where they are logged in, the applications
//! they let in, their recent entries in the audit trail, a copy of their data (China's
//! PIPL, Art. 45) and deleting the account (Art. 47).
//!
//! Whose account is always the request's session's: nothing in a request names a user.
//! Everything is in the database, which every instance reads on every request, so a
//! session ended here is refused by every instance at once.

use axum::{
    extract::{ConnectInfo, State},
    http::{header, HeaderMap},
    response::{IntoResponse, Redirect, Response},
};
use serde::Serialize;

use super::{
    audit::{self, Entry, Event, Origin},
    context::{AppState, Client},
    error::AppError,
    form::{self, Fields},
    limits::Bucket,
    session::{self, Ending, LoggedIn},
    store::{audit::AuditFilter, oidc::LoggedOut, unix_now},
    wechat::push::{PushEvent, PROFILE_REVOKED},
};
use crate::protocol::{
    Account, AuditEntry, Ended, Envelope, GrantSummary, LoginCode, SessionSummary, UserSummary,
};

/// The account page: where its forms come back to.
pub const PAGE: &str = "/account";

/// Where the browser goes once the account is deleted.
pub const DELETED_PAGE: &str = "/?deleted=1";

/// Entries of the audit trail on the page.
const RECENT: i64 = 20;

/// Entries of the audit trail in a copy of one's data.
const ALL_ENTRIES: i64 = 1_000;

/// A copy of one's data at most this often: it is the heaviest read a person can ask for.
pub const DATA_EVERY_SECS: i64 = 60;

/// The account page's data.
pub async fn account(state: &AppState, me: &LoggedIn) -> Result<Account, AppError> {
    let id = me.user.id;
    Ok(Account {
        user: me.user.clone(),
        sessions: session::sessions_of(state, id, &me.sid).await?,
        applications: applications_of(state, id).await?,
        recent: entries_of(state, id, RECENT).await?,
        fresh: me.step_up().is_ok(),
        places_credit: state.config.places.credit().cloned(),
    })
}

/// The OpenID clients `user_id` holds tokens for, by their registered names.
async fn applications_of(state: &AppState, user_id: i64) -> Result<Vec<GrantSummary>, AppError> {
    let mut grants = state.store.grants_of(user_id).await?;
    if let Some(provider) = &state.config.oidc {
        for grant in &mut grants {
            if let Some(client) = provider.clients.get(&grant.client_id) {
                grant.name = client.application().name;
            }
        }
    }
    Ok(grants)
}

/// Up to `limit` entries about `user_id` (or by them), newest first, with what is still
/// on its way to the database.
async fn entries_of(
    state: &AppState,
    user_id: i64,
    limit: i64,
) -> Result<Vec<AuditEntry>, AppError> {
    state.audit.flush().await;
    let filter = AuditFilter {
        user_id: Some(user_id),
        ..AuditFilter::default()
    };
    let rows = state.store.audit(&filter, limit, 0).await?;
    let places = &state.config.places;
    Ok(rows
        .into_iter()
        .map(|row| audit::shown(row, places))
        .collect())
}

/// `POST /account/act`: the account page's forms (see [`super::form`]).
pub async fn form_post(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let done = async {
        let me = session::require(&state, &headers).await?;
        let client = Client::resolve(&state, &headers, peer.ip());
        let origin = Origin::of(&headers, client);
        let entry = |event| Entry::new(event, &origin).user(me.user.id);
        match fields.get("action") {
            Some("end_session") => {
                let sid = fields.get("session").unwrap_or_default();
                session::end_sessions(&state, me.user.id, Ending::One(sid)).await?;
                let detail = format!("session {sid}, by its owner");
                audit::record(&state, entry(Event::SessionRevoked).detail(detail)).await;
            }
            Some("end_other_sessions") => {
                let ended =
                    session::end_sessions(&state, me.user.id, Ending::AllBut(&me.sid)).await?;
                let detail = format!("{ended} other sessions, by their owner");
                audit::record(&state, entry(Event::SessionRevoked).detail(detail)).await;
            }
            Some("revoke_application") => {
                let client_id = fields.get("client_id").unwrap_or_default();
                revoke_application(&state, me.user.id, client_id).await?;
                let revoked = entry(Event::ApplicationRevoked).client(client_id);
                audit::record(&state, revoked).await;
            }
            Some("delete_account") => {
                me.step_up()?;
                if fields.get("understood") != Some("on") {
                    return Err(AppError::Malformed("the deletion was not confirmed".into()));
                }
                delete_account(&state, me.user.id, &origin).await?;
                return Ok(true);
            }
            _ => return Err(AppError::Malformed("not an action of the account".into())),
        }
        Ok::<_, AppError>(false)
    };
    match done.await {
        Ok(true) => {
            let mut answer = Redirect::to(DELETED_PAGE).into_response();
            answer
                .headers_mut()
                .insert(header::SET_COOKIE, session::cleared_cookie(&state));
            answer
        }
        done => form::answer(done.map(|_| ()), PAGE),
    }
}

/// Ends `user_id`'s codes and tokens for `client_id`, and tells it where it takes
/// back-channel logout.
async fn revoke_application(
    state: &AppState,
    user_id: i64,
    client_id: &str,
) -> Result<(), AppError> {
    if !state.store.revoke_client(user_id, client_id).await? {
        return Err(AppError::NotFound);
    }
    let ended = LoggedOut::UserAtClient(user_id, client_id);
    if let Err(err) = super::oidc::backchannel::logged_out(state, ended).await {
        // Its tokens are gone whatever the application is told.
        tracing::warn!(%err, "recording back-channel logouts failed");
    }
    Ok(())
}

/// Deletes `user_id`'s account: their sessions end (and the applications they logged in
/// to are told), then the user and all that is theirs goes (see `Store::delete_user`). The
/// trail keeps an entry that it happened, with the user's number only.
async fn delete_account(state: &AppState, user_id: i64, origin: &Origin) -> Result<(), AppError> {
    session::end_sessions(state, user_id, Ending::All).await?;
    // What is still on its way to the trail is scrubbed with the rest.
    state.audit.flush().await;
    if !state.store.delete_user(user_id).await? {
        return Err(AppError::NotFound);
    }
    let pseudonymous = Origin {
        request_id: origin.request_id.clone(),
        ..Origin::default()
    };
    let entry = Entry::new(Event::AccountDeleted, &pseudonymous).user(user_id);
    audit::record(state, entry).await;
    Ok(())
}

/// The user a mini program's `wx.login` code proves, for its account calls. The code is
/// spent at WeChat (`jscode2session`), so it proves this phone's WeChat user now; the
/// phone keeps no token. `NotFound`: a WeChat identity with no account.
async fn user_of_code(state: &AppState, client: Client, code: &LoginCode) -> Result<i64, AppError> {
    state.limits.check(Bucket::Scans, client.key).await?;
    let login = state
        .wechat
        .code_to_session(code.as_str())
        .await
        .map_err(AppError::from_login)?;
    let appid = state.wechat.appid();
    let standing = state
        .store
        .standing(appid, &login.openid, login.unionid.as_deref());
    Ok(standing.await?.ok_or(AppError::NotFound)?.user_id)
}

/// `POST /api/mp/account`: the account of the code's person, as the web page shows it.
pub async fn mp_account(
    state: &AppState,
    client: Client,
    code: &LoginCode,
) -> Result<Envelope<Account>, AppError> {
    let id = user_of_code(state, client, code).await?;
    let user = state.store.user(id).await?.ok_or(AppError::NotFound)?;
    Ok(Envelope::ok(Account {
        user,
        // None of the sessions is the phone's own.
        sessions: session::sessions_of(state, id, "").await?,
        applications: applications_of(state, id).await?,
        recent: entries_of(state, id, RECENT).await?,
        fresh: true,
        places_credit: state.config.places.credit().cloned(),
    }))
}

/// `POST /api/mp/logout_everywhere`: ends every session of the code's person.
pub async fn mp_logout_everywhere(
    state: &AppState,
    client: Client,
    origin: &Origin,
    code: &LoginCode,
) -> Result<Envelope<Ended>, AppError> {
    mp_end(state, client, origin, code, Ending::All).await
}

/// `POST /api/mp/end_session`: ends one session of the code's person, the one a login's
/// message named ("was this you?").
pub async fn mp_end_session(
    state: &AppState,
    client: Client,
    origin: &Origin,
    code: &LoginCode,
    sid: &str,
) -> Result<Envelope<Ended>, AppError> {
    mp_end(state, client, origin, code, Ending::One(sid)).await
}

/// Ends `which` of the code's person's sessions, in the audit trail as done from the mini
/// program.
async fn mp_end(
    state: &AppState,
    client: Client,
    origin: &Origin,
    code: &LoginCode,
    which: Ending<'_>,
) -> Result<Envelope<Ended>, AppError> {
    let id = user_of_code(state, client, code).await?;
    let ended = session::end_sessions(state, id, which).await?;
    let detail = match which {
        Ending::One(sid) => format!("session {sid}, by its owner in the mini program"),
        _ => format!("all {ended} sessions, by their owner in the mini program"),
    };
    let entry = Entry::new(Event::SessionRevoked, origin)
        .user(id)
        .detail(detail);
    audit::record(state, entry).await;
    Ok(Envelope::ok(Ended { ended }))
}

/// `POST /api/mp/delete_account`: deletes the code's person's account. The fresh code is
/// the proof the web page asks a new scan for.
pub async fn mp_delete_account(
    state: &AppState,
    client: Client,
    origin: &Origin,
    code: &LoginCode,
) -> Result<Envelope<()>, AppError> {
    let id = user_of_code(state, client, code).await?;
    delete_account(state, id, origin).await?;
    Ok(Envelope::ok(()))
}

/// What WeChat's message push says of a person (see `message_push.rs`): a withdrawn
/// nickname and avatar are cleared; a cancellation deletes the account. An event about
/// someone unknown here, or another mini program, is done already.
pub async fn on_wechat_event(
    state: &AppState,
    origin: &Origin,
    event: PushEvent,
) -> Result<(), AppError> {
    let (appid, openid) = match &event {
        PushEvent::Other => return Ok(()),
        PushEvent::AuthorizationRevoked { appid, openid, .. }
        | PushEvent::AuthorizationCancelled { appid, openid } => (appid, openid),
    };
    if appid != state.wechat.appid() {
        return Ok(());
    }
    let Some(known) = state.store.standing(appid, openid, None).await? else {
        return Ok(());
    };
    match event {
        PushEvent::AuthorizationRevoked { revoked, .. } => {
            if !revoked.iter().any(|id| PROFILE_REVOKED.contains(id)) {
                return Ok(());
            }
            state.store.clear_profile(known.user_id).await?;
            state.session_cache.forget_user(known.user_id).await;
            let entry = Entry::new(Event::ProfileCleared, origin)
                .user(known.user_id)
                .detail("WeChat: user_authorization_revoke");
            audit::record(state, entry).await;
            Ok(())
        }
        PushEvent::AuthorizationCancelled { .. } => {
            delete_account(state, known.user_id, origin).await
        }
        PushEvent::Other => Ok(()),
    }
}

/// A copy of everything stored about a person: never a token, a session key or a hash.
#[derive(Serialize)]
struct PersonalData {
    exported_at: String,
    /// `id` is the `sub` that OpenID clients know.
    user: UserSummary,
    /// Each WeChat identity in full: (appid, openid).
    wechat_identities: Vec<WeChatIdentity>,
    sessions: Vec<SessionSummary>,
    applications: Vec<GrantSummary>,
    /// The audit trail's entries about them, newest first.
    activity: Vec<AuditEntry>,
}

#[derive(Serialize)]
struct WeChatIdentity {
    appid: String,
    openid: String,
}

/// `GET /account/data.json`: the person's copy of their data, as a download. A plain
/// axum handler, not a server function: its answer is a file. At most one a minute.
pub async fn data_download(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let answer = async {
        let me = session::require(&state, &headers).await?;
        let id = me.user.id;
        let lately = AuditFilter {
            user_id: Some(id),
            event: Some(Event::DataExported.as_str().to_owned()),
            since: Some(unix_now() - DATA_EVERY_SECS),
        };
        state.audit.flush().await;
        if let Some(last) = state.store.audit(&lately, 1, 0).await?.first() {
            let wait = last.at + DATA_EVERY_SECS - unix_now();
            return Err(AppError::RateLimited {
                retry_after_secs: wait.max(1).unsigned_abs(),
            });
        }
        let activity = entries_of(&state, id, ALL_ENTRIES).await?;
        let data = PersonalData {
            exported_at: super::qr_image::rfc3339_now(),
            user: state
                .store
                .user_summary(id)
                .await?
                .ok_or(AppError::NotLoggedIn)?,
            wechat_identities: state
                .store
                .identities_of(id)
                .await?
                .into_iter()
                .map(|(appid, openid)| WeChatIdentity { appid, openid })
                .collect(),
            sessions: session::sessions_of(&state, id, &me.sid).await?,
            applications: applications_of(&state, id).await?,
            activity,
        };
        let client = Client::resolve(&state, &headers, peer.ip());
        let entry = Entry::new(Event::DataExported, &Origin::of(&headers, client)).user(id);
        audit::record(&state, entry).await;
        serde_json::to_vec_pretty(&data).map_err(|err| AppError::Internal(err.to_string()))
    };
    form::download(answer.await, "application/json", "scanlogin-my-data.json")
}
