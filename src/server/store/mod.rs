//! The database: the pool and its tuning here; by concept, `users.rs`, `sessions.rs`,
//! `avatars.rs` and `oidc.rs` (the OpenID provider's codes, tokens and keys). Nothing
//! outside this folder touches the pool.
//!
//! SQL with `sqlx`: SQLite by default, PostgreSQL when `SCANLOGIN_DATABASE_URL` is
//! `postgres://…` (for several instances). One set of queries serves both (`$1`
//! placeholders, which both accept, and SQL both speak, through sqlx's `Any` driver); the
//! migrations differ only where the dialects do, in `migrations/sqlite/` and
//! `migrations/postgres/`, and run at start-up.

pub mod access;
pub mod audit;
mod avatars;
pub mod oidc;
mod sessions;
mod users;

pub use sessions::{LiveSession, SessionBrowser, SessionPolicy, LAST_SEEN_RESOLUTION};

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use sqlx::{any::AnyPoolOptions, AnyPool};

#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
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
    /// come faster than it takes them. The QR image endpoint refuses new logins above
    /// `SCANLOGIN_MAX_STORE_QUEUE`, so that those under way finish.
    pub fn operations_under_way(&self) -> usize {
        self.under_way.load(Ordering::Relaxed)
    }

    /// Counts one of the login path's operations until the guard is dropped.
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let reached = async {
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
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), reached)
            .await
            .expect("the user reaches the database file");
        store.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
