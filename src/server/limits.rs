//! Rate limits: per client on the three endpoints worth flooding (code issuance, which
//! costs a WeChat call and a scene; scans; ticket exchanges), and budgets for the whole
//! app on what WeChat rations: QR images (every call, below WeChat's 5,000 a minute) and
//! Open-in-WeChat links (per day of China's, below WeChat's 500,000). A limited request
//! gets 429 with `Retry-After`.
//!
//! Clients are [`ClientKey`]s: an IPv4 address, or an IPv6 network (a /64 by default).
//! An IPv6 client is also counted in the wider networks it sits in
//! ([`Ipv6Networks`]: its /56 and /48 by default), each allowed a multiple of a client's
//! rate, so that a /48 (free from tunnel brokers) is not 65,536 clients.
//! In one process the limits are `governor`'s GCRA; with Redis (`SCANLOGIN_REDIS_URL`) the
//! same GCRA runs in Redis as a Lua script on Redis's own clock, so every instance shares
//! one allowance per client and the same budgets. With Redis unreachable the limits fail
//! closed (503), never open.

use std::{num::NonZeroU32, time::Duration};

use governor::{
    clock::Clock, DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter,
};
use redis::{aio::ConnectionManager, Script};

use super::{
    client::{ClientKey, Ipv6Networks},
    config::LimitsConfig,
    error::AppError,
};

#[derive(Debug, Clone, Copy)]
pub enum Bucket {
    Codes,
    Scans,
    Sessions,
    /// Failed client authentications at the OpenID provider (each may have cost an
    /// argon2 hash), at the ticket exchanges' rate.
    AuthFailures,
}

impl Bucket {
    fn name(self) -> &'static str {
        match self {
            Bucket::Codes => "codes",
            Bucket::Scans => "scans",
            Bucket::Sessions => "sessions",
            Bucket::AuthFailures => "auth-failures",
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

    /// `multiple` times this rate: as many requests in the same time, bursts as large.
    fn times(self, multiple: u32) -> Self {
        Self {
            interval: self.interval / nonzero(multiple).get(),
            burst: self.burst.saturating_mul(multiple),
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
    links_per_day: u32,
    oidc_client: Rate,
}

impl Rates {
    fn of(&self, bucket: Bucket) -> Rate {
        match bucket {
            Bucket::Codes => self.codes,
            Bucket::Scans => self.scans,
            Bucket::Sessions | Bucket::AuthFailures => self.sessions,
        }
    }
}

/// Who a request counts against in one bucket: the client, then each wider network.
/// `prefix` tells a network's key from a client's (they can be the same address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Counted {
    key: ClientKey,
    prefix: u8,
}

/// A bucket's limiters in this process: the client's, then one per wider network.
type Layers = Vec<DefaultKeyedRateLimiter<Counted>>;

struct InMemory {
    codes: Layers,
    scans: Layers,
    sessions: Layers,
    auth_failures: Layers,
    /// Until when an address (or a network of it) is refused at the provider's client
    /// authentication.
    auth_blocked: dashmap::DashMap<Counted, std::time::Instant>,
    oidc_clients: DefaultKeyedRateLimiter<String>,
    code_budget: DefaultDirectRateLimiter,
    /// Links made on the day (China's) numbered `.0`.
    links: std::sync::Mutex<(u64, u32)>,
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
    networks: Ipv6Networks,
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

/// Redis did not answer a limit: the limits fail closed (503), never open.
fn redis_failed(err: redis::RedisError) -> AppError {
    tracing::warn!(error = %err, "Redis limit failed: refusing");
    AppError::StoreUnavailable
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
            links_per_day: config.link_budget_per_day,
            oidc_client: Rate::per_minute(config.oidc_tokens_per_client_per_min),
        }
    }

    /// Limits kept in this process.
    pub fn in_memory(config: &LimitsConfig, networks: Ipv6Networks) -> Self {
        let rates = Self::rates(config);
        let layers = |rate: Rate| -> Layers {
            std::iter::once(1)
                .chain(networks.iter().map(|(_, multiple)| multiple))
                .map(|multiple| RateLimiter::keyed(rate.times(multiple).quota()))
                .collect()
        };
        Self {
            backend: Backend::Memory(Box::new(InMemory {
                codes: layers(rates.codes),
                scans: layers(rates.scans),
                sessions: layers(rates.sessions),
                auth_failures: layers(rates.sessions),
                auth_blocked: dashmap::DashMap::new(),
                oidc_clients: RateLimiter::keyed(rates.oidc_client.quota()),
                code_budget: RateLimiter::direct(rates.code_budget.quota()),
                links: std::sync::Mutex::new((0, 0)),
            })),
            rates,
            networks,
        }
    }

    /// Limits shared by every instance on the same Redis.
    pub fn in_redis(
        config: &LimitsConfig,
        networks: Ipv6Networks,
        conn: ConnectionManager,
        prefix: &str,
    ) -> Self {
        Self {
            rates: Self::rates(config),
            networks,
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
            .map_err(redis_failed)?;
        Ok((allowed != 1).then(|| Duration::from_micros(wait_us.max(0) as u64)))
    }

    /// What one request of `client` counts against: the client itself, then each wider
    /// IPv6 network it is in, with that layer's rate.
    fn layers(&self, bucket: Bucket, client: ClientKey) -> Vec<(Counted, Rate)> {
        let rate = self.rates.of(bucket);
        let mut layers = vec![(
            Counted {
                key: client,
                prefix: 128,
            },
            rate,
        )];
        for (prefix, multiple) in self.networks.iter() {
            if let Some(key) = client.network(prefix) {
                layers.push((Counted { key, prefix }, rate.times(multiple)));
            }
        }
        layers
    }

    /// Counts one request of `client` against `bucket`: refused if the client, or any
    /// wider network it is in, has used its allowance.
    pub async fn check(&self, bucket: Bucket, client: ClientKey) -> Result<(), AppError> {
        for (i, (counted, rate)) in self.layers(bucket, client).into_iter().enumerate() {
            let refused = match &self.backend {
                Backend::Memory(memory) => {
                    let layers = match bucket {
                        Bucket::Codes => &memory.codes,
                        Bucket::Scans => &memory.scans,
                        Bucket::Sessions => &memory.sessions,
                        Bucket::AuthFailures => &memory.auth_failures,
                    };
                    let limiter = layers.get(i).ok_or_else(|| {
                        AppError::Internal("a rate limit layer is missing".into())
                    })?;
                    limiter.check_key(&counted).err().map(|not_until| {
                        not_until.wait_time_from(governor::clock::DefaultClock::default().now())
                    })
                }
                Backend::Redis { conn, prefix, gcra } => {
                    // A client's key as it always was; a network's with its prefix.
                    let key = if i == 0 {
                        format!("{prefix}rate:{}:{}", bucket.name(), counted.key)
                    } else {
                        format!(
                            "{prefix}rate:{}:{}/{}",
                            bucket.name(),
                            counted.key,
                            counted.prefix
                        )
                    };
                    Self::redis_check(conn, gcra, key, rate).await?
                }
            };
            if let Some(wait) = refused {
                return Err(AppError::RateLimited {
                    retry_after_secs: wait_secs(wait),
                });
            }
        }
        Ok(())
    }

    /// Refuses an address (or a network of it) whose failed client authentications went
    /// over their rate, until it may try again: checked before a secret is.
    pub async fn auth_failures_allow(&self, client: ClientKey) -> Result<(), AppError> {
        let mut wait = Duration::ZERO;
        for (counted, _) in self.layers(Bucket::AuthFailures, client) {
            let left = match &self.backend {
                Backend::Memory(memory) => memory
                    .auth_blocked
                    .get(&counted)
                    .map(|until| until.saturating_duration_since(std::time::Instant::now())),
                Backend::Redis { conn, prefix, .. } => {
                    let ms: i64 = redis::cmd("PTTL")
                        .arg(blocked_key(prefix, counted))
                        .query_async(&mut conn.clone())
                        .await
                        .map_err(redis_failed)?;
                    (ms > 0).then(|| Duration::from_millis(ms as u64))
                }
            };
            wait = wait.max(left.unwrap_or_default());
        }
        if wait > Duration::ZERO {
            return Err(AppError::RateLimited {
                retry_after_secs: wait_secs(wait),
            });
        }
        Ok(())
    }

    /// Counts a failed client authentication from `client`: past the rate, the address
    /// (or the network that went over) is refused until the rate allows it again, and
    /// this answer already says so.
    pub async fn count_auth_failure(&self, client: ClientKey) -> Result<(), AppError> {
        let Err(AppError::RateLimited { retry_after_secs }) =
            self.check(Bucket::AuthFailures, client).await
        else {
            return Ok(());
        };
        let wait = Duration::from_secs(retry_after_secs);
        for (counted, _) in self.layers(Bucket::AuthFailures, client) {
            match &self.backend {
                Backend::Memory(memory) => {
                    memory
                        .auth_blocked
                        .insert(counted, std::time::Instant::now() + wait);
                }
                Backend::Redis { conn, prefix, .. } => {
                    let () = redis::cmd("SET")
                        .arg(blocked_key(prefix, counted))
                        .arg(1)
                        .arg("PX")
                        .arg(wait.as_millis() as u64)
                        .query_async(&mut conn.clone())
                        .await
                        .map_err(redis_failed)?;
                }
            }
        }
        Err(AppError::RateLimited { retry_after_secs })
    }

    /// Counts one request of an authenticated OpenID client (the token endpoint's, and
    /// the revocation and introspection endpoints'), whatever its address.
    pub async fn check_oidc_client(&self, client_id: &str) -> Result<(), AppError> {
        let wait = match &self.backend {
            Backend::Memory(memory) => memory
                .oidc_clients
                .check_key(&client_id.to_owned())
                .err()
                .map(|not_until| {
                    not_until.wait_time_from(governor::clock::DefaultClock::default().now())
                }),
            Backend::Redis { conn, prefix, gcra } => {
                let key = format!("{prefix}rate:oidc-client:{client_id}");
                Self::redis_check(conn, gcra, key, self.rates.oidc_client).await?
            }
        };
        match wait {
            None => Ok(()),
            Some(wait) => Err(AppError::RateLimited {
                retry_after_secs: wait_secs(wait),
            }),
        }
    }

    /// Counts one QR image fetched from WeChat against the app-wide budget.
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

    /// Counts one Open-in-WeChat link against the app-wide budget of the day (China's:
    /// WeChat's quota is counted per day of UTC+8).
    pub async fn spend_link(&self) -> Result<(), AppError> {
        let now = super::store::unix_now() as u64;
        let day = beijing_day(now);
        let made = match &self.backend {
            Backend::Memory(memory) => {
                let mut links = memory.links.lock().unwrap_or_else(|e| e.into_inner());
                if links.0 != day {
                    *links = (day, 0);
                }
                links.1 = links.1.saturating_add(1);
                u64::from(links.1)
            }
            Backend::Redis { conn, prefix, .. } => {
                let key = format!("{prefix}links:{day}");
                let (made, _): (u64, bool) = redis::pipe()
                    .atomic()
                    .incr(&key, 1)
                    .expire(&key, 2 * 86_400)
                    .query_async(&mut conn.clone())
                    .await
                    .map_err(redis_failed)?;
                made
            }
        };
        if made > u64::from(self.rates.links_per_day) {
            return Err(AppError::LinkBudgetSpent {
                retry_after_secs: next_beijing_midnight(now) - now,
            });
        }
        Ok(())
    }

    /// Forgets clients that have not been seen for a while (keeps memory bounded; Redis
    /// keys expire by themselves).
    pub fn shrink(&self) {
        if let Backend::Memory(memory) = &self.backend {
            for limiter in [
                &memory.codes,
                &memory.scans,
                &memory.sessions,
                &memory.auth_failures,
            ]
            .into_iter()
            .flatten()
            {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
            memory.oidc_clients.retain_recent();
            let now = std::time::Instant::now();
            memory.auth_blocked.retain(|_, until| *until > now);
        }
    }
}

/// The Redis key that refuses `counted` at client authentication while it lives.
fn blocked_key(prefix: &str, counted: Counted) -> String {
    format!("{prefix}blocked:auth:{}/{}", counted.key, counted.prefix)
}

const DAY: u64 = 86_400;
/// China Standard Time is UTC+8, all year.
const BEIJING_OFFSET: u64 = 8 * 3600;

/// The number of the day in China at Unix time `now`.
fn beijing_day(now: u64) -> u64 {
    (now + BEIJING_OFFSET) / DAY
}

/// When the next day begins in China (WeChat's quotas are per day of UTC+8).
pub fn next_beijing_midnight(now: u64) -> u64 {
    (beijing_day(now) + 1) * DAY - BEIJING_OFFSET
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(codes_per_min: u32, code_budget_per_min: u32) -> LimitsConfig {
        LimitsConfig {
            codes_per_min,
            scans_per_min: 1,
            sessions_per_min: 1,
            code_budget_per_min,
            link_budget_per_day: 3,
            image_decodes: 1,
            oidc_tokens_per_client_per_min: 600,
            max_body_bytes: 10,
            ws_hello_timeout: Duration::from_secs(5),
            ws_max_message_bytes: 1024,
            max_store_queue: 64,
        }
    }

    fn limits(codes_per_min: u32, code_budget_per_min: u32) -> Limits {
        Limits::in_memory(
            &config(codes_per_min, code_budget_per_min),
            Ipv6Networks::default(),
        )
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
    async fn wider_ipv6_networks_have_allowances_of_their_own() {
        // 2 codes a minute per /64; a /56 may do what 4 clients may, a /48 what 16 may.
        let limits = limits(2, 4000);
        let in_56 = |i: u32| key(&format!("2001:db8:1:{i:x}::1"));
        let mut allowed = 0;
        for i in 0..8 {
            for _ in 0..2 {
                allowed += usize::from(limits.check(Bucket::Codes, in_56(i)).await.is_ok());
            }
        }
        assert_eq!(
            allowed, 8,
            "the /56's four clients' worth, however many /64s ask"
        );
        let other_56_same_48 = |i: u32| key(&format!("2001:db8:1:{:x}::1", 0x100 * (i + 1)));
        let mut allowed_48 = 8;
        for i in 0..20 {
            for _ in 0..2 {
                allowed_48 += usize::from(
                    limits
                        .check(Bucket::Codes, other_56_same_48(i))
                        .await
                        .is_ok(),
                );
            }
        }
        assert_eq!(allowed_48, 32, "the /48's sixteen clients' worth in all");
        assert!(
            limits
                .check(Bucket::Codes, key("2001:db8:2::1"))
                .await
                .is_ok(),
            "another /48 is not affected"
        );
        let none = Limits::in_memory(&config(2, 4000), "none".parse().unwrap());
        for i in 0..8 {
            assert!(none.check(Bucket::Codes, in_56(i)).await.is_ok(), "{i}");
        }
    }

    #[tokio::test]
    async fn the_link_budget_is_per_day_of_china() {
        let limits = limits(2, 4000);
        for _ in 0..3 {
            assert!(limits.spend_link().await.is_ok());
        }
        let Err(AppError::LinkBudgetSpent { retry_after_secs }) = limits.spend_link().await else {
            panic!("the day's links are made");
        };
        assert!((1..=86_400).contains(&retry_after_secs));
        // 2025-12-01 16:00:00 UTC is midnight in Beijing.
        let midnight = 1_764_604_800;
        assert_eq!(next_beijing_midnight(midnight - 1), midnight);
        assert_eq!(next_beijing_midnight(midnight), midnight + 86_400);
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
