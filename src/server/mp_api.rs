//! The mini-program API: the phone scans, then confirms or cancels. WeChat sends no
//! browser origin here; every call is authenticated by WeChat's login code (scan) or
//! by the scan token that the scan returned (confirm, cancel, avatar).
//!
//! Confirm and cancel are idempotent for the scanner: phones double-tap and retry after
//! a lost answer, and either must end on the outcome the person chose, not on a 409.

use super::{
    context::AppState, context::Client, error::AppError, limits::Bucket, profile::clean_profile,
};
use crate::protocol::{Envelope, LoginCode, Profile, ScanData, ScanToken, SceneId};

/// `POST /api/mp/scan`.
pub async fn scan(
    state: &AppState,
    client: Client,
    scene: &SceneId,
    login_code: &LoginCode,
) -> Result<Envelope<ScanData>, AppError> {
    state.limits.check(Bucket::Scans, client.key).await?;
    // Unknown or expired scenes are refused before WeChat is asked.
    state.registry.check_open(scene).await?;
    let login = state
        .wechat
        .code_to_session(login_code.as_str())
        .await
        .map_err(AppError::from_login)?;
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
    }))
}

/// `POST /api/mp/confirm`.
pub async fn confirm(
    state: &AppState,
    scene: &SceneId,
    scan_token: &ScanToken,
    profile: Option<Profile>,
) -> Result<Envelope<()>, AppError> {
    let profile = profile.map(clean_profile).transpose()?;
    let scanner = match state.registry.scanner(scene, scan_token).await {
        // The same scanner again (a double tap, a retry after a lost answer): it is done.
        Err(AppError::AlreadyConfirmed) => return Ok(Envelope::ok(())),
        other => other?,
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
    // The scene may have changed while the database worked: confirm checks it all again
    // (and a confirm that raced this one leaves it as it was).
    if state.registry.confirm(scene, scan_token, &user).await? {
        super::metrics::login_step(super::metrics::Step::Confirmed);
        state.qr_images.forget(scene).await;
    }
    Ok(Envelope::ok(()))
}

/// `POST /api/mp/cancel`.
pub async fn cancel(
    state: &AppState,
    scene: &SceneId,
    scan_token: &ScanToken,
) -> Result<Envelope<()>, AppError> {
    if state.registry.cancel(scene, scan_token).await? {
        super::metrics::login_step(super::metrics::Step::Cancelled);
        state.qr_images.forget(scene).await;
    }
    Ok(Envelope::ok(()))
}
