//! The server's errors, and the one place they become what a client sees: an HTTP status
//! and the JSON envelope `{"code","msg","data":null}`.
//!
//! A server function's error becomes an [`ApiError`] here (its status set through Leptos's
//! `ResponseOptions`); every other error on the API's paths (an unknown path, a wrong
//! method, a body too large, a refused origin) gets the same envelope from [`envelopes`],
//! which is also where the one exception lives: the seed's code endpoint answers
//! `"code":400` for every failure (its contract), whatever the HTTP status says.

use axum::{
    body::Body,
    extract::Request,
    http::{header, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    Json,
};

use super::wechat::{errcode, WeChatError};
use crate::{
    api::ApiError,
    protocol::{ErrorDetail, SceneOutcome},
};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("malformed request: {0}")]
    Malformed(String),
    #[error("this scene belongs to another browser")]
    SceneTaken,
    #[error("unknown or expired code: refresh the code on your computer")]
    SceneNotFound,
    #[error("WeChat did not accept the login code")]
    BadLoginCode,
    #[error("invalid scan token")]
    BadScanToken,
    #[error("{0}")]
    Conflict(&'static str),
    #[error("this login was already confirmed")]
    AlreadyConfirmed,
    #[error("this login was cancelled")]
    AlreadyCancelled,
    #[error("request body too large")]
    TooLarge,
    #[error("invalid, used or expired ticket")]
    BadTicket,
    #[error("not logged in")]
    NotLoggedIn,
    #[error("too many requests: try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error(
        "this site is handing out too many codes right now: try again in {retry_after_secs} s"
    )]
    CodeBudgetSpent { retry_after_secs: u64 },
    #[error("too many codes from this address at once: finish or wait for the others")]
    TooManyScenes,
    #[error("too many login sockets from this address are still waiting to say hello")]
    TooManyPendingSockets,
    #[error("too many sockets on this scene")]
    TooManySockets,
    #[error("the login service cannot reach its store right now: try again shortly")]
    StoreUnavailable,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("no WeChat simulator here: the phone page is for demo mode")]
    NoSimulator,
    /// The database pool gave no connection within its timeout, or Redis kept losing a
    /// race: overloaded or failing, logged.
    #[error("the server is busy: try again shortly")]
    Busy,
    /// A new login refused at the code while the database is behind (load shedding):
    /// expected past capacity, counted, not logged one by one.
    #[error("the server is busy: try again shortly")]
    Shed,
    #[error("WeChat is not answering as it should; try again")]
    WeChat(#[source] WeChatError),
    #[error("WeChat makes no links to the mini program for now: scan the code")]
    LinksRefused,
    #[error("internal error")]
    Database(sqlx::Error),
    #[error("internal error")]
    Internal(String),
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        match err {
            // Every connection stayed busy for the whole acquire timeout: the server is
            // overloaded, and the client should come back (503 + Retry-After), not see a
            // failure of ours.
            sqlx::Error::PoolTimedOut => AppError::Busy,
            err => AppError::Database(err),
        }
    }
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Malformed(_) | AppError::SceneTaken => StatusCode::BAD_REQUEST,
            AppError::SceneNotFound | AppError::NoSimulator => StatusCode::NOT_FOUND,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::BadLoginCode
            | AppError::BadScanToken
            | AppError::BadTicket
            | AppError::NotLoggedIn => StatusCode::UNAUTHORIZED,
            AppError::Conflict(_) | AppError::AlreadyConfirmed | AppError::AlreadyCancelled => {
                StatusCode::CONFLICT
            }
            AppError::RateLimited { .. }
            | AppError::CodeBudgetSpent { .. }
            | AppError::TooManyScenes
            | AppError::TooManyPendingSockets
            | AppError::TooManySockets => StatusCode::TOO_MANY_REQUESTS,
            AppError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Busy | AppError::Shed | AppError::StoreUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            AppError::WeChat(_) | AppError::LinksRefused => StatusCode::BAD_GATEWAY,
            AppError::Database(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A failed `jscode2session`: a bad code is the client's fault, anything else WeChat's.
    /// Seconds a client should wait before asking again, when that is known.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            AppError::RateLimited { retry_after_secs }
            | AppError::CodeBudgetSpent { retry_after_secs } => Some(*retry_after_secs),
            AppError::TooManyScenes
            | AppError::TooManyPendingSockets
            | AppError::TooManySockets
            | AppError::Busy
            | AppError::Shed => Some(5),
            AppError::StoreUnavailable => Some(2),
            _ => None,
        }
    }

    pub fn from_login(err: WeChatError) -> Self {
        match err.errcode() {
            Some(errcode::INVALID_CODE | errcode::CODE_BEEN_USED) => AppError::BadLoginCode,
            _ => AppError::WeChat(err),
        }
    }
}

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        let status = err.status();
        if let Some(reason) = super::metrics::rejection_of(&err) {
            super::metrics::rejected(reason);
        }
        let retry_after = err.retry_after_secs();
        if let (Some(secs), Some(response)) = (
            retry_after,
            leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
        ) {
            response.insert_header(axum::http::header::RETRY_AFTER, secs.into());
        }
        if matches!(err, AppError::Shed) {
            // Load shed on purpose, and counted (`scanlogin_rejections_total{reason="busy"}`):
            // a log line for each would be work for a server that has none to spare.
            tracing::debug!(error = ?err, "request refused");
        } else if status.is_server_error() {
            // The details stay in the log; the client gets the generic message.
            tracing::error!(error = ?err, "request failed");
        }
        let outcome = match err {
            AppError::AlreadyConfirmed => Some(SceneOutcome::Confirmed),
            AppError::AlreadyCancelled => Some(SceneOutcome::Cancelled),
            _ => None,
        };
        ApiError {
            data: outcome.map(|scene_status| ErrorDetail { scene_status }),
            ..ApiError::with_status(status, err.to_string())
        }
    }
}

/// The same envelope from a plain axum handler (one that cannot be a server function).
impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry_after = self.retry_after_secs();
        let mut response = (status, Json(ApiError::from(self))).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, secs.into());
        }
        response
    }
}

/// The seed's code endpoint, whose envelope says 400 for every failure.
pub const CODE_ENDPOINT: &str = "/miniapp/getwxacodeunlimit";

/// Paths whose answers are JSON, errors included.
pub fn is_api_path(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/miniapp/") || path == "/websocket"
}

/// The envelope's `code` for a failure with `status` at `path`.
pub fn envelope_code(path: &str, status: StatusCode) -> u16 {
    if path == CODE_ENDPOINT {
        400
    } else {
        status.as_u16()
    }
}

/// An error answer outside a server function.
pub fn error_response(status: StatusCode, msg: &str) -> Response {
    let body = serde_json::json!({ "code": status.as_u16(), "msg": msg, "data": null });
    (status, Json(body)).into_response()
}

/// On the API's paths, every error answer is the envelope: errors that are not JSON yet
/// (unknown path, wrong method, body too large, ...) become one with their status, and at
/// the code endpoint the envelope's code is the seed's 400.
pub async fn envelopes(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let response = next.run(req).await;
    let status = response.status();
    if !is_api_path(&path) || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let (mut parts, body) = response.into_parts();
    let mut data = serde_json::Value::Null;
    let msg = if is_json {
        // A server function's envelope: keep its message and its data.
        let bytes = axum::body::to_bytes(body, 64 * 1024)
            .await
            .unwrap_or_default();
        let value = serde_json::from_slice::<serde_json::Value>(&bytes).ok();
        if let Some(d) = value.as_ref().and_then(|v| v.get("data")) {
            data = d.clone();
        }
        value
            .and_then(|v| v.get("msg").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned())
    } else {
        match status {
            StatusCode::NOT_FOUND => "no such endpoint",
            StatusCode::METHOD_NOT_ALLOWED => "method not allowed",
            StatusCode::PAYLOAD_TOO_LARGE => "request body too large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported content type",
            _ => status.canonical_reason().unwrap_or("error"),
        }
        .to_owned()
    };
    let body =
        serde_json::json!({ "code": envelope_code(&path, status), "msg": msg, "data": data });
    // Keep headers such as Allow and Retry-After.
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body.to_string()))
}

/// A failed answer's log line (tower-http's default, but for 503): a server shedding load
/// answers 503 "busy" to thousands of requests a second, counted in
/// `scanlogin_rejections_total`, and a line for each would be more work where there is
/// already too much. The other 503s are logged where they happen: a database or Redis
/// that fails or times out as a failed request (above), an unready instance by `/readyz`.
pub fn log_failure(
    class: tower_http::classify::ServerErrorsFailureClass,
    latency: std::time::Duration,
    _span: &tracing::Span,
) {
    use tower_http::classify::ServerErrorsFailureClass;
    match class {
        ServerErrorsFailureClass::StatusCode(StatusCode::SERVICE_UNAVAILABLE) => {}
        class => tracing::error!(classification = %class, ?latency, "response failed"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tower_http::classify::ServerErrorsFailureClass;

    use super::*;

    /// The lines logged at ERROR while `f` runs on this thread.
    fn errors_logged(f: impl FnOnce()) -> String {
        #[derive(Clone, Default)]
        struct Lines(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Lines {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::ERROR)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let logged = lines.0.lock().unwrap().clone();
        String::from_utf8(logged).unwrap()
    }

    #[test]
    fn load_shed_is_counted_not_logged_and_real_failures_are_logged() {
        let span = tracing::Span::none();
        let shed = errors_logged(|| {
            let _ = ApiError::from(AppError::Shed);
            log_failure(
                ServerErrorsFailureClass::StatusCode(StatusCode::SERVICE_UNAVAILABLE),
                std::time::Duration::ZERO,
                &span,
            );
        });
        assert_eq!(shed, "", "a refusal under load writes no line");
        let failed = errors_logged(|| {
            let _ = ApiError::from(AppError::StoreUnavailable);
            let _ = ApiError::from(AppError::from(sqlx::Error::PoolTimedOut));
            let _ = ApiError::from(AppError::Internal("a broken invariant".into()));
            log_failure(
                ServerErrorsFailureClass::StatusCode(StatusCode::INTERNAL_SERVER_ERROR),
                std::time::Duration::ZERO,
                &span,
            );
        });
        assert_eq!(failed.matches("request failed").count(), 3, "{failed}");
        assert!(failed.contains("StoreUnavailable"), "{failed}");
        assert!(
            failed.contains("error=Busy"),
            "a pool timeout is logged: {failed}"
        );
        assert_eq!(failed.matches("response failed").count(), 1, "{failed}");
    }
}
