//! The registry in one process: scenes and their event channels in one map, so a scene's
//! state and what its sockets hear can never disagree.
//!
//! Each scene's channel is a `watch`: it keeps only the newest event, which is all a login
//! page needs (events only move forward), and a socket that connects late gets it at once.
//! A purge task, twice a second, expires scenes whose time is up (their sockets hear
//! `expired`), and forgets scenes finished long ago or that no socket came for (their
//! sockets' channels close).

use std::{
    sync::{Arc, Weak},
    time::Duration,
};

use dashmap::{mapref::entry::Entry, DashMap};
use tokio::sync::watch;

use super::{
    Clock, NewScene, Registration, RegistryConfig, Scanned, Scanner, Scene, SceneRegistry,
    Subscription,
};
use crate::{
    protocol::{BrowserKey, PushEvent, ScanToken, SceneId, Ticket, User},
    server::{client::ClientKey, error::AppError},
};

const PURGE_EVERY: Duration = Duration::from_millis(500);

struct Held {
    scene: Scene,
    /// Still counted against its client's cap.
    counted: bool,
    events: watch::Sender<Option<PushEvent>>,
}

struct Shared {
    scenes: DashMap<SceneId, Held>,
    per_client: DashMap<ClientKey, usize>,
    config: RegistryConfig,
    clock: Clock,
}

pub struct MemoryRegistry {
    shared: Arc<Shared>,
}

impl MemoryRegistry {
    /// Also starts the purge task, which ends when the registry is dropped.
    pub fn new(config: RegistryConfig) -> Self {
        let shared = Arc::new(Shared {
            scenes: DashMap::new(),
            per_client: DashMap::new(),
            config,
            clock: Clock::new(),
        });
        tokio::spawn(purge_task(Arc::downgrade(&shared)));
        Self { shared }
    }

    /// Scenes held now (for tests).
    pub fn len(&self) -> usize {
        self.shared.scenes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shared.scenes.is_empty()
    }
}

impl Shared {
    fn uncount(&self, entry: &mut Held) {
        if std::mem::take(&mut entry.counted) {
            self.per_client
                .remove_if_mut(&entry.scene.client(), |_, count| {
                    *count = count.saturating_sub(1);
                    *count == 0
                });
        }
    }

    /// Reads scene `id` without changing it.
    fn read<T>(
        &self,
        id: &SceneId,
        f: impl FnOnce(&Scene, u64) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        let entry = self.scenes.get(id).ok_or(AppError::SceneNotFound)?;
        f(&entry.scene, self.clock.now())
    }

    /// Runs a transition on scene `id`, then publishes its event (if it made one) and
    /// gives the client's slot back (if the scene is no longer open).
    fn transition<T>(
        &self,
        id: &SceneId,
        f: impl FnOnce(&mut Scene, u64) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        let mut entry = self.scenes.get_mut(id).ok_or(AppError::SceneNotFound)?;
        let before = entry.scene.event().cloned();
        let result = f(&mut entry.scene, self.clock.now());
        let after = entry.scene.event().cloned();
        if after != before {
            if let Some(event) = after {
                entry.events.send_replace(Some(event));
            }
        }
        if !entry.scene.is_open() {
            self.uncount(&mut entry);
        }
        result
    }

    fn purge(&self) {
        let now = self.clock.now();
        let grace = self.config.socket_grace.as_millis() as u64;
        self.scenes.retain(|_, entry| {
            if entry.scene.expire_if_due(now) {
                entry.events.send_replace(Some(PushEvent::Expired));
                crate::server::metrics::login_step(crate::server::metrics::Step::Expired);
            }
            if !entry.scene.is_open() || now >= entry.scene.counts_until(grace) {
                self.uncount(entry);
            }
            // Dropping the entry drops its sender: its sockets see the channel close.
            now < entry.scene.keep_until(grace)
        });
    }
}

async fn purge_task(shared: Weak<Shared>) {
    let mut tick = tokio::time::interval(PURGE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        shared.purge();
        crate::server::metrics::scenes_pending(
            shared.scenes.iter().filter(|e| e.scene.is_open()).count(),
        );
    }
}

#[async_trait::async_trait]
impl SceneRegistry for MemoryRegistry {
    async fn register(&self, new: NewScene) -> Result<Registration, AppError> {
        let shared = &self.shared;
        let now = shared.clock.now();
        // Counted before taking the entry: `len` locks every shard, and the entry holds
        // one. Under concurrency the count may be off by a few, which a cap tolerates.
        let total = shared.scenes.len();
        match shared.scenes.entry(new.id) {
            Entry::Vacant(slot) => {
                if total >= shared.config.max_scenes {
                    return Err(AppError::Busy);
                }
                let mut count = shared.per_client.entry(new.client).or_default();
                if *count >= shared.config.max_scenes_per_client {
                    return Err(AppError::TooManyScenes);
                }
                *count += 1;
                drop(count);
                let ttl = shared.config.ttl.as_millis() as u64;
                let scene = Scene::new(&new.key, new.browser, new.client, now, ttl);
                let expires_in_secs = scene.expires_in_secs(now);
                slot.insert(Held {
                    scene,
                    counted: true,
                    events: watch::channel(None).0,
                });
                Ok(Registration {
                    is_new: true,
                    expires_in_secs,
                })
            }
            Entry::Occupied(slot) => {
                let scene = &slot.get().scene;
                if !scene.key_matches(&new.key) {
                    return Err(AppError::SceneTaken);
                }
                if !scene.is_open() {
                    return Err(AppError::SceneNotFound);
                }
                scene.check_open(now)?;
                Ok(Registration {
                    is_new: false,
                    expires_in_secs: scene.expires_in_secs(now),
                })
            }
        }
    }

    async fn forget(&self, id: &SceneId) -> Result<(), AppError> {
        if let Some((_, mut entry)) = self.shared.scenes.remove(id) {
            self.shared.uncount(&mut entry);
        }
        Ok(())
    }

    async fn subscribe(&self, id: &SceneId, key: &BrowserKey) -> Result<Subscription, AppError> {
        let mut entry = self
            .shared
            .scenes
            .get_mut(id)
            .ok_or(AppError::SceneNotFound)?;
        if !entry.scene.key_matches(key) {
            return Err(AppError::SceneNotFound);
        }
        if entry.events.receiver_count() >= self.shared.config.max_sockets_per_scene {
            return Err(AppError::TooManySockets);
        }
        entry.scene.mark_watched();
        Ok(Subscription {
            events: entry.events.subscribe(),
        })
    }

    async fn check_open(&self, id: &SceneId) -> Result<(), AppError> {
        self.shared.read(id, |scene, now| scene.check_open(now))
    }

    async fn scan(
        &self,
        id: &SceneId,
        openid: &str,
        unionid: Option<String>,
    ) -> Result<Scanned, AppError> {
        self.shared
            .transition(id, |scene, now| scene.scan(openid, unionid, now))
    }

    async fn scanner(&self, id: &SceneId, scan_token: &ScanToken) -> Result<Scanner, AppError> {
        self.shared
            .read(id, |scene, now| scene.scanner(scan_token, now))
    }

    async fn confirm(
        &self,
        id: &SceneId,
        scan_token: &ScanToken,
        user: &User,
    ) -> Result<bool, AppError> {
        self.shared
            .transition(id, |scene, now| scene.confirm(scan_token, user, now))
    }

    async fn cancel(&self, id: &SceneId, scan_token: &ScanToken) -> Result<bool, AppError> {
        self.shared
            .transition(id, |scene, now| scene.cancel(scan_token, now))
    }

    async fn redeem_ticket(
        &self,
        id: &SceneId,
        key: &BrowserKey,
        ticket: &Ticket,
    ) -> Result<User, AppError> {
        self.shared
            .transition(id, |scene, now| scene.redeem_ticket(key, ticket, now))
    }

    async fn is_healthy(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::BrowserInfo;

    fn config(max_scenes: usize, per_client: usize) -> RegistryConfig {
        RegistryConfig {
            ttl: Duration::from_secs(120),
            socket_grace: Duration::from_secs(30),
            max_scenes,
            max_scenes_per_client: per_client,
            max_sockets_per_scene: 2,
        }
    }

    fn id(c: &str) -> SceneId {
        c.repeat(32).parse().unwrap()
    }

    fn key(c: &str) -> BrowserKey {
        c.repeat(32).parse().unwrap()
    }

    fn client(ip: &str) -> ClientKey {
        ClientKey::new(ip.parse().unwrap(), 64)
    }

    fn new(scene: &str, k: &str, ip: &str) -> NewScene {
        NewScene {
            id: id(scene),
            key: key(k),
            browser: BrowserInfo {
                user_agent: "test".into(),
                family: String::new(),
                version: String::new(),
                os: String::new(),
                ip: "127.0.0.x".into(),
                requested_at: "2026-01-01T00:00:00Z".into(),
            },
            client: client(ip),
        }
    }

    #[tokio::test]
    async fn the_first_registration_wins() {
        let r = MemoryRegistry::new(config(100, 10));
        assert!(r.register(new("s", "a", "127.0.0.1")).await.unwrap().is_new);
        assert!(!r.register(new("s", "a", "127.0.0.1")).await.unwrap().is_new);
        assert!(matches!(
            r.register(new("s", "b", "127.0.0.1")).await,
            Err(AppError::SceneTaken)
        ));
    }

    #[tokio::test]
    async fn scenes_are_capped_per_client_and_in_all_and_forgotten_ones_do_not_count() {
        let r = MemoryRegistry::new(config(3, 2));
        r.register(new("a", "k", "127.0.0.1")).await.unwrap();
        r.register(new("b", "k", "127.0.0.1")).await.unwrap();
        assert!(matches!(
            r.register(new("c", "k", "127.0.0.1")).await,
            Err(AppError::TooManyScenes)
        ));
        r.register(new("c", "k", "10.0.0.9")).await.unwrap();
        assert!(matches!(
            r.register(new("d", "k", "10.0.0.9")).await,
            Err(AppError::Busy)
        ));
        r.forget(&id("a")).await.unwrap();
        r.register(new("e", "k", "127.0.0.1")).await.unwrap();
    }

    #[tokio::test]
    async fn a_finished_scene_no_longer_counts_against_its_client() {
        let r = MemoryRegistry::new(config(100, 1));
        r.register(new("a", "k", "127.0.0.1")).await.unwrap();
        let token = r.scan(&id("a"), "alice", None).await.unwrap().scan_token;
        r.cancel(&id("a"), &token).await.unwrap();
        r.register(new("b", "k", "127.0.0.1")).await.unwrap();
    }

    #[tokio::test]
    async fn transitions_are_pushed_and_late_sockets_catch_up() {
        let r = MemoryRegistry::new(config(100, 10));
        r.register(new("s", "k", "127.0.0.1")).await.unwrap();
        assert!(matches!(
            r.subscribe(&id("s"), &key("x")).await,
            Err(AppError::SceneNotFound)
        ));
        let mut early = r.subscribe(&id("s"), &key("k")).await.unwrap().events;
        let token = r.scan(&id("s"), "alice", None).await.unwrap().scan_token;
        early.changed().await.unwrap();
        assert_eq!(*early.borrow_and_update(), Some(PushEvent::Scanned));
        let user = User {
            id: 1,
            nickname: "alice".into(),
            avatar_url: String::new(),
        };
        r.confirm(&id("s"), &token, &user).await.unwrap();
        let late = r.subscribe(&id("s"), &key("k")).await.unwrap().events;
        assert!(matches!(*late.borrow(), Some(PushEvent::Confirmed { .. })));
        assert!(
            matches!(
                r.subscribe(&id("s"), &key("k")).await,
                Err(AppError::TooManySockets)
            ),
            "two sockets a scene here"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_purge_expires_drops_and_forgets() {
        let r = MemoryRegistry::new(config(100, 10));
        r.register(new("l", "k", "127.0.0.1")).await.unwrap();
        r.register(new("w", "k", "127.0.0.1")).await.unwrap();
        let mut events = r.subscribe(&id("w"), &key("k")).await.unwrap().events;
        tokio::time::sleep(Duration::from_secs(31)).await;
        assert!(matches!(
            r.check_open(&id("l")).await,
            Err(AppError::SceneNotFound)
        ));
        assert_eq!(r.len(), 1, "no socket came for it: dropped after the grace");
        tokio::time::sleep(Duration::from_secs(90)).await;
        assert_eq!(*events.borrow_and_update(), Some(PushEvent::Expired));
        tokio::time::sleep(Duration::from_secs(61)).await;
        assert!(r.is_empty(), "forgotten a minute after it ended");
        assert!(
            events.changed().await.is_err(),
            "its sockets' channel closed"
        );
    }
}
