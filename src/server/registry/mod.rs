//! The scene registry: the one owner of every scene's state, its events and its expiry,
//! as mini-redis's `Db` owns its entries, its pub/sub and its purge task.
//!
//! Callers never touch a [`Scene`] or a channel: every transition is a method of
//! [`Registry`], written once here over the rules of [`scene`], and each publishes its
//! own event to the scene's sockets, on this instance and on the others. Where the scenes
//! live is a [`Backend`], chosen at start-up:
//!
//! - [`memory::MemoryBackend`]: one process, no external service (the default);
//! - [`redis::RedisBackend`] (`SCANLOGIN_REDIS_URL`): scenes as JSON in Redis with TTLs,
//!   each transition an atomic compare-and-set (a Lua script) that also publishes the
//!   event, one pub/sub subscription per instance fanning out to its local sockets.
//!
//! A backend only stores, compares-and-sets and fans out; it decides nothing. The
//! contract both keep (every rule; one winner for every race) is tested against each of
//! them by the same suite, `tests/api/registry.rs`; in Redis, where events are published
//! to the other instances, it also counts one published event per race (in memory the
//! event is sent under the scene's lock, by the winner alone).

pub mod memory;
pub mod redis;
pub mod scene;

use std::{sync::Arc, time::Duration};

use tokio::sync::watch;

pub use scene::{Admission, Redeemed, Scanned, Scanner, Scene};

use super::{client::ClientKey, error::AppError};
use crate::protocol::{
    Application, BrowserInfo, BrowserKey, PushEvent, Refusal, ScanToken, SceneId, Ticket, User,
};

/// The rules every registry applies.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// A scene's life (`SCANLOGIN_SCENE_TTL_SECS`).
    pub ttl: Duration,
    /// A scene no socket came for is dropped this long after its QR image.
    pub socket_grace: Duration,
    /// Open scenes in all, and per client.
    pub max_scenes: usize,
    pub max_scenes_per_client: usize,
    /// Sockets on one scene (on one instance).
    pub max_sockets_per_scene: usize,
}

/// Milliseconds since the Unix epoch, advancing with tokio's clock: tests that pause and
/// advance tokio's time move the registry's time too, and instances agree on it as far
/// as their wall clocks do.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    unix_ms_at_start: u64,
    start: tokio::time::Instant,
}

impl Clock {
    pub fn new() -> Self {
        let unix_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Self {
            unix_ms_at_start: unix_ms,
            start: tokio::time::Instant::now(),
        }
    }

    /// A clock `ahead` of this machine's: an instance whose wall clock runs fast (tests
    /// race an instance that sees a scene expired against one that does not).
    pub fn ahead_by(ahead: Duration) -> Self {
        let mut clock = Self::new();
        clock.unix_ms_at_start += ahead.as_millis() as u64;
        clock
    }

    pub fn now(&self) -> u64 {
        self.unix_ms_at_start + self.start.elapsed().as_millis() as u64
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// A new scene, as the QR image endpoint asks for it.
#[derive(Debug, Clone)]
pub struct NewScene {
    pub id: SceneId,
    pub key: BrowserKey,
    pub browser: BrowserInfo,
    /// The application the login is for, if it began at an OpenID request.
    pub application: Option<Application>,
    /// The invitation the login page came from, by its id.
    pub invitation: Option<i64>,
    /// What the scan is for, as the phone words it.
    pub purpose: crate::protocol::Purpose,
    pub client: ClientKey,
}

/// The answer to a registration.
#[derive(Debug, Clone, Copy)]
pub struct Registration {
    /// First registration of this id (the caller pays for its QR image).
    pub is_new: bool,
    pub expires_in_secs: u64,
}

/// A socket's view of a scene: the latest event first, then every change. It ends (the
/// channel closes) when the scene is forgotten. Dropping it gives the socket's place back.
pub struct Subscription {
    pub events: watch::Receiver<Option<PushEvent>>,
}

/// What [`Backend::insert`] found.
pub enum Inserted {
    /// The id was free: the scene is stored and counted against its client.
    New,
    /// The id was taken: the scene stored under it, unchanged.
    Exists(Scene),
}

/// A transition as a backend runs it: it may run more than once (a compare-and-set that
/// lost a race runs it again on the newer scene); an error stores nothing.
pub type Change<'a> = dyn FnMut(&mut Scene, u64) -> Result<(), AppError> + Send + 'a;

/// Where scenes live. A backend stores and fans out; the rules are the [`Registry`]'s.
#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Stores `scene` under `id` if the id is free and the caps allow (`Busy` in all,
    /// `TooManyScenes` per client); otherwise answers the scene already there.
    async fn insert(&self, id: &SceneId, scene: Scene) -> Result<Inserted, AppError>;

    /// Drops scene `id` and gives its client's slot back; unknown ids are fine.
    async fn forget(&self, id: &SceneId) -> Result<(), AppError>;

    /// Scene `id` as stored now.
    async fn load(&self, id: &SceneId) -> Result<Option<Scene>, AppError>;

    /// Applies `change` to scene `id` atomically (`SceneNotFound` if there is none): a
    /// change that leaves the scene equal stores nothing; one that changes its event
    /// publishes it to every instance; one that ends it gives its client's slot back.
    async fn transition(&self, id: &SceneId, change: &mut Change<'_>) -> Result<(), AppError>;

    /// A channel of scene `id`'s events for one more socket on this instance, the latest
    /// event already in it (`TooManySockets` past the cap).
    async fn attach(&self, id: &SceneId, scene: &Scene) -> Result<Subscription, AppError>;

    /// Whether the backing store answers (for readiness and logs).
    async fn is_healthy(&self) -> bool;
}

/// Every scene's state, events and expiry.
pub struct Registry {
    backend: Arc<dyn Backend>,
    config: RegistryConfig,
    clock: Clock,
}

impl Registry {
    /// Scenes in this process. Starts the purge task, which ends with the registry.
    pub fn in_memory(config: RegistryConfig, clock: Clock) -> Self {
        let backend = memory::MemoryBackend::new(config.clone(), clock);
        Self {
            backend: Arc::new(backend),
            config,
            clock,
        }
    }

    /// Scenes in Redis, shared by every instance with the same `prefix`. Starts the
    /// events subscription and the purge task, which end with the registry.
    pub fn in_redis(
        client: ::redis::Client,
        conn: ::redis::aio::ConnectionManager,
        prefix: &str,
        config: RegistryConfig,
        clock: Clock,
    ) -> Self {
        let backend = redis::RedisBackend::new(client, conn, prefix, config.clone(), clock);
        Self {
            backend: Arc::new(backend),
            config,
            clock,
        }
    }

    /// Registers `scene.id` to `scene.key`, or finds it registered to that key. Another
    /// key is `SceneTaken`; caps give `Busy` (in all) and `TooManyScenes` (per client).
    pub async fn register(&self, new: NewScene) -> Result<Registration, AppError> {
        let now = self.clock.now();
        let ttl = self.config.ttl.as_millis() as u64;
        let scene = Scene::new(
            &new.key,
            new.browser,
            new.application,
            new.invitation,
            new.client,
            now,
            ttl,
        )
        .for_purpose(new.purpose);
        let expires_in_secs = scene.expires_in_secs(now);
        match self.backend.insert(&new.id, scene).await? {
            Inserted::New => Ok(Registration {
                is_new: true,
                expires_in_secs,
            }),
            Inserted::Exists(existing) => {
                if !existing.key_matches(&new.key) {
                    return Err(AppError::SceneTaken);
                }
                if !existing.is_open() {
                    return Err(AppError::SceneNotFound);
                }
                existing.check_open(now)?;
                Ok(Registration {
                    is_new: false,
                    expires_in_secs: existing.expires_in_secs(now),
                })
            }
        }
    }

    /// Drops a scene whose QR image never reached its page (WeChat failed, or the
    /// budget refused it): it costs its client nothing, and the id may be asked again.
    pub async fn forget(&self, id: &SceneId) -> Result<(), AppError> {
        self.backend.forget(id).await
    }

    /// A socket proves `key`: it hears the scene's events from now on, and the scene
    /// lives its whole time. An unknown scene and a wrong key are the same
    /// `SceneNotFound`.
    pub async fn subscribe(
        &self,
        id: &SceneId,
        key: &BrowserKey,
    ) -> Result<Subscription, AppError> {
        let scene = self
            .transition(id, |scene, _| {
                if !scene.key_matches(key) {
                    return Err(AppError::SceneNotFound);
                }
                scene.mark_watched();
                Ok(scene.clone())
            })
            .await?;
        self.backend.attach(id, &scene).await
    }

    /// The scene still takes scans (asked before WeChat is): whom its login is for and
    /// how it began, for the access rules.
    pub async fn check_open(&self, id: &SceneId) -> Result<Admission, AppError> {
        self.read(id, |scene, now| {
            scene.check_open(now)?;
            Ok(scene.admission())
        })
        .await
    }

    /// The access rules turn away `openid`, who scanned: the browser hears `reason`.
    pub async fn refuse(
        &self,
        id: &SceneId,
        openid: &str,
        reason: Refusal,
    ) -> Result<(), AppError> {
        self.transition(id, |scene, now| scene.refuse(openid, reason, now))
            .await
    }

    pub async fn scan(
        &self,
        id: &SceneId,
        openid: &str,
        unionid: Option<String>,
    ) -> Result<Scanned, AppError> {
        self.transition(id, |scene, now| scene.scan(openid, unionid.clone(), now))
            .await
    }

    /// Who holds `scan_token`, while the scene awaits their decision, and the scene's
    /// admission (for the access rules).
    pub async fn scanner(
        &self,
        id: &SceneId,
        scan_token: &ScanToken,
    ) -> Result<(Scanner, Admission), AppError> {
        self.read(id, |scene, now| {
            Ok((scene.scanner(scan_token, now)?, scene.admission()))
        })
        .await
    }

    /// Confirms for the scanner of `scan_token`: `true` if this call decided, `false` if
    /// the same scanner had confirmed already (nothing changes, no second ticket).
    pub async fn confirm(
        &self,
        id: &SceneId,
        scan_token: &ScanToken,
        user: &User,
        notify: bool,
    ) -> Result<bool, AppError> {
        self.transition(id, |scene, now| {
            scene.confirm(scan_token, user, notify, now)
        })
        .await
    }

    /// The scanner of `scan_token` may store one avatar with this scan: the first call
    /// wins, every later one is `AvatarAlreadyUploaded`.
    pub async fn claim_avatar(&self, id: &SceneId, scan_token: &ScanToken) -> Result<(), AppError> {
        self.transition(id, |scene, now| scene.claim_avatar(scan_token, now))
            .await
    }

    /// Cancels for the scanner of `scan_token`: `true` if this call decided, `false` if
    /// it repeats a cancel by the same scanner.
    pub async fn cancel(&self, id: &SceneId, scan_token: &ScanToken) -> Result<bool, AppError> {
        self.transition(id, |scene, now| scene.cancel(scan_token, now))
            .await
    }

    /// The browser's ticket, once, with its key: the user to log in.
    pub async fn redeem_ticket(
        &self,
        id: &SceneId,
        key: &BrowserKey,
        ticket: &Ticket,
    ) -> Result<Redeemed, AppError> {
        self.transition(id, |scene, now| scene.redeem_ticket(key, ticket, now))
            .await
    }

    /// Expires scene `id` if its time is up by this instance's clock: `true` if this call
    /// did (its sockets hear `expired`). The purge does this for every due scene; several
    /// instances may try at once, and one wins.
    pub async fn expire_if_due(&self, id: &SceneId) -> Result<bool, AppError> {
        self.transition(id, |scene, now| Ok(scene.expire_if_due(now)))
            .await
    }

    /// Whether the registry's backing store answers (for readiness and logs).
    pub async fn is_healthy(&self) -> bool {
        self.backend.is_healthy().await
    }

    async fn read<T>(
        &self,
        id: &SceneId,
        f: impl FnOnce(&Scene, u64) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        let scene = self
            .backend
            .load(id)
            .await?
            .ok_or(AppError::SceneNotFound)?;
        f(&scene, self.clock.now())
    }

    /// Runs `f` as one atomic transition of scene `id` and answers what its last run
    /// gave.
    async fn transition<T: Send>(
        &self,
        id: &SceneId,
        f: impl Fn(&mut Scene, u64) -> Result<T, AppError> + Send + Sync,
    ) -> Result<T, AppError> {
        let mut out = None;
        self.backend
            .transition(id, &mut |scene, now| {
                out = Some(f(scene, now)?);
                Ok(())
            })
            .await?;
        out.ok_or_else(|| AppError::Internal("a transition that never ran".into()))
    }
}
