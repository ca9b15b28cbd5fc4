//! Sessions as forward authentication reads them (`/auth/verify`, asked by the reverse
//! proxy about every request to a protected application): who holds the session, their
//! groups, until when. Read from the database once a minute per session, and from memory
//! in between, so the common request costs no database round trip.
//!
//! A session that ends, a person disabled or deleted, a group changed: every instance
//! forgets the person's entries at once. Here, by [`SessionCache::forget_user`]; on the
//! others, through Redis (a message on `{prefix}sessions`) when there is one. An instance
//! whose subscription dropped forgets everything when it is back, since it may have
//! missed a message. Without Redis the instance is alone and needs no message.
//!
//! An entry is also read again after [`FRESH_FOR`]: that keeps the session's last-seen
//! time written (the database writes it at most once a minute, on a read) and bounds how
//! long a change can go unseen should a message be lost.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use moka::future::Cache;
use redis::{aio::ConnectionManager, AsyncCommands};

use super::{
    error::AppError,
    redis_channel::{self, Follower},
    secret::{self, Hash},
    store::{unix_now, SessionPolicy, Store, LAST_SEEN_RESOLUTION},
};

/// How long an entry is believed without reading the database again.
pub const FRESH_FOR: Duration = LAST_SEEN_RESOLUTION;

/// Entries kept at most: about 200 bytes each, so 20 MB at the cap.
const MAX_ENTRIES: u64 = 100_000;

/// Who holds a live session, as forward authentication passes them on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub user_id: i64,
    pub name: String,
    /// Their groups, by name.
    pub groups: Vec<String>,
    /// When the session ends at the latest (seconds since the epoch).
    pub expires_at: i64,
}

/// The cache; cheap to clone.
#[derive(Clone)]
pub struct SessionCache {
    shared: Arc<Shared>,
}

struct Shared {
    /// By the hash of the session's token (the token itself is never kept); `None`: no
    /// such live session (a token never becomes valid later).
    entries: Cache<Hash, Option<Arc<Holder>>>,
    /// Counts the forgettings: a read of the database that one overtook is not kept.
    forgotten: AtomicU64,
    redis: Option<RedisLink>,
}

struct RedisLink {
    conn: ConnectionManager,
    channel: String,
}

/// What a message on the channel says to forget.
fn message_for(user_id: Option<i64>) -> String {
    user_id.map_or_else(|| "all".to_owned(), |id| format!("user:{id}"))
}

impl SessionCache {
    fn with(redis: Option<RedisLink>) -> Self {
        let entries = Cache::builder()
            .max_capacity(MAX_ENTRIES)
            .time_to_live(FRESH_FOR)
            .support_invalidation_closures()
            .build();
        Self {
            shared: Arc::new(Shared {
                entries,
                forgotten: AtomicU64::new(0),
                redis,
            }),
        }
    }

    /// One instance's cache: nothing to tell the others.
    pub fn in_memory() -> Self {
        Self::with(None)
    }

    /// Shares forgetting with every instance on the same Redis; the subscription ends
    /// when the cache is dropped.
    pub fn in_redis(client: redis::Client, conn: ConnectionManager, prefix: &str) -> Self {
        let channel = format!("{prefix}sessions");
        let cache = Self::with(Some(RedisLink {
            conn,
            channel: channel.clone(),
        }));
        redis_channel::spawn(&cache.shared, client, channel, "sessions");
        cache
    }

    /// Who holds the session of `token`; `None` for no live session.
    pub async fn holder(
        &self,
        store: &Store,
        token: &str,
        policy: SessionPolicy,
    ) -> Result<Option<Arc<Holder>>, AppError> {
        let key = secret::hash(token);
        if let Some(cached) = self.shared.entries.get(&key).await {
            match cached {
                Some(holder) if holder.expires_at <= unix_now() => {}
                cached => return Ok(cached),
            }
        }
        let read_after = self.shared.forgotten.load(Ordering::SeqCst);
        let holder = match store.session(token, policy).await? {
            Some(live) => Some(Arc::new(Holder {
                user_id: live.user.id,
                groups: store.groups_of(live.user.id).await?,
                name: live.user.nickname,
                expires_at: live.expires_at,
            })),
            None => None,
        };
        // A change forgotten while the database answered may be missing from the answer:
        // it is given this once, and read again next time.
        if self.shared.forgotten.load(Ordering::SeqCst) == read_after {
            self.shared.entries.insert(key, holder.clone()).await;
            // One that came during the insert may have missed the new entry.
            if self.shared.forgotten.load(Ordering::SeqCst) != read_after {
                self.shared.entries.invalidate(&key).await;
            }
        }
        Ok(holder)
    }

    /// `user_id`'s sessions or standing changed (a session ended, disabled, deleted, a
    /// group joined or left): their entries are read again, here and on every instance.
    pub async fn forget_user(&self, user_id: i64) {
        self.shared.forget(Some(user_id));
        self.shared.tell_others(Some(user_id)).await;
    }

    /// Something that touches many people changed (a group renamed or deleted).
    pub async fn forget_all(&self) {
        self.shared.forget(None);
        self.shared.tell_others(None).await;
    }
}

impl Shared {
    fn forget(&self, user_id: Option<i64>) {
        self.forgotten.fetch_add(1, Ordering::SeqCst);
        match user_id {
            None => self.entries.invalidate_all(),
            Some(id) => {
                let held_by = move |_: &Hash, holder: &Option<Arc<Holder>>| {
                    holder.as_ref().is_some_and(|h| h.user_id == id)
                };
                // Only fails without `support_invalidation_closures`, which is set.
                if self.entries.invalidate_entries_if(held_by).is_err() {
                    self.entries.invalidate_all();
                }
            }
        }
    }

    async fn tell_others(&self, user_id: Option<i64>) {
        let Some(redis) = &self.redis else { return };
        let mut conn = redis.conn.clone();
        let sent: Result<i64, _> = conn.publish(&redis.channel, message_for(user_id)).await;
        if let Err(err) = sent {
            // The others read it again within FRESH_FOR anyway.
            tracing::warn!(error = %err, "cannot tell the other instances a session changed");
        }
    }
}

#[async_trait::async_trait]
impl Follower for Shared {
    /// Whatever was said while the subscription was down is unknown: everything is read
    /// again.
    async fn caught_up(&self) {
        self.forget(None);
    }

    fn heard(&self, payload: &str) {
        match payload {
            "all" => self.forget(None),
            other => {
                if let Some(id) = other.strip_prefix("user:").and_then(|id| id.parse().ok()) {
                    self.forget(Some(id));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(user_id: i64) -> Option<Arc<Holder>> {
        Some(Arc::new(Holder {
            user_id,
            name: "n".into(),
            groups: vec![],
            expires_at: i64::MAX,
        }))
    }

    #[tokio::test]
    async fn forgetting_a_person_forgets_their_sessions_only() {
        let cache = SessionCache::in_memory();
        let entries = &cache.shared.entries;
        entries.insert(secret::hash("a1"), holder(1)).await;
        entries.insert(secret::hash("a2"), holder(1)).await;
        entries.insert(secret::hash("b"), holder(2)).await;
        cache.shared.heard(&message_for(Some(1)));
        entries.run_pending_tasks().await;
        assert!(entries.get(&secret::hash("a1")).await.is_none());
        assert!(entries.get(&secret::hash("a2")).await.is_none());
        assert_eq!(entries.get(&secret::hash("b")).await, Some(holder(2)));
        cache.shared.heard(&message_for(None));
        entries.run_pending_tasks().await;
        assert!(entries.get(&secret::hash("b")).await.is_none());
    }
}
