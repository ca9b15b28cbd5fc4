//! Health for load balancers and orchestrators: `GET /healthz` (the process answers) and
//! `GET /readyz` (it can serve logins: the database and, when configured, Redis answer).
//!
//! WeChat's reachability is in the readiness body but never makes an instance unready:
//! WeChat down would take every instance out of the balancer at once, and a page that
//! cannot get a code still says so better than a balancer's error page. Bodies are JSON and
//! carry no secrets (no URLs, no hosts).

use std::time::Duration;

use axum::{extract::State, http::StatusCode, Json};
use serde_json::{json, Value};

use super::context::AppState;

/// Each check answers within this, or counts as failing.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

async fn check(probe: impl std::future::Future<Output = bool>) -> bool {
    tokio::time::timeout(CHECK_TIMEOUT, probe)
        .await
        .unwrap_or(false)
}

fn word(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "failing"
    }
}

/// `GET /healthz`: 200 while the process serves requests.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 when the database and Redis (if configured) answer, 503 otherwise
/// (and a warning in the log).
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let (database, registry) = tokio::join!(
        check(state.store.is_healthy()),
        check(state.registry.is_healthy())
    );
    let redis = if state.config.redis.is_some() {
        word(registry)
    } else {
        "not configured"
    };
    let ready = database && registry;
    let body = json!({
        "status": if ready { "ready" } else { "unready" },
        "checks": {
            "database": word(database),
            "redis": redis,
            // Reported, never gating (see the module's documentation).
            "wechat": state.wechat.reachability(),
        },
    });
    let status = if ready {
        StatusCode::OK
    } else {
        tracing::warn!(database = word(database), redis, "not ready");
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
