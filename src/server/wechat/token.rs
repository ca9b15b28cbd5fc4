//! The access-token cache: one token shared by every caller, fetched single-flight,
//! renewed at about 80% of its life, and replaced (once) when WeChat rejects it.

use std::{
    future::Future,
    sync::{Arc, Mutex, RwLock},
    time::Duration,
};

use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;

use super::WeChatError;

/// An access token. Cheap to clone; `Debug` never shows it.
#[derive(Clone)]
pub struct AccessToken(Arc<SecretString>);

impl AccessToken {
    pub fn new(token: String) -> Self {
        Self(Arc::new(SecretString::from(token)))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl PartialEq for AccessToken {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

/// A token as WeChat handed it out.
#[derive(Debug, Clone)]
pub struct FetchedToken {
    pub token: AccessToken,
    pub expires_in: Duration,
}

#[derive(Debug, Clone)]
struct Cached {
    token: AccessToken,
    /// From here on, the next caller renews the token (80% of its life).
    renew_at: Instant,
    /// From here on the token is not used any more (a little before WeChat's expiry,
    /// so that a request in flight does not arrive with a dead token).
    stale_at: Instant,
}

impl Cached {
    fn new(fetched: FetchedToken, now: Instant) -> Self {
        let life = fetched.expires_in;
        let margin = (life / 20).min(Duration::from_secs(60));
        Self {
            token: fetched.token,
            renew_at: now + life.mul_f64(0.8),
            stale_at: now + life - margin,
        }
    }
}

/// WeChat lets a forced stable-token refresh happen at most once per 30 s (and 20 times
/// a day); a forced refresh also invalidates the previous token for everyone.
pub const FORCE_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
pub struct TokenCache {
    current: RwLock<Option<Cached>>,
    /// Held by the one caller that is fetching; the others wait for its result.
    refresh: tokio::sync::Mutex<()>,
    last_forced: Mutex<Option<Instant>>,
}

impl TokenCache {
    pub fn new() -> Self {
        Self::default()
    }

    fn snapshot(&self) -> Option<Cached> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn store(&self, fetched: FetchedToken) -> AccessToken {
        let cached = Cached::new(fetched, Instant::now());
        let token = cached.token.clone();
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(cached);
        token
    }

    /// The current token. `fetch(force_refresh)` asks WeChat for one; however many
    /// callers arrive on a cold cache, it runs once.
    pub async fn get<F, Fut>(&self, fetch: F) -> Result<AccessToken, WeChatError>
    where
        F: FnOnce(bool) -> Fut,
        Fut: Future<Output = Result<FetchedToken, WeChatError>>,
    {
        if let Some(cached) = self.snapshot() {
            let now = Instant::now();
            if now < cached.renew_at {
                return Ok(cached.token);
            }
            if now < cached.stale_at {
                // Past 80% of its life but still good: one caller renews it while the
                // others keep using the current one.
                let Ok(_guard) = self.refresh.try_lock() else {
                    return Ok(cached.token);
                };
                if let Some(newer) = self.snapshot().filter(|c| c.renew_at > now) {
                    return Ok(newer.token);
                }
                return match fetch(false).await {
                    Ok(fetched) => Ok(self.store(fetched)),
                    Err(err) => {
                        tracing::warn!(%err, "renewing the access token failed; the current one is still valid");
                        Ok(cached.token)
                    }
                };
            }
        }
        let _guard = self.refresh.lock().await;
        // Whoever held the lock before us may have fetched a token already.
        if let Some(cached) = self.snapshot() {
            if Instant::now() < cached.stale_at {
                return Ok(cached.token);
            }
        }
        let fetched = fetch(false).await?;
        Ok(self.store(fetched))
    }

    /// WeChat refused `rejected`: drop it and get another. If normal mode hands back the
    /// same token (possible with `stable_token`), force a refresh, at most once per 30 s.
    pub async fn replace_rejected<F, Fut>(
        &self,
        rejected: &AccessToken,
        fetch: F,
    ) -> Result<AccessToken, WeChatError>
    where
        F: Fn(bool) -> Fut,
        Fut: Future<Output = Result<FetchedToken, WeChatError>>,
    {
        let _guard = self.refresh.lock().await;
        if let Some(cached) = self.snapshot() {
            if cached.token != *rejected && Instant::now() < cached.stale_at {
                // Another caller has replaced it already.
                return Ok(cached.token);
            }
        }
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
        let mut fetched = fetch(false).await?;
        if fetched.token == *rejected && self.may_force_refresh() {
            tracing::warn!("WeChat keeps returning a rejected access token; forcing a refresh");
            fetched = fetch(true).await?;
        }
        Ok(self.store(fetched))
    }

    fn may_force_refresh(&self) -> bool {
        let mut last = self
            .last_forced
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        match *last {
            Some(at) if now.duration_since(at) < FORCE_REFRESH_INTERVAL => false,
            _ => {
                *last = Some(now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn fetched(token: &str, secs: u64) -> FetchedToken {
        FetchedToken {
            token: AccessToken::new(token.to_owned()),
            expires_in: Duration::from_secs(secs),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn renews_after_80_percent_and_not_before() {
        let cache = TokenCache::new();
        let calls = AtomicUsize::new(0);
        let fetch = |n: &str| {
            calls.fetch_add(1, Ordering::SeqCst);
            let token = fetched(n, 100);
            async move { Ok(token) }
        };
        let t = cache.get(|_| fetch("a")).await.unwrap();
        assert_eq!(t.expose(), "a");
        tokio::time::advance(Duration::from_secs(79)).await;
        let t = cache.get(|_| fetch("b")).await.unwrap();
        assert_eq!(t.expose(), "a", "still young: no fetch");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        tokio::time::advance(Duration::from_secs(2)).await;
        let t = cache.get(|_| fetch("b")).await.unwrap();
        assert_eq!(t.expose(), "b", "past 80%: renewed");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_renewal_keeps_the_valid_token() {
        let cache = TokenCache::new();
        cache
            .get(|_| async { Ok(fetched("a", 100)) })
            .await
            .unwrap();
        tokio::time::advance(Duration::from_secs(85)).await;
        let t = cache
            .get(|_| async { Err(WeChatError::Status(500)) })
            .await
            .unwrap();
        assert_eq!(t.expose(), "a");
    }

    #[tokio::test(start_paused = true)]
    async fn an_expired_token_is_never_returned() {
        let cache = TokenCache::new();
        cache
            .get(|_| async { Ok(fetched("a", 100)) })
            .await
            .unwrap();
        tokio::time::advance(Duration::from_secs(99)).await;
        let err = cache
            .get(|_| async { Err(WeChatError::Status(500)) })
            .await
            .unwrap_err();
        assert_eq!(err, WeChatError::Status(500));
    }

    #[tokio::test]
    async fn forced_refresh_only_when_normal_mode_repeats_the_rejected_token() {
        let cache = TokenCache::new();
        let a = cache
            .get(|_| async { Ok(fetched("a", 7200)) })
            .await
            .unwrap();
        let forced = AtomicUsize::new(0);
        let fetch = |force: bool| {
            if force {
                forced.fetch_add(1, Ordering::SeqCst);
            }
            let token = fetched(if force { "b" } else { "a" }, 7200);
            async move { Ok(token) }
        };
        let b = cache.replace_rejected(&a, fetch).await.unwrap();
        assert_eq!(b.expose(), "b");
        assert_eq!(forced.load(Ordering::SeqCst), 1);
        // Within 30 s a second forced refresh is not allowed: normal mode's answer is taken.
        let again = cache.replace_rejected(&b, fetch).await.unwrap();
        assert_eq!(again.expose(), "a");
        assert_eq!(forced.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn debug_hides_the_token() {
        let t = AccessToken::new("very-secret".into());
        assert!(!format!("{t:?}").contains("very-secret"));
    }
}
