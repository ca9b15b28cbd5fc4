//! OAuth's error answer, `{"error","error_description"}` (RFC 6749 §5.2, RFC 6750 §3): the
//! only way an OAuth error reaches the wire from the token, userinfo, revocation and
//! introspection endpoints. (The authorization endpoint answers in the browser instead:
//! an error page, or a redirect to the client; see `authorize.rs`.)

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};

use crate::server::error::AppError;

/// An OAuth error, never cached.
#[derive(Debug)]
pub struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
    /// `WWW-Authenticate`, for a 401.
    challenge: Option<&'static str>,
    retry_after_secs: Option<u64>,
}

impl OAuthError {
    /// A 400 with one of OAuth's error codes (`invalid_request`, `invalid_grant`, ...).
    pub fn bad_request(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.into(),
            challenge: None,
            retry_after_secs: None,
        }
    }

    /// The client did not authenticate (RFC 6749 §5.2: 401 with a `Basic` challenge).
    pub fn invalid_client() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            description: "client authentication failed".into(),
            challenge: Some("Basic realm=\"scanlogin\""),
            retry_after_secs: None,
        }
    }

    /// A bearer token that is unknown, expired or revoked (RFC 6750 §3.1).
    pub fn invalid_token() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_token",
            description: "the access token is unknown, expired or revoked".into(),
            challenge: Some("Bearer error=\"invalid_token\""),
            retry_after_secs: None,
        }
    }
}

/// A refusal or failure of ours (a limit, the database), counted and logged as the error
/// table says; a failure's details stay in the log.
impl From<AppError> for OAuthError {
    fn from(err: AppError) -> Self {
        let treatment = err.record();
        let (error, description) = if treatment.status.is_server_error() {
            (
                "server_error",
                "the server could not answer; try again".to_owned(),
            )
        } else {
            ("invalid_request", err.to_string())
        };
        Self {
            status: treatment.status,
            error,
            description,
            challenge: None,
            retry_after_secs: treatment.retry_after_secs,
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(serde_json::json!({"error": self.error, "error_description": self.description})),
        )
            .into_response();
        let headers = response.headers_mut();
        if let Some(challenge) = self.challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, secs.into());
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}
