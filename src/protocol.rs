//! What the browser, the phone and the server say to each other. Compiled for both the
//! server and the browser, so the two can never disagree.

use serde::{Deserialize, Serialize};

/// Length of a scene id and of a browser key.
pub const ID_LEN: usize = 32;

/// A scene id or a browser key: exactly 32 characters of `[A-Za-z0-9]` (about 190 bits
/// when made by a cryptographic generator). Every such id is also a valid WeChat scene.
pub fn is_valid_id(s: &str) -> bool {
    s.len() == ID_LEN && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Maps uniformly random bytes to an id; bytes that would bias the result are skipped
/// (rejection sampling), so `random` must yield as many as needed.
pub fn id_from_random_bytes(mut random: impl FnMut() -> u8) -> String {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut id = String::with_capacity(ID_LEN);
    while id.len() < ID_LEN {
        let b = random();
        // 248 = 4 * 62: values from 248 up would favour the first characters.
        if b < 248 {
            id.push(ALPHABET[(b % 62) as usize] as char);
        }
    }
    id
}

/// `SCANLOGIN_AUTO_REFRESHES`'s default: codes a page gets by itself in a row.
pub const DEFAULT_AUTO_REFRESHES: u32 = 5;

/// WebSocket close code: the socket did not prove the scene's browser key in time.
pub const CLOSE_UNAUTHORIZED: u16 = 4401;
/// Seconds a socket has to send its `hello`.
pub const HELLO_TIMEOUT_SECS: u64 = 5;

/// Browser → server, on the login socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Proves that this socket belongs to the browser that registered the scene.
    Hello { key: String },
}

/// Server → browser, on the login socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PushEvent {
    Scanned,
    /// `ticket` is single-use, valid 60 s, and only with the scene's browser key.
    Confirmed {
        ticket: String,
    },
    Cancelled,
    Expired,
}

impl PushEvent {
    /// After these, nothing more happens to the scene.
    pub fn is_final(&self) -> bool {
        !matches!(self, PushEvent::Scanned)
    }
}

/// Answer of `POST /miniapp/getwxacodeunlimit` (the seed's envelope).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeAnswer {
    pub code: u16,
    /// `data:image/...;base64,...`
    pub data: String,
    pub msg: String,
    /// Seconds until the scene expires.
    pub expires_in: u64,
    /// New codes the page may get by itself in a row, with nobody touching it, before it
    /// asks the person (`SCANLOGIN_AUTO_REFRESHES`): a forgotten tab costs a few codes,
    /// not one every two minutes forever.
    pub auto_refreshes: u32,
}

/// The mini-program API's envelope: `{"code": <http status>, "msg": ..., "data": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope<T> {
    pub code: u16,
    pub msg: String,
    pub data: T,
}

impl<T> Envelope<T> {
    pub fn ok(data: T) -> Self {
        Self {
            code: 200,
            msg: "ok".to_owned(),
            data,
        }
    }
}

/// The browser that asks to log in, as the phone shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrowserInfo {
    pub user_agent: String,
    pub ip: String,
    /// RFC 3339, UTC.
    pub requested_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanData {
    pub scan_token: String,
    pub expires_in: u64,
    pub browser: BrowserInfo,
}

/// What the person chose to show on the site.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    #[serde(default)]
    pub nickname: String,
    #[serde(default)]
    pub avatar_url: String,
}

/// A user as the site sees them: never the openid or unionid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: i64,
    pub nickname: String,
    pub avatar_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub user: User,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_alphanumerics() {
        assert!(is_valid_id(&"a".repeat(32)));
        assert!(!is_valid_id(&"a".repeat(31)));
        assert!(!is_valid_id(&"a".repeat(33)));
        assert!(!is_valid_id(&format!("{}-", "a".repeat(31))));
        assert!(!is_valid_id(&format!("{}é", "a".repeat(30))));
    }

    #[test]
    fn ids_from_bytes_skip_biased_values() {
        let mut bytes = [255u8, 250, 248, 0, 61, 62].into_iter().cycle();
        let id = id_from_random_bytes(|| bytes.next().unwrap());
        assert!(is_valid_id(&id));
        assert!(id.starts_with("A9A"), "{id}");
    }

    #[test]
    fn push_events_have_the_contract_shape() {
        assert_eq!(
            serde_json::to_string(&PushEvent::Confirmed { ticket: "t".into() }).unwrap(),
            r#"{"type":"confirmed","ticket":"t"}"#
        );
        assert_eq!(
            serde_json::to_string(&PushEvent::Scanned).unwrap(),
            r#"{"type":"scanned"}"#
        );
        let hello: ClientMessage = serde_json::from_str(r#"{"type":"hello","key":"k"}"#).unwrap();
        assert_eq!(hello, ClientMessage::Hello { key: "k".into() });
    }
}
