//! Per-client-IP rate limits on the three endpoints worth flooding: code issuance
//! (each one costs a WeChat call and a scene), scans and ticket exchanges. A limited
//! request gets 429 with `Retry-After`.

use std::{net::IpAddr, num::NonZeroU32};

use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::{config::LimitsConfig, error::AppError};

#[derive(Debug, Clone, Copy)]
pub enum Bucket {
    Codes,
    Scans,
    Sessions,
}

#[derive(Debug)]
pub struct Limits {
    codes: DefaultKeyedRateLimiter<IpAddr>,
    scans: DefaultKeyedRateLimiter<IpAddr>,
    sessions: DefaultKeyedRateLimiter<IpAddr>,
}

fn per_minute(n: u32) -> DefaultKeyedRateLimiter<IpAddr> {
    // A burst of the whole minute's allowance, refilled evenly over the minute.
    let n = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
    RateLimiter::keyed(Quota::per_minute(n))
}

impl Limits {
    pub fn new(config: &LimitsConfig) -> Self {
        Self {
            codes: per_minute(config.codes_per_min),
            scans: per_minute(config.scans_per_min),
            sessions: per_minute(config.sessions_per_min),
        }
    }

    /// Counts one request of `ip` against `bucket`.
    pub fn check(&self, bucket: Bucket, ip: IpAddr) -> Result<(), AppError> {
        let limiter = match bucket {
            Bucket::Codes => &self.codes,
            Bucket::Scans => &self.scans,
            Bucket::Sessions => &self.sessions,
        };
        limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
            AppError::RateLimited {
                retry_after_secs: wait.as_secs().max(1),
            }
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

    #[test]
    fn each_ip_has_its_own_allowance() {
        let limits = Limits::new(&LimitsConfig {
            codes_per_min: 2,
            scans_per_min: 1,
            sessions_per_min: 1,
            max_scenes: 10,
            max_scenes_per_ip: 10,
            max_sockets_per_scene: 1,
            max_body_bytes: 10,
            ws_hello_timeout: std::time::Duration::from_secs(5),
            ws_max_message_bytes: 1024,
        });
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
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
}
