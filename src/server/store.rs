//! Users and sessions in SQL (SQLite by default), with `sqlx`. Migrations live in
//! `migrations/` and run at start-up.

use std::{str::FromStr, time::Duration};

use sqlx::{
    sqlite::{SqliteConnectOptions, SqlitePoolOptions},
    SqlitePool,
};

use super::{error::AppError, secret};
use crate::protocol::{Profile, User};

#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
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

impl Store {
    /// Opens (creating if needed) the database at `url` and migrates it.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .foreign_keys(true);
        // Each connection to `:memory:` is a database of its own: use one.
        let max = if url.contains(":memory:") || url.contains("mode=memory") {
            1
        } else {
            8
        };
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self { pool })
    }

    /// Creates or updates the user `(appid, openid)`; a profile given replaces the old one.
    pub async fn upsert_user(
        &self,
        appid: &str,
        openid: &str,
        unionid: Option<&str>,
        profile: Option<&Profile>,
    ) -> Result<User, AppError> {
        let now = unix_now();
        let (nickname, avatar_url) = profile
            .map(|p| (p.nickname.as_str(), p.avatar_url.as_str()))
            .unwrap_or(("", ""));
        let has_profile = profile.is_some();
        let row: (i64, String, String) = sqlx::query_as(
            "INSERT INTO users (appid, openid, unionid, nickname, avatar_url, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
             ON CONFLICT (appid, openid) DO UPDATE SET
                 unionid = COALESCE(excluded.unionid, users.unionid),
                 nickname = CASE WHEN ?7 THEN excluded.nickname ELSE users.nickname END,
                 avatar_url = CASE WHEN ?7 THEN excluded.avatar_url ELSE users.avatar_url END,
                 updated_at = excluded.updated_at
             RETURNING id, nickname, avatar_url",
        )
        .bind(appid)
        .bind(openid)
        .bind(unionid)
        .bind(nickname)
        .bind(avatar_url)
        .bind(now)
        .bind(has_profile)
        .fetch_one(&self.pool)
        .await?;
        Ok(User {
            id: row.0,
            nickname: row.1,
            avatar_url: row.2,
        })
    }

    /// Starts a session for `user_id`; returns the token for the cookie.
    pub async fn create_session(
        &self,
        user_id: i64,
        policy: SessionPolicy,
    ) -> Result<String, AppError> {
        let token = secret::token();
        let now = unix_now();
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, last_seen_at)
             VALUES (?1, ?2, ?3, ?4, ?3)",
        )
        .bind(secret::hash(&token).as_slice())
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
        let now = unix_now();
        let hash = secret::hash(token);
        let row: Option<(i64, String, String, i64)> = sqlx::query_as(
            "SELECT users.id, users.nickname, users.avatar_url, sessions.last_seen_at
             FROM sessions JOIN users ON users.id = sessions.user_id
             WHERE sessions.token_hash = ?1 AND sessions.expires_at > ?2
                 AND sessions.last_seen_at > ?3",
        )
        .bind(hash.as_slice())
        .bind(now)
        .bind(now - policy.idle.as_secs() as i64)
        .fetch_optional(&self.pool)
        .await?;
        let Some((id, nickname, avatar_url, last_seen_at)) = row else {
            return Ok(None);
        };
        if now - last_seen_at >= LAST_SEEN_RESOLUTION.as_secs() as i64 {
            sqlx::query("UPDATE sessions SET last_seen_at = ?2 WHERE token_hash = ?1")
                .bind(hash.as_slice())
                .bind(now)
                .execute(&self.pool)
                .await?;
        }
        Ok(Some(User {
            id,
            nickname,
            avatar_url,
        }))
    }

    /// When the session was last seen, for tests.
    pub async fn session_last_seen(&self, token: &str) -> Result<Option<i64>, AppError> {
        Ok(
            sqlx::query_scalar("SELECT last_seen_at FROM sessions WHERE token_hash = ?1")
                .bind(secret::hash(token).as_slice())
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn delete_session(&self, token: &str) -> Result<(), AppError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?1")
            .bind(secret::hash(token).as_slice())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Removes sessions past their lifetime.
    pub async fn purge_expired_sessions(&self) -> Result<u64, AppError> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= ?1")
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
                sqlx::query("UPDATE sessions SET last_seen_at = ?2 WHERE token_hash = ?1")
                    .bind(hash.as_slice())
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
