//! Rate limits: per client on the three endpoints worth flooding (code issuance, which
//! costs a WeChat call and a scene; scans; ticket exchanges), and one budget for the whole
//! app on new codes, below WeChat's quota of 5,000 a minute. A limited request gets 429
//! with `Retry-After`.
//!
//! Clients are [`ClientKey`]s: an IPv4 address, or an IPv6 network (a /64 by default).
//! In one process the limits are `governor`'s GCRA; with Redis (`SCANLOGIN_REDIS_URL`) the
//! same GCRA runs in Redis as a Lua script on Redis's own clock, so every instance shares
//! one allowance per client and one code budget. With Redis unreachable the limits fail
//! closed (503), never open.

use std::{num::NonZeroU32, time::Duration};

use governor::{
    clock::Clock, DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter,
};
use redis::{aio::ConnectionManager, Script};

use super::{client::ClientKey, config::LimitsConfig, error::AppError};

#[derive(Debug, Clone, Copy)]
pub enum Bucket {
    Codes,
    Scans,
    Sessions,
}

impl Bucket {
    fn name(self) -> &'static str {
        match self {
            Bucket::Codes => "codes",
            Bucket::Scans => "scans",
            Bucket::Sessions => "sessions",
        }
    }
}

/// A rate: one request every `interval`, up to `burst` at once.
#[derive(Debug, Clone, Copy)]
struct Rate {
    interval: Duration,
    burst: u32,
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

impl Rate {
    /// `n` a minute, a whole minute's worth at once.
    fn per_minute(n: u32) -> Self {
        Self {
            interval: Duration::from_secs(60) / nonzero(n).get(),
            burst: nonzero(n).get(),
        }
    }

    /// `n` a minute, refilled evenly, with bursts of a tenth of it: at most 1.1 × `n` in
    /// any minute (4,400 for the default 4,000, under WeChat's 5,000 however its minute is
    /// cut).
    fn budget(n: u32) -> Self {
        Self {
            interval: Duration::from_secs(60) / nonzero(n).get(),
            burst: nonzero(n / 10).get(),
        }
    }

    fn quota(self) -> Quota {
        Quota::with_period(self.interval)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
            .allow_burst(nonzero(self.burst))
    }
}

/// GCRA on Redis's clock. KEYS: the bucket. ARGV: interval (µs), burst.
/// Returns {1, 0} when allowed, {0, µs to wait} when not.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = interval * (tonumber(ARGV[2]) - 1)
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat - tolerance
if now < allow_at then return {0, allow_at - now} end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, 0}
";

struct Rates {
    codes: Rate,
    scans: Rate,
    sessions: Rate,
    code_budget: Rate,
}

struct InMemory {
    codes: DefaultKeyedRateLimiter<ClientKey>,
    scans: DefaultKeyedRateLimiter<ClientKey>,
    sessions: DefaultKeyedRateLimiter<ClientKey>,
    code_budget: DefaultDirectRateLimiter,
}

enum Backend {
    Memory(Box<InMemory>),
    Redis {
        conn: ConnectionManager,
        prefix: String,
        gcra: Script,
    },
}

pub struct Limits {
    rates: Rates,
    backend: Backend,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = match self.backend {
            Backend::Memory(_) => "memory",
            Backend::Redis { .. } => "redis",
        };
        f.debug_struct("Limits").field("backend", &backend).finish()
    }
}

fn wait_secs(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

impl Limits {
    fn rates(config: &LimitsConfig) -> Rates {
        Rates {
            codes: Rate::per_minute(config.codes_per_min),
            scans: Rate::per_minute(config.scans_per_min),
            sessions: Rate::per_minute(config.sessions_per_min),
            code_budget: Rate::budget(config.code_budget_per_min),
        }
    }

    /// Limits kept in this process.
    pub fn in_memory(config: &LimitsConfig) -> Self {
        let rates = Self::rates(config);
        Self {
            backend: Backend::Memory(Box::new(InMemory {
                codes: RateLimiter::keyed(rates.codes.quota()),
                scans: RateLimiter::keyed(rates.scans.quota()),
                sessions: RateLimiter::keyed(rates.sessions.quota()),
                code_budget: RateLimiter::direct(rates.code_budget.quota()),
            })),
            rates,
        }
    }

    /// Limits shared by every instance on the same Redis.
    pub fn in_redis(config: &LimitsConfig, conn: ConnectionManager, prefix: &str) -> Self {
        Self {
            rates: Self::rates(config),
            backend: Backend::Redis {
                conn,
                prefix: prefix.to_owned(),
                gcra: Script::new(GCRA),
            },
        }
    }

    async fn redis_check(
        conn: &ConnectionManager,
        gcra: &Script,
        key: String,
        rate: Rate,
    ) -> Result<Option<Duration>, AppError> {
        let (allowed, wait_us): (i64, i64) = gcra
            .key(key)
            .arg(rate.interval.as_micros() as u64)
            .arg(rate.burst)
            .invoke_async(&mut conn.clone())
            .await
            .map_err(|err| {
                tracing::warn!(error = %err, "Redis rate limit failed: refusing");
                AppError::StoreUnavailable
            })?;
        Ok((allowed != 1).then(|| Duration::from_micros(wait_us.max(0) as u64)))
    }

    /// Counts one request of `client` against `bucket`.
    pub async fn check(&self, bucket: Bucket, client: ClientKey) -> Result<(), AppError> {
        let rate = match bucket {
            Bucket::Codes => self.rates.codes,
            Bucket::Scans => self.rates.scans,
            Bucket::Sessions => self.rates.sessions,
        };
        let wait = match &self.backend {
            Backend::Memory(memory) => {
                let limiter = match bucket {
                    Bucket::Codes => &memory.codes,
                    Bucket::Scans => &memory.scans,
                    Bucket::Sessions => &memory.sessions,
                };
                limiter.check_key(&client).err().map(|not_until| {
                    not_until.wait_time_from(governor::clock::DefaultClock::default().now())
                })
            }
            Backend::Redis { conn, prefix, gcra } => {
                let key = format!("{prefix}rate:{}:{client}", bucket.name());
                Self::redis_check(conn, gcra, key, rate).await?
            }
        };
        match wait {
            None => Ok(()),
            Some(wait) => Err(AppError::RateLimited {
                retry_after_secs: wait_secs(wait),
            }),
        }
    }

    /// Counts one new code (one WeChat call) against the app-wide budget.
    pub async fn spend_code(&self) -> Result<(), AppError> {
        let wait = match &self.backend {
            Backend::Memory(memory) => memory.code_budget.check().err().map(|not_until| {
                not_until.wait_time_from(governor::clock::DefaultClock::default().now())
            }),
            Backend::Redis { conn, prefix, gcra } => {
                let key = format!("{prefix}rate:code-budget");
                Self::redis_check(conn, gcra, key, self.rates.code_budget).await?
            }
        };
        match wait {
            None => Ok(()),
            Some(wait) => Err(AppError::CodeBudgetSpent {
                retry_after_secs: wait_secs(wait),
            }),
        }
    }

    /// Forgets clients that have not been seen for a while (keeps memory bounded; Redis
    /// keys expire by themselves).
    pub fn shrink(&self) {
        if let Backend::Memory(memory) = &self.backend {
            for limiter in [&memory.codes, &memory.scans, &memory.sessions] {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(codes_per_min: u32, code_budget_per_min: u32) -> Limits {
        Limits::in_memory(&LimitsConfig {
            codes_per_min,
            scans_per_min: 1,
            sessions_per_min: 1,
            code_budget_per_min,
            max_body_bytes: 10,
            ws_hello_timeout: Duration::from_secs(5),
            ws_max_message_bytes: 1024,
            max_store_queue: 64,
        })
    }

    fn key(ip: &str) -> ClientKey {
        ClientKey::new(ip.parse().unwrap(), 64)
    }

    #[tokio::test]
    async fn each_client_has_its_own_allowance() {
        let limits = limits(2, 4000);
        let (a, b) = (key("10.0.0.1"), key("10.0.0.2"));
        assert!(limits.check(Bucket::Codes, a).await.is_ok());
        assert!(limits.check(Bucket::Codes, a).await.is_ok());
        let Err(AppError::RateLimited { retry_after_secs }) = limits.check(Bucket::Codes, a).await
        else {
            panic!("the third code in a minute is refused");
        };
        assert!((1..=60).contains(&retry_after_secs));
        assert!(
            limits.check(Bucket::Codes, b).await.is_ok(),
            "another client is not affected"
        );
        assert!(
            limits.check(Bucket::Scans, a).await.is_ok(),
            "another bucket is not affected"
        );
    }

    #[tokio::test]
    async fn the_code_budget_allows_a_tenth_of_a_minute_at_once() {
        let limits = limits(30, 4000);
        for i in 0..400 {
            assert!(limits.spend_code().await.is_ok(), "code {i}");
        }
        let Err(AppError::CodeBudgetSpent { retry_after_secs }) = limits.spend_code().await else {
            panic!("the budget's burst is spent");
        };
        assert_eq!(retry_after_secs, 1, "one code every 15 ms");
    }
}
