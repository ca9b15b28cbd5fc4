//! The user agent: what kind of device shows the login page ([`Device`], for both
//! builds), and, on the server, how it is told from the `User-Agent` header and how the
//! browser is named to the person on the phone ([`BrowserName`]).

use serde::{Deserialize, Serialize};

/// Where the login page is shown, as the server tells from the user agent
/// ([`device_of`]): the QR component adapts to it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Device {
    /// A code on this screen is scanned with a phone.
    #[default]
    Computer,
    /// The phone itself: it cannot scan its own screen, so the page offers "Open in
    /// WeChat", a link WeChat made for this scene.
    Phone,
    /// WeChat's own browser, where links do not open mini programs but a long press on
    /// the code does: the code is shown larger, with that hint.
    WeChat,
}

#[cfg(feature = "ssr")]
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

#[cfg(feature = "ssr")]
/// A coarse description of a browser for the phone to show: family, major version and
/// operating system ("Chrome", "156", "Linux"), enough for a person to recognise their
/// computer, not a fingerprint. Empty fields are unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrowserName {
    pub family: String,
    pub version: String,
    pub os: String,
}

#[cfg(feature = "ssr")]
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

#[cfg(all(test, feature = "ssr"))]
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
