//! The code endpoint: registers a scene for a browser and gets its mini-program code
//! from WeChat, once per scene.

use std::net::IpAddr;

use axum::http::{header, HeaderMap};
use base64::Engine as _;
use tokio::time::Instant;

use super::{error::AppError, scene::CodeImage, startup::AppState, wechat::WxaCodeRequest};
use crate::protocol::{is_valid_id, BrowserInfo, CodeAnswer};

/// `POST /miniapp/getwxacodeunlimit`.
pub async fn issue_code(
    state: &AppState,
    headers: &HeaderMap,
    ip: IpAddr,
    scene: &str,
    key: &str,
) -> Result<CodeAnswer, AppError> {
    if !is_valid_id(scene) {
        return Err(AppError::Malformed(
            "scene: 32 characters of A-Z, a-z, 0-9".into(),
        ));
    }
    if !is_valid_id(key) {
        return Err(AppError::Malformed(
            "key: 32 characters of A-Z, a-z, 0-9".into(),
        ));
    }
    let browser = BrowserInfo {
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(256)
            .collect(),
        ip: ip.to_string(),
        requested_at: rfc3339_now(),
    };
    let (cell, expires_in, is_new) = state.scenes.register(scene, key, browser, Instant::now())?;
    if is_new {
        state.hub.open(scene);
    }
    let config = &state.config;
    let code = cell
        .get_or_try_init(|| async {
            let request = WxaCodeRequest {
                scene: scene.to_owned(),
                page: config.mp_page.clone(),
                // WeChat checks the page only against the published version.
                check_path: config.mp_env_version == "release",
                env_version: config.mp_env_version.clone(),
                width: config.mp_code_width,
            };
            let image = state
                .wechat
                .get_wxacode_unlimit(&request)
                .await
                .map_err(AppError::WeChat)?;
            let data = base64::engine::general_purpose::STANDARD.encode(&image.bytes);
            Ok::<_, AppError>(CodeImage {
                data_url: format!("data:{};base64,{data}", image.mime),
            })
        })
        .await?;
    Ok(CodeAnswer {
        code: 200,
        data: code.data_url.clone(),
        msg: "ok".to_owned(),
        expires_in,
    })
}

/// The current time as RFC 3339 (UTC, whole seconds).
pub fn rfc3339_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
