//! The mini-program API: the phone scans, then confirms or cancels. WeChat sends no
//! browser origin here; every call is authenticated by WeChat's login code (scan) or
//! by the scan token that the scan returned (confirm, cancel).

use tokio::time::Instant;

use super::{
    context::Client, error::AppError, limits::Bucket, profile::clean_profile, startup::AppState,
};
use crate::protocol::{is_valid_id, Envelope, Profile, ScanData};

fn check_scene(scene: &str) -> Result<(), AppError> {
    if is_valid_id(scene) {
        Ok(())
    } else {
        Err(AppError::Malformed(
            "scene: 32 characters of A-Z, a-z, 0-9".into(),
        ))
    }
}

fn check_token(name: &str, token: &str) -> Result<(), AppError> {
    if token.is_empty() || token.len() > 128 {
        return Err(AppError::Malformed(format!("{name}: required")));
    }
    Ok(())
}

/// `POST /api/mp/scan`.
pub async fn scan(
    state: &AppState,
    client: Client,
    scene: &str,
    js_code: &str,
) -> Result<Envelope<ScanData>, AppError> {
    state.limits.check(Bucket::Scans, client.key)?;
    check_scene(scene)?;
    check_token("code", js_code)?;
    // Unknown or expired scenes are refused before WeChat is asked.
    state.scenes.with(scene, |s| s.check_open(Instant::now()))?;
    let login = state
        .wechat
        .code_to_session(js_code)
        .await
        .map_err(AppError::from_login)?;
    let (scan_token, event, expires_in, browser) = state.scenes.with(scene, |s| {
        let now = Instant::now();
        let (token, event) = s.scan(&login.openid, login.unionid.clone(), now)?;
        Ok((token, event, s.expires_in(now), s.browser.clone()))
    })?;
    if let Some(event) = event {
        state.hub.publish(scene, event);
    }
    Ok(Envelope::ok(ScanData {
        scan_token,
        expires_in,
        browser,
    }))
}

/// `POST /api/mp/confirm`.
pub async fn confirm(
    state: &AppState,
    scene: &str,
    scan_token: &str,
    profile: Option<Profile>,
) -> Result<Envelope<()>, AppError> {
    check_scene(scene)?;
    check_token("scan_token", scan_token)?;
    let profile = profile.map(clean_profile).transpose()?;
    let scanner = state
        .scenes
        .with(scene, |s| s.check_scan_token(scan_token, Instant::now()))?;
    let user = state
        .store
        .upsert_user(
            state.wechat.appid(),
            &scanner.openid,
            scanner.unionid.as_deref(),
            profile.as_ref(),
        )
        .await?;
    // The scene may have changed while the database worked: confirm checks it all again.
    let (_ticket, event) = state
        .scenes
        .with(scene, |s| s.confirm(scan_token, user.id, Instant::now()))?;
    state.hub.publish(scene, event);
    Ok(Envelope::ok(()))
}

/// `POST /api/mp/cancel`.
pub async fn cancel(
    state: &AppState,
    scene: &str,
    scan_token: &str,
) -> Result<Envelope<()>, AppError> {
    check_scene(scene)?;
    check_token("scan_token", scan_token)?;
    let event = state
        .scenes
        .with(scene, |s| s.cancel(scan_token, Instant::now()))?;
    state.hub.publish(scene, event);
    Ok(Envelope::ok(()))
}
