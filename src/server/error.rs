//! The server's errors, and the one place they become what a client sees: an HTTP status
//! and the JSON envelope `{"code","msg","data":null}`.
//!
//! [`AppError::treatment`] is the error table: each failure's status, `Retry-After`,
//! metric label and log level. A failure becomes an [`ApiError`] (the envelope) in one
//! conversion here, its status set through Leptos's `ResponseOptions`; the errors axum
//! answers as text on the API's paths (an unknown path, a wrong method, a body too large)
//! get the same envelope from [`envelopes`]. The one exception to "the envelope's status
//! is the HTTP status": the QR image endpoint answers `"code":400` for every failure
//! ([`envelope_code`]), the original design's contract. The OpenID provider answers
//! OAuth's own error format (`oidc/`), counted and logged by the same table
//! ([`AppError::record`]).

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
    protocol::{ErrorDetail, Refusal, SceneOutcome},
};

/// A refusal in English words, for the envelope's `msg` (the phone and the browser word
/// it from `data.refusal` in the person's language).
fn refusal_sentence(refusal: Refusal) -> &'static str {
    match refusal {
        Refusal::NotInvited => {
            "this site admits invited people only: ask its administrator for an invitation"
        }
        Refusal::Closed => "this site admits its existing users only",
        Refusal::Disabled => "this account is disabled: contact the site's administrator",
        Refusal::NotAllowed => "you are not allowed to use this application",
        Refusal::InvitationInvalid => "this invitation is used up, revoked or expired",
    }
}

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
    #[error("an avatar was already uploaded with this scan")]
    AvatarAlreadyUploaded,
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
    #[error("this site has made all its links to the mini program for today: scan the code")]
    LinkBudgetSpent { retry_after_secs: u64 },
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
    /// The access rules refuse the person who scanned (`data.refusal` says why).
    #[error("{}", refusal_sentence(*.0))]
    Refused(Refusal),
    /// Not an administrator (or not logged in) on an admin route.
    #[error("administrators only")]
    NotAdmin,
    /// A sensitive action by a login older than the step-up window: scan again.
    #[error("this action needs a fresh login: scan the code again")]
    StepUpNeeded,
    #[error("not found")]
    NotFound,
    #[error("no WeChat simulator here: the phone page is for demo mode")]
    NoSimulator,
    /// The database pool gave no connection within its timeout, or Redis kept losing a
    /// race: overloaded or failing, logged.
    #[error("the server is busy: try again shortly")]
    Busy,
    /// A new login refused at its QR image while the database is behind (load shedding):
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

/// How a failure is logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Log {
    /// The client's doing (a bad request, a refusal it can act on): not logged.
    No,
    /// Expected under load and counted in `scanlogin_rejections_total`: a line for each
    /// would be work for a server that has none to spare.
    Debug,
    /// Ours, WeChat's or a service's failure: logged with its details, which the client
    /// never sees.
    Error,
}

/// What the client gets for a failure, and what the operator sees of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Treatment {
    pub status: StatusCode,
    /// Seconds a client should wait before asking again (`Retry-After`), when known.
    pub retry_after_secs: Option<u64>,
    /// The `reason` label of `scanlogin_rejections_total`, for the refusals it counts.
    pub rejection: Option<&'static str>,
    pub log: Log,
}

impl AppError {
    /// The error table: every variant's status, retry-after, metric label and log level,
    /// in one place.
    pub fn treatment(&self) -> Treatment {
        use Log::{Debug, Error, No};
        let (status, retry_after_secs, rejection, log) = match self {
            AppError::Malformed(_) => (StatusCode::BAD_REQUEST, None, None, No),
            AppError::SceneTaken => (StatusCode::BAD_REQUEST, None, None, No),
            AppError::SceneNotFound => (StatusCode::NOT_FOUND, None, None, No),
            AppError::NoSimulator => (StatusCode::NOT_FOUND, None, None, No),
            AppError::Forbidden(_) => (StatusCode::FORBIDDEN, None, None, No),
            AppError::Refused(_) => (StatusCode::FORBIDDEN, None, None, No),
            AppError::NotAdmin => (StatusCode::FORBIDDEN, None, None, No),
            AppError::StepUpNeeded => (StatusCode::FORBIDDEN, None, None, No),
            AppError::NotFound => (StatusCode::NOT_FOUND, None, None, No),
            AppError::BadLoginCode => (StatusCode::UNAUTHORIZED, None, None, No),
            AppError::BadScanToken => (StatusCode::UNAUTHORIZED, None, None, No),
            AppError::BadTicket => (StatusCode::UNAUTHORIZED, None, None, No),
            AppError::NotLoggedIn => (StatusCode::UNAUTHORIZED, None, None, No),
            AppError::Conflict(_) => (StatusCode::CONFLICT, None, None, No),
            AppError::AlreadyConfirmed => (StatusCode::CONFLICT, None, None, No),
            AppError::AlreadyCancelled => (StatusCode::CONFLICT, None, None, No),
            AppError::AvatarAlreadyUploaded => (StatusCode::CONFLICT, None, None, No),
            AppError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, None, None, No),
            AppError::RateLimited { retry_after_secs } => (
                StatusCode::TOO_MANY_REQUESTS,
                Some(*retry_after_secs),
                Some("rate_limited"),
                No,
            ),
            AppError::CodeBudgetSpent { retry_after_secs } => (
                StatusCode::TOO_MANY_REQUESTS,
                Some(*retry_after_secs),
                Some("code_budget"),
                No,
            ),
            AppError::LinkBudgetSpent { retry_after_secs } => (
                StatusCode::TOO_MANY_REQUESTS,
                Some(*retry_after_secs),
                Some("link_budget"),
                No,
            ),
            AppError::TooManyScenes => (
                StatusCode::TOO_MANY_REQUESTS,
                Some(5),
                Some("scene_cap"),
                No,
            ),
            AppError::TooManyPendingSockets => (
                StatusCode::TOO_MANY_REQUESTS,
                Some(5),
                Some("pending_sockets"),
                No,
            ),
            AppError::TooManySockets => (
                StatusCode::TOO_MANY_REQUESTS,
                Some(5),
                Some("sockets_per_scene"),
                No,
            ),
            AppError::Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                Some(5),
                Some("busy"),
                Error,
            ),
            AppError::Shed => (
                StatusCode::SERVICE_UNAVAILABLE,
                Some(5),
                Some("busy"),
                Debug,
            ),
            AppError::StoreUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                Some(2),
                Some("store_unavailable"),
                Error,
            ),
            AppError::WeChat(_) => (StatusCode::BAD_GATEWAY, None, None, Error),
            AppError::LinksRefused => (StatusCode::BAD_GATEWAY, None, None, Error),
            AppError::Database(_) => (StatusCode::INTERNAL_SERVER_ERROR, None, None, Error),
            AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, None, None, Error),
        };
        Treatment {
            status,
            retry_after_secs,
            rejection,
            log,
        }
    }

    pub fn status(&self) -> StatusCode {
        self.treatment().status
    }

    /// A failed `jscode2session`: a bad login code is the client's fault, anything else
    /// WeChat's.
    pub fn from_login(err: WeChatError) -> Self {
        match err.errcode() {
            Some(errcode::INVALID_CODE | errcode::CODE_BEEN_USED) => AppError::BadLoginCode,
            _ => AppError::WeChat(err),
        }
    }
}

impl AppError {
    /// Counts and logs the failure as its row says; its treatment, for the answer.
    pub fn record(&self) -> Treatment {
        let treatment = self.treatment();
        if let Some(reason) = treatment.rejection {
            super::metrics::rejected(reason);
        }
        match treatment.log {
            Log::No => {}
            Log::Debug => tracing::debug!(error = ?self, "request refused"),
            Log::Error => tracing::error!(error = ?self, "request failed"),
        }
        treatment
    }
}

/// The one conversion of a failure into what the client sees: it is counted, logged as
/// its row says, and becomes the envelope (`Retry-After` and the status set through
/// Leptos's `ResponseOptions` inside a server function).
impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        let treatment = err.record();
        if let (Some(secs), Some(response)) = (
            treatment.retry_after_secs,
            leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
        ) {
            response.insert_header(axum::http::header::RETRY_AFTER, secs.into());
        }
        let detail = |scene_status, refusal| {
            Some(ErrorDetail {
                scene_status,
                refusal,
                step_up: false,
            })
        };
        let data = match err {
            AppError::AlreadyConfirmed => detail(Some(SceneOutcome::Confirmed), None),
            AppError::AlreadyCancelled => detail(Some(SceneOutcome::Cancelled), None),
            AppError::Refused(refusal) => detail(None, Some(refusal)),
            AppError::StepUpNeeded => Some(ErrorDetail {
                scene_status: None,
                refusal: None,
                step_up: true,
            }),
            _ => None,
        };
        ApiError {
            data,
            ..ApiError::with_status(treatment.status, err.to_string())
        }
    }
}

/// The same envelope from a plain axum handler (one that cannot be a server function).
impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let Treatment {
            status,
            retry_after_secs: retry_after,
            ..
        } = self.treatment();
        let mut response = (status, Json(ApiError::from(self))).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, secs.into());
        }
        response
    }
}

/// The QR image endpoint, whose envelope's `code` is 400 for every failure: the
/// original design's contract, whatever the HTTP status says.
pub const QR_IMAGE_ENDPOINT: &str = "/miniapp/getwxacodeunlimit";

/// Paths whose answers are JSON, errors included.
pub fn is_api_path(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/miniapp/") || path == super::socket::PATH
}

/// The envelope's `code` for a failure with `status` at `path`.
pub fn envelope_code(path: &str, status: StatusCode) -> u16 {
    if path == QR_IMAGE_ENDPOINT {
        400
    } else {
        status.as_u16()
    }
}

/// An error answer outside a server function, to a request for `path`: the envelope,
/// with `status`.
pub fn error_response(path: &str, status: StatusCode, msg: &str) -> Response {
    let envelope = ApiError::new(envelope_code(path, status), msg);
    (status, Json(envelope)).into_response()
}

/// On the API's paths, every error answer is the envelope. Server functions and our
/// handlers answer it already (JSON, passed through untouched); the errors axum and
/// tower-http answer as text (unknown path, wrong method, body too large, ...) become
/// one here, with their status.
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
    if is_json {
        return response;
    }
    let msg = match status {
        StatusCode::NOT_FOUND => "no such endpoint",
        StatusCode::METHOD_NOT_ALLOWED => "method not allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "request body too large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported content type",
        _ => status.canonical_reason().unwrap_or("error"),
    };
    let envelope = ApiError::new(envelope_code(&path, status), msg);
    let (mut parts, _) = response.into_parts();
    // Keep headers such as Allow and Retry-After.
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    let body = serde_json::to_vec(&envelope).unwrap_or_default();
    Response::from_parts(parts, Body::from(body))
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
    use tower_http::classify::ServerErrorsFailureClass;

    use super::*;

    /// The lines logged at ERROR while `f` runs on this thread.
    fn errors_logged(f: impl FnOnce()) -> String {
        crate::server::telemetry::logged_while(tracing::Level::ERROR, false, f)
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
