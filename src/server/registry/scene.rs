//! A scene: one login attempt, from the QR image on the login page to the ticket.
//!
//! The state machine is `waiting → scanned → confirmed | cancelled`, `waiting | scanned →
//! refused` when the access rules turn the scanner away, and any open state → `expired`
//! once the scene's time is up. Every transition is a method of
//! [`Scene`] taking `now` (milliseconds, from the registry's [`Clock`](super::Clock)), so
//! the rules are tested here without a clock or a network, and both registries (in
//! memory, and in Redis, where a scene is this struct as JSON) apply the very same rules.
//!
//! Each transition that the browser must hear records its event in `event`: the latest
//! event is what a socket that connects, or reconnects, gets first.

use serde::{Deserialize, Serialize};

use crate::{
    protocol::{
        Application, BrowserInfo, BrowserKey, Purpose, PushEvent, Refusal, ScanToken, Ticket, User,
    },
    server::{client::ClientKey, error::AppError, secret},
};

/// How long a ticket can be exchanged for a session, in milliseconds.
pub const TICKET_TTL_MS: u64 = 60_000;
/// How long a finished scene is remembered (so late requests get a clear answer).
pub const FINISHED_GRACE_MS: u64 = 60_000;

/// The WeChat user who scanned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scanner {
    pub openid: String,
    pub unionid: Option<String>,
    scan_token: secret::Hash,
    /// An avatar was uploaded with this scan (one per scan).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    avatar_uploaded: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct TicketState {
    /// Who logs in: the user as the confirm found them, so the exchange answers the
    /// browser without reading them back from the database.
    user: User,
    hash: secret::Hash,
    expires_at: u64,
    used: bool,
    /// The phone asked the person for a message after the login: whom to send it to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    notify: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case")]
enum Status {
    Waiting,
    Scanned,
    Confirmed { ticket: Box<TicketState> },
    Cancelled,
    Refused { reason: Refusal },
    Expired,
}

/// What the access rules need of a scene: whom the login is for and how it began.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Admission {
    /// The OpenID client the login is for (its group rule applies).
    pub client_id: Option<String>,
    /// The invitation the login page came from (`/invite/<token>`), by its id.
    pub invitation: Option<i64>,
}

/// What a scan gives the phone.
#[derive(Debug, Clone)]
pub struct Scanned {
    pub scan_token: ScanToken,
    pub expires_in_secs: u64,
    pub browser: BrowserInfo,
    pub application: Option<Application>,
    pub purpose: Purpose,
}

/// What redeeming a ticket gives the browser.
#[derive(Debug, Clone)]
pub struct Redeemed {
    pub user: User,
    /// The application the phone named, if any: the session's login was consented to
    /// for it.
    pub application: Option<String>,
    /// The openid to send a message about the login to, if the phone asked for one.
    pub notify: Option<String>,
}

/// Kept small: thousands wait at once, most never scanned, so what only a scan or a
/// confirm brings (the scanner, the ticket) and the browser's description live behind
/// pointers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scene {
    key_hash: secret::Hash,
    /// The client that registered it (for the per-client cap).
    client: ClientKey,
    /// A socket has proved the scene's key; until then the scene may be dropped early.
    watched: bool,
    created_at: u64,
    expires_at: u64,
    browser: Box<BrowserInfo>,
    /// The application the login is for (OpenID), shown on the phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    application: Option<Box<Application>>,
    /// The invitation the login page came from, by its id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    invitation: Option<i64>,
    /// What the scan is for, as the phone words it.
    #[serde(default, skip_serializing_if = "Purpose::is_log_in")]
    purpose: Purpose,
    status: Status,
    scanner: Option<Box<Scanner>>,
    /// The latest event, for sockets that connect after it.
    event: Option<PushEvent>,
}

impl Scene {
    pub fn new(
        key: &BrowserKey,
        browser: BrowserInfo,
        application: Option<Application>,
        invitation: Option<i64>,
        client: ClientKey,
        now: u64,
        ttl_ms: u64,
    ) -> Self {
        Self {
            key_hash: secret::hash(key.as_str()),
            client,
            watched: false,
            created_at: now,
            expires_at: now + ttl_ms,
            browser: Box::new(browser),
            application: application.map(Box::new),
            invitation,
            purpose: Purpose::LogIn,
            status: Status::Waiting,
            scanner: None,
            event: None,
        }
    }

    /// The scene, for `purpose`.
    pub fn for_purpose(mut self, purpose: Purpose) -> Self {
        self.purpose = purpose;
        self
    }

    pub fn key_matches(&self, key: &BrowserKey) -> bool {
        secret::matches(&self.key_hash, key.as_str())
    }

    pub fn client(&self) -> ClientKey {
        self.client
    }

    pub fn event(&self) -> Option<&PushEvent> {
        self.event.as_ref()
    }

    pub fn status_name(&self) -> &'static str {
        match self.status {
            Status::Waiting => "waiting",
            Status::Scanned => "scanned",
            Status::Confirmed { .. } => "confirmed",
            Status::Cancelled => "cancelled",
            Status::Refused { .. } => "refused",
            Status::Expired => "expired",
        }
    }

    /// Whom the login is for and how it began.
    pub fn admission(&self) -> Admission {
        Admission {
            client_id: self.application.as_ref().map(|a| a.client_id.clone()),
            invitation: self.invitation,
        }
    }

    pub fn is_watched(&self) -> bool {
        self.watched
    }

    /// A socket proved the key: the page is there, so the scene lives its whole time.
    pub fn mark_watched(&mut self) {
        self.watched = true;
    }

    /// Waiting or scanned: counted against its client, and worth expiring.
    pub fn is_open(&self) -> bool {
        matches!(self.status, Status::Waiting | Status::Scanned)
    }

    /// Seconds until the scene expires.
    pub fn expires_in_secs(&self, now: u64) -> u64 {
        self.expires_at.saturating_sub(now) / 1000
    }

    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// Until when an open scene counts against its client: its expiry once watched, the
    /// end of the socket grace before.
    pub fn counts_until(&self, grace_ms: u64) -> u64 {
        if self.watched {
            self.expires_at
        } else {
            (self.created_at + grace_ms).min(self.expires_at)
        }
    }

    /// Until when the scene is kept at all: a while after it finished (late requests get
    /// a clear answer), or the end of the socket grace if no page ever came for it.
    pub fn keep_until(&self, grace_ms: u64) -> u64 {
        let finished = match &self.status {
            Status::Waiting if !self.watched => return self.counts_until(grace_ms),
            Status::Waiting | Status::Scanned => self.expires_at,
            Status::Confirmed { ticket, .. } => ticket.expires_at,
            Status::Cancelled | Status::Refused { .. } | Status::Expired => self.expires_at,
        };
        finished + FINISHED_GRACE_MS
    }

    /// Waiting or scanned past its time: now expired.
    pub fn expire_if_due(&mut self, now: u64) -> bool {
        if now >= self.expires_at && self.is_open() {
            self.status = Status::Expired;
            self.event = Some(PushEvent::Expired);
            return true;
        }
        false
    }

    /// Refuses a scene whose time is up, even before the purge has marked it.
    pub fn check_open(&self, now: u64) -> Result<(), AppError> {
        let due = now >= self.expires_at && self.is_open();
        if due || self.status == Status::Expired {
            Err(AppError::SceneNotFound)
        } else {
            Ok(())
        }
    }

    /// A WeChat user scanned the QR image. Returns the scan token (for confirm or cancel).
    /// The same user may scan again (a new token, the old one revoked).
    pub fn scan(
        &mut self,
        openid: &str,
        unionid: Option<String>,
        now: u64,
    ) -> Result<Scanned, AppError> {
        self.check_open(now)?;
        match (&self.status, &self.scanner) {
            (Status::Waiting, _) => {
                self.status = Status::Scanned;
                self.event = Some(PushEvent::Scanned);
            }
            (Status::Scanned, Some(scanner)) if scanner.openid == openid => {}
            (Status::Scanned, _) => {
                return Err(AppError::Conflict(
                    "this code was already scanned by another WeChat user",
                ))
            }
            _ => return Err(AppError::Conflict("this code was already used")),
        }
        let token = secret::token();
        self.scanner = Some(Box::new(Scanner {
            openid: openid.to_owned(),
            unionid,
            scan_token: secret::hash(&token),
            avatar_uploaded: false,
        }));
        Ok(Scanned {
            scan_token: token
                .parse()
                .map_err(|_| AppError::Internal("token".into()))?,
            expires_in_secs: self.expires_in_secs(now),
            browser: (*self.browser).clone(),
            application: self.application.as_deref().cloned(),
            purpose: self.purpose,
        })
    }

    /// The scanner, if `scan_token` is theirs and the scene still awaits a decision; once
    /// it is decided, which decision (`AlreadyConfirmed`, `AlreadyCancelled`: 409s that
    /// tell the phone the outcome).
    pub fn scanner(&self, scan_token: &ScanToken, now: u64) -> Result<Scanner, AppError> {
        self.check_open(now)?;
        let scanner = self
            .scanner
            .as_ref()
            .filter(|s| secret::matches(&s.scan_token, scan_token.as_str()))
            .ok_or(AppError::BadScanToken)?;
        match self.status {
            Status::Scanned => Ok((**scanner).clone()),
            Status::Confirmed { .. } => Err(AppError::AlreadyConfirmed),
            Status::Refused { reason } => Err(AppError::Refused(reason)),
            _ => Err(AppError::AlreadyCancelled),
        }
    }

    /// The scanner confirmed; `user` is their account. The ticket goes to the browser
    /// in the `confirmed` event. The same scanner confirming again (a double tap, a retry
    /// after a lost answer) changes nothing and mints no second ticket: `Ok(false)`.
    pub fn confirm(
        &mut self,
        scan_token: &ScanToken,
        user: &User,
        notify: bool,
        now: u64,
    ) -> Result<bool, AppError> {
        let openid = match self.scanner(scan_token, now) {
            Err(AppError::AlreadyConfirmed) => return Ok(false),
            other => other?.openid,
        };
        let raw = secret::token();
        let ticket: Ticket = raw
            .parse()
            .map_err(|_| AppError::Internal("ticket".into()))?;
        self.status = Status::Confirmed {
            ticket: Box::new(TicketState {
                user: user.clone(),
                hash: secret::hash(&raw),
                expires_at: now + TICKET_TTL_MS,
                used: false,
                notify: notify.then_some(openid),
            }),
        };
        self.event = Some(PushEvent::Confirmed { ticket });
        Ok(true)
    }

    /// The scanner cancelled. Again by the same scanner: `Ok(false)`; after a confirm:
    /// `AlreadyConfirmed`.
    pub fn cancel(&mut self, scan_token: &ScanToken, now: u64) -> Result<bool, AppError> {
        match self.scanner(scan_token, now) {
            Err(AppError::AlreadyCancelled) => return Ok(false),
            other => other?,
        };
        self.status = Status::Cancelled;
        self.event = Some(PushEvent::Cancelled);
        Ok(true)
    }

    /// The access rules turn away the WeChat user `openid`, who scanned (or is scanning)
    /// this scene: nobody may log in with it any more, and the browser hears why. Only
    /// while the scene is open, and not over another person's scan.
    pub fn refuse(&mut self, openid: &str, reason: Refusal, now: u64) -> Result<(), AppError> {
        self.check_open(now)?;
        match (&self.status, &self.scanner) {
            (Status::Waiting, _) => {}
            (Status::Scanned, Some(scanner)) if scanner.openid == openid => {}
            (Status::Refused { .. }, _) => return Ok(()),
            _ => return Err(AppError::Conflict("this code was already used")),
        }
        self.status = Status::Refused { reason };
        self.event = Some(PushEvent::Refused { reason });
        Ok(())
    }

    /// The scanner of `scan_token` uploads their avatar: once per scan
    /// (`AvatarAlreadyUploaded` after that).
    pub fn claim_avatar(&mut self, scan_token: &ScanToken, now: u64) -> Result<(), AppError> {
        self.scanner(scan_token, now)?;
        let scanner = self.scanner.as_mut().ok_or(AppError::BadScanToken)?;
        if scanner.avatar_uploaded {
            return Err(AppError::AvatarAlreadyUploaded);
        }
        scanner.avatar_uploaded = true;
        Ok(())
    }

    /// The browser exchanges its ticket: once, within 60 s, with the scene's key.
    pub fn redeem_ticket(
        &mut self,
        key: &BrowserKey,
        ticket: &Ticket,
        now: u64,
    ) -> Result<Redeemed, AppError> {
        if !self.key_matches(key) {
            return Err(AppError::BadTicket);
        }
        match &mut self.status {
            Status::Confirmed { ticket: t }
                if !t.used && now < t.expires_at && secret::matches(&t.hash, ticket.as_str()) =>
            {
                t.used = true;
                // The ticket is spent: no later socket needs to hear it.
                self.event = None;
                Ok(Redeemed {
                    user: t.user.clone(),
                    application: self.application.as_ref().map(|a| a.client_id.clone()),
                    notify: t.notify.take(),
                })
            }
            _ => Err(AppError::BadTicket),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn browser() -> BrowserInfo {
        BrowserInfo {
            user_agent: "test".into(),
            family: String::new(),
            version: String::new(),
            os: String::new(),
            ip: "127.0.0.x".into(),
            place: String::new(),
            requested_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    const TTL: u64 = 120_000;
    const NOW: u64 = 1_000_000;

    fn key(k: &str) -> BrowserKey {
        k.repeat(32).parse().unwrap()
    }

    fn scene() -> Scene {
        let client = ClientKey::new("127.0.0.1".parse().unwrap(), 64);
        Scene::new(&key("k"), browser(), None, None, client, NOW, TTL)
    }

    fn user(id: i64) -> User {
        User {
            id,
            nickname: format!("user {id}"),
            avatar_url: String::new(),
        }
    }

    fn ticket_of(s: &Scene) -> Ticket {
        match s.event() {
            Some(PushEvent::Confirmed { ticket }) => ticket.clone(),
            other => panic!("no ticket: {other:?}"),
        }
    }

    #[test]
    fn the_happy_path() {
        let mut s = scene();
        let scanned = s.scan("alice", None, NOW).unwrap();
        assert_eq!(s.event(), Some(&PushEvent::Scanned));
        assert_eq!(s.status_name(), "scanned");
        s.confirm(&scanned.scan_token, &user(7), false, NOW)
            .unwrap();
        let ticket = ticket_of(&s);
        assert_eq!(
            s.redeem_ticket(&key("k"), &ticket, NOW).unwrap().user,
            user(7)
        );
        assert_eq!(s.event(), None, "a spent ticket is replayed to no one");
    }

    #[test]
    fn a_login_the_phone_asked_a_message_for_names_its_scanner_at_redemption() {
        let mut s = scene();
        let scanned = s.scan("alice", None, NOW).unwrap();
        s.confirm(&scanned.scan_token, &user(7), true, NOW).unwrap();
        let redeemed = s.redeem_ticket(&key("k"), &ticket_of(&s), NOW).unwrap();
        assert_eq!(redeemed.notify.as_deref(), Some("alice"));
    }

    #[test]
    fn a_second_user_cannot_scan_but_the_same_one_can() {
        let mut s = scene();
        let first = s.scan("alice", None, NOW).unwrap().scan_token;
        assert!(matches!(
            s.scan("mallory", None, NOW),
            Err(AppError::Conflict(_))
        ));
        let second = s.scan("alice", None, NOW).unwrap().scan_token;
        assert!(matches!(
            s.scanner(&first, NOW),
            Err(AppError::BadScanToken)
        ));
        assert!(s.scanner(&second, NOW).is_ok());
    }

    #[test]
    fn confirm_needs_the_scan_token_and_happens_once() {
        let mut s = scene();
        let token = s.scan("alice", None, NOW).unwrap().scan_token;
        let wrong: ScanToken = "wrong".parse().unwrap();
        assert!(matches!(
            s.confirm(&wrong, &user(1), false, NOW),
            Err(AppError::BadScanToken)
        ));
        assert!(
            s.confirm(&token, &user(1), false, NOW).unwrap(),
            "the first confirm decides"
        );
        let first = s.clone();
        // A double tap, or a retry after a lost answer: success, and nothing changes
        // (no second ticket, nothing pushed).
        assert!(!s.confirm(&token, &user(2), false, NOW).unwrap());
        assert_eq!(s, first);
        assert!(matches!(
            s.confirm(&wrong, &user(1), false, NOW),
            Err(AppError::BadScanToken)
        ));
        assert!(matches!(
            s.cancel(&token, NOW),
            Err(AppError::AlreadyConfirmed)
        ));
        assert!(matches!(
            s.scan("alice", None, NOW),
            Err(AppError::Conflict(_))
        ));
    }

    #[test]
    fn a_cancelled_scene_cannot_be_confirmed() {
        let mut s = scene();
        let token = s.scan("alice", None, NOW).unwrap().scan_token;
        assert!(s.cancel(&token, NOW).unwrap());
        assert_eq!(s.event(), Some(&PushEvent::Cancelled));
        assert!(
            !s.cancel(&token, NOW).unwrap(),
            "cancel again: success, no change"
        );
        assert!(matches!(
            s.confirm(&token, &user(1), false, NOW),
            Err(AppError::AlreadyCancelled)
        ));
    }

    #[test]
    fn scenes_expire_unless_confirmed() {
        let mut s = scene();
        let token = s.scan("alice", None, NOW).unwrap().scan_token;
        let later = NOW + TTL;
        assert!(matches!(
            s.confirm(&token, &user(1), false, later),
            Err(AppError::SceneNotFound)
        ));
        assert!(s.expire_if_due(later));
        assert_eq!(s.event(), Some(&PushEvent::Expired));
        assert!(!s.expire_if_due(later), "expires once");

        let mut s = scene();
        let token = s.scan("alice", None, NOW).unwrap().scan_token;
        s.confirm(&token, &user(1), false, NOW).unwrap();
        assert!(
            !s.expire_if_due(NOW + TTL),
            "a confirmed scene stays confirmed"
        );
    }

    #[test]
    fn tickets_are_single_use_keyed_and_short_lived() {
        let mut s = scene();
        let token = s.scan("alice", None, NOW).unwrap().scan_token;
        s.confirm(&token, &user(1), false, NOW).unwrap();
        let ticket = ticket_of(&s);
        assert!(matches!(
            s.redeem_ticket(&key("o"), &ticket, NOW),
            Err(AppError::BadTicket)
        ));
        let forged: Ticket = "forged".parse().unwrap();
        assert!(matches!(
            s.redeem_ticket(&key("k"), &forged, NOW),
            Err(AppError::BadTicket)
        ));
        assert!(matches!(
            s.redeem_ticket(&key("k"), &ticket, NOW + TICKET_TTL_MS),
            Err(AppError::BadTicket)
        ));
        assert!(s.redeem_ticket(&key("k"), &ticket, NOW).is_ok());
        assert!(matches!(
            s.redeem_ticket(&key("k"), &ticket, NOW),
            Err(AppError::BadTicket)
        ));
    }

    #[test]
    fn an_unwatched_scene_counts_and_lives_only_for_the_grace() {
        let mut s = scene();
        assert_eq!(s.counts_until(30_000), NOW + 30_000);
        assert_eq!(s.keep_until(30_000), NOW + 30_000);
        s.mark_watched();
        assert_eq!(s.counts_until(30_000), NOW + TTL);
        assert_eq!(s.keep_until(30_000), NOW + TTL + FINISHED_GRACE_MS);
    }

    #[test]
    fn a_scene_survives_a_round_trip_through_json() {
        let mut s = scene();
        let token = s.scan("alice", Some("u1".into()), NOW).unwrap().scan_token;
        s.confirm(&token, &user(3), false, NOW).unwrap();
        let json = serde_json::to_string(&s).unwrap();
        let back: Scene = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
    }
}
