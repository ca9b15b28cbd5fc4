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
//!   request in flight.
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
use dashmap::DashMap;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::{conn::auto, graceful::GracefulShutdown},
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    time::Instant,
};
use tower::ServiceExt as _;

use super::{
    client::{ClientKey, TrustedProxies},
    config::ConnectionLimits,
};

/// How long a shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The rules, resolved at start-up.
#[derive(Debug, Clone)]
pub struct Settings {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_peer: usize,
    pub trusted_proxies: TrustedProxies,
    pub ipv6_prefix: u8,
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
    ) -> Self {
        let default_max =
            usize::try_from(default_max_connections(descriptor_limit)).unwrap_or(usize::MAX);
        Self {
            header_timeout: limits.header_timeout,
            idle_timeout: limits.idle_timeout,
            max_connections: limits.max_connections.unwrap_or(default_max),
            max_connections_per_peer: limits.max_connections_per_peer,
            trusted_proxies,
            ipv6_prefix,
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

/// Counts open connections, in all and per peer.
#[derive(Debug)]
struct Gate {
    settings: Settings,
    open: AtomicUsize,
    per_peer: DashMap<ClientKey, usize>,
}

/// A connection's place under the caps, given back when the connection closes (for a
/// login socket: when the socket closes, long after its HTTP request).
struct Slot {
    gate: Arc<Gate>,
    peer: Option<ClientKey>,
}

impl Gate {
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
            let mut count = self.per_peer.entry(key).or_default();
            if *count >= self.settings.max_connections_per_peer {
                drop(count);
                tracing::debug!(%peer, "connection refused: too many from this address");
                super::metrics::rejected("connection_cap_per_peer");
                return None; // `slot` gives the total back
            }
            *count += 1;
            slot.peer = Some(key);
        }
        Some(slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.gate.open.fetch_sub(1, Ordering::AcqRel);
        if let Some(key) = self.peer {
            self.gate.per_peer.remove_if_mut(&key, |_, count| {
                *count -= 1;
                *count == 0
            });
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
}

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            served_any: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            head_started: AtomicU64::new(NONE),
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
    }

    fn request_finished(&self) {
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle_since.store(self.now(), Ordering::Release);
            self.head_started.store(NONE, Ordering::Release);
        }
    }

    /// When the connection is to be closed if nothing changes; `None` while a request is
    /// in flight.
    fn deadline(&self, settings: &Settings) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        if !self.served_any.load(Ordering::Acquire) {
            return Some(self.opened + settings.header_timeout);
        }
        match self.head_started.load(Ordering::Acquire) {
            NONE => Some(self.at(self.idle_since.load(Ordering::Acquire)) + settings.idle_timeout),
            started => Some(self.at(started) + settings.header_timeout),
        }
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

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
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
            gate: Arc::new(Gate {
                settings,
                open: AtomicUsize::new(0),
                per_peer: DashMap::new(),
            }),
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
        let graceful = GracefulShutdown::new();
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // The watchdog below keeps the deadlines; see the module's documentation.
        builder.http1().header_read_timeout(None);
        let builder = Arc::new(builder);
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
                    async move {
                        let response = match router.oneshot(req.map(Body::new)).await {
                            Ok(response) => response,
                            Err(never) => match never {},
                        };
                        Ok::<_, Infallible>(response.map(|body| InFlight { body, activity }))
                    }
                })
            };
            let connection = graceful.watch(
                builder
                    .serve_connection_with_upgrades(io, service)
                    .into_owned(),
            );
            let settings = self.gate.settings.clone();
            tokio::spawn(watch_connection(connection, activity, settings, peer));
        }
        drop(self.listener);
        if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("requests still in flight after the shutdown grace period");
        }
        Ok(())
    }
}

/// Runs a connection until it ends, or closes it when a deadline passes.
async fn watch_connection<C, E>(
    connection: C,
    activity: Arc<Activity>,
    settings: Settings,
    peer: SocketAddr,
) where
    C: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    tokio::pin!(connection);
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
            () = tokio::time::sleep_until(wake) => {
                if activity.deadline(&settings).is_some_and(|d| d <= Instant::now()) {
                    tracing::debug!(%peer, "connection closed: header or idle deadline");
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
