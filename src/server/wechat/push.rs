//! WeChat's message push (消息推送): the events WeChat posts to a URL of ours, as WeChat
//! signs and words them. Only what concerns a person's data is read: they withdrew some
//! of what they let the mini program have (`user_authorization_revoke`), or closed their
//! use of it (`user_authorization_cancellation`); WeChat's rules ask that the data be
//! deleted. Plain-text mode with JSON: the signature is SHA-1 over the token, timestamp
//! and nonce, sorted and joined (the body is not signed, so a timestamp older or newer
//! than [`MAX_SKEW_SECS`] is refused: a captured request cannot be replayed later).

use serde::Deserialize;
use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

/// How far a push's timestamp may be from our clock.
pub const MAX_SKEW_SECS: i64 = 300;

/// The token configured for message push: 3 to 32 letters and digits, as WeChat's
/// settings page asks.
pub fn is_push_token(token: &str) -> bool {
    (3..=32).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The signature WeChat sends with `timestamp` and `nonce` for `token`: lowercase hex.
pub fn signature(token: &str, timestamp: &str, nonce: &str) -> String {
    let mut parts = [token, timestamp, nonce];
    parts.sort_unstable();
    Sha1::digest(parts.concat())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The query WeChat adds to every push.
#[derive(Debug, Deserialize)]
pub struct Signed {
    pub signature: String,
    pub timestamp: String,
    pub nonce: String,
    /// Only on the GET with which WeChat checks the URL: echoed back when signed.
    #[serde(default)]
    pub echostr: Option<String>,
}

impl Signed {
    /// Signed with `token`, at a time within [`MAX_SKEW_SECS`] of `now`.
    pub fn is_valid(&self, token: &str, now: i64) -> bool {
        let fresh = self
            .timestamp
            .parse::<i64>()
            .is_ok_and(|t| (t - now).abs() <= MAX_SKEW_SECS);
        let expected = signature(token, &self.timestamp, &self.nonce);
        fresh && bool::from(expected.as_bytes().ct_eq(self.signature.as_bytes()))
    }
}

/// A pushed event, as far as it concerns us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushEvent {
    /// The person withdrew what `revoked` names (WeChat's `RevokeInfo` ids).
    AuthorizationRevoked {
        appid: String,
        openid: String,
        revoked: Vec<u32>,
    },
    /// The person closed their use of the mini program: their data is to go.
    AuthorizationCancelled { appid: String, openid: String },
    /// Anything else WeChat sends (messages, other events): acknowledged, not read.
    Other,
}

/// `RevokeInfo` ids that withdraw the nickname and avatar (6: 用户信息, 19: 头像,
/// 20: 昵称).
pub const PROFILE_REVOKED: [u32; 3] = [6, 19, 20];

#[derive(Deserialize)]
struct Body {
    #[serde(rename = "MsgType", default)]
    msg_type: String,
    #[serde(rename = "Event", default)]
    event: String,
    #[serde(rename = "OpenID", default)]
    openid: String,
    #[serde(rename = "AppID", default)]
    appid: String,
    #[serde(rename = "RevokeInfo", default)]
    revoke_info: String,
}

impl PushEvent {
    /// The event of a pushed JSON body; `None`: not JSON, or an event of ours without
    /// the person it names.
    pub fn parse(body: &[u8]) -> Option<Self> {
        let body: Body = serde_json::from_slice(body).ok()?;
        let named = !body.openid.is_empty() && !body.appid.is_empty();
        let event = body.event.to_ascii_lowercase();
        Some(match (body.msg_type.as_str(), event.as_str()) {
            ("event", "user_authorization_revoke") if named => Self::AuthorizationRevoked {
                revoked: body
                    .revoke_info
                    .split(',')
                    .filter_map(|id| id.trim().parse().ok())
                    .collect(),
                appid: body.appid,
                openid: body.openid,
            },
            ("event", "user_authorization_cancellation") if named => Self::AuthorizationCancelled {
                appid: body.appid,
                openid: body.openid,
            },
            ("event", "user_authorization_revoke" | "user_authorization_cancellation") => {
                return None
            }
            _ => Self::Other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_sha1_of_the_sorted_parts() {
        // The parts sorted: "1234", "56789", "abc".
        assert_eq!(
            signature("abc", "1234", "56789"),
            "a63d2f9ac1d341ae389920e6fe5712ca27768a72"
        );
        let signed = Signed {
            signature: signature("token1", "1000", "n"),
            timestamp: "1000".into(),
            nonce: "n".into(),
            echostr: None,
        };
        assert!(signed.is_valid("token1", 1000 + MAX_SKEW_SECS));
        assert!(!signed.is_valid("token1", 1001 + MAX_SKEW_SECS), "stale");
        assert!(!signed.is_valid("token2", 1000), "another token");
    }

    #[test]
    fn events_are_read_for_the_person_they_name() {
        let revoke = br#"{"ToUserName":"gh_1","FromUserName":"o","CreateTime":1,"MsgType":"event",
            "Event":"user_authorization_revoke","OpenID":"o-1","AppID":"wx1","RevokeInfo":"1,6"}"#;
        assert_eq!(
            PushEvent::parse(revoke),
            Some(PushEvent::AuthorizationRevoked {
                appid: "wx1".into(),
                openid: "o-1".into(),
                revoked: vec![1, 6],
            })
        );
        let cancel = br#"{"MsgType":"event","Event":"user_authorization_cancellation","OpenID":"o-1","AppID":"wx1"}"#;
        assert!(matches!(
            PushEvent::parse(cancel),
            Some(PushEvent::AuthorizationCancelled { .. })
        ));
        let nameless = br#"{"MsgType":"event","Event":"user_authorization_cancellation"}"#;
        assert_eq!(PushEvent::parse(nameless), None);
        let text = br#"{"MsgType":"text","Content":"hi"}"#;
        assert_eq!(PushEvent::parse(text), Some(PushEvent::Other));
        assert_eq!(PushEvent::parse(b"<xml/>"), None);
    }
}
