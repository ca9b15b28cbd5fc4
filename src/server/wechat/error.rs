//! What can go wrong when talking to WeChat.

use std::time::Duration;

/// A failed call to WeChat. No variant carries a URL, a token or a secret: reqwest's
/// own errors name the URL (with `access_token` or `secret` in its query), so they are
/// stripped of it before they become one of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeChatError {
    /// WeChat answered with `{"errcode": N, "errmsg": "..."}`.
    #[error("WeChat error {errcode}: {errmsg}")]
    Api { errcode: i64, errmsg: String },
    #[error("WeChat did not answer within {0:?}")]
    Timeout(Duration),
    #[error("cannot reach WeChat: {0}")]
    Transport(String),
    #[error("WeChat answered HTTP {0}")]
    Status(u16),
    #[error("unexpected answer from WeChat: {0}")]
    BadResponse(String),
}

impl WeChatError {
    /// WeChat's errcode, when WeChat gave one.
    pub fn errcode(&self) -> Option<i64> {
        match self {
            WeChatError::Api { errcode, .. } => Some(*errcode),
            _ => None,
        }
    }

    /// True when WeChat refused the access token (invalid, expired or malformed).
    pub fn is_token_rejected(&self) -> bool {
        self.errcode()
            .is_some_and(super::errcode::is_token_rejected)
    }

    pub(crate) fn from_reqwest(err: reqwest::Error, timeout: Duration) -> Self {
        if err.is_timeout() {
            return WeChatError::Timeout(timeout);
        }
        let err = err.without_url();
        if err.is_decode() || err.is_body() {
            WeChatError::BadResponse(err.to_string())
        } else {
            WeChatError::Transport(err.to_string())
        }
    }
}
