//! Rate limits: per client on the three endpoints worth flooding (code issuance, which
//! costs a WeChat call and a scene; scans; ticket exchanges), and one budget for the whole
//! app on new codes, below WeChat's quota of 5,000 a minute. A limited request gets 429
//! with `Retry-After`.
//!
//! Clients are [`ClientKey`]s: an IPv4 address, or an IPv6 network (a /64 by default).

use std::{num::NonZeroU32, time::Duration};

use governor::{
    clock::Clock, DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter,
};

use super::{client::ClientKey, config::LimitsConfig, error::AppError};

#[derive(Debug, Clone, Copy)]
pub enum Bucket {
    Codes,
    Scans,
    Sessions,
}

#[derive(Debug)]
pub struct Limits {
    codes: DefaultKeyedRateLimiter<ClientKey>,
    scans: DefaultKeyedRateLimiter<ClientKey>,
    sessions: DefaultKeyedRateLimiter<ClientKey>,
    code_budget: DefaultDirectRateLimiter,
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

fn per_minute(n: u32) -> DefaultKeyedRateLimiter<ClientKey> {
    // A burst of the whole minute's allowance, refilled evenly over the minute.
    RateLimiter::keyed(Quota::per_minute(nonzero(n)))
}

/// `n` a minute, refilled evenly, with bursts of a tenth of it: at most 1.1 × `n` in any
/// minute (4,400 for the default 4,000, under WeChat's 5,000 however its minute is cut).
fn budget(n: u32) -> Quota {
    let period = Duration::from_secs(60) / nonzero(n).get();
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_minute(nonzero(n)))
        .allow_burst(nonzero(n / 10))
}

fn wait_secs(not_until: governor::NotUntil<governor::clock::QuantaInstant>) -> u64 {
    let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
    wait.as_secs_f64().ceil().max(1.0) as u64
}

impl Limits {
    pub fn new(config: &LimitsConfig) -> Self {
        Self {
            codes: per_minute(config.codes_per_min),
            scans: per_minute(config.scans_per_min),
            sessions: per_minute(config.sessions_per_min),
            code_budget: RateLimiter::direct(budget(config.code_budget_per_min)),
        }
    }

    /// Counts one request of `client` against `bucket`.
    pub fn check(&self, bucket: Bucket, client: ClientKey) -> Result<(), AppError> {
        let limiter = match bucket {
            Bucket::Codes => &self.codes,
            Bucket::Scans => &self.scans,
            Bucket::Sessions => &self.sessions,
        };
        limiter
            .check_key(&client)
            .map_err(|not_until| AppError::RateLimited {
                retry_after_secs: wait_secs(not_until),
            })
    }

    /// Counts one new code (one WeChat call) against the app-wide budget.
    pub fn spend_code(&self) -> Result<(), AppError> {
        self.code_budget
            .check()
            .map_err(|not_until| AppError::CodeBudgetSpent {
                retry_after_secs: wait_secs(not_until),
            })
    }

    /// Forgets clients that have not been seen for a while (keeps memory bounded).
    pub fn shrink(&self) {
        for limiter in [&self.codes, &self.scans, &self.sessions] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(codes_per_min: u32, code_budget_per_min: u32) -> Limits {
        Limits::new(&LimitsConfig {
            codes_per_min,
            scans_per_min: 1,
            sessions_per_min: 1,
            code_budget_per_min,
            max_scenes: 10,
            max_scenes_per_ip: 10,
            socket_grace: Duration::from_secs(30),
            max_sockets_per_scene: 1,
            max_body_bytes: 10,
            ws_hello_timeout: Duration::from_secs(5),
            ws_max_message_bytes: 1024,
        })
    }

    fn key(ip: &str) -> ClientKey {
        ClientKey::new(ip.parse().unwrap(), 64)
    }

    #[test]
    fn each_client_has_its_own_allowance() {
        let limits = limits(2, 4000);
        let (a, b) = (key("10.0.0.1"), key("10.0.0.2"));
        assert!(limits.check(Bucket::Codes, a).is_ok());
        assert!(limits.check(Bucket::Codes, a).is_ok());
        let Err(AppError::RateLimited { retry_after_secs }) = limits.check(Bucket::Codes, a) else {
            panic!("the third code in a minute is refused");
        };
        assert!((1..=60).contains(&retry_after_secs));
        assert!(
            limits.check(Bucket::Codes, b).is_ok(),
            "another client is not affected"
        );
        assert!(
            limits.check(Bucket::Scans, a).is_ok(),
            "another bucket is not affected"
        );
    }

    #[test]
    fn the_code_budget_allows_a_tenth_of_a_minute_at_once() {
        let limits = limits(30, 4000);
        for i in 0..400 {
            assert!(limits.spend_code().is_ok(), "code {i}");
        }
        let Err(AppError::CodeBudgetSpent { retry_after_secs }) = limits.spend_code() else {
            panic!("the budget's burst is spent");
        };
        assert_eq!(retry_after_secs, 1, "one code every 15 ms");
    }
}
