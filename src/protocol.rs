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

/// A value that broke its type's rule; the message says the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(&'static str);

/// Declares a string type that validates on construction and when deserialized.
/// `secret` types never show their value in `Debug`.
macro_rules! checked_string {
    ($(#[$doc:meta])* $name:ident, $check:expr, $rule:literal, secret = $secret:tt) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const RULE: &'static str = $rule;

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidValue;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                let check: fn(&str) -> bool = $check;
                if check(&value) {
                    Ok(Self(value))
                } else {
                    Err(InvalidValue($rule))
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidValue;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::try_from(value.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                if $secret {
                    write!(f, "{}(<redacted>)", stringify!($name))
                } else {
                    write!(f, "{}({})", stringify!($name), self.0)
                }
            }
        }
    };
}

/// Server-made tokens travel as 1 to 128 visible ASCII characters (they are 43 today).
fn is_token(s: &str) -> bool {
    (1..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic())
}

checked_string!(
    /// A scene: one login attempt, named by the browser with a random id. Not a secret
    /// (it is in the code), so `Debug` shows it.
    SceneId,
    is_valid_id,
    "a scene id is 32 characters of A-Z, a-z, 0-9",
    secret = false
);

checked_string!(
    /// The secret the browser made with its scene: only its holder may listen to the
    /// scene and redeem its ticket.
    BrowserKey,
    is_valid_id,
    "a browser key is 32 characters of A-Z, a-z, 0-9",
    secret = true
);

checked_string!(
    /// What the phone got from its scan, to confirm or cancel with.
    ScanToken,
    is_token,
    "a scan token is 1 to 128 visible ASCII characters",
    secret = true
);

checked_string!(
    /// The one-time ticket the browser exchanges for a session.
    Ticket,
    is_token,
    "a ticket is 1 to 128 visible ASCII characters",
    secret = true
);

checked_string!(
    /// The code `wx.login` gave the phone, for WeChat's `jscode2session`.
    LoginCode,
    is_token,
    "a wx.login code is 1 to 128 visible ASCII characters",
    secret = true
);

/// Only the OpenID provider's authorization endpoint, with its query, a page of the
/// admin console or the account (after the fresh scan that a sensitive action asks for),
/// or forward authentication's way back to a protected application (which checks its
/// `rd` against the rules).
fn is_login_next(s: &str) -> bool {
    let account = s == "/account" || s.starts_with("/account?");
    let protected_application = s.starts_with("/auth/continue?");
    // No control character: one would make the redirect's `Location` an invalid header.
    (s.starts_with("/oauth/authorize?") || is_console_page(s) || account || protected_application)
        && !s.contains(['\\', '#'])
        && !s.chars().any(|c| c.is_ascii_control())
        && s.len() <= 4096
}

/// A page of the admin console, with or without a query.
fn is_console_page(s: &str) -> bool {
    s == "/admin" || s.starts_with("/admin/") || s.starts_with("/admin?")
}

checked_string!(
    /// Where a login goes on once the person is in (`/login?next=`): an OpenID client's
    /// authorization request, the admin console or the account page, never anywhere else
    /// (so `next` is no open redirect).
    LoginNext,
    is_login_next,
    "next is an authorization request (/oauth/authorize?...), /admin, /account or /auth/continue?rd=...",
    secret = false
);

impl LoginNext {
    /// The `next=` of a login page's query, if it is one the login may go on to.
    #[cfg(feature = "ssr")]
    pub fn from_query(query: Option<&str>) -> Option<Self> {
        url::form_urlencoded::parse(query?.as_bytes())
            .find(|(name, _)| name == "next")
            .and_then(|(_, next)| next.parse().ok())
    }

    /// The path of the console page this is, without its query; `None` for an
    /// authorization request.
    pub fn console_page(&self) -> Option<&str> {
        is_console_page(&self.0).then(|| self.0.split('?').next().unwrap_or("/admin"))
    }

    /// What the scan that goes on here is for: the account page's deletion step asks for
    /// a scan the phone words as such.
    pub fn purpose(&self) -> Purpose {
        if self.0 == ACCOUNT_DELETE_PAGE {
            Purpose::DeleteAccount
        } else {
            Purpose::LogIn
        }
    }

    /// The `client_id` of the authorization request.
    #[cfg(feature = "ssr")]
    pub fn client_id(&self) -> Option<String> {
        let query = self.0.strip_prefix("/oauth/authorize?")?;
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| name == "client_id")
            .map(|(_, id)| id.into_owned())
    }
}

checked_string!(
    /// An invitation's token, from its link (`/invite/<token>`).
    InvitationToken,
    is_token,
    "an invitation is 1 to 128 visible ASCII characters",
    secret = true
);

impl SceneId {
    /// A new id from random bytes (see [`id_from_random_bytes`]).
    pub fn from_random_bytes(random: impl FnMut() -> u8) -> Self {
        Self(id_from_random_bytes(random))
    }
}

impl BrowserKey {
    pub fn from_random_bytes(random: impl FnMut() -> u8) -> Self {
        Self(id_from_random_bytes(random))
    }
}

impl std::fmt::Display for SceneId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
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
    Hello { key: BrowserKey },
}

/// Server → browser, on the login socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PushEvent {
    Scanned,
    /// `ticket` is single-use, valid 60 s, and only with the scene's browser key.
    Confirmed {
        ticket: Ticket,
    },
    Cancelled,
    /// The access rules refuse the person who scanned; nobody is logged in.
    Refused {
        reason: Refusal,
    },
    Expired,
}

/// Why the access rules refuse a person: the phone and the browser say it in the
/// person's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// Logins need an invitation (`SCANLOGIN_SIGNUP=invite`), and the person has none
    /// and is not known here.
    NotInvited,
    /// Only known users log in (`SCANLOGIN_SIGNUP=closed`).
    Closed,
    /// An administrator disabled the person's account.
    Disabled,
    /// The application the login is for admits only some groups, and not the person's.
    NotAllowed,
    /// The invitation the login came from is used up, revoked or expired.
    InvitationInvalid,
}

impl Refusal {
    /// Its name on the wire and in the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::NotInvited => "not_invited",
            Refusal::Closed => "closed",
            Refusal::Disabled => "disabled",
            Refusal::NotAllowed => "not_allowed",
            Refusal::InvitationInvalid => "invitation_invalid",
        }
    }
}

impl PushEvent {
    /// After these, nothing more happens to the scene.
    pub fn is_final(&self) -> bool {
        !matches!(self, PushEvent::Scanned)
    }
}

/// What the browser already knows of its scene when it asks `POST /api/scene/status`
/// (the socket's catch-up, over plain HTTP): the answer waits for anything newer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KnownState {
    /// Nobody has scanned yet.
    Waiting,
    Scanned,
}

impl KnownState {
    /// Whether `event` (the scene's latest, `None` before a scan) is what the browser knows.
    pub fn is(self, event: Option<&PushEvent>) -> bool {
        matches!(
            (self, event),
            (KnownState::Waiting, None) | (KnownState::Scanned, Some(PushEvent::Scanned))
        )
    }
}

/// `POST /api/scene/status`'s answer: the scene's latest event, the same a socket would
/// have pushed (`null`: nobody scanned yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SceneStatusAnswer {
    pub event: Option<PushEvent>,
}

/// `POST /api/scene/open_link`'s answer: where a phone's browser goes to open the scene
/// in the mini program (a WeChat URL link, or a `weixin://` scheme).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenLinkAnswer {
    pub url: String,
}

/// Answer of `POST /miniapp/getwxacodeunlimit` (the original design's envelope).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QrImageAnswer {
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

/// The browser that asks to log in, as the phone shows it. `family`, `version` and `os`
/// are data for the phone to word in its own language (empty when unknown);
/// `user_agent` is the same in English words, for clients that show it as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrowserInfo {
    pub user_agent: String,
    /// "Chrome", "Firefox", "Safari", ...
    #[serde(default)]
    pub family: String,
    /// The major version: "156".
    #[serde(default)]
    pub version: String,
    /// "Windows 10", "Mac OSX", "Linux", ...
    #[serde(default)]
    pub os: String,
    pub ip: String,
    /// Where the address is, coarsely ("Shenyang, Liaoning, CN"); empty when unknown.
    #[serde(default)]
    pub place: String,
    /// RFC 3339, UTC.
    pub requested_at: String,
}

/// How a finished login ended, told with a 409 so the phone can show the outcome: a
/// cancel whose confirm went through first shows success, not an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SceneOutcome {
    Confirmed,
    Cancelled,
}

/// What an error says beyond its message (the envelope's `data`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// A 409 on a finished login: how it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scene_status: Option<SceneOutcome>,
    /// A 403 of the access rules: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Refusal>,
    /// A 403 of the admin console: the action needs a fresh login.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub step_up: bool,
}

/// `POST /api/mp/avatar`'s answer: where the uploaded avatar is served, a path on this
/// site for `profile.avatar_url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvatarData {
    pub avatar_url: String,
}

/// The application a login is for, when it began at that application's OpenID request:
/// the phone names it ("Grafana wants you to log in"), so that a person who meant to log
/// in somewhere else can tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    /// The OpenID client's id.
    pub client_id: String,
    /// Its display name (`name` in the clients' file; the id when it has none).
    pub name: String,
    /// Its logo, an https URL, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
}

/// What a scan is for, beyond logging in, as the phone words it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// A login (the phone asks "log in on this browser?").
    #[default]
    LogIn,
    /// The fresh scan that deleting the account asks for: the phone says so, in red.
    DeleteAccount,
}

impl Purpose {
    pub fn is_log_in(&self) -> bool {
        *self == Purpose::LogIn
    }
}

/// The account page after the fresh scan that deleting the account asks for.
pub const ACCOUNT_DELETE_PAGE: &str = "/account?delete=1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanData {
    pub scan_token: ScanToken,
    pub expires_in: u64,
    pub browser: BrowserInfo,
    /// The application the browser logs in to (absent: scanlogin's own site).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<Application>,
    /// What the scan is for (absent: a login).
    #[serde(default, skip_serializing_if = "Purpose::is_log_in")]
    pub purpose: Purpose,
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

/// The admin console's view of a user: never an openid in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    pub id: i64,
    pub nickname: String,
    pub admin: bool,
    pub disabled: bool,
    /// RFC 3339, UTC (as every time of the console).
    pub created_at: String,
    /// The last session made, while the audit trail remembers it.
    pub last_login_at: Option<String>,
    pub groups: Vec<String>,
    /// `appid: openid`, the openid masked.
    pub identities: Vec<String>,
}

/// One page of the console's user list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserList {
    pub users: Vec<UserSummary>,
    pub total: i64,
    /// From 1.
    pub page: i64,
    pub pages: i64,
}

/// Which users the console lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserQuery {
    /// A name, or a user id.
    #[serde(default)]
    pub search: String,
    /// A group's name.
    #[serde(default)]
    pub group: String,
    /// `enabled`, `disabled`, `admin`, or empty for all.
    #[serde(default)]
    pub state: String,
    /// From 1.
    #[serde(default)]
    pub page: i64,
}

/// A browser session as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSummary {
    /// The session's `sid` (never its token).
    pub id: String,
    pub browser: String,
    pub ip: String,
    /// Where `ip` is, coarsely; empty when unknown.
    #[serde(default)]
    pub place: String,
    pub created_at: String,
    pub last_seen_at: String,
    /// The session making this request.
    pub current: bool,
}

/// An OpenID client a user let in, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantSummary {
    pub client_id: String,
    /// Its display name (the id when it has none).
    pub name: String,
    /// The latest expiry of its tokens.
    pub until: String,
    pub refresh_tokens: bool,
}

/// The person's own account (`/account`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub user: User,
    /// Where they are logged in, this session marked.
    pub sessions: Vec<SessionSummary>,
    /// The OpenID clients they let in that still hold a token.
    pub applications: Vec<GrantSummary>,
    /// Their recent entries of the audit trail, newest first.
    pub recent: Vec<AuditEntry>,
    /// Their login is fresh enough to delete the account (a scan in the last 10 minutes).
    pub fresh: bool,
    /// The attribution the places' database asks for; none without places.
    #[serde(default)]
    pub places_credit: Option<PlacesCredit>,
}

/// The attribution an IP geolocation database's licence asks for on pages that show its
/// places (`SCANLOGIN_GEOIP_CREDIT`): the words, and where they link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlacesCredit {
    pub words: String,
    #[serde(default)]
    pub link: Option<String>,
}

/// How many sessions an action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ended {
    pub ended: usize,
}

/// A WeChat message that reached a demo person's phone (the simulator's): its fields by
/// name, and the mini-program page a tap opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneMessage {
    pub fields: Vec<(String, String)>,
    pub page: String,
}

/// Where the account page's forms post.
pub const ACCOUNT_FORM_PATH: &str = "/account/act";

/// Where the person downloads a copy of their data.
pub const ACCOUNT_DATA_PATH: &str = "/account/data.json";

/// An entry of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub event: String,
    pub result: String,
    pub actor_id: Option<i64>,
    pub user_id: Option<i64>,
    pub subject: String,
    pub client_id: String,
    pub ip: String,
    /// Where `ip` is, coarsely; empty when unknown.
    #[serde(default)]
    pub place: String,
    pub user_agent: String,
    pub request_id: String,
    pub detail: String,
}

/// The console's page of one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserDetail {
    pub user: UserSummary,
    pub sessions: Vec<SessionSummary>,
    pub grants: Vec<GrantSummary>,
    pub audit: Vec<AuditEntry>,
    /// Every group, to add the user to.
    pub all_groups: Vec<GroupSummary>,
    #[serde(default)]
    pub places_credit: Option<PlacesCredit>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSummary {
    pub id: i64,
    pub name: String,
    pub members: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationSummary {
    pub id: i64,
    pub note: String,
    pub max_uses: i64,
    pub uses: i64,
    pub admin: bool,
    pub expires_at: String,
    pub created_at: String,
    pub revoked: bool,
    pub groups: Vec<String>,
}

/// A new invitation's link (shown once: only its hash is kept) and its QR code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationLink {
    pub url: String,
    /// An SVG image of the link's QR code.
    pub qr_svg: String,
}

/// Which audit entries the console shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    /// A user id (entries about them or by them).
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub event: String,
    /// Entries of the last N days (empty: all kept).
    #[serde(default)]
    pub days: String,
    #[serde(default)]
    pub page: i64,
}

/// Entries on a page of the console's audit log.
pub const AUDIT_PAGE: i64 = 50;

/// The audit trail's events, by name (the console's filter offers them).
pub const AUDIT_EVENTS: &[&str] = &[
    "login_confirmed",
    "login_refused",
    "login_cancelled",
    "session_created",
    "session_revoked",
    "code_issued",
    "access_denied",
    "token_issued",
    "token_refreshed",
    "token_revoked",
    "user_disabled",
    "user_enabled",
    "admin_granted",
    "admin_revoked",
    "group_created",
    "group_renamed",
    "group_deleted",
    "group_member_added",
    "group_member_removed",
    "invitation_created",
    "invitation_revoked",
    "invitation_used",
    "audit_exported",
    "application_revoked",
    "data_exported",
    "account_deleted",
    "profile_cleared",
];

/// Where the console's CSV export of the audit trail is downloaded.
pub const AUDIT_CSV_PATH: &str = "/admin/audit.csv";

/// What an administrator does in the console: one server function takes them all, each
/// checked there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum AdminAction {
    /// Sensitive: needs a fresh login.
    DisableUser {
        user_id: i64,
    },
    EnableUser {
        user_id: i64,
    },
    /// Making an administrator is sensitive; removing one is refused for the last one.
    SetAdmin {
        user_id: i64,
        admin: bool,
    },
    RevokeSession {
        user_id: i64,
        session: String,
    },
    /// Sensitive.
    RevokeAllSessions {
        user_id: i64,
    },
    CreateGroup {
        name: String,
    },
    RenameGroup {
        group_id: i64,
        name: String,
    },
    DeleteGroup {
        group_id: i64,
    },
    SetMember {
        group_id: i64,
        user_id: i64,
        member: bool,
    },
    RevokeInvitation {
        invitation_id: i64,
    },
}

/// A new invitation, as the console's form asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationRequest {
    pub max_uses: i64,
    pub valid_days: i64,
    pub admin: bool,
    pub group_ids: Vec<i64>,
    #[serde(default)]
    pub note: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_goes_on_only_to_the_authorization_endpoint_or_the_console() {
        let authorize: LoginNext = "/oauth/authorize?client_id=a".parse().unwrap();
        assert_eq!(authorize.console_page(), None);
        let console: LoginNext = "/admin/users?q=x".parse().unwrap();
        assert_eq!(console.console_page(), Some("/admin/users"));
        for bad in [
            "/",
            "/administrator",
            "/admin#x",
            "//evil.example/oauth/authorize?",
            "https://evil.example/",
            "/oauth/authorizex",
            "/oauth/authorize?\\n",
            "/oauth/authorize?\0",
            "/oauth/authorize?a\tb",
            "/oauth/authorize?a\u{7f}",
        ] {
            assert!(bad.parse::<LoginNext>().is_err(), "{bad}");
        }
    }

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
            serde_json::to_string(&PushEvent::Confirmed {
                ticket: "t".parse().unwrap()
            })
            .unwrap(),
            r#"{"type":"confirmed","ticket":"t"}"#
        );
        assert_eq!(
            serde_json::to_string(&PushEvent::Scanned).unwrap(),
            r#"{"type":"scanned"}"#
        );
        let key = "k".repeat(32);
        let hello: ClientMessage =
            serde_json::from_str(&format!(r#"{{"type":"hello","key":"{key}"}}"#)).unwrap();
        assert_eq!(
            hello,
            ClientMessage::Hello {
                key: key.parse().unwrap()
            }
        );
    }

    #[test]
    fn checked_values_validate_when_deserialized_and_hide_secrets() {
        let id = "a".repeat(32);
        let scene: SceneId = serde_json::from_str(&format!("\"{id}\"")).unwrap();
        assert_eq!(scene.as_str(), id);
        let err = serde_json::from_str::<SceneId>("\"short\"").unwrap_err();
        assert!(err.to_string().contains(SceneId::RULE), "{err}");
        assert!(serde_json::from_str::<Ticket>("\"\"").is_err());
        assert!(serde_json::from_str::<Ticket>("\"a b\"").is_err());
        let key: BrowserKey = id.parse().unwrap();
        assert_eq!(format!("{key:?}"), "BrowserKey(<redacted>)");
        assert_eq!(format!("{scene:?}"), format!("SceneId({id})"));
    }
}
