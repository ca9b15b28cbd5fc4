//! The registry in one process: scenes and their event channels in one map, so a scene's
//! state and what its sockets hear can never disagree.
//!
//! Each scene's channel is a `watch`: it keeps only the newest event, which is all a login
//! page needs (events only move forward), and a socket that connects late gets it at once.
//! A purge task, twice a second, expires scenes whose time is up (their sockets hear
//! `expired`), and forgets scenes finished long ago or that no socket came for (their
//! sockets' channels close).

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Weak,
    },
    time::Duration,
};

use dashmap::{mapref::entry::Entry, DashMap};
use tokio::sync::watch;

use super::{Backend, Change, Clock, Inserted, RegistryConfig, Scene, Subscription};
use crate::{
    protocol::{PushEvent, SceneId},
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
    /// Scenes counted against the caps: in all, and per client.
    open: AtomicUsize,
    per_client: DashMap<ClientKey, usize>,
    config: RegistryConfig,
    clock: Clock,
}

pub struct MemoryBackend {
    shared: Arc<Shared>,
}

impl MemoryBackend {
    /// Also starts the purge task, which ends when the backend is dropped.
    pub fn new(config: RegistryConfig, clock: Clock) -> Self {
        let shared = Arc::new(Shared {
            scenes: DashMap::new(),
            open: AtomicUsize::new(0),
            per_client: DashMap::new(),
            config,
            clock,
        });
        tokio::spawn(purge_task(Arc::downgrade(&shared)));
        Self { shared }
    }
}

impl Shared {
    fn uncount(&self, entry: &mut Held) {
        if std::mem::take(&mut entry.counted) {
            self.open.fetch_sub(1, Ordering::Relaxed);
            self.per_client
                .remove_if_mut(&entry.scene.client(), |_, count| {
                    *count = count.saturating_sub(1);
                    *count == 0
                });
        }
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
impl Backend for MemoryBackend {
    async fn insert(&self, id: &SceneId, scene: Scene) -> Result<Inserted, AppError> {
        let shared = &self.shared;
        match shared.scenes.entry(id.clone()) {
            Entry::Vacant(slot) => {
                // Under concurrency the count may be off by a few, which a cap tolerates.
                if shared.open.load(Ordering::Relaxed) >= shared.config.max_scenes {
                    return Err(AppError::Busy);
                }
                let mut count = shared.per_client.entry(scene.client()).or_default();
                if *count >= shared.config.max_scenes_per_client {
                    return Err(AppError::TooManyScenes);
                }
                *count += 1;
                drop(count);
                shared.open.fetch_add(1, Ordering::Relaxed);
                slot.insert(Held {
                    scene,
                    counted: true,
                    events: watch::channel(None).0,
                });
                Ok(Inserted::New)
            }
            Entry::Occupied(slot) => Ok(Inserted::Exists(slot.get().scene.clone())),
        }
    }

    async fn forget(&self, id: &SceneId) -> Result<(), AppError> {
        if let Some((_, mut entry)) = self.shared.scenes.remove(id) {
            self.shared.uncount(&mut entry);
        }
        Ok(())
    }

    async fn load(&self, id: &SceneId) -> Result<Option<Scene>, AppError> {
        Ok(self.shared.scenes.get(id).map(|entry| entry.scene.clone()))
    }

    /// Under the entry's lock: the change, its event and the client's slot together.
    async fn transition(&self, id: &SceneId, change: &mut Change<'_>) -> Result<(), AppError> {
        let shared = &self.shared;
        let mut entry = shared.scenes.get_mut(id).ok_or(AppError::SceneNotFound)?;
        let mut scene = entry.scene.clone();
        change(&mut scene, shared.clock.now())?;
        if scene == entry.scene {
            return Ok(());
        }
        if scene.event() != entry.scene.event() {
            if let Some(event) = scene.event() {
                entry.events.send_replace(Some(event.clone()));
            }
        }
        entry.scene = scene;
        if !entry.scene.is_open() {
            shared.uncount(&mut entry);
        }
        Ok(())
    }

    /// Counted and subscribed under the entry's write lock: concurrent sockets cannot all
    /// slip under the cap.
    async fn attach(&self, id: &SceneId, _scene: &Scene) -> Result<Subscription, AppError> {
        let entry = self
            .shared
            .scenes
            .get_mut(id)
            .ok_or(AppError::SceneNotFound)?;
        if entry.events.receiver_count() >= self.shared.config.max_sockets_per_scene {
            return Err(AppError::TooManySockets);
        }
        Ok(Subscription {
            events: entry.events.subscribe(),
        })
    }

    async fn is_healthy(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    //! The registry's contract (caps, transitions, races) is tested against both backends
    //! in `tests/api/registry.rs`; here, what only this backend does: its purge.
    use super::*;
    use crate::{
        protocol::{BrowserInfo, BrowserKey},
        server::registry::{NewScene, Registry},
    };

    fn id(c: &str) -> SceneId {
        c.repeat(32).parse().unwrap()
    }

    fn key(c: &str) -> BrowserKey {
        c.repeat(32).parse().unwrap()
    }

    fn new(scene: &str) -> NewScene {
        NewScene {
            id: id(scene),
            key: key("k"),
            browser: BrowserInfo {
                user_agent: "test".into(),
                family: String::new(),
                version: String::new(),
                os: String::new(),
                ip: "127.0.0.x".into(),
                place: String::new(),
                requested_at: "2026-01-01T00:00:00Z".into(),
            },
            application: None,
            invitation: None,
            purpose: Default::default(),
            client: ClientKey::new("127.0.0.1".parse().unwrap(), 64),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_purge_expires_drops_and_forgets() {
        let config = RegistryConfig {
            ttl: Duration::from_secs(120),
            socket_grace: Duration::from_secs(30),
            max_scenes: 100,
            max_scenes_per_client: 10,
            max_sockets_per_scene: 2,
        };
        let clock = Clock::new();
        let backend = Arc::new(MemoryBackend::new(config.clone(), clock));
        let r = Registry {
            backend: backend.clone(),
            config,
            clock,
        };
        r.register(new("l")).await.unwrap();
        r.register(new("w")).await.unwrap();
        let mut events = r.subscribe(&id("w"), &key("k")).await.unwrap().events;
        tokio::time::sleep(Duration::from_secs(31)).await;
        assert!(matches!(
            r.check_open(&id("l")).await,
            Err(AppError::SceneNotFound)
        ));
        assert_eq!(
            backend.shared.scenes.len(),
            1,
            "no socket came for it: dropped after the grace"
        );
        tokio::time::sleep(Duration::from_secs(90)).await;
        assert_eq!(*events.borrow_and_update(), Some(PushEvent::Expired));
        tokio::time::sleep(Duration::from_secs(61)).await;
        assert!(
            backend.shared.scenes.is_empty(),
            "forgotten a minute after it ended"
        );
        assert!(
            events.changed().await.is_err(),
            "its sockets' channel closed"
        );
    }
}
