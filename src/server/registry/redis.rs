//! The registry in Redis, shared by every instance behind a load balancer: the phone's
//! confirm may reach another instance than the browser's socket.
//!
//! - A scene is its [`Scene`] as JSON under `{prefix}scene:{id}`, with a TTL that ends a
//!   while after the scene does (or at the socket grace, if no page came for it).
//! - Every transition reads the scene, applies the shared state machine, and writes it back
//!   with one Lua script that compares and sets (retrying on a conflict), keeps the open
//!   scenes' counts (sorted sets scored by when each stops counting, so a scene nobody
//!   finished stops counting by itself) and publishes the event, all atomically.
//! - One pub/sub subscription per instance fans events out to the sockets on this
//!   instance. A socket's channel starts from the scene in Redis when it subscribes, and
//!   when the subscription comes back after an outage every scene with local sockets is read
//!   again, so nothing published during a gap is lost.
//! - Each instance expires the scenes its own sockets watch (the compare-and-set makes the
//!   `expired` event happen once, whoever gets there first); scenes nobody watches simply
//!   time out in Redis.
//!
//! A lost connection is retried in the background (the connection manager reconnects);
//! meanwhile calls fail at once with `StoreUnavailable` (503), never hang past the
//! response timeout.

use std::{
    sync::{Arc, Weak},
    time::Duration,
};

use dashmap::DashMap;
use redis::{aio::ConnectionManager, AsyncCommands, Script};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::{Backend, Change, Clock, Inserted, RegistryConfig, Scene, Subscription};
use crate::{
    protocol::{PushEvent, SceneId},
    server::{
        client::ClientKey,
        error::AppError,
        redis_channel::{self, Follower},
    },
};

const PURGE_EVERY: Duration = Duration::from_millis(500);
const CAS_ATTEMPTS: usize = 16;

/// Registers a scene if its id is free and the caps allow.
/// KEYS: scene, open (all), open (client). ARGV: blob, ttl ms, now ms, counts-until ms,
/// max open, max open per client, id.
const REGISTER: &str = r"
local current = redis.call('GET', KEYS[1])
if current then return {'exists', current} end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[3])
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[5]) then return {'busy'} end
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[6]) then return {'client'} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[7])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[7])
redis.call('PEXPIRE', KEYS[3], ARGV[2])
return {'new'}
";

/// Compare-and-set of a scene, with its counts and its event.
/// KEYS: scene, open (all), open (client). ARGV: expected blob, new blob ('' deletes),
/// ttl ms, channel, message ('' publishes nothing), count mode (keep|remove|score),
/// score, id.
const COMPARE_AND_SET: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
if ARGV[6] == 'remove' then
  redis.call('ZREM', KEYS[2], ARGV[8])
  redis.call('ZREM', KEYS[3], ARGV[8])
elseif ARGV[6] == 'score' then
  redis.call('ZADD', KEYS[2], 'XX', ARGV[7], ARGV[8])
  redis.call('ZADD', KEYS[3], 'XX', ARGV[7], ARGV[8])
  redis.call('PEXPIRE', KEYS[3], ARGV[3])
end
if ARGV[5] ~= '' then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
return 1
";

/// What travels on the events channel.
#[derive(Debug, Serialize, Deserialize)]
struct Published {
    scene: SceneId,
    event: PushEvent,
}

/// Events only move forward: scanned, then one final event.
fn rank(event: &Option<PushEvent>) -> u8 {
    match event {
        None => 0,
        Some(PushEvent::Scanned) => 1,
        Some(_) => 2,
    }
}

/// Sets a local channel to `event` if that is news to it.
fn advance(sender: &watch::Sender<Option<PushEvent>>, event: Option<PushEvent>) {
    sender.send_if_modified(|current| {
        if rank(&event) > rank(current) {
            *current = event;
            true
        } else {
            false
        }
    });
}

struct Local {
    events: watch::Sender<Option<PushEvent>>,
    expires_at: u64,
}

struct Keys {
    prefix: String,
}

impl Keys {
    fn scene(&self, id: &SceneId) -> String {
        format!("{}scene:{}", self.prefix, id)
    }

    fn open(&self) -> String {
        format!("{}open", self.prefix)
    }

    fn open_by(&self, client: ClientKey) -> String {
        format!("{}open:{}", self.prefix, client)
    }

    fn channel(&self) -> String {
        format!("{}events", self.prefix)
    }
}

struct Shared {
    conn: ConnectionManager,
    keys: Keys,
    local: DashMap<SceneId, Local>,
    config: RegistryConfig,
    clock: Clock,
    register: Script,
    compare_and_set: Script,
}

pub struct RedisBackend {
    shared: Arc<Shared>,
}

fn unavailable(err: redis::RedisError) -> AppError {
    tracing::warn!(error = %err, "Redis call failed");
    AppError::StoreUnavailable
}

/// Connects to Redis with a connection manager that reconnects by itself and answers
/// within `timeout`.
pub async fn connect(
    url: &str,
    timeout: Duration,
) -> Result<(redis::Client, ConnectionManager), redis::RedisError> {
    let client = redis::Client::open(url)?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_secs(2));
    let conn = ConnectionManager::new_with_config(client.clone(), config).await?;
    Ok((client, conn))
}

impl RedisBackend {
    /// Starts the events subscription and the purge task; both end when the backend is
    /// dropped. `prefix` separates this deployment's keys from others' in the same Redis.
    pub fn new(
        client: redis::Client,
        conn: ConnectionManager,
        prefix: &str,
        config: RegistryConfig,
        clock: Clock,
    ) -> Self {
        let shared = Arc::new(Shared {
            conn,
            keys: Keys {
                prefix: prefix.to_owned(),
            },
            local: DashMap::new(),
            config,
            clock,
            register: Script::new(REGISTER),
            compare_and_set: Script::new(COMPARE_AND_SET),
        });
        redis_channel::spawn(&shared, client, shared.keys.channel(), "events");
        tokio::spawn(purge_task(Arc::downgrade(&shared)));
        Self { shared }
    }
}

impl Shared {
    fn grace_ms(&self) -> u64 {
        self.config.socket_grace.as_millis() as u64
    }

    async fn load(&self, id: &SceneId) -> Result<Option<(String, Scene)>, AppError> {
        let raw: Option<String> = self
            .conn
            .clone()
            .get(self.keys.scene(id))
            .await
            .map_err(unavailable)?;
        match raw {
            None => Ok(None),
            Some(raw) => {
                let scene = serde_json::from_str(&raw)
                    .map_err(|e| AppError::Internal(format!("scene in Redis: {e}")))?;
                Ok(Some((raw, scene)))
            }
        }
    }

    /// Applies `change` to scene `id` and stores the result with a compare-and-set;
    /// `change` runs again when another instance changed the scene in between.
    async fn transition(&self, id: &SceneId, change: &mut Change<'_>) -> Result<(), AppError> {
        for _ in 0..CAS_ATTEMPTS {
            let Some((raw, before)) = self.load(id).await? else {
                return Err(AppError::SceneNotFound);
            };
            let now = self.clock.now();
            let mut scene = before.clone();
            change(&mut scene, now)?;
            if scene == before {
                return Ok(());
            }
            let grace = self.grace_ms();
            let (mode, score) = if before.is_open() && !scene.is_open() {
                ("remove", 0)
            } else if scene.is_open() && scene.is_watched() != before.is_watched() {
                ("score", scene.counts_until(grace))
            } else {
                ("keep", 0)
            };
            let message = match scene.event() {
                Some(event) if scene.event() != before.event() => {
                    serde_json::to_string(&Published {
                        scene: id.clone(),
                        event: event.clone(),
                    })
                    .map_err(|e| AppError::Internal(e.to_string()))?
                }
                _ => String::new(),
            };
            let ttl = scene.keep_until(grace).saturating_sub(now).max(1000);
            let blob =
                serde_json::to_string(&scene).map_err(|e| AppError::Internal(e.to_string()))?;
            let stored: i64 = self
                .compare_and_set
                .key(self.keys.scene(id))
                .key(self.keys.open())
                .key(self.keys.open_by(scene.client()))
                .arg(&raw)
                .arg(&blob)
                .arg(ttl)
                .arg(self.keys.channel())
                .arg(&message)
                .arg(mode)
                .arg(score)
                .arg(id.as_str())
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(unavailable)?;
            if stored == 1 {
                if let Some(local) = self.local.get(id) {
                    advance(&local.events, scene.event().cloned());
                }
                return Ok(());
            }
        }
        Err(AppError::Busy)
    }

    /// Reads every scene with local sockets again: after a gap in the subscription, and
    /// to notice scenes that are gone (expired in Redis, or Redis restarted empty).
    async fn catch_up(&self) {
        let ids: Vec<SceneId> = self.local.iter().map(|e| e.key().clone()).collect();
        for id in ids {
            match self.load(&id).await {
                Ok(Some((_, scene))) => {
                    if let Some(local) = self.local.get(&id) {
                        advance(&local.events, scene.event().cloned());
                    }
                }
                // Gone: dropping the channel ends its sockets; their pages get a fresh code.
                Ok(None) => {
                    self.local.remove(&id);
                }
                Err(_) => return,
            }
        }
    }

    async fn purge(&self) {
        let now = self.clock.now();
        self.local
            .retain(|_, local| local.events.receiver_count() > 0);
        let due: Vec<SceneId> = self
            .local
            .iter()
            .filter(|e| now >= e.expires_at && rank(&e.events.borrow()) < 2)
            .map(|e| e.key().clone())
            .collect();
        for id in due {
            let mut expired = false;
            let change = &mut |scene: &mut Scene, now| {
                expired = scene.expire_if_due(now);
                Ok(())
            };
            match self.transition(&id, change).await.map(|()| expired) {
                Ok(true) => {
                    crate::server::metrics::login_step(crate::server::metrics::Step::Expired)
                }
                Ok(false) => {}
                Err(AppError::SceneNotFound) => {
                    self.local.remove(&id);
                }
                Err(_) => return,
            }
        }
    }
}

#[async_trait::async_trait]
impl Follower for Shared {
    /// Whatever was published while we were away is read from the scenes.
    async fn caught_up(&self) {
        self.catch_up().await;
    }

    fn heard(&self, payload: &str) {
        if let Ok(published) = serde_json::from_str::<Published>(payload) {
            if let Some(local) = self.local.get(&published.scene) {
                advance(&local.events, Some(published.event));
            }
        }
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
        shared.purge().await;
    }
}

#[async_trait::async_trait]
impl Backend for RedisBackend {
    async fn insert(&self, id: &SceneId, scene: Scene) -> Result<Inserted, AppError> {
        let s = &self.shared;
        let now = s.clock.now();
        let blob = serde_json::to_string(&scene).map_err(|e| AppError::Internal(e.to_string()))?;
        let answer: Vec<String> = s
            .register
            .key(s.keys.scene(id))
            .key(s.keys.open())
            .key(s.keys.open_by(scene.client()))
            .arg(&blob)
            .arg(scene.keep_until(s.grace_ms()).saturating_sub(now).max(1))
            .arg(now)
            .arg(scene.counts_until(s.grace_ms()))
            .arg(s.config.max_scenes)
            .arg(s.config.max_scenes_per_client)
            .arg(id.as_str())
            .invoke_async(&mut s.conn.clone())
            .await
            .map_err(unavailable)?;
        match answer.first().map(String::as_str) {
            Some("new") => Ok(Inserted::New),
            Some("exists") => answer
                .get(1)
                .and_then(|raw| serde_json::from_str(raw).ok())
                .map(Inserted::Exists)
                .ok_or_else(|| AppError::Internal("scene in Redis".into())),
            Some("busy") => Err(AppError::Busy),
            Some("client") => Err(AppError::TooManyScenes),
            _ => Err(AppError::Internal("unexpected answer from Redis".into())),
        }
    }

    async fn forget(&self, id: &SceneId) -> Result<(), AppError> {
        let s = &self.shared;
        let Some((raw, scene)) = s.load(id).await? else {
            return Ok(());
        };
        let _: i64 = s
            .compare_and_set
            .key(s.keys.scene(id))
            .key(s.keys.open())
            .key(s.keys.open_by(scene.client()))
            .arg(&raw)
            .arg("")
            .arg(1000)
            .arg(s.keys.channel())
            .arg("")
            .arg("remove")
            .arg(0)
            .arg(id.as_str())
            .invoke_async(&mut s.conn.clone())
            .await
            .map_err(unavailable)?;
        s.local.remove(id);
        Ok(())
    }

    async fn load(&self, id: &SceneId) -> Result<Option<Scene>, AppError> {
        Ok(self.shared.load(id).await?.map(|(_, scene)| scene))
    }

    async fn transition(&self, id: &SceneId, change: &mut Change<'_>) -> Result<(), AppError> {
        self.shared.transition(id, change).await
    }

    async fn attach(&self, id: &SceneId, scene: &Scene) -> Result<Subscription, AppError> {
        let s = &self.shared;
        let events = {
            // Counted and subscribed under the entry's lock: concurrent sockets cannot
            // all slip under the cap.
            let local = s.local.entry(id.clone()).or_insert_with(|| Local {
                events: watch::channel(None).0,
                expires_at: scene.expires_at(),
            });
            if local.events.receiver_count() >= s.config.max_sockets_per_scene {
                return Err(AppError::TooManySockets);
            }
            local.events.subscribe()
        };
        // Read again now that the channel is in place: an event published since the
        // subscribing transition read the scene is not lost.
        if let Some((_, latest)) = s.load(id).await? {
            if let Some(local) = s.local.get(id) {
                advance(&local.events, latest.event().cloned());
            }
        }
        Ok(Subscription { events })
    }

    async fn is_healthy(&self) -> bool {
        let pong: Result<String, _> = redis::cmd("PING")
            .query_async(&mut self.shared.conn.clone())
            .await;
        pong.is_ok()
    }
}
