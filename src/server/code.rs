//! The code endpoint: registers a scene for a browser and gets its mini-program code
//! from WeChat, once per scene.

use axum::http::{header, HeaderMap};
use base64::Engine as _;

use super::{
    client::network_of, context::Client, error::AppError, limits::Bucket, registry::NewScene,
    startup::AppState, wechat::WxaCodeRequest,
};
use crate::{
    components::qr_login::Device,
    protocol::{BrowserInfo, BrowserKey, CodeAnswer, SceneId},
};

/// `POST /miniapp/getwxacodeunlimit`.
pub async fn issue_code(
    state: &AppState,
    headers: &HeaderMap,
    client: Client,
    scene: SceneId,
    key: BrowserKey,
) -> Result<CodeAnswer, AppError> {
    state.limits.check(Bucket::Codes, client.key).await?;
    // Load is shed here, where a login starts and nothing has been spent on it yet. When
    // the database is behind, a new login would only join its queue, make every login
    // under way later (past the pool's 5 s, they all fail) and cost a WeChat code; it is
    // refused at once instead, and its page asks again after `Retry-After`.
    if state.store.operations_under_way() > state.config.limits.max_store_queue {
        return Err(AppError::Shed);
    }
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let name = BrowserName::of(user_agent);
    let browser = BrowserInfo {
        user_agent: name.words(),
        family: name.family,
        version: name.version,
        os: name.os,
        ip: network_of(client.ip),
        requested_at: rfc3339_now(),
    };
    let registration = state
        .registry
        .register(NewScene {
            id: scene.clone(),
            key,
            browser,
            client: client.key,
        })
        .await?;
    if registration.is_new {
        // A new scene costs a WeChat call: the app-wide budget pays for it, or the
        // scene is dropped again.
        if let Err(err) = state.limits.spend_code().await {
            state.registry.forget(&scene).await?;
            return Err(err);
        }
    }
    let config = &state.config;
    let request = WxaCodeRequest {
        scene: scene.as_str().to_owned(),
        page: config.mp_page.clone(),
        // WeChat checks the page only against the published version.
        check_path: config.mp_env_version == "release",
        env_version: config.mp_env_version.clone(),
        width: config.mp_code_width,
    };
    let image = state
        .code_images
        .get_or_fetch(&scene, state.wechat.get_wxacode_unlimit(&request))
        .await;
    let image = match image {
        Ok(image) => image,
        Err(err) => {
            if registration.is_new {
                // Not counted against the client, and the page may ask again.
                state.registry.forget(&scene).await?;
            }
            return Err(AppError::WeChat(err));
        }
    };
    if registration.is_new {
        super::metrics::login_step(super::metrics::Step::CodeIssued);
    }
    let data = base64::engine::general_purpose::STANDARD.encode(&image.bytes);
    // Served: a waiting login must not keep its image (see code_images.rs).
    state.code_images.forget(&scene).await;
    Ok(CodeAnswer {
        code: 200,
        data: format!("data:{};base64,{data}", image.mime),
        msg: "ok".to_owned(),
        expires_in: registration.expires_in_secs,
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

/// Where the login page is shown: a phone cannot scan its own screen, and WeChat's own
/// browser opens a code by a long press but no link.
pub fn device_of(user_agent: &str) -> Device {
    let phone = woothee::parser::Parser::new()
        .parse(user_agent)
        .is_some_and(|ua| matches!(ua.category, "smartphone" | "mobilephone"));
    // WeChat for Windows and Mac say MicroMessenger too, but sit at a computer.
    let desktop_wechat = ["WindowsWechat", "MacWechat", "WindowsWeChat", "MacWeChat"]
        .iter()
        .any(|m| user_agent.contains(m));
    match (
        phone,
        user_agent.contains("MicroMessenger") && !desktop_wechat,
    ) {
        (true, true) => Device::WeChat,
        (true, false) => Device::Phone,
        (false, _) => Device::Computer,
    }
}

/// A coarse description of a browser for the phone to show: family, major version and
/// operating system ("Chrome", "156", "Linux"), enough for a person to recognise their
/// computer, not a fingerprint. Empty fields are unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrowserName {
    pub family: String,
    pub version: String,
    pub os: String,
}

impl BrowserName {
    pub fn of(user_agent: &str) -> Self {
        const UNKNOWN: &str = woothee::woothee::VALUE_UNKNOWN;
        let Some(ua) = woothee::parser::Parser::new().parse(user_agent) else {
            return Self::default();
        };
        if ua.name == UNKNOWN {
            return Self::default();
        }
        let known = |s: &str| {
            if s == UNKNOWN {
                String::new()
            } else {
                s.to_owned()
            }
        };
        Self {
            family: ua.name.to_owned(),
            version: ua.version.split('.').next().map(known).unwrap_or_default(),
            os: known(ua.os),
        }
    }

    /// In English words, such as "Chrome 156 on Linux".
    pub fn words(&self) -> String {
        if self.family.is_empty() {
            return "an unknown browser".to_owned();
        }
        let mut words = self.family.clone();
        if !self.version.is_empty() {
            words = format!("{words} {}", self.version);
        }
        if !self.os.is_empty() {
            words = format!("{words} on {}", self.os);
        }
        words
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_are_described_coarsely() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.8078.73 Safari/537.36";
        let name = BrowserName::of(chrome);
        assert_eq!(
            (
                name.family.as_str(),
                name.version.as_str(),
                name.os.as_str()
            ),
            ("Chrome", "156", "Linux")
        );
        assert_eq!(name.words(), "Chrome 156 on Linux");
        assert_eq!(BrowserName::of(""), BrowserName::default());
        assert_eq!(BrowserName::of("").words(), "an unknown browser");
        assert_eq!(
            BrowserName::of("<script>alert(1)</script>").words(),
            "an unknown browser"
        );
    }

    #[test]
    fn phones_and_wechat_s_browser_are_told_apart() {
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        let android = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36";
        let wechat = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36 MicroMessenger/8.0.47.2560(0x28002F35) NetType/WIFI Language/zh_CN";
        let desktop = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36";
        assert_eq!(device_of(iphone), Device::Phone);
        assert_eq!(device_of(android), Device::Phone);
        assert_eq!(device_of(wechat), Device::WeChat);
        assert_eq!(device_of(desktop), Device::Computer);
        let windows_wechat = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/81.0.4044.138 Safari/537.36 NetType/WIFI MicroMessenger/7.0.20.1781(0x6700143B) WindowsWechat(0x63090a13) XWEB/9129";
        let mac_wechat = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) MicroMessenger/6.8.0(0x16080000) MacWechat/3.8.7(0x13080710) Reparser/1.0.0 NetType/WIFI";
        assert_eq!(device_of(windows_wechat), Device::Computer);
        assert_eq!(device_of(mac_wechat), Device::Computer);
        assert_eq!(device_of(""), Device::Computer);
    }
}
