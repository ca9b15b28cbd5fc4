//! Accepting connections so that slow or idle clients cannot hold the server.
//!
//! `axum::serve` has no deadline for a request's head, no idle timeout and no cap on open
//! connections, so a few thousand half-sent requests or silent keep-alive connections
//! would use up the process's descriptors and the whole site would stop answering. This
//! module accepts connections itself and serves them with hyper (as `axum::serve` does
//! inside), adding:
//!
//! - **caps** on open connections in all (`SCANLOGIN_MAX_CONNECTIONS`, by default the
//!   descriptor limit less 512) and per peer address (`SCANLOGIN_MAX_CONNECTIONS_PER_PEER`;
//!   trusted proxies exempt, IPv6 grouped by prefix). A connection past a cap is closed at
//!   once, so the client learns quickly, and open ones, upgraded login sockets included
//!   (they keep their slot until they close), go on;
//! - a **header deadline** (`SCANLOGIN_HEADER_TIMEOUT_SECS`): a new connection must send its
//!   first request head within it, and every later head must be complete within it of its
//!   first byte;
//! - an **idle timeout** (`SCANLOGIN_IDLE_TIMEOUT_SECS`) for keep-alive connections with no
//!   request in flight;
//! - a **body deadline** (`SCANLOGIN_BODY_TIMEOUT_SECS`): while a handler waits for the
//!   next bytes of a request's body, they must come within it, and once it has passed the
//!   body must keep coming at [`MIN_BODY_RATE`] on average (so a byte every few seconds
//!   cannot hold a connection for hours); while the server waits for the client to take
//!   the next bytes of an answer, they must be taken within it. A handler busy on its own
//!   (a long poll, a database call) is never cut: only waiting on the client counts.
//!
//! Only HTTP/1.1 is served. Browsers speak HTTP/2 only over TLS, which the proxy in front
//! terminates (nginx speaks HTTP/1.1 to its upstreams), so cleartext HTTP/2 would serve no
//! one but a client opening hundreds of streams on one connection. (hyper-util's automatic
//! builder, which `axum::serve` uses, speaks HTTP/2 on connections with upgrades even when
//! told HTTP/1 only, so the connections are hyper's HTTP/1 ones, and the shutdown drains
//! them itself.)
//!
//! hyper's own `header_read_timeout` starts whenever a connection waits for a head, which
//! would cut idle keep-alive connections at the header deadline; hence the watchdog here,
//! fed by the connection's reads and by the requests it serves. Upgraded connections (the
//! login socket) leave the watchdog: the socket has its own hello deadline and the scene
//! its own expiry.

use std::{
    convert::Infallible,
    future::Future,
    io,
    net::{IpAddr, SocketAddr},
    pin::Pin,
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::{body::Body, extract::ConnectInfo, Router};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{watch, Notify},
    time::Instant,
};
use tower::ServiceExt as _;

use super::{
    client::{ClientKey, HeldPerClient, Ipv6Networks, TrustedProxies},
    config::ConnectionLimits,
};

/// How long a shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Bytes a second a request body must average once the body deadline has passed: a 16 KiB
/// API body has the deadline plus 2 s, a 2 MiB avatar the deadline plus 256 s (a phone on
/// a slow 2G link uploads faster than this).
pub const MIN_BODY_RATE: u64 = 8 * 1024;

/// The rules, resolved at start-up.
#[derive(Debug, Clone)]
pub struct Settings {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub body_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_peer: usize,
    pub trusted_proxies: TrustedProxies,
    pub ipv6_prefix: u8,
    /// A peer's wider IPv6 networks, each capped at a multiple of a peer's connections.
    pub ipv6_networks: Ipv6Networks,
    /// Peers the per-address cap does not apply to, besides trusted proxies: in demo mode,
    /// the server's own WeChat client, which calls the built-in simulator from 127.0.0.1.
    pub uncapped: Vec<IpAddr>,
}

impl Settings {
    pub fn new(
        limits: &ConnectionLimits,
        descriptor_limit: u64,
        trusted_proxies: TrustedProxies,
        ipv6_prefix: u8,
        ipv6_networks: Ipv6Networks,
    ) -> Self {
        let default_max =
            usize::try_from(default_max_connections(descriptor_limit)).unwrap_or(usize::MAX);
        Self {
            header_timeout: limits.header_timeout,
            idle_timeout: limits.idle_timeout,
            body_timeout: limits.body_timeout,
            max_connections: limits.max_connections.unwrap_or(default_max),
            max_connections_per_peer: limits.max_connections_per_peer,
            trusted_proxies,
            ipv6_prefix,
            ipv6_networks,
            uncapped: Vec::new(),
        }
    }
}

/// Descriptors kept back from connections when `SCANLOGIN_MAX_CONNECTIONS` is unset: the
/// database and Redis pools, WeChat's connection pool, the listeners, logs and epoll need a
/// few dozen; 512 leaves room (a tenth of a small limit).
const RESERVED_DESCRIPTORS: u64 = 512;

/// The default cap on open connections: the descriptor limit less what the rest needs
/// (20,000 → 19,488, so one instance can hold 19,000 waiting logins; 1,024 → 922).
fn default_max_connections(descriptor_limit: u64) -> u64 {
    descriptor_limit
        .saturating_sub(RESERVED_DESCRIPTORS.min(descriptor_limit / 10))
        .max(1)
}

/// Raises the soft limit on open descriptors to the hard one; returns both (soft after).
pub fn raise_descriptor_limit() -> (u64, u64) {
    let (soft, hard) = rlimit::Resource::NOFILE.get().unwrap_or((1024, 1024));
    match rlimit::increase_nofile_limit(hard) {
        Ok(raised) => (raised, hard),
        Err(err) => {
            tracing::warn!(%err, soft, hard, "cannot raise the descriptor limit");
            (soft, hard)
        }
    }
}

/// Counts open connections, in all and per peer (and per wider IPv6 network of peers).
#[derive(Debug)]
struct Gate {
    settings: Settings,
    open: AtomicUsize,
    per_peer: HeldPerClient,
}

/// A connection's place under the caps, given back when the connection closes (for a
/// login socket: when the socket closes, long after its HTTP request).
struct Slot {
    gate: Arc<Gate>,
    peer: Option<ClientKey>,
}

impl Gate {
    fn new(settings: Settings) -> Self {
        Self {
            per_peer: HeldPerClient::new(
                settings.max_connections_per_peer,
                settings.ipv6_networks.clone(),
            ),
            settings,
            open: AtomicUsize::new(0),
        }
    }

    fn admit(self: &Arc<Self>, peer: IpAddr) -> Option<Slot> {
        if self.open.fetch_add(1, Ordering::AcqRel) >= self.settings.max_connections {
            self.open.fetch_sub(1, Ordering::AcqRel);
            tracing::debug!(%peer, "connection refused: too many open connections");
            super::metrics::rejected("connection_cap");
            return None;
        }
        let mut slot = Slot {
            gate: self.clone(),
            peer: None,
        };
        let uncapped = self.settings.trusted_proxies.contains(peer)
            || self.settings.uncapped.contains(&peer.to_canonical());
        if !uncapped {
            let key = ClientKey::new(peer, self.settings.ipv6_prefix);
            if !self.per_peer.take(key) {
                tracing::debug!(%peer, "connection refused: too many from this address");
                super::metrics::rejected("connection_cap_per_peer");
                return None; // `slot` gives the total back
            }
            slot.peer = Some(key);
        }
        Some(slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.gate.open.fetch_sub(1, Ordering::AcqRel);
        if let Some(key) = self.peer {
            self.gate.per_peer.give_back(key);
        }
    }
}

/// Open connections, for tests and logs.
#[derive(Debug, Clone)]
pub struct OpenConnections(Arc<Gate>);

impl OpenConnections {
    pub fn count(&self) -> usize {
        self.0.open.load(Ordering::Acquire)
    }
}

const NONE: u64 = u64::MAX;

/// What the watchdog knows of a connection; times are milliseconds since it opened.
#[derive(Debug)]
struct Activity {
    opened: Instant,
    served_any: AtomicBool,
    in_flight: AtomicUsize,
    idle_since: AtomicU64,
    /// When the first byte of a request head arrived while nothing was in flight.
    head_started: AtomicU64,
    /// When the request in flight started, and the bytes of its body read since.
    body_started: AtomicU64,
    body_bytes: AtomicU64,
    /// Since when a handler waits for the next bytes of the body.
    body_waiting_since: AtomicU64,
    /// Since when the server waits for the client to take the next bytes of an answer.
    write_blocked_since: AtomicU64,
    /// Wakes the watchdog when a wait on the client begins (its deadline is sooner than
    /// the watchdog's next look).
    waiting: Notify,
}

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            served_any: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            head_started: AtomicU64::new(NONE),
            body_started: AtomicU64::new(0),
            body_bytes: AtomicU64::new(0),
            body_waiting_since: AtomicU64::new(NONE),
            write_blocked_since: AtomicU64::new(NONE),
            waiting: Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        self.opened.elapsed().as_millis() as u64
    }

    fn at(&self, ms: u64) -> Instant {
        self.opened + Duration::from_millis(ms)
    }

    fn bytes_read(&self) {
        if self.in_flight.load(Ordering::Acquire) == 0 {
            let now = self.now();
            let _ =
                self.head_started
                    .compare_exchange(NONE, now, Ordering::AcqRel, Ordering::Acquire);
        }
    }

    fn request_started(&self) {
        self.served_any.store(true, Ordering::Release);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_started.store(NONE, Ordering::Release);
        self.body_started.store(self.now(), Ordering::Release);
        self.body_bytes.store(0, Ordering::Release);
    }

    fn request_finished(&self) {
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle_since.store(self.now(), Ordering::Release);
            self.head_started.store(NONE, Ordering::Release);
        }
    }

    /// Marks the start of a wait on the client (if none was under way) and wakes the
    /// watchdog.
    fn wait_begins(&self, since: &AtomicU64) {
        let now = self.now();
        if since
            .compare_exchange(NONE, now, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.waiting.notify_one();
        }
    }

    fn body_read(&self, bytes: usize) {
        self.body_bytes.fetch_add(bytes as u64, Ordering::AcqRel);
        self.body_waiting_since.store(NONE, Ordering::Release);
    }

    /// When the connection is to be closed if nothing changes; `None` while a request is
    /// in flight and nothing waits on the client.
    fn deadline(&self, settings: &Settings) -> Option<Instant> {
        let waits = self.wait_deadline(settings);
        let between_requests = if self.in_flight.load(Ordering::Acquire) > 0 {
            None
        } else if !self.served_any.load(Ordering::Acquire) {
            Some(self.opened + settings.header_timeout)
        } else {
            match self.head_started.load(Ordering::Acquire) {
                NONE => {
                    Some(self.at(self.idle_since.load(Ordering::Acquire)) + settings.idle_timeout)
                }
                started => Some(self.at(started) + settings.header_timeout),
            }
        };
        match (waits, between_requests) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The body deadline: of a wait for the body's next bytes (and of its average rate),
    /// or of a wait for the client to take the answer's.
    fn wait_deadline(&self, settings: &Settings) -> Option<Instant> {
        let timeout = settings.body_timeout;
        let writing = match self.write_blocked_since.load(Ordering::Acquire) {
            NONE => None,
            since => Some(self.at(since) + timeout),
        };
        let reading = match self.body_waiting_since.load(Ordering::Acquire) {
            NONE => None,
            since => {
                let bytes = self.body_bytes.load(Ordering::Acquire);
                let at_rate = self.at(self.body_started.load(Ordering::Acquire))
                    + timeout
                    + Duration::from_millis(bytes.saturating_mul(1000) / MIN_BODY_RATE);
                Some((self.at(since) + timeout).min(at_rate))
            }
        };
        match (writing, reading) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// A request's body, telling the watchdog when its handler waits for the client's next
/// bytes and how many have come.
struct WatchedBody {
    body: Incoming,
    activity: Arc<Activity>,
}

impl hyper::body::Body for WatchedBody {
    type Data = axum::body::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let poll = Pin::new(&mut self.body).poll_frame(cx);
        match &poll {
            Poll::Pending => self.activity.wait_begins(&self.activity.body_waiting_since),
            Poll::Ready(Some(Ok(frame))) => self
                .activity
                .body_read(frame.data_ref().map_or(0, |data| data.len())),
            Poll::Ready(_) => self.activity.body_read(0),
        }
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for WatchedBody {
    fn drop(&mut self) {
        // A handler that stopped reading no longer waits on the client.
        self.activity
            .body_waiting_since
            .store(NONE, Ordering::Release);
    }
}

/// The TCP stream, reporting its reads to the watchdog and holding the connection's slot.
struct Tracked {
    stream: TcpStream,
    activity: Arc<Activity>,
    _slot: Slot,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_read();
        }
        poll
    }
}

impl Tracked {
    /// Reports a write's progress: a write the client is not taking starts a wait.
    fn wrote(&self, poll: &Poll<io::Result<usize>>) {
        match poll {
            Poll::Pending => self
                .activity
                .wait_begins(&self.activity.write_blocked_since),
            Poll::Ready(_) => self
                .activity
                .write_blocked_since
                .store(NONE, Ordering::Release),
        }
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.wrote(&poll);
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.wrote(&poll);
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// A response body that tells the watchdog when the response is over (hyper drops the
/// body once it has written it, or when the connection goes).
struct InFlight {
    body: Body,
    activity: Arc<Activity>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.activity.request_finished();
    }
}

impl hyper::body::Body for InFlight {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets requests in flight
/// finish (for at most [`SHUTDOWN_GRACE`]).
pub struct Server {
    listener: TcpListener,
    gate: Arc<Gate>,
}

impl Server {
    pub fn new(listener: TcpListener, settings: Settings) -> Self {
        Self {
            listener,
            gate: Arc::new(Gate::new(settings)),
        }
    }

    pub fn open_connections(&self) -> OpenConnections {
        OpenConnections(self.gate.clone())
    }

    pub async fn run(
        self,
        router: Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        // Every connection's task holds a receiver: the shutdown tells them to finish what
        // is in flight, then waits for the last to drop it.
        let (draining, drain) = watch::channel(false);
        // HTTP/1.1 only (see the module's documentation).
        let mut builder = http1::Builder::new();
        // The watchdog below keeps the deadlines; see the module's documentation.
        builder.header_read_timeout(None);
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        // Out of descriptors, most likely: give connections time to close
                        // rather than spinning.
                        tracing::warn!(%err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let Some(slot) = self.gate.admit(peer.ip()) else {
                drop(stream); // refused at once: the client sees the connection close
                continue;
            };
            let _ = stream.set_nodelay(true);
            let activity = Arc::new(Activity::new());
            let io = TokioIo::new(Tracked {
                stream,
                activity: activity.clone(),
                _slot: slot,
            });
            let service = {
                let activity = activity.clone();
                let router = router.clone();
                hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    activity.request_started();
                    let activity = activity.clone();
                    let router = router.clone();
                    let req = req.map(|body| {
                        Body::new(WatchedBody {
                            body,
                            activity: activity.clone(),
                        })
                    });
                    async move {
                        let response = match router.oneshot(req).await {
                            Ok(response) => response,
                            Err(never) => match never {},
                        };
                        Ok::<_, Infallible>(response.map(|body| InFlight { body, activity }))
                    }
                })
            };
            let connection = builder.serve_connection(io, service).with_upgrades();
            let settings = self.gate.settings.clone();
            tokio::spawn(watch_connection(
                connection,
                activity,
                settings,
                peer,
                drain.clone(),
            ));
        }
        drop(self.listener);
        drop(drain);
        let _ = draining.send(true);
        if tokio::time::timeout(SHUTDOWN_GRACE, draining.closed())
            .await
            .is_err()
        {
            tracing::warn!("requests still in flight after the shutdown grace period");
        }
        Ok(())
    }
}

/// A connection that can be asked to finish its request in flight and then close.
trait Drain: Future<Output = Result<(), hyper::Error>> {
    fn drain(self: Pin<&mut Self>);
}

impl<I, S, B> Drain for http1::UpgradeableConnection<I, S>
where
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn drain(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// Runs a connection until it ends, or closes it when a deadline passes; when the server
/// shuts down, lets its request in flight finish and closes it.
async fn watch_connection(
    connection: impl Drain,
    activity: Arc<Activity>,
    settings: Settings,
    peer: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
) {
    tokio::pin!(connection);
    let mut draining = false;
    loop {
        let wake = activity
            .deadline(&settings)
            .unwrap_or_else(|| Instant::now() + settings.header_timeout);
        tokio::select! {
            // The connection first: when the server was too busy to poll this task before
            // a deadline passed, what the client sent in time is read (and its request
            // starts) before the deadline is judged, instead of losing a coin toss to the
            // timer and being closed unanswered.
            biased;
            result = connection.as_mut() => {
                if let Err(err) = result {
                    tracing::debug!(%peer, %err, "connection ended with an error");
                }
                return;
            }
            // A wait on the client began: its deadline may be sooner than `wake`.
            () = activity.waiting.notified() => {}
            changed = shutdown.changed(), if !draining => {
                draining = true;
                if changed.is_ok() {
                    connection.as_mut().drain();
                }
            }
            () = tokio::time::sleep_until(wake) => {
                if activity.deadline(&settings).is_some_and(|d| d <= Instant::now()) {
                    tracing::debug!(%peer, "connection closed: header, body or idle deadline");
                    return; // dropping the connection closes it
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::default_max_connections;

    #[test]
    fn the_default_cap_keeps_descriptors_back_for_the_rest_of_the_server() {
        assert_eq!(default_max_connections(20_000), 19_488);
        assert_eq!(default_max_connections(1_024), 922);
        assert_eq!(default_max_connections(5), 5);
        assert_eq!(default_max_connections(0), 1);
    }
}
