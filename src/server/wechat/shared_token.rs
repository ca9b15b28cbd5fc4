//! The access token shared by every instance through Redis, so that N instances make one
//! token request per refresh instead of N (with `cgi-bin/token`, each request would even
//! invalidate the others' tokens).
//!
//! The token lives under `{prefix}wechat:token` with the time it was fetched and its
//! expiry. An instance that needs a new one takes `{prefix}wechat:token:lock` (`SET NX` with
//! a timeout, so a crashed holder cannot block the others for long), fetches, stores, and
//! lets the lock go; the others wait for the stored token instead of asking WeChat.

use std::time::Duration;

use redis::{aio::ConnectionManager, AsyncCommands, Script};
use serde::{Deserialize, Serialize};

use super::{
    token::{AccessToken, FetchedToken},
    WeChatError,
};

/// How long a lock holder may take before another instance may try.
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(25);

/// Deletes a key only if it still holds the given value (the lock, if still ours).
const DELETE_IF: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

#[derive(Serialize, Deserialize)]
struct Stored {
    token: String,
    fetched_at_ms: u64,
    expires_at_ms: u64,
}

impl Stored {
    /// Still worth using: before 80% of its life, the point where a cache renews.
    fn usable(&self, now: u64) -> bool {
        let life = self.expires_at_ms.saturating_sub(self.fetched_at_ms);
        now < self.fetched_at_ms + life / 10 * 8
    }

    fn copy(&self) -> Self {
        Self {
            token: self.token.clone(),
            fetched_at_ms: self.fetched_at_ms,
            expires_at_ms: self.expires_at_ms,
        }
    }

    fn fetched(&self, now: u64) -> FetchedToken {
        FetchedToken {
            token: AccessToken::new(self.token.clone()),
            expires_in: Duration::from_millis(self.expires_at_ms.saturating_sub(now)),
        }
    }
}

#[derive(Clone)]
pub struct SharedTokens {
    conn: ConnectionManager,
    key: String,
    lock: String,
}

impl std::fmt::Debug for SharedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedTokens")
            .field("key", &self.key)
            .finish()
    }
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Only the error's kind: its text could carry a command's arguments, a token among them.
fn store_error(err: redis::RedisError) -> WeChatError {
    WeChatError::Transport(format!("shared token store: {:?}", err.kind()))
}

impl SharedTokens {
    pub fn new(conn: ConnectionManager, prefix: &str, appid: &str) -> Self {
        Self {
            conn,
            key: format!("{prefix}wechat:token:{appid}"),
            lock: format!("{prefix}wechat:token:{appid}:lock"),
        }
    }

    /// The stored token, with the text it is stored as (for a compare-and-delete).
    async fn read_raw(&self) -> Result<Option<(String, Stored)>, WeChatError> {
        let raw: Option<String> = self
            .conn
            .clone()
            .get(&self.key)
            .await
            .map_err(store_error)?;
        Ok(raw.and_then(|raw| {
            let stored = serde_json::from_str(&raw).ok()?;
            Some((raw, stored))
        }))
    }

    async fn read(&self) -> Result<Option<Stored>, WeChatError> {
        Ok(self.read_raw().await?.map(|(_, stored)| stored))
    }

    /// WeChat rejected `token`: no instance is handed it again (unless another one
    /// already stored a newer token, which stays).
    pub async fn discard(&self, token: &AccessToken) -> Result<(), WeChatError> {
        let Some((raw, stored)) = self.read_raw().await? else {
            return Ok(());
        };
        if stored.token != token.expose() {
            return Ok(());
        }
        let _: i64 = Script::new(DELETE_IF)
            .key(&self.key)
            .arg(raw)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// A token worth using: the stored one, or one this instance fetched with `fetch`
    /// while holding the lock. `force` (a forced refresh) skips the stored token, unless
    /// another instance stored a new one while this one waited for the lock.
    pub async fn get<F, Fut>(&self, force: bool, fetch: F) -> Result<FetchedToken, WeChatError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<FetchedToken, WeChatError>>,
    {
        let deadline = tokio::time::Instant::now() + LOCK_TIMEOUT + LOCK_TIMEOUT;
        let nonce = crate::server::secret::token();
        let first = self.read().await?;
        let mut waited = false;
        loop {
            let stored = if waited {
                self.read().await?
            } else {
                first.as_ref().map(Stored::copy)
            };
            if let Some(stored) = stored {
                let newer = first.as_ref().is_none_or(|f| f.token != stored.token);
                if stored.usable(unix_ms()) && (!force || (waited && newer)) {
                    return Ok(stored.fetched(unix_ms()));
                }
            }
            let locked: bool = redis::cmd("SET")
                .arg(&self.lock)
                .arg(&nonce)
                .arg("NX")
                .arg("PX")
                .arg(LOCK_TIMEOUT.as_millis() as u64)
                .query_async::<Option<String>>(&mut self.conn.clone())
                .await
                .map_err(store_error)?
                .is_some();
            if locked {
                return self.fetch_and_store(&nonce, force, fetch).await;
            }
            if tokio::time::Instant::now() > deadline {
                return Err(WeChatError::Transport(
                    "timed out waiting for another instance's access token".into(),
                ));
            }
            waited = true;
            tokio::time::sleep(POLL).await;
        }
    }

    async fn fetch_and_store<F, Fut>(
        &self,
        nonce: &str,
        force: bool,
        fetch: F,
    ) -> Result<FetchedToken, WeChatError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<FetchedToken, WeChatError>>,
    {
        // Someone may have stored a token between our read and our lock.
        let result = match self.read().await {
            Ok(Some(stored)) if !force && stored.usable(unix_ms()) => Ok(stored.fetched(unix_ms())),
            _ => match fetch().await {
                Ok(fetched) => {
                    let now = unix_ms();
                    let stored = Stored {
                        token: fetched.token.expose().to_owned(),
                        fetched_at_ms: now,
                        expires_at_ms: now + fetched.expires_in.as_millis() as u64,
                    };
                    let json = serde_json::to_string(&stored)
                        .map_err(|e| WeChatError::Transport(e.to_string()))?;
                    let ttl = fetched.expires_in.as_millis().max(1) as u64;
                    let _: () = self
                        .conn
                        .clone()
                        .pset_ex(&self.key, json, ttl)
                        .await
                        .map_err(store_error)?;
                    Ok(fetched)
                }
                Err(err) => Err(err),
            },
        };
        let _: Result<i64, _> = Script::new(DELETE_IF)
            .key(&self.lock)
            .arg(nonce)
            .invoke_async(&mut self.conn.clone())
            .await;
        result
    }
}
