//! The server's errors, and the one place they become what a client sees: an HTTP
//! status (set through Leptos's `ResponseOptions`) and a JSON `{"code","msg","data"}`.

use axum::http::StatusCode;

use super::wechat::{errcode, WeChatError};
use crate::api::ApiError;

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
    #[error("the server is busy: try again shortly")]
    Busy,
    #[error("WeChat is not answering as it should; try again")]
    WeChat(#[source] WeChatError),
    #[error("internal error")]
    Database(#[from] sqlx::Error),
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Malformed(_) | AppError::SceneTaken => StatusCode::BAD_REQUEST,
            AppError::SceneNotFound => StatusCode::NOT_FOUND,
            AppError::BadLoginCode
            | AppError::BadScanToken
            | AppError::BadTicket
            | AppError::NotLoggedIn => StatusCode::UNAUTHORIZED,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::RateLimited { .. }
            | AppError::CodeBudgetSpent { .. }
            | AppError::TooManyScenes
            | AppError::TooManyPendingSockets => StatusCode::TOO_MANY_REQUESTS,
            AppError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            AppError::WeChat(_) => StatusCode::BAD_GATEWAY,
            AppError::Database(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A failed `jscode2session`: a bad code is the client's fault, anything else WeChat's.
    /// Seconds a client should wait before asking again, when that is known.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            AppError::RateLimited { retry_after_secs }
            | AppError::CodeBudgetSpent { retry_after_secs } => Some(*retry_after_secs),
            AppError::TooManyScenes | AppError::TooManyPendingSockets | AppError::Busy => Some(5),
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
        let retry_after = err.retry_after_secs();
        if let (Some(secs), Some(response)) = (
            retry_after,
            leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
        ) {
            response.insert_header(axum::http::header::RETRY_AFTER, secs.into());
        }
        if status.is_server_error() {
            // The details stay in the log; the client gets the generic message.
            tracing::error!(error = ?err, "request failed");
        }
        ApiError::with_status(status, err.to_string())
    }
}
