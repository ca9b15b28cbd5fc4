//! Prometheus metrics, served on their own address (`SCANLOGIN_METRICS_ADDR`, e.g.
//! `127.0.0.1:9464`; unset: none are kept) so that they are never public.
//!
//! The login funnel (codes issued → scanned → confirmed → tickets redeemed, and cancelled
//! or expired), scenes waiting and sockets open, WeChat calls by path and errcode, login
//! notices by outcome, token refreshes, request latency by route, and every refusal by
//! reason. `deploy/grafana.json` is a dashboard built on these names, and
//! docs/operations.md says what to alert on.
//!
//! Recording goes through the `metrics` facade: without an installed recorder (metrics
//! off) every call below is a no-op.

use std::{net::SocketAddr, sync::OnceLock, time::Instant};

use axum::{
    extract::{MatchedPath, Request},
    middleware::Next,
    response::Response,
    routing::get,
    Router,
};
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The one recorder of this process (the `metrics` facade allows one).
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the recorder (once per process) and returns its handle.
pub fn install() -> Option<PrometheusHandle> {
    if let Some(handle) = HANDLE.get() {
        return Some(handle.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Suffix("_seconds".into()),
            &[
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ],
        )
        .ok()?
        .build_recorder();
    let handle = recorder.handle();
    if metrics::set_global_recorder(recorder).is_err() {
        return HANDLE.get().cloned();
    }
    let _ = HANDLE.set(handle.clone());
    Some(handle)
}

/// Serves `GET /metrics` on `listener` until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    handle: PrometheusHandle,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move { handle.render() }
        }),
    );
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// A step of the login funnel.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    CodeIssued,
    Scanned,
    Confirmed,
    TicketRedeemed,
    Cancelled,
    Expired,
}

pub fn login_step(step: Step) {
    let name = match step {
        Step::CodeIssued => "scanlogin_codes_issued_total",
        Step::Scanned => "scanlogin_scans_total",
        Step::Confirmed => "scanlogin_logins_confirmed_total",
        Step::TicketRedeemed => "scanlogin_tickets_redeemed_total",
        Step::Cancelled => "scanlogin_logins_cancelled_total",
        Step::Expired => "scanlogin_scenes_expired_total",
    };
    counter!(name).increment(1);
}

/// A login notice (`login_notice.rs`): `sent`, `declined` (43101), `invalid` (the
/// template or its fields, 47003/40037), `quota` (45009), `token`, `failed` or `dropped`
/// (too many in flight).
pub fn login_notice(result: &'static str) {
    counter!("scanlogin_login_notices_total", "result" => result).increment(1);
}

/// Scenes waiting or scanned on this instance's registry (in Redis: in all).
pub fn scenes_pending(count: usize) {
    gauge!("scanlogin_scenes_pending").set(count as f64);
}

/// Login sockets open on this instance.
pub fn sockets_open(count: usize) {
    gauge!("scanlogin_sockets_open").set(count as f64);
}

/// A call to WeChat: `errcode` is WeChat's (0 for success), or `transport`, `timeout`,
/// `http_NNN`, `bad_response` when there was none.
pub fn wechat_call(path: &'static str, errcode: &str) {
    counter!("scanlogin_wechat_calls_total", "path" => path, "errcode" => errcode.to_owned())
        .increment(1);
}

pub fn token_refresh() {
    counter!("scanlogin_wechat_token_refreshes_total").increment(1);
}

/// A refused request or connection, by reason (`rate_limited`, `code_budget`,
/// `scene_cap`, `busy`, `pending_sockets`, `store_unavailable`, `connection_cap`, ...).
pub fn rejected(reason: &'static str) {
    counter!("scanlogin_rejections_total", "reason" => reason).increment(1);
}

/// Records each request's latency by route (the route's pattern, never the raw path).
pub async fn request_latency(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_owned(), |m| m.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(req).await;
    histogram!(
        "scanlogin_http_request_duration_seconds",
        "route" => route,
        "method" => method,
        "status" => response.status().as_u16().to_string()
    )
    .record(started.elapsed().as_secs_f64());
    response
}

/// Where metrics are served, for the start-up line.
pub fn describe(addr: Option<SocketAddr>) -> String {
    addr.map_or_else(|| "off".into(), |a| format!("http://{a}/metrics"))
}
