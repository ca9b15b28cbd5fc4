//! Waiting on a condition instead of a fixed time: a test polls what it checks until it
//! holds, and fails saying what never happened. Every wait of the suites goes through
//! here, so the polling interval and the limit are written once.

use std::{
    future::Future,
    time::{Duration, Instant},
};

/// How long a condition may take before the test fails: far above any expected wait,
/// so a loaded CI machine is slow but not wrong.
pub const LIMIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(10);

/// Polls `condition` until it holds; panics with `what` after [`LIMIT`].
pub async fn eventually<F, Fut>(what: &str, condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    eventually_within(what, LIMIT, condition).await;
}

/// [`eventually`] where how soon is part of the behaviour: panics with `what` after
/// `limit`.
pub async fn eventually_within<F, Fut>(what: &str, limit: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !condition().await {
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        tokio::time::sleep(POLL).await;
    }
}

/// [`eventually`] for code outside a runtime (starting and stopping servers).
pub fn eventually_blocking(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + LIMIT;
    while !condition() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(POLL);
    }
}
