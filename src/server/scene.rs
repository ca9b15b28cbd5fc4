//! Scenes: one login attempt each, from the code on the login page to the ticket.
//!
//! The state machine is `waiting → scanned → confirmed | cancelled`, and any state but
//! `confirmed` → `expired` once the scene's time is up. Every transition is a method of
//! [`Scene`] taking `now`, so they are tested here without a clock or a network.

use std::{sync::Arc, time::Duration};

use dashmap::{mapref::entry::Entry, DashMap};
use tokio::{sync::OnceCell, time::Instant};

use super::{client::ClientKey, error::AppError, secret};
use crate::protocol::{BrowserInfo, PushEvent};

/// How long a ticket can be exchanged for a session.
pub const TICKET_TTL: Duration = Duration::from_secs(60);
/// How long a finished scene is remembered (so late requests get a clear answer).
const FINISHED_GRACE: Duration = Duration::from_secs(60);

/// The mini-program code of a scene, fetched from WeChat once.
#[derive(Debug, Clone)]
pub struct CodeImage {
    /// `data:image/...;base64,...`
    pub data_url: String,
}

/// The WeChat user who scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scanner {
    pub openid: String,
    pub unionid: Option<String>,
    scan_token: secret::Hash,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    hash: secret::Hash,
    expires_at: Instant,
    used: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Waiting,
    Scanned,
    Confirmed { user_id: i64, ticket: Ticket },
    Cancelled,
    Expired,
}

impl Status {
    pub fn name(&self) -> &'static str {
        match self {
            Status::Waiting => "waiting",
            Status::Scanned => "scanned",
            Status::Confirmed { .. } => "confirmed",
            Status::Cancelled => "cancelled",
            Status::Expired => "expired",
        }
    }
}

#[derive(Debug)]
pub struct Scene {
    key_hash: secret::Hash,
    /// The client that registered it (for the per-client cap).
    client: ClientKey,
    /// Counted against its client's cap: while it is waiting or scanned.
    counted: bool,
    /// A socket has proved the scene's key; until then the scene may be dropped early.
    watched: bool,
    created_at: Instant,
    pub browser: BrowserInfo,
    pub expires_at: Instant,
    pub status: Status,
    pub scanner: Option<Scanner>,
    pub code: Arc<OnceCell<CodeImage>>,
}

impl Scene {
    pub fn new(
        key: &str,
        browser: BrowserInfo,
        client: ClientKey,
        now: Instant,
        ttl: Duration,
    ) -> Self {
        Self {
            key_hash: secret::hash(key),
            client,
            counted: true,
            watched: false,
            created_at: now,
            browser,
            expires_at: now + ttl,
            status: Status::Waiting,
            scanner: None,
            code: Arc::new(OnceCell::new()),
        }
    }

    pub fn key_matches(&self, key: &str) -> bool {
        secret::matches(&self.key_hash, key)
    }

    /// A socket proved the key: the page is there, so the scene lives its whole time.
    pub fn mark_watched(&mut self) {
        self.watched = true;
    }

    fn is_open(&self) -> bool {
        matches!(self.status, Status::Waiting | Status::Scanned)
    }

    /// Waiting with no socket `grace` after its code: the page never came (or its code
    /// fetch is still hanging), and the scene is not worth its slot.
    fn is_abandoned(&self, now: Instant, grace: Duration) -> bool {
        self.status == Status::Waiting && !self.watched && now >= self.created_at + grace
    }

    /// Seconds until the scene expires.
    pub fn expires_in(&self, now: Instant) -> u64 {
        self.expires_at.saturating_duration_since(now).as_secs()
    }

    /// Waiting or scanned past its time: now expired. Returns the event to push.
    pub fn expire_if_due(&mut self, now: Instant) -> Option<PushEvent> {
        if now >= self.expires_at && matches!(self.status, Status::Waiting | Status::Scanned) {
            self.status = Status::Expired;
            return Some(PushEvent::Expired);
        }
        None
    }

    /// Refuses a scene whose time is up. Only the sweeper moves it to `expired`, so
    /// that the transition and its push happen in one place.
    pub fn check_open(&self, now: Instant) -> Result<(), AppError> {
        let due =
            now >= self.expires_at && matches!(self.status, Status::Waiting | Status::Scanned);
        if due || self.status == Status::Expired {
            Err(AppError::SceneNotFound)
        } else {
            Ok(())
        }
    }

    /// A WeChat user scanned the code. Returns the scan token (for confirm or cancel)
    /// and the event to push, if any. The same user may scan again (a new token).
    pub fn scan(
        &mut self,
        openid: &str,
        unionid: Option<String>,
        now: Instant,
    ) -> Result<(String, Option<PushEvent>), AppError> {
        self.check_open(now)?;
        let token = secret::token();
        match (&self.status, &self.scanner) {
            (Status::Waiting, _) => {
                self.status = Status::Scanned;
                self.scanner = Some(Scanner {
                    openid: openid.to_owned(),
                    unionid,
                    scan_token: secret::hash(&token),
                });
                Ok((token, Some(PushEvent::Scanned)))
            }
            (Status::Scanned, Some(scanner)) if scanner.openid == openid => {
                self.scanner = Some(Scanner {
                    openid: openid.to_owned(),
                    unionid,
                    scan_token: secret::hash(&token),
                });
                Ok((token, None))
            }
            (Status::Scanned, _) => Err(AppError::Conflict(
                "this code was already scanned by another WeChat user",
            )),
            _ => Err(AppError::Conflict("this code was already used")),
        }
    }

    /// The scanner, if `scan_token` is theirs and the scene still awaits a decision.
    pub fn check_scan_token(&self, scan_token: &str, now: Instant) -> Result<Scanner, AppError> {
        self.check_open(now)?;
        let scanner = self
            .scanner
            .as_ref()
            .filter(|s| secret::matches(&s.scan_token, scan_token))
            .ok_or(AppError::BadScanToken)?;
        match self.status {
            Status::Scanned => Ok(scanner.clone()),
            Status::Confirmed { .. } => Err(AppError::Conflict("this login was already confirmed")),
            _ => Err(AppError::Conflict("this login was cancelled")),
        }
    }

    /// The scanner confirmed; `user_id` is their account. Returns the ticket.
    pub fn confirm(
        &mut self,
        scan_token: &str,
        user_id: i64,
        now: Instant,
    ) -> Result<(String, PushEvent), AppError> {
        self.check_scan_token(scan_token, now)?;
        let ticket = secret::token();
        self.status = Status::Confirmed {
            user_id,
            ticket: Ticket {
                hash: secret::hash(&ticket),
                expires_at: now + TICKET_TTL,
                used: false,
            },
        };
        Ok((ticket.clone(), PushEvent::Confirmed { ticket }))
    }

    pub fn cancel(&mut self, scan_token: &str, now: Instant) -> Result<PushEvent, AppError> {
        self.check_scan_token(scan_token, now)?;
        self.status = Status::Cancelled;
        Ok(PushEvent::Cancelled)
    }

    /// The browser exchanges its ticket: once, within 60 s, with the scene's key.
    pub fn redeem_ticket(
        &mut self,
        key: &str,
        ticket: &str,
        now: Instant,
    ) -> Result<i64, AppError> {
        if !self.key_matches(key) {
            return Err(AppError::BadTicket);
        }
        match &mut self.status {
            Status::Confirmed { user_id, ticket: t }
                if !t.used && now < t.expires_at && secret::matches(&t.hash, ticket) =>
            {
                t.used = true;
                Ok(*user_id)
            }
            _ => Err(AppError::BadTicket),
        }
    }

    /// Finished long enough ago to be forgotten.
    fn is_done(&self, now: Instant) -> bool {
        let finished_at = match &self.status {
            Status::Waiting | Status::Scanned => return false,
            Status::Confirmed { ticket, .. } => ticket.expires_at,
            Status::Cancelled | Status::Expired => self.expires_at,
        };
        now >= finished_at + FINISHED_GRACE
    }
}

/// Every live scene, by id, with caps on how many are open (waiting or scanned) in all
/// and per client. A scene stops counting against its client as soon as it is no longer
/// open, or is dropped because its code fetch failed or no socket came for it.
#[derive(Debug)]
pub struct Scenes {
    map: DashMap<String, Scene>,
    per_client: DashMap<ClientKey, usize>,
    ttl: Duration,
    socket_grace: Duration,
    max_total: usize,
    max_per_client: usize,
}

impl Scenes {
    pub fn new(
        ttl: Duration,
        socket_grace: Duration,
        max_total: usize,
        max_per_client: usize,
    ) -> Self {
        Self {
            map: DashMap::new(),
            per_client: DashMap::new(),
            ttl,
            socket_grace,
            max_total,
            max_per_client,
        }
    }

    fn uncount(&self, scene: &mut Scene) {
        if std::mem::take(&mut scene.counted) {
            self.per_client.remove_if_mut(&scene.client, |_, count| {
                *count = count.saturating_sub(1);
                *count == 0
            });
        }
    }

    /// Registers `id` for the browser holding `key`, or checks that it is that
    /// browser's. Returns the scene's code cell, seconds left, and whether it is new.
    /// `admit` runs before a new scene is made, and may refuse it (the code budget).
    pub fn register(
        &self,
        id: &str,
        key: &str,
        browser: BrowserInfo,
        client: ClientKey,
        now: Instant,
        admit: impl FnOnce() -> Result<(), AppError>,
    ) -> Result<(Arc<OnceCell<CodeImage>>, u64, bool), AppError> {
        // Counted before taking the entry: `len` locks every shard, and the entry holds
        // one. Under concurrency the count may be off by a few, which a cap tolerates.
        let total = self.map.len();
        match self.map.entry(id.to_owned()) {
            Entry::Vacant(slot) => {
                if total >= self.max_total {
                    return Err(AppError::Busy);
                }
                {
                    let mut count = self.per_client.entry(client).or_default();
                    if *count >= self.max_per_client {
                        return Err(AppError::TooManyScenes);
                    }
                    admit()?;
                    *count += 1;
                }
                let scene = Scene::new(key, browser, client, now, self.ttl);
                let answer = (scene.code.clone(), scene.expires_in(now), true);
                slot.insert(scene);
                Ok(answer)
            }
            Entry::Occupied(mut slot) => {
                let scene = slot.get_mut();
                if !scene.key_matches(key) {
                    return Err(AppError::SceneTaken);
                }
                if !scene.is_open() {
                    return Err(AppError::SceneNotFound);
                }
                scene.check_open(now)?;
                Ok((scene.code.clone(), scene.expires_in(now), false))
            }
        }
    }

    /// Runs `f` on scene `id`; an unknown id is `SceneNotFound`.
    pub fn with<T>(
        &self,
        id: &str,
        f: impl FnOnce(&mut Scene) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        let mut scene = self.map.get_mut(id).ok_or(AppError::SceneNotFound)?;
        let result = f(&mut scene);
        if !scene.is_open() {
            self.uncount(&mut scene);
        }
        result
    }

    /// Drops scene `id` if its code never arrived (WeChat failed): it costs its client
    /// nothing, and the same id may be asked for again.
    pub fn forget_without_code(&self, id: &str) -> bool {
        let removed = self
            .map
            .remove_if(id, |_, scene| scene.code.get().is_none());
        match removed {
            Some((_, mut scene)) => {
                self.uncount(&mut scene);
                true
            }
            None => false,
        }
    }

    /// Expires the scenes whose time is up, drops those that no socket came for, and
    /// forgets those finished long ago. Returns the expired scenes' events, and the ids
    /// gone.
    pub fn sweep(&self, now: Instant) -> (Vec<(String, PushEvent)>, Vec<String>) {
        let mut expired = Vec::new();
        let mut forgotten = Vec::new();
        self.map.retain(|id, scene| {
            if let Some(event) = scene.expire_if_due(now) {
                expired.push((id.clone(), event));
            }
            if !scene.is_open() {
                self.uncount(scene);
            }
            if scene.is_done(now) || scene.is_abandoned(now, self.socket_grace) {
                forgotten.push(id.clone());
                self.uncount(scene);
                false
            } else {
                true
            }
        });
        (expired, forgotten)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn browser() -> BrowserInfo {
        BrowserInfo {
            user_agent: "test".into(),
            ip: "127.0.0.1".into(),
            requested_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    const TTL: Duration = Duration::from_secs(120);
    const GRACE: Duration = Duration::from_secs(30);

    fn client(ip: &str) -> ClientKey {
        ClientKey::new(ip.parse().unwrap(), 64)
    }

    fn me() -> ClientKey {
        client("127.0.0.1")
    }

    fn ok() -> Result<(), AppError> {
        Ok(())
    }

    /// A socket proved the scene's key.
    fn watch(scenes: &Scenes, id: &str) {
        scenes
            .with(id, |s| {
                s.mark_watched();
                Ok(())
            })
            .unwrap();
    }

    fn scene() -> (Scene, Instant) {
        let now = Instant::now();
        (Scene::new("key", browser(), me(), now, TTL), now)
    }

    #[test]
    fn the_happy_path() {
        let (mut s, now) = scene();
        let (token, event) = s.scan("alice", None, now).unwrap();
        assert_eq!(event, Some(PushEvent::Scanned));
        assert_eq!(s.status.name(), "scanned");
        let (ticket, event) = s.confirm(&token, 7, now).unwrap();
        assert_eq!(
            event,
            PushEvent::Confirmed {
                ticket: ticket.clone()
            }
        );
        assert_eq!(s.redeem_ticket("key", &ticket, now).unwrap(), 7);
    }

    #[test]
    fn a_second_user_cannot_scan_but_the_same_one_can() {
        let (mut s, now) = scene();
        let (first, _) = s.scan("alice", None, now).unwrap();
        assert!(matches!(
            s.scan("mallory", None, now),
            Err(AppError::Conflict(_))
        ));
        let (second, event) = s.scan("alice", None, now).unwrap();
        assert_eq!(event, None);
        assert!(matches!(
            s.check_scan_token(&first, now),
            Err(AppError::BadScanToken)
        ));
        assert!(s.check_scan_token(&second, now).is_ok());
    }

    #[test]
    fn confirm_needs_the_scan_token_and_happens_once() {
        let (mut s, now) = scene();
        let (token, _) = s.scan("alice", None, now).unwrap();
        assert!(matches!(
            s.confirm("wrong", 1, now),
            Err(AppError::BadScanToken)
        ));
        s.confirm(&token, 1, now).unwrap();
        assert!(matches!(
            s.confirm(&token, 1, now),
            Err(AppError::Conflict(_))
        ));
        assert!(matches!(s.cancel(&token, now), Err(AppError::Conflict(_))));
        assert!(matches!(
            s.scan("alice", None, now),
            Err(AppError::Conflict(_))
        ));
    }

    #[test]
    fn a_cancelled_scene_cannot_be_confirmed() {
        let (mut s, now) = scene();
        let (token, _) = s.scan("alice", None, now).unwrap();
        assert_eq!(s.cancel(&token, now).unwrap(), PushEvent::Cancelled);
        assert!(matches!(
            s.confirm(&token, 1, now),
            Err(AppError::Conflict(_))
        ));
    }

    #[test]
    fn scenes_expire_unless_confirmed() {
        let (mut s, now) = scene();
        let (token, _) = s.scan("alice", None, now).unwrap();
        let later = now + TTL;
        assert!(matches!(
            s.confirm(&token, 1, later),
            Err(AppError::SceneNotFound)
        ));
        assert_eq!(s.expire_if_due(later), Some(PushEvent::Expired));
        assert_eq!(s.status, Status::Expired);
        assert_eq!(s.expire_if_due(later), None, "expires once");

        let (mut s, now) = scene();
        let (token, _) = s.scan("alice", None, now).unwrap();
        s.confirm(&token, 1, now).unwrap();
        assert_eq!(
            s.expire_if_due(now + TTL),
            None,
            "a confirmed scene stays confirmed"
        );
    }

    #[test]
    fn tickets_are_single_use_keyed_and_short_lived() {
        let (mut s, now) = scene();
        let (token, _) = s.scan("alice", None, now).unwrap();
        let (ticket, _) = s.confirm(&token, 1, now).unwrap();
        assert!(matches!(
            s.redeem_ticket("other-key", &ticket, now),
            Err(AppError::BadTicket)
        ));
        assert!(matches!(
            s.redeem_ticket("key", "forged", now),
            Err(AppError::BadTicket)
        ));
        assert!(matches!(
            s.redeem_ticket("key", &ticket, now + TICKET_TTL),
            Err(AppError::BadTicket)
        ));
        assert!(s.redeem_ticket("key", &ticket, now).is_ok());
        assert!(matches!(
            s.redeem_ticket("key", &ticket, now),
            Err(AppError::BadTicket)
        ));
    }

    #[test]
    fn the_first_registration_wins() {
        let scenes = Scenes::new(TTL, GRACE, 100, 10);
        let now = Instant::now();
        assert!(
            scenes
                .register("s", "k1", browser(), me(), now, ok)
                .unwrap()
                .2
        );
        assert!(
            !scenes
                .register("s", "k1", browser(), me(), now, ok)
                .unwrap()
                .2
        );
        assert!(matches!(
            scenes.register("s", "k2", browser(), me(), now, ok),
            Err(AppError::SceneTaken)
        ));
    }

    #[test]
    fn scenes_are_capped_per_ip_and_in_all() {
        let scenes = Scenes::new(TTL, GRACE, 3, 2);
        let now = Instant::now();
        let other = client("10.0.0.9");
        scenes.register("a", "k", browser(), me(), now, ok).unwrap();
        scenes.register("b", "k", browser(), me(), now, ok).unwrap();
        assert!(matches!(
            scenes.register("c", "k", browser(), me(), now, ok),
            Err(AppError::TooManyScenes)
        ));
        scenes
            .register("c", "k", browser(), other, now, ok)
            .unwrap();
        assert!(matches!(
            scenes.register("d", "k", browser(), other, now, ok),
            Err(AppError::Busy)
        ));
        // Once forgotten, they no longer count.
        scenes.sweep(now + TTL + FINISHED_GRACE);
        scenes
            .register("e", "k", browser(), me(), now + TTL + FINISHED_GRACE, ok)
            .unwrap();
    }

    #[test]
    fn sweeping_expires_then_forgets() {
        let scenes = Scenes::new(TTL, GRACE, 100, 10);
        let now = Instant::now();
        scenes.register("s", "k", browser(), me(), now, ok).unwrap();
        watch(&scenes, "s");
        let (expired, gone) = scenes.sweep(now + TTL);
        assert_eq!(expired, vec![("s".to_owned(), PushEvent::Expired)]);
        assert!(gone.is_empty());
        let (expired, gone) = scenes.sweep(now + TTL + FINISHED_GRACE);
        assert!(expired.is_empty());
        assert_eq!(gone, vec!["s".to_owned()]);
        assert!(scenes.is_empty());
    }

    #[test]
    fn a_finished_scene_no_longer_counts_against_its_client() {
        let scenes = Scenes::new(TTL, GRACE, 100, 1);
        let now = Instant::now();
        scenes.register("a", "k", browser(), me(), now, ok).unwrap();
        assert!(matches!(
            scenes.register("b", "k", browser(), me(), now, ok),
            Err(AppError::TooManyScenes)
        ));
        let token = scenes.with("a", |s| s.scan("alice", None, now)).unwrap().0;
        scenes.with("a", |s| s.cancel(&token, now)).unwrap();
        scenes.register("b", "k", browser(), me(), now, ok).unwrap();
        // Expiry frees the slot too, long before the scene is forgotten.
        watch(&scenes, "b");
        scenes.sweep(now + TTL);
        scenes
            .register("c", "k", browser(), me(), now + TTL, ok)
            .unwrap();
    }

    #[test]
    fn a_scene_no_socket_came_for_is_dropped_after_the_grace() {
        let scenes = Scenes::new(TTL, GRACE, 100, 10);
        let now = Instant::now();
        scenes
            .register("lonely", "k", browser(), me(), now, ok)
            .unwrap();
        scenes
            .register("watched", "k", browser(), me(), now, ok)
            .unwrap();
        watch(&scenes, "watched");
        assert!(scenes.sweep(now + GRACE / 2).1.is_empty());
        let (expired, gone) = scenes.sweep(now + GRACE);
        assert!(expired.is_empty(), "dropped, not expired: nobody listens");
        assert_eq!(gone, vec!["lonely".to_owned()]);
        assert_eq!(scenes.len(), 1);
    }

    #[test]
    fn a_scene_whose_code_never_came_is_forgotten_and_uncounted() {
        let scenes = Scenes::new(TTL, GRACE, 100, 1);
        let now = Instant::now();
        let (cell, _, _) = scenes.register("a", "k", browser(), me(), now, ok).unwrap();
        assert!(scenes.forget_without_code("a"));
        assert!(scenes.is_empty());
        let (cell2, _, new) = scenes.register("a", "k", browser(), me(), now, ok).unwrap();
        assert!(new, "the same id can be asked for again");
        cell2
            .set(CodeImage {
                data_url: "data:".into(),
            })
            .unwrap();
        assert!(
            !scenes.forget_without_code("a"),
            "a scene with its code stays"
        );
        drop(cell);
    }

    #[test]
    fn a_refused_admission_makes_no_scene() {
        let scenes = Scenes::new(TTL, GRACE, 100, 10);
        let now = Instant::now();
        let refused = scenes.register("a", "k", browser(), me(), now, || {
            Err(AppError::CodeBudgetSpent {
                retry_after_secs: 1,
            })
        });
        assert!(matches!(refused, Err(AppError::CodeBudgetSpent { .. })));
        assert!(scenes.is_empty());
    }
}
