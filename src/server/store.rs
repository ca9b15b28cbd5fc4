//! Users and sessions in SQL, with `sqlx`: SQLite by default, PostgreSQL when
//! `SCANLOGIN_DATABASE_URL` is `postgres://…` (for several instances). One set of queries
//! serves both (`$1` placeholders, which both accept, and SQL both speak, through sqlx's
//! `Any` driver); the migrations differ only where the dialects do, in
//! `migrations/sqlite/` and `migrations/postgres/`, and run at start-up.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use sqlx::{any::AnyPoolOptions, AnyPool, Row as _};

use super::{error::AppError, secret};
use crate::protocol::{Profile, User};

#[derive(Debug, Clone)]
pub struct Store {
    /// The OpenID provider's tables (`server::oidc`) share it.
    pub(in crate::server) pool: AnyPool,
    dialect: Dialect,
    /// The login path's operations under way: running, or waiting for a connection or
    /// for SQLite's write lock. When logins come faster than the database takes them,
    /// they pile up here (see [`Store::operations_under_way`]).
    under_way: Arc<AtomicUsize>,
}

/// One operation counted in [`Store::operations_under_way`] until it is dropped.
struct UnderWay<'a>(&'a AtomicUsize);

impl Drop for UnderWay<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Which SQL a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub fn of(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }
}

/// How often a SQLite file's log is copied into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Copies a SQLite file's write-ahead log into the database every [`CHECKPOINT_EVERY`],
/// until the pool closes (closing checkpoints what is left). SQLite's default is to do it
/// inside the commit that passes 1,000 pages of log, syncing the file to disk while that
/// login, and every login waiting for the write lock, waits: with 19,000 pending logins and
/// 200 completing a second, that put confirm → `confirmed` p99 at 4.3–5.5 ms, and 2.4–3.9 ms
/// without. A passive checkpoint waits for no reader or writer.
async fn checkpoints(pool: AnyPool) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if pool.is_closed() {
            return;
        }
        if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            if !pool.is_closed() {
                tracing::warn!(%err, "a SQLite checkpoint failed; the next one tries again");
            }
        }
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A session's last-seen time is kept to this precision: one write a minute at most.
pub const LAST_SEEN_RESOLUTION: Duration = Duration::from_secs(60);

/// The rules a session lives by.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// Absolute lifetime from login.
    pub ttl: Duration,
    /// Ends after this long without a request.
    pub idle: Duration,
}

/// The known user `id`, with `profile` (when given) shown from now on.
async fn shown_user(
    conn: &mut sqlx::AnyConnection,
    id: i64,
    profile: Option<&Profile>,
    now: i64,
) -> Result<User, AppError> {
    let (id, nickname, avatar_url): (i64, String, String) = match profile {
        Some(profile) => {
            sqlx::query_as(
                "UPDATE users SET nickname = $2, avatar_url = $3, updated_at = $4 WHERE id = $1
                 RETURNING id, nickname, avatar_url",
            )
            .bind(id)
            .bind(&profile.nickname)
            .bind(&profile.avatar_url)
            .bind(now)
            .fetch_one(&mut *conn)
            .await?
        }
        None => {
            sqlx::query_as("SELECT id, nickname, avatar_url FROM users WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *conn)
                .await?
        }
    };
    Ok(User {
        id,
        nickname,
        avatar_url,
    })
}

impl Store {
    /// Opens the database at `url` (creating a SQLite file if needed) and migrates it.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::of(url)
            .ok_or_else(|| sqlx::Error::Configuration("use sqlite:… or postgres://…".into()))?;
        let (url, max) = match dialect {
            Dialect::Sqlite => {
                // Each connection to `:memory:` is a database of its own: use one.
                let memory = url.contains(":memory:") || url.contains("mode=memory");
                let url = if memory || url.contains("mode=") {
                    url.to_owned()
                } else {
                    let joiner = if url.contains('?') { '&' } else { '?' };
                    format!("{url}{joiner}mode=rwc")
                };
                (url, if memory { 1 } else { 8 })
            }
            Dialect::Postgres => (url.to_owned(), 16),
        };
        let file = dialect == Dialect::Sqlite && max > 1;
        let mut options = AnyPoolOptions::new().max_connections(max);
        if dialect == Dialect::Postgres {
            // PostgreSQL forks a process for each connection, which then loads its
            // catalogs: several ms of its CPU each. Opened on demand, they come all at
            // once at the first burst of logins, on a machine already at its busiest (two
            // instances opening twenty in 200 ms held confirms for 100 ms and more):
            // opened at start (`connect` returns once all are open) and kept, they cost
            // nothing then. Kept for good: with a lifetime or an idle timeout, connections
            // opened together would be closed together and opened again all at once. One
            // that died is found by the ping before its use.
            options = options
                .min_connections(max)
                .max_lifetime(None)
                .idle_timeout(None);
        }
        let pool = options
            .acquire_timeout(Duration::from_secs(5))
            // A connection is pinged before each use by default: worth it for a server
            // across the network, which may have closed it, but a SQLite connection is a
            // file in this process, and each ping is a round trip to its worker thread
            // (several per login, a tenth of a login's CPU in a profile).
            .test_before_acquire(dialect == Dialect::Postgres)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if file {
                        // SQLite's defaults (a rollback journal, a full sync per write)
                        // cost several fsyncs per login and let writers block readers;
                        // write-ahead logging with NORMAL sync is durable across process
                        // crashes and syncs at checkpoints. Writers wait for each other
                        // instead of failing with SQLITE_BUSY. No commit checkpoints:
                        // see `checkpoints`.
                        for pragma in [
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = NORMAL",
                            "PRAGMA busy_timeout = 5000",
                            "PRAGMA wal_autocheckpoint = 0",
                        ] {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        match dialect {
            Dialect::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&pool).await?,
            Dialect::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await?,
        }
        if file {
            tokio::spawn(checkpoints(pool.clone()));
        }
        Ok(Self {
            pool,
            dialect,
            under_way: Arc::default(),
        })
    }

    /// How many of the login path's operations (users and sessions) are under way now.
    /// A handful when the database keeps up; hundreds, each waiting seconds, when logins
    /// come faster than it takes them. The code endpoint refuses new logins above
    /// `SCANLOGIN_MAX_STORE_QUEUE`, so that those under way finish.
    pub fn operations_under_way(&self) -> usize {
        self.under_way.load(Ordering::Relaxed)
    }

    fn start(&self) -> UnderWay<'_> {
        self.under_way.fetch_add(1, Ordering::Relaxed);
        UnderWay(&self.under_way)
    }

    /// Whether the database answers (for readiness).
    pub async fn is_healthy(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// Waits for connections in use and closes them all (at shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Keeps an avatar under `id` (its content's hash: the same image twice is one row).
    pub async fn save_avatar(&self, id: &str, jpeg: &[u8]) -> Result<(), AppError> {
        sqlx::query(
            "INSERT INTO avatars (id, jpeg, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(jpeg)
        .bind(unix_now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The avatar stored under `id`.
    pub async fn avatar(&self, id: &str) -> Result<Option<Vec<u8>>, AppError> {
        let row: Option<(Vec<u8>,)> = sqlx::query_as("SELECT jpeg FROM avatars WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(jpeg,)| jpeg))
    }

    /// The user behind a WeChat login, made on their first one: found by `unionid` when
    /// WeChat gives one (the same person through another mini program of the company, or
    /// after `SCANLOGIN_WECHAT_APPID` changed), else by `(appid, openid)`. A unionid seen
    /// for the first time is attached to the user known by openid, never making a second
    /// user; one that another user holds already is not merged (a user's id, the OpenID
    /// `sub`, never changes) and is logged. `profile`, when given, replaces the shown one.
    pub async fn upsert_user(
        &self,
        appid: &str,
        openid: &str,
        unionid: Option<&str>,
        profile: Option<&Profile>,
    ) -> Result<User, AppError> {
        let _counted = self.start();
        // Two first logins of one person at once (two instances): one wins the insert,
        // the other finds its row on the second try.
        match self
            .find_or_make_user(appid, openid, unionid, profile)
            .await
        {
            Err(AppError::Database(sqlx::Error::Database(e))) if e.is_unique_violation() => {
                self.find_or_make_user(appid, openid, unionid, profile)
                    .await
            }
            other => other,
        }
    }

    /// SQLite's usual cases without holding its write lock across round trips. SQLite has
    /// one writer at a time, and sqlx runs each statement as a round trip to the
    /// connection's own thread: the transaction below reads, then writes, holding the lock
    /// for all of them (five for a new user), and under load every login queued behind it
    /// while those threads waited for a core. Here the reads come first, without the lock,
    /// then a single write: a known user whose unionid is nothing new is one statement, and
    /// a new user without one is one batch (its own transaction) sent in one round trip.
    /// `None`: a case with a unionid to reconcile, for the transaction. A first login of
    /// the same person at the same moment fails the batch with a unique violation, which
    /// [`Self::upsert_user`] retries, finding the user.
    async fn find_or_make_user_briefly(
        &self,
        appid: &str,
        openid: &str,
        unionid: Option<&str>,
        profile: Option<&Profile>,
    ) -> Result<Option<User>, AppError> {
        let now = unix_now();
        // One connection for the read and the write: one hand-back to the pool.
        let mut conn = self.pool.acquire().await?;
        let known: Option<(i64, Option<String>)> = sqlx::query_as(
            "SELECT users.id, users.unionid FROM wechat_identities
             JOIN users ON users.id = wechat_identities.user_id
             WHERE wechat_identities.appid = $1 AND wechat_identities.openid = $2",
        )
        .bind(appid)
        .bind(openid)
        .fetch_optional(&mut *conn)
        .await?;
        match known {
            Some((id, held)) if unionid.is_none() || held.as_deref() == unionid => {
                Ok(Some(shown_user(&mut conn, id, profile, now).await?))
            }
            None if unionid.is_none() => {
                let empty = Profile::default();
                let given = profile.unwrap_or(&empty);
                // `fetch_all`: every statement of the batch runs (`fetch_one` would stop
                // after the first row).
                let made = sqlx::query(
                    "BEGIN IMMEDIATE;
                     INSERT INTO users (appid, openid, unionid, nickname, avatar_url, created_at, updated_at)
                     VALUES ($1, $2, NULL, $3, $4, $5, $5) RETURNING id;
                     INSERT INTO wechat_identities (appid, openid, user_id)
                     VALUES ($1, $2, last_insert_rowid());
                     COMMIT",
                )
                .bind(appid)
                .bind(openid)
                .bind(&given.nickname)
                .bind(&given.avatar_url)
                .bind(now)
                .fetch_all(&mut *conn)
                .await;
                let rows = match made {
                    Ok(rows) => rows,
                    Err(err) => {
                        // The batch stops at its first error, inside its transaction if
                        // it began: end it, or drop the connection rather than give it
                        // back to the pool in the middle of one.
                        if sqlx::query("ROLLBACK").execute(&mut *conn).await.is_err() {
                            conn.close_on_drop();
                        }
                        return Err(err.into());
                    }
                };
                let id: i64 = rows
                    .first()
                    .ok_or_else(|| AppError::Internal("a new user without an id".into()))?
                    .try_get(0)?;
                Ok(Some(User {
                    id,
                    nickname: given.nickname.clone(),
                    avatar_url: given.avatar_url.clone(),
                }))
            }
            _ => Ok(None),
        }
    }

    async fn find_or_make_user(
        &self,
        appid: &str,
        openid: &str,
        unionid: Option<&str>,
        profile: Option<&Profile>,
    ) -> Result<User, AppError> {
        if self.dialect == Dialect::Sqlite {
            if let Some(user) = self
                .find_or_make_user_briefly(appid, openid, unionid, profile)
                .await?
            {
                return Ok(user);
            }
        }
        let now = unix_now();
        // It reads, then writes: on SQLite the transaction takes the write lock at once,
        // or two logins at the same moment would both read and the second could not write
        // (SQLITE_BUSY_SNAPSHOT, which waiting does not cure). PostgreSQL's concurrent
        // inserts meet in a unique violation, which the caller retries.
        let mut tx = match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.pool.begin().await?,
        };
        let known: Option<i64> = sqlx::query_scalar(
            "SELECT user_id FROM wechat_identities WHERE appid = $1 AND openid = $2",
        )
        .bind(appid)
        .bind(openid)
        .fetch_optional(&mut *tx)
        .await?;
        let holder: Option<i64> = match unionid {
            Some(unionid) => {
                sqlx::query_scalar("SELECT id FROM users WHERE unionid = $1")
                    .bind(unionid)
                    .fetch_optional(&mut *tx)
                    .await?
            }
            None => None,
        };
        let user_id: i64 = match (known, holder) {
            (Some(user), Some(holder)) if holder != user => {
                tracing::warn!(
                    user_id = user,
                    holder_id = holder,
                    "a unionid WeChat gave for this user already belongs to another user; not merged"
                );
                user
            }
            (Some(user), _) => {
                if holder.is_none() && unionid.is_some() {
                    sqlx::query("UPDATE users SET unionid = $2 WHERE id = $1 AND unionid IS NULL")
                        .bind(user)
                        .bind(unionid)
                        .execute(&mut *tx)
                        .await?;
                }
                user
            }
            // The same person through another mini program (or a new appid).
            (None, Some(holder)) => holder,
            (None, None) => {
                // A new user: made with the profile at once, so the row is known without
                // reading it back (each statement is a round trip, while SQLite's write
                // lock is held).
                let empty = Profile::default();
                let given = profile.unwrap_or(&empty);
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO users (appid, openid, unionid, nickname, avatar_url, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
                )
                .bind(appid)
                .bind(openid)
                .bind(unionid)
                .bind(&given.nickname)
                .bind(&given.avatar_url)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                self.record_identity(&mut tx, appid, openid, id).await?;
                tx.commit().await?;
                return Ok(User {
                    id,
                    nickname: given.nickname.clone(),
                    avatar_url: given.avatar_url.clone(),
                });
            }
        };
        if known.is_none() {
            self.record_identity(&mut tx, appid, openid, user_id)
                .await?;
        }
        let user = shown_user(&mut tx, user_id, profile, now).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Records that `(appid, openid)` is `user_id`.
    async fn record_identity(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        appid: &str,
        openid: &str,
        user_id: i64,
    ) -> Result<(), AppError> {
        sqlx::query("INSERT INTO wechat_identities (appid, openid, user_id) VALUES ($1, $2, $3)")
            .bind(appid)
            .bind(openid)
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Starts a session for `user_id`; returns the token for the cookie.
    pub async fn create_session(
        &self,
        user_id: i64,
        policy: SessionPolicy,
    ) -> Result<String, AppError> {
        let _counted = self.start();
        let token = secret::token();
        let now = unix_now();
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, last_seen_at)
             VALUES ($1, $2, $3, $4, $3)",
        )
        .bind(secret::hash(&token).to_vec())
        .bind(user_id)
        .bind(now)
        .bind(now + policy.ttl.as_secs() as i64)
        .execute(&self.pool)
        .await?;
        Ok(token)
    }

    /// The user of a live session, which counts as activity. Reading is a plain
    /// `SELECT`: a made-up cookie writes nothing, and a live session's `last_seen_at` is
    /// written at most once a [`LAST_SEEN_RESOLUTION`], not on every request.
    pub async fn session_user(
        &self,
        token: &str,
        policy: SessionPolicy,
    ) -> Result<Option<User>, AppError> {
        Ok(self.session(token, policy).await?.map(|(user, _)| user))
    }

    /// A live session's user and when they logged in (seconds since the epoch), as
    /// [`Self::session_user`].
    pub async fn session(
        &self,
        token: &str,
        policy: SessionPolicy,
    ) -> Result<Option<(User, i64)>, AppError> {
        let _counted = self.start();
        let now = unix_now();
        let hash = secret::hash(token);
        let row: Option<(i64, String, String, i64, i64)> = sqlx::query_as(
            "SELECT users.id, users.nickname, users.avatar_url, sessions.last_seen_at,
                    sessions.created_at
             FROM sessions JOIN users ON users.id = sessions.user_id
             WHERE sessions.token_hash = $1 AND sessions.expires_at > $2
                 AND sessions.last_seen_at > $3",
        )
        .bind(hash.to_vec())
        .bind(now)
        .bind(now - policy.idle.as_secs() as i64)
        .fetch_optional(&self.pool)
        .await?;
        let Some((id, nickname, avatar_url, last_seen_at, created_at)) = row else {
            return Ok(None);
        };
        if now - last_seen_at >= LAST_SEEN_RESOLUTION.as_secs() as i64 {
            sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1")
                .bind(hash.to_vec())
                .bind(now)
                .execute(&self.pool)
                .await?;
        }
        let user = User {
            id,
            nickname,
            avatar_url,
        };
        Ok(Some((user, created_at)))
    }

    /// A user by id.
    pub async fn user(&self, id: i64) -> Result<Option<User>, AppError> {
        let row: Option<(i64, String, String)> =
            sqlx::query_as("SELECT id, nickname, avatar_url FROM users WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(id, nickname, avatar_url)| User {
            id,
            nickname,
            avatar_url,
        }))
    }

    /// When the session was last seen, for tests.
    pub async fn session_last_seen(&self, token: &str) -> Result<Option<i64>, AppError> {
        Ok(
            sqlx::query_scalar("SELECT last_seen_at FROM sessions WHERE token_hash = $1")
                .bind(secret::hash(token).to_vec())
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn delete_session(&self, token: &str) -> Result<(), AppError> {
        let _counted = self.start();
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(secret::hash(token).to_vec())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Removes avatars older than `older_than` that no user shows: uploads of scans that
    /// were cancelled or expired, and avatars replaced since. (A fresh upload is kept a
    /// while: its confirm may still be on its way.)
    pub async fn purge_unused_avatars(&self, older_than: Duration) -> Result<u64, AppError> {
        let done = sqlx::query(
            "DELETE FROM avatars WHERE created_at <= $1 \
             AND NOT EXISTS (SELECT 1 FROM users WHERE users.avatar_url = '/avatars/' || avatars.id)",
        )
        .bind(unix_now() - older_than.as_secs() as i64)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Removes sessions past their lifetime.
    pub async fn purge_expired_sessions(&self) -> Result<u64, AppError> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(unix_now())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: SessionPolicy = SessionPolicy {
        ttl: Duration::from_secs(3600),
        idle: Duration::from_secs(600),
    };

    /// A store on a SQLite file in a directory of its own, to remove afterwards.
    async fn file_store(name: &str) -> (Store, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("scanlogin-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::connect(&format!("sqlite://{}/a.db", dir.display()))
            .await
            .unwrap();
        (store, dir)
    }

    /// Also: a login's commit never copies the log into the database (nor syncs it).
    #[tokio::test]
    async fn a_sqlite_file_is_written_ahead_with_normal_sync() {
        let (store, dir) = file_store("store").await;
        let mode: (String,) = sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        let sync: (i64,) = sqlx::query_as("PRAGMA synchronous")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        let autocheckpoint: (i64,) = sqlx::query_as("PRAGMA wal_autocheckpoint")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        store.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(mode.0, "wal");
        assert_eq!(sync.0, 1, "NORMAL");
        assert_eq!(autocheckpoint.0, 0, "no checkpoint inside a commit");
    }

    /// The store copies the log into the database in the background, so what is written
    /// reaches the database file itself (read here as SQLite reads a file nobody writes,
    /// ignoring the log) with no request.
    #[tokio::test]
    async fn a_sqlite_log_is_checkpointed_in_the_background() {
        use sqlx::Connection;
        let (store, dir) = file_store("checkpoint").await;
        store.upsert_user("wx1", "o1", None, None).await.unwrap();
        let in_file = format!("sqlite://{}/a.db?immutable=1", dir.display());
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            // Read while a checkpoint may be writing: an error is "not yet".
            let users: Option<i64> = match sqlx::AnyConnection::connect(&in_file).await {
                Ok(mut conn) => sqlx::query_scalar("SELECT COUNT(*) FROM users")
                    .fetch_one(&mut conn)
                    .await
                    .ok(),
                Err(_) => None,
            };
            if users == Some(1) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the user never reached the database file: {users:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        store.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn avatars_nobody_shows_are_purged_once_old() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        store.save_avatar("kept", b"jpeg-1").await.unwrap();
        store.save_avatar("unused", b"jpeg-2").await.unwrap();
        let profile = Profile {
            nickname: "A".into(),
            avatar_url: "/avatars/kept".into(),
        };
        store
            .upsert_user("wx1", "o1", None, Some(&profile))
            .await
            .unwrap();
        assert_eq!(
            store
                .purge_unused_avatars(Duration::from_secs(3600))
                .await
                .unwrap(),
            0,
            "too young"
        );
        assert_eq!(store.purge_unused_avatars(Duration::ZERO).await.unwrap(), 1);
        assert!(store.avatar("kept").await.unwrap().is_some());
        assert!(store.avatar("unused").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn users_are_keyed_by_appid_and_openid() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let a = store
            .upsert_user("wx1", "o1", Some("u1"), None)
            .await
            .unwrap();
        let profile = Profile {
            nickname: "Alice".into(),
            avatar_url: "https://a/x.png".into(),
        };
        let again = store
            .upsert_user("wx1", "o1", None, Some(&profile))
            .await
            .unwrap();
        assert_eq!(a.id, again.id);
        assert_eq!(again.nickname, "Alice");
        let kept = store.upsert_user("wx1", "o1", None, None).await.unwrap();
        assert_eq!(
            kept.nickname, "Alice",
            "no profile given: the old one stays"
        );
        let other_app = store.upsert_user("wx2", "o1", None, None).await.unwrap();
        assert_ne!(other_app.id, a.id);
    }

    #[tokio::test]
    async fn one_person_is_one_user_by_unionid_across_mini_programs() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        // Known by openid first; the unionid, when it first appears, is attached.
        let first = store.upsert_user("wx1", "o1", None, None).await.unwrap();
        let attached = store
            .upsert_user("wx1", "o1", Some("u1"), None)
            .await
            .unwrap();
        assert_eq!(attached.id, first.id);
        // Another mini program of the company (or a changed appid): the same user.
        let other_app = store
            .upsert_user("wx2", "o2-in-wx2", Some("u1"), None)
            .await
            .unwrap();
        assert_eq!(other_app.id, first.id);
        // ...and that identity finds the user again without a unionid.
        assert_eq!(
            store
                .upsert_user("wx2", "o2-in-wx2", None, None)
                .await
                .unwrap()
                .id,
            first.id
        );
        let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(users, 1, "no duplicate user");
    }

    #[tokio::test]
    async fn two_first_logins_of_one_person_at_once_make_one_user() {
        let file = std::env::temp_dir().join(format!(
            "scanlogin-store-{}.db",
            crate::protocol::id_from_random_bytes(|| crate::server::random::bytes::<1>()[0])
        ));
        let store = Store::connect(&format!("sqlite://{}", file.display()))
            .await
            .unwrap();
        let profile = Profile {
            nickname: "Alice".into(),
            avatar_url: String::new(),
        };
        // With a unionid (the whole transaction) and without (the one-round-trip batch).
        for (openid, unionid) in [("o1", Some("u1")), ("o2", None)] {
            let (a, b) = tokio::join!(
                store.upsert_user("wx1", openid, unionid, Some(&profile)),
                store.upsert_user("wx1", openid, unionid, Some(&profile))
            );
            assert_eq!(a.unwrap().id, b.unwrap().id);
        }
        // The batch that lost left no transaction open on its connection: with one, every
        // other connection's write would wait for SQLite's write lock and fail.
        for n in 0..16 {
            store
                .upsert_user("wx1", &format!("later-{n}"), None, None)
                .await
                .unwrap();
        }
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
    }

    #[tokio::test]
    async fn a_unionid_held_by_another_user_is_never_merged() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let holder = store
            .upsert_user("wx1", "oa", Some("u1"), None)
            .await
            .unwrap();
        let other = store.upsert_user("wx1", "ob", None, None).await.unwrap();
        // WeChat now says `ob` has u1 too: nothing changes for either user.
        let again = store
            .upsert_user("wx1", "ob", Some("u1"), None)
            .await
            .unwrap();
        assert_eq!(again.id, other.id);
        assert_ne!(again.id, holder.id);
        assert_eq!(
            store
                .upsert_user("wx3", "oc", Some("u1"), None)
                .await
                .unwrap()
                .id,
            holder.id
        );
    }

    #[tokio::test]
    async fn sessions_live_until_deleted() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let user = store.upsert_user("wx1", "o1", None, None).await.unwrap();
        let token = store.create_session(user.id, POLICY).await.unwrap();
        assert_eq!(
            store.session_user(&token, POLICY).await.unwrap(),
            Some(user)
        );
        assert_eq!(store.session_user("forged", POLICY).await.unwrap(), None);
        store.delete_session(&token).await.unwrap();
        assert_eq!(store.session_user(&token, POLICY).await.unwrap(), None);
    }

    #[tokio::test]
    async fn expired_sessions_are_refused() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let user = store.upsert_user("wx1", "o1", None, None).await.unwrap();
        let gone = SessionPolicy {
            ttl: Duration::ZERO,
            idle: Duration::from_secs(600),
        };
        let token = store.create_session(user.id, gone).await.unwrap();
        assert_eq!(store.session_user(&token, POLICY).await.unwrap(), None);
        assert_eq!(store.purge_expired_sessions().await.unwrap(), 1);
    }

    #[tokio::test]
    async fn last_seen_is_written_at_most_once_a_minute() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let user = store.upsert_user("wx1", "o1", None, None).await.unwrap();
        let token = store.create_session(user.id, POLICY).await.unwrap();
        let set_last_seen = |at: i64| {
            let store = store.clone();
            let hash = secret::hash(&token);
            async move {
                sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1")
                    .bind(hash.to_vec())
                    .bind(at)
                    .execute(&store.pool)
                    .await
                    .unwrap();
            }
        };
        let recent = unix_now() - 30;
        set_last_seen(recent).await;
        assert!(store.session_user(&token, POLICY).await.unwrap().is_some());
        assert_eq!(store.session_last_seen(&token).await.unwrap(), Some(recent));
        let old = unix_now() - 61;
        set_last_seen(old).await;
        assert!(store.session_user(&token, POLICY).await.unwrap().is_some());
        assert!(store.session_last_seen(&token).await.unwrap().unwrap() > old);
    }
}
