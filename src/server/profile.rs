//! The profile a person chose in the mini program, made safe to show on the site.
//!
//! A nickname is shown to the person and, on shared screens, to others: it is stripped of
//! control characters, of bidirectional overrides and isolates (which can make text read
//! backwards, `U+202E`), and of invisible zero-width characters (which make two names look
//! the same), then limited to 64 user-perceived characters (grapheme clusters), so an emoji
//! is never cut in half. An avatar is one uploaded here (`/avatars/<id>`) or an `https://`
//! URL on WeChat's avatar hosts ([`WECHAT_AVATAR_HOSTS`]), and nothing else: it is shown to
//! others and goes out as the OpenID `picture` claim, so any other URL would let a person
//! make every page and relying party that shows them fetch from a server of their choice
//! (tracking them, or probing from the relying party's network). The pages'
//! Content-Security-Policy lets them show images from the same places only.

use unicode_segmentation::UnicodeSegmentation;

use super::error::AppError;
use crate::protocol::Profile;

pub const MAX_NICKNAME_GRAPHEMES: usize = 64;
const MAX_AVATAR_URL_BYTES: usize = 1024;
/// Where WeChat serves the avatars it hands a mini program (`getUserProfile` and older
/// `userInfo`: `https://thirdwx.qlogo.cn/mmopen/...`).
pub const WECHAT_AVATAR_HOSTS: [&str; 2] = ["thirdwx.qlogo.cn", "wx.qlogo.cn"];

/// Bidirectional formatting characters: marks, embeddings, overrides and isolates.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters that draw nothing. The zero-width joiner is kept between two emoji, where
/// it makes one (👩‍💻); anywhere else it only hides.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}' | '\u{200C}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{180E}' | '\u{00AD}'
    )
}

fn is_emoji(c: char) -> bool {
    matches!(c, '\u{1F000}'..='\u{1FAFF}' | '\u{2600}'..='\u{27BF}' | '\u{2B00}'..='\u{2BFF}' | '\u{FE0F}')
}

pub fn clean_nickname(raw: &str) -> Result<String, AppError> {
    let chars: Vec<char> = raw.chars().collect();
    let mut kept = String::with_capacity(raw.len());
    for (i, &c) in chars.iter().enumerate() {
        let keep = if c == '\u{200D}' {
            let before = i.checked_sub(1).and_then(|j| chars.get(j)).copied();
            let after = chars.get(i + 1).copied();
            before.is_some_and(is_emoji) && after.is_some_and(is_emoji)
        } else {
            !(c.is_control() || is_bidi_control(c) || is_invisible(c))
        };
        if keep {
            kept.push(c);
        }
    }
    let nickname = kept.trim().to_owned();
    if nickname.graphemes(true).count() > MAX_NICKNAME_GRAPHEMES {
        return Err(AppError::Malformed(format!(
            "profile.nickname: at most {MAX_NICKNAME_GRAPHEMES} characters"
        )));
    }
    Ok(nickname)
}

pub fn check_avatar_url(raw: &str) -> Result<String, AppError> {
    let url = raw.trim();
    let refused = || {
        AppError::Malformed(
            "profile.avatar_url: an avatar uploaded here (/avatars/…) or on WeChat's avatar hosts (https://thirdwx.qlogo.cn/…)".into(),
        )
    };
    if url.is_empty() {
        return Ok(String::new());
    }
    if url.len() > MAX_AVATAR_URL_BYTES || url.chars().any(|c| c.is_control() || c == '\\') {
        return Err(refused());
    }
    let acceptable = if let Some(id) = url.strip_prefix(super::avatar::SERVE_PREFIX) {
        // One uploaded here (`POST /api/mp/avatar`); no other path on our origin.
        super::avatar::is_id(id)
    } else {
        url::Url::parse(url).is_ok_and(|u| {
            u.scheme() == "https"
                && u.port().is_none()
                && u.username().is_empty()
                && u.password().is_none()
                && u.host_str()
                    .is_some_and(|host| WECHAT_AVATAR_HOSTS.contains(&host))
        })
    };
    if acceptable {
        Ok(url.to_owned())
    } else {
        Err(refused())
    }
}

pub fn clean_profile(profile: Profile) -> Result<Profile, AppError> {
    Ok(Profile {
        nickname: clean_nickname(&profile.nickname)?,
        avatar_url: check_avatar_url(&profile.avatar_url)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicknames_lose_what_could_spoof_a_display() {
        assert_eq!(clean_nickname("  Alice\u{0007} ").unwrap(), "Alice");
        assert_eq!(
            clean_nickname("evil\u{202E}txt.exe").unwrap(),
            "eviltxt.exe"
        );
        assert_eq!(clean_nickname("\u{2067}admin\u{2069}").unwrap(), "admin");
        assert_eq!(clean_nickname("Al\u{200B}ice\u{FEFF}").unwrap(), "Alice");
        assert_eq!(clean_nickname("a\u{200D}b").unwrap(), "ab");
        assert_eq!(
            clean_nickname("👩\u{200D}💻 小明").unwrap(),
            "👩\u{200D}💻 小明",
            "the joiner inside an emoji stays"
        );
    }

    #[test]
    fn nickname_length_counts_what_a_person_sees() {
        let family = "👨\u{200D}👩\u{200D}👧";
        assert!(
            clean_nickname(&family.repeat(64)).is_ok(),
            "64 emoji, 5 chars each"
        );
        assert!(clean_nickname(&family.repeat(65)).is_err());
        assert!(clean_nickname(&"字".repeat(64)).is_ok());
        assert!(clean_nickname(&"字".repeat(65)).is_err());
    }

    #[test]
    fn avatars_are_our_own_or_on_wechats_avatar_hosts() {
        assert!(check_avatar_url("https://thirdwx.qlogo.cn/mmopen/vi_32/abc/132").is_ok());
        assert!(check_avatar_url("https://wx.qlogo.cn/mmhead/abc/0").is_ok());
        assert!(check_avatar_url("/avatars/zjw6mRDlJrla1b8ulN5b7nwQ8aICMLWtuYYrHP-aRcY").is_ok());
        assert_eq!(check_avatar_url("").unwrap(), "");
        for bad in [
            "https://cdn.example/a.png",
            "https://tracker.example/thirdwx.qlogo.cn/a.png",
            "https://thirdwx.qlogo.cn.evil.example/a.png",
            "https://thirdwx.qlogo.cn:8443/a.png",
            "https://user@thirdwx.qlogo.cn/a.png",
            "http://thirdwx.qlogo.cn/a.png",
            "http://cdn.example/a.png",
            "http://tmp/wxfile.jpg",
            "wxfile://tmp_abc.jpg",
            "//evil.example/a.png",
            "javascript:alert(1)",
            "data:image/png;base64,AAAA",
            "/a\\b",
            "/tmp/abc.jpg",
            "/avatars/../admin",
            "/avatars/",
        ] {
            assert!(check_avatar_url(bad).is_err(), "{bad}");
        }
    }
}
