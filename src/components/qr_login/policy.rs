//! The QR component's retry policy, as plain types that compile for both builds, so its
//! rules are unit-tested on the host: how long to wait before trying again
//! ([`Backoff`]), when to say the server cannot be reached and when to give up on
//! sockets for long polling ([`Reachability`]), and when an ended QR image is replaced by
//! itself ([`AutoRefresh`]). The browser side (`flow.rs`, `transport.rs`) applies them.

/// After `expired`, a new QR image appears by itself this soon.
pub const EXPIRED_REFRESH_MS: u32 = 1500;
/// After `cancelled`, likewise (the button does it at once).
pub const CANCELLED_REFRESH_MS: u32 = 3000;
/// A socket that stayed open this long was a connection, not a failed attempt.
pub const CONNECTED_MS: u32 = 5_000;
/// A QR image whose countdown ran out this long ago without an `expired` is taken as
/// expired (the socket may have been away when it was pushed).
pub const OVERDUE_MS: f64 = 3_000.0;

/// Waits that double after each failure, up to a ceiling, and start over after a
/// success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    start_ms: u32,
    max_ms: u32,
    next_ms: u32,
}

impl Backoff {
    pub const fn new(start_ms: u32, max_ms: u32) -> Self {
        Self {
            start_ms,
            max_ms,
            next_ms: start_ms,
        }
    }

    /// Reconnecting a socket, or a long poll after a failure: 0.5 s, doubling, to 10 s.
    pub const fn reconnect() -> Self {
        Self::new(500, 10_000)
    }

    /// Asking for a QR image again when the server did not answer: 1 s, doubling, to
    /// 30 s (each image may cost one of WeChat's).
    pub const fn new_qr_image() -> Self {
        Self::new(1_000, 30_000)
    }

    /// The wait before the next attempt; the one after it is twice as long.
    pub fn next_wait(&mut self) -> u32 {
        let wait = self.next_ms;
        self.next_ms = wait.saturating_mul(2).min(self.max_ms);
        wait
    }

    /// A success: the next failure waits the shortest time again.
    pub fn reset(&mut self) {
        self.next_ms = self.start_ms;
    }
}

/// Whether the server answers, from the outcomes of the component's calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reachability {
    /// Calls in a row that got no answer.
    failures: u32,
    /// Sockets in a row that failed while plain HTTP answered.
    socket_failures: u32,
}

impl Reachability {
    /// Failed calls in a row before the page says the server cannot be reached.
    pub const FAILURES_BEFORE_UNREACHABLE: u32 = 3;
    /// Sockets that failed in a row while plain HTTP answered, before the page
    /// long-polls.
    pub const SOCKET_FAILURES_BEFORE_POLLING: u32 = 2;

    /// The server answered (an event, a status, a QR image, or a refusal it chose).
    pub fn answered(&mut self) {
        self.failures = 0;
    }

    /// A call got no answer at all.
    pub fn failed(&mut self) {
        self.failures = self.failures.saturating_add(1);
    }

    /// The one request a page cannot do without, its QR image, got no answer: the page
    /// says so at once rather than after a few more tries.
    pub fn failed_for_good(&mut self) {
        self.failures = self.failures.max(Self::FAILURES_BEFORE_UNREACHABLE);
    }

    /// A new scene's sockets: whether sockets work is judged again, scene by scene.
    pub fn new_scene(&mut self) {
        self.socket_failures = 0;
    }

    /// A socket stayed open (or was heard on): sockets work here.
    pub fn connected(&mut self) {
        self.failures = 0;
        self.socket_failures = 0;
    }

    /// A socket failed at once while plain HTTP answered; `true` once the page should
    /// long-poll instead (a proxy that blocks WebSockets).
    pub fn socket_failed(&mut self) -> bool {
        self.socket_failures = self.socket_failures.saturating_add(1);
        self.socket_failures >= Self::SOCKET_FAILURES_BEFORE_POLLING
    }

    /// What `data-connection` says: the server has not answered for a while.
    pub fn is_unreachable(&self) -> bool {
        self.failures >= Self::FAILURES_BEFORE_UNREACHABLE
    }
}

/// Whether an ended QR image is replaced by itself (`data-auto-refresh`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AutoRefresh {
    /// Yes.
    #[default]
    On,
    /// Not while the tab is hidden: when it is seen again.
    Hidden,
    /// The allowance is used up: the person asks for the next one.
    Exhausted,
}

impl AutoRefresh {
    pub fn as_str(self) -> &'static str {
        match self {
            AutoRefresh::On => "on",
            AutoRefresh::Hidden => "hidden",
            AutoRefresh::Exhausted => "exhausted",
        }
    }
}

/// QR images the page gets by itself in a row with nobody touching it: each costs one of
/// WeChat's (a quota for the whole site), so a forgotten tab costs a few, not one every
/// two minutes forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    used: u32,
    max: u32,
}

impl Allowance {
    pub const fn new(max: u32) -> Self {
        Self { used: 0, max }
    }

    /// The server's figure (`SCANLOGIN_AUTO_REFRESHES`), with each QR image.
    pub fn set_max(&mut self, max: u32) {
        self.max = max;
    }

    /// The person did something: the count starts over.
    pub fn reset(&mut self) {
        self.used = 0;
    }

    /// A QR image ended by itself: whether to get the next one now (`On`, counted), or
    /// why not.
    pub fn decide(&mut self, hidden: bool) -> AutoRefresh {
        if hidden {
            AutoRefresh::Hidden
        } else if self.used >= self.max {
            AutoRefresh::Exhausted
        } else {
            self.used += 1;
            AutoRefresh::On
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_ceiling_and_starts_over_after_a_success() {
        let mut b = Backoff::reconnect();
        let waits: Vec<u32> = (0..7).map(|_| b.next_wait()).collect();
        assert_eq!(waits, [500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
        b.reset();
        assert_eq!(b.next_wait(), 500);
        let mut b = Backoff::new_qr_image();
        let waits: Vec<u32> = (0..7).map(|_| b.next_wait()).collect();
        assert_eq!(waits, [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
    }

    #[test]
    fn unreachable_after_three_unanswered_calls_in_a_row() {
        let mut r = Reachability::default();
        r.failed();
        r.failed();
        assert!(!r.is_unreachable());
        r.answered();
        r.failed();
        r.failed();
        assert!(!r.is_unreachable(), "an answer starts the count over");
        r.failed();
        assert!(r.is_unreachable());
        r.answered();
        assert!(!r.is_unreachable());
        r.failed_for_good();
        assert!(r.is_unreachable(), "no QR image: said at once");
    }

    #[test]
    fn long_polling_after_two_sockets_fail_unless_one_connects_between() {
        let mut r = Reachability::default();
        assert!(!r.socket_failed());
        r.connected();
        assert!(!r.socket_failed(), "a connection starts the count over");
        r.new_scene();
        assert!(!r.socket_failed(), "so does a new scene");
        assert!(r.socket_failed());
    }

    #[test]
    fn a_tab_replaces_its_qr_image_by_itself_only_while_seen_and_within_its_allowance() {
        let mut a = Allowance::new(2);
        assert_eq!(a.decide(true), AutoRefresh::Hidden, "hidden: not counted");
        assert_eq!(a.decide(false), AutoRefresh::On);
        assert_eq!(a.decide(false), AutoRefresh::On);
        assert_eq!(a.decide(false), AutoRefresh::Exhausted);
        a.reset();
        assert_eq!(a.decide(false), AutoRefresh::On);
        a.set_max(0);
        assert_eq!(a.decide(false), AutoRefresh::Exhausted);
        assert_eq!(AutoRefresh::Exhausted.as_str(), "exhausted");
    }
}
