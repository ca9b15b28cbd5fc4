//! The scene registry: the one owner of every scene's state, its events and its expiry,
//! as mini-redis's `Db` owns its entries, its pub/sub and its purge task.
//!
//! Callers never touch a [`Scene`] or a channel: every transition is a method here, and
//! each publishes its own event to the scene's sockets, on this instance and on the
//! others. Two implementations, chosen at start-up:
//!
//! - [`memory::MemoryRegistry`]: one process, no external service (the default);
//! - [`redis::RedisRegistry`] (`SCANLOGIN_REDIS_URL`): scenes as JSON in Redis with TTLs,
//!   each transition an atomic compare-and-set (a Lua script) that also publishes the
//!   event, one pub/sub subscription per instance fanning out to its local sockets.
//!
//! Both apply the same state machine ([`scene`]), so the rules are written once.

pub mod memory;
pub mod redis;
pub mod scene;

use std::time::Duration;

use tokio::sync::watch;

pub use scene::{Scanned, Scanner, Scene};

use super::{client::ClientKey, error::AppError};
use crate::protocol::{BrowserInfo, BrowserKey, PushEvent, ScanToken, SceneId, Ticket, User};

/// The rules every registry applies.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// A scene's life (`SCANLOGIN_SCENE_TTL_SECS`).
    pub ttl: Duration,
    /// A scene no socket came for is dropped this long after its code.
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

    pub fn now(&self) -> u64 {
        self.unix_ms_at_start + self.start.elapsed().as_millis() as u64
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// A new scene, as the code endpoint asks for it.
#[derive(Debug, Clone)]
pub struct NewScene {
    pub id: SceneId,
    pub key: BrowserKey,
    pub browser: BrowserInfo,
    pub client: ClientKey,
}

/// The answer to a registration.
#[derive(Debug, Clone, Copy)]
pub struct Registration {
    /// First registration of this id (the caller pays for its code).
    pub is_new: bool,
    pub expires_in_secs: u64,
}

/// A socket's view of a scene: the latest event first, then every change. It ends (the
/// channel closes) when the scene is forgotten. Dropping it gives the socket's place back.
pub struct Subscription {
    pub events: watch::Receiver<Option<PushEvent>>,
}

#[async_trait::async_trait]
pub trait SceneRegistry: Send + Sync + 'static {
    /// Registers `scene.id` to `scene.key`, or finds it registered to that key. Another
    /// key is `SceneTaken`; caps give `Busy` (in all) and `TooManyScenes` (per client).
    async fn register(&self, scene: NewScene) -> Result<Registration, AppError>;

    /// Drops a scene whose code never reached its page (WeChat failed, or the code
    /// budget refused it): it costs its client nothing, and the id may be asked again.
    async fn forget(&self, id: &SceneId) -> Result<(), AppError>;

    /// A socket proves `key`: it hears the scene's events from now on. An unknown scene
    /// and a wrong key are the same `Unauthorized`.
    async fn subscribe(&self, id: &SceneId, key: &BrowserKey) -> Result<Subscription, AppError>;

    /// The scene still takes scans (asked before WeChat is).
    async fn check_open(&self, id: &SceneId) -> Result<(), AppError>;

    async fn scan(
        &self,
        id: &SceneId,
        openid: &str,
        unionid: Option<String>,
    ) -> Result<Scanned, AppError>;

    /// Who holds `scan_token`, while the scene awaits their decision.
    async fn scanner(&self, id: &SceneId, scan_token: &ScanToken) -> Result<Scanner, AppError>;

    /// Confirms for the scanner of `scan_token`: `true` if this call decided, `false` if
    /// the same scanner had confirmed already (nothing changes, no second ticket).
    async fn confirm(
        &self,
        id: &SceneId,
        scan_token: &ScanToken,
        user: &User,
    ) -> Result<bool, AppError>;

    /// Cancels for the scanner of `scan_token`: `true` if this call decided, `false` if
    /// it repeats a cancel by the same scanner.
    async fn cancel(&self, id: &SceneId, scan_token: &ScanToken) -> Result<bool, AppError>;

    /// The browser's ticket, once, with its key: the user to log in.
    async fn redeem_ticket(
        &self,
        id: &SceneId,
        key: &BrowserKey,
        ticket: &Ticket,
    ) -> Result<User, AppError>;

    /// Whether the registry's backing store answers (for readiness and logs).
    async fn is_healthy(&self) -> bool;
}
