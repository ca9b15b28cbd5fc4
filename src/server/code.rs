//! The code endpoint: registers a scene for a browser and gets its mini-program code
//! from WeChat, once per scene.

use axum::http::{header, HeaderMap};
use base64::Engine as _;
use tokio::time::Instant;

use super::{
    client::network_of, context::Client, error::AppError, limits::Bucket, scene::CodeImage,
    startup::AppState, wechat::WxaCodeRequest,
};
use crate::protocol::{is_valid_id, BrowserInfo, CodeAnswer};

/// `POST /miniapp/getwxacodeunlimit`.
pub async fn issue_code(
    state: &AppState,
    headers: &HeaderMap,
    client: Client,
    scene: &str,
    key: &str,
) -> Result<CodeAnswer, AppError> {
    state.limits.check(Bucket::Codes, client.key)?;
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
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let browser = BrowserInfo {
        user_agent: describe_user_agent(user_agent),
        ip: network_of(client.ip),
        requested_at: rfc3339_now(),
    };
    // A new scene costs a WeChat call: the app-wide budget pays for it.
    let (cell, expires_in, is_new) =
        state
            .scenes
            .register(scene, key, browser, client.key, Instant::now(), || {
                state.limits.spend_code()
            })?;
    if is_new {
        state.hub.open(scene);
    }
    let config = &state.config;
    let fetched = cell
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
        .await;
    let code = match fetched {
        Ok(code) => code,
        Err(err) => {
            // Not counted against the client, and the page may ask again.
            state.scenes.forget_without_code(scene);
            state.hub.close(scene);
            return Err(err);
        }
    };
    Ok(CodeAnswer {
        code: 200,
        data: code.data_url.clone(),
        msg: "ok".to_owned(),
        expires_in,
        auto_refreshes: config.auto_refreshes,
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

/// A coarse description of a browser for the phone to show, such as "Chrome 156 on
/// Linux": enough for a person to recognise their computer, not a fingerprint.
pub fn describe_user_agent(user_agent: &str) -> String {
    const UNKNOWN: &str = woothee::woothee::VALUE_UNKNOWN;
    let Some(ua) = woothee::parser::Parser::new().parse(user_agent) else {
        return "an unknown browser".to_owned();
    };
    if ua.name == UNKNOWN {
        return "an unknown browser".to_owned();
    }
    let browser = match ua
        .version
        .split('.')
        .next()
        .filter(|v| !v.is_empty() && *v != UNKNOWN)
    {
        Some(major) => format!("{} {major}", ua.name),
        None => ua.name.to_owned(),
    };
    if ua.os == UNKNOWN {
        browser
    } else {
        format!("{browser} on {}", ua.os)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_are_described_coarsely() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.8078.73 Safari/537.36";
        assert_eq!(describe_user_agent(chrome), "Chrome 156 on Linux");
        assert_eq!(describe_user_agent(""), "an unknown browser");
        assert_eq!(
            describe_user_agent("<script>alert(1)</script>"),
            "an unknown browser"
        );
    }
}
