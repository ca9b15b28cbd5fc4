//! The mini-program API: the phone scans, then confirms or cancels. WeChat sends no
//! browser origin here; every call is authenticated by WeChat's login code (scan) or
//! by the scan token that the scan returned (confirm, cancel, avatar).
//!
//! Confirm and cancel are idempotent for the scanner: phones double-tap and retry after
//! a lost answer, and either must end on the outcome the person chose, not on a 409.

use super::{
    access,
    audit::{self, Entry, Event, Origin},
    context::AppState,
    context::Client,
    error::AppError,
    limits::Bucket,
    profile::clean_profile,
    registry::Admission,
};
use crate::protocol::{Envelope, LoginCode, Profile, ScanData, ScanToken, SceneId};

/// `POST /api/mp/scan`.
pub async fn scan(
    state: &AppState,
    client: Client,
    origin: &Origin,
    scene: &SceneId,
    login_code: &LoginCode,
) -> Result<Envelope<ScanData>, AppError> {
    state.limits.check(Bucket::Scans, client.key).await?;
    // Unknown or expired scenes are refused before WeChat is asked.
    let admission = state.registry.check_open(scene).await?;
    let login = state
        .wechat
        .code_to_session(login_code.as_str())
        .await
        .map_err(AppError::from_login)?;
    let who = access::Login {
        openid: &login.openid,
        unionid: login.unionid.as_deref(),
    };
    if let Err(err) = access::decide(state, &who, &admission).await {
        return Err(refuse(state, origin, scene, &login.openid, &admission, err).await);
    }
    let scanned = state
        .registry
        .scan(scene, &login.openid, login.unionid.clone())
        .await?;
    super::metrics::login_step(super::metrics::Step::Scanned);
    Ok(Envelope::ok(ScanData {
        scan_token: scanned.scan_token,
        expires_in: scanned.expires_in_secs,
        browser: scanned.browser,
        application: scanned.application,
        purpose: scanned.purpose,
    }))
}

/// Refuses the scanner `openid` for `err` if it is an access rule's refusal (the browser
/// hears why, and it goes in the audit trail); `err` either way.
async fn refuse(
    state: &AppState,
    origin: &Origin,
    scene: &SceneId,
    openid: &str,
    admission: &Admission,
    err: AppError,
) -> AppError {
    let AppError::Refused(reason) = err else {
        return err;
    };
    if let Err(err) = state.registry.refuse(scene, openid, reason).await {
        return err;
    }
    state.qr_images.forget(scene).await;
    let mut entry = Entry::new(Event::LoginRefused, origin)
        .wechat_identity(openid)
        .refused(reason.as_str());
    if let Some(client_id) = &admission.client_id {
        entry = entry.client(client_id);
    }
    audit::record(state, entry).await;
    err
}

/// `POST /api/mp/confirm`.
pub async fn confirm(
    state: &AppState,
    origin: &Origin,
    scene: &SceneId,
    scan_token: &ScanToken,
    profile: Option<Profile>,
    notify: bool,
) -> Result<Envelope<()>, AppError> {
    let profile = profile.map(clean_profile).transpose()?;
    let (scanner, admission) = match state.registry.scanner(scene, scan_token).await {
        // The same scanner again (a double tap, a retry after a lost answer): it is done.
        Err(AppError::AlreadyConfirmed) => return Ok(Envelope::ok(())),
        other => other?,
    };
    // An invitation is spent before its user is made: of two people racing for its last
    // use, the one who loses is refused and leaves no user behind.
    let invitation = match admission.invitation {
        Some(id) => match state.store.spend_invitation(id).await? {
            Some(grant) => Some(grant),
            None => {
                let err = AppError::Refused(crate::protocol::Refusal::InvitationInvalid);
                return Err(refuse(state, origin, scene, &scanner.openid, &admission, err).await);
            }
        },
        None => None,
    };
    let user = state
        .store
        .upsert_user(
            state.wechat.appid(),
            &scanner.openid,
            scanner.unionid.as_deref(),
            profile.as_ref(),
        )
        .await?;
    if let Some(grant) = &invitation {
        state.store.apply_invitation(user.id, grant).await?;
        // Its groups count at once for forward authentication.
        state.session_cache.forget_user(user.id).await;
        let entry = Entry::new(Event::InvitationUsed, origin)
            .user(user.id)
            .detail(format!("invitation {}", grant.id));
        audit::record(state, entry).await;
    }
    // The scene may have changed while the database worked: confirm checks it all again
    // (and a confirm that raced this one leaves it as it was).
    if state
        .registry
        .confirm(scene, scan_token, &user, notify)
        .await?
    {
        super::metrics::login_step(super::metrics::Step::Confirmed);
        state.qr_images.forget(scene).await;
        let mut entry = Entry::new(Event::LoginConfirmed, origin).user(user.id);
        if let Some(client_id) = &admission.client_id {
            entry = entry.client(client_id);
        }
        audit::record(state, entry).await;
    }
    Ok(Envelope::ok(()))
}

/// `POST /api/mp/cancel`.
pub async fn cancel(
    state: &AppState,
    origin: &Origin,
    scene: &SceneId,
    scan_token: &ScanToken,
) -> Result<Envelope<()>, AppError> {
    if state.registry.cancel(scene, scan_token).await? {
        super::metrics::login_step(super::metrics::Step::Cancelled);
        state.qr_images.forget(scene).await;
        audit::record(state, Entry::new(Event::LoginCancelled, origin)).await;
    }
    Ok(Envelope::ok(()))
}
