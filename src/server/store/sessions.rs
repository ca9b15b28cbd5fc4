//! Browser sessions: a row per session, its token kept only as a hash.

use std::time::Duration;

use super::{unix_now, Store};
use crate::{
    protocol::User,
    server::{error::AppError, secret},
};

/// A session's last-seen time is kept to this precision: one write a minute at most.
pub const LAST_SEEN_RESOLUTION: Duration = Duration::from_secs(60);

/// The browser a session was made in, as the console shows it.
#[derive(Debug, Clone, Default)]
pub struct SessionBrowser {
    /// Its `User-Agent`, in words ("Chrome 131 on Windows 10").
    pub user_agent: String,
    pub ip: String,
}

/// The rules a session lives by.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// Absolute lifetime from login.
    pub ttl: Duration,
    /// Ends after this long without a request.
    pub idle: Duration,
}

/// A live session, as [`Store::session`] finds it.
#[derive(Debug, Clone)]
pub struct LiveSession {
    pub user: User,
    /// When they scanned for it (seconds since the epoch).
    pub auth_time: i64,
    /// When it ends at the latest (seconds since the epoch).
    pub expires_at: i64,
}

impl Store {
    /// Starts a session for `user_id`, whose scan was confirmed for the OpenID client
    /// `confirmed_for` if the phone named one, in `browser`; returns the token for the
    /// cookie.
    pub async fn create_session(
        &self,
        user_id: i64,
        policy: SessionPolicy,
        confirmed_for: Option<&str>,
        browser: &SessionBrowser,
    ) -> Result<String, AppError> {
        let _counted = self.start();
        let token = secret::token();
        let now = unix_now();
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, last_seen_at,
                 confirmed_for, user_agent, ip)
             VALUES ($1, $2, $3, $4, $3, $5, $6, $7)",
        )
        .bind(secret::hash(&token).to_vec())
        .bind(user_id)
        .bind(now)
        .bind(now + policy.ttl.as_secs() as i64)
        .bind(confirmed_for)
        .bind(&browser.user_agent)
        .bind(&browser.ip)
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
        Ok(self.session(token, policy).await?.map(|live| live.user))
    }

    /// A live session: its user, when they logged in and until when it lasts, as
    /// [`Self::session_user`].
    pub async fn session(
        &self,
        token: &str,
        policy: SessionPolicy,
    ) -> Result<Option<LiveSession>, AppError> {
        let _counted = self.start();
        let now = unix_now();
        let hash = secret::hash(token);
        let row: Option<(i64, String, String, i64, i64, i64)> = sqlx::query_as(
            "SELECT users.id, users.nickname, users.avatar_url, sessions.last_seen_at,
                    sessions.created_at, sessions.expires_at
             FROM sessions JOIN users ON users.id = sessions.user_id
             WHERE sessions.token_hash = $1 AND sessions.expires_at > $2
                 AND sessions.last_seen_at > $3 AND users.disabled_at IS NULL",
        )
        .bind(hash.to_vec())
        .bind(now)
        .bind(now - policy.idle.as_secs() as i64)
        .fetch_optional(&self.pool)
        .await?;
        let Some((id, nickname, avatar_url, last_seen_at, created_at, expires_at)) = row else {
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
        Ok(Some(LiveSession {
            user,
            auth_time: created_at,
            expires_at,
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

    /// Uses the session's confirmation for `client_id` (its scan named that client, it
    /// began at `not_before` or later, and no login to it used that yet): whether there
    /// was one.
    pub async fn take_session_confirmation(
        &self,
        token: &str,
        client_id: &str,
        not_before: i64,
    ) -> Result<bool, AppError> {
        let taken = sqlx::query(
            "UPDATE sessions SET confirmed_for = NULL
             WHERE token_hash = $1 AND confirmed_for = $2 AND created_at >= $3",
        )
        .bind(secret::hash(token).to_vec())
        .bind(client_id)
        .bind(not_before)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(taken > 0)
    }

    /// Moves the session's login `secs` into the past, for tests of `max_age`.
    pub async fn backdate_session(&self, token: &str, secs: i64) -> Result<(), AppError> {
        sqlx::query("UPDATE sessions SET created_at = created_at - $2 WHERE token_hash = $1")
            .bind(secret::hash(token).to_vec())
            .bind(secs)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn delete_session(&self, token: &str) -> Result<Option<i64>, AppError> {
        let _counted = self.start();
        Ok(
            sqlx::query_scalar("DELETE FROM sessions WHERE token_hash = $1 RETURNING user_id")
                .bind(secret::hash(token).to_vec())
                .fetch_optional(&self.pool)
                .await?,
        )
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

    #[tokio::test]
    async fn sessions_live_until_deleted() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let user = store.upsert_user("wx1", "o1", None, None).await.unwrap();
        let token = store
            .create_session(user.id, POLICY, None, &SessionBrowser::default())
            .await
            .unwrap();
        assert_eq!(
            store.session_user(&token, POLICY).await.unwrap(),
            Some(user.clone())
        );
        assert_eq!(store.session_user("forged", POLICY).await.unwrap(), None);
        assert_eq!(store.delete_session(&token).await.unwrap(), Some(user.id));
        assert_eq!(store.session_user(&token, POLICY).await.unwrap(), None);
        assert_eq!(store.delete_session(&token).await.unwrap(), None);
    }

    #[tokio::test]
    async fn expired_sessions_are_refused() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let user = store.upsert_user("wx1", "o1", None, None).await.unwrap();
        let gone = SessionPolicy {
            ttl: Duration::ZERO,
            idle: Duration::from_secs(600),
        };
        let token = store
            .create_session(user.id, gone, None, &SessionBrowser::default())
            .await
            .unwrap();
        assert_eq!(store.session_user(&token, POLICY).await.unwrap(), None);
        assert_eq!(store.purge_expired_sessions().await.unwrap(), 1);
    }

    #[tokio::test]
    async fn last_seen_is_written_at_most_once_a_minute() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let user = store.upsert_user("wx1", "o1", None, None).await.unwrap();
        let token = store
            .create_session(user.id, POLICY, None, &SessionBrowser::default())
            .await
            .unwrap();
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
