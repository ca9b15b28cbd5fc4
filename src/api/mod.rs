//! Server functions: declared once, called from the browser (and the demo phone page)
//! as HTTP requests, run on the server. Their bodies delegate to `crate::server`.
//!
//! All of them encode JSON both ways and fail with [`ApiError`], whose JSON is the
//! envelope `{"code","msg","data":null}` and whose HTTP status the server sets through
//! Leptos's `ResponseOptions`, malformed input (400) included.

pub mod account;
pub mod admin;
pub mod demo;
pub mod mp;
pub mod qr_image;
pub mod scene;
pub mod session;

use leptos::server_fn::{codec::JsonEncoding, error::FromServerFnError};
use serde::{Deserialize, Serialize};

pub use account::get_account;
pub use admin::{
    admin_act, admin_audit, admin_groups, admin_invitations, admin_invite, admin_new_invitation,
    admin_user, admin_users,
};
pub use demo::{demo_accept_message, demo_login_code, demo_messages};
pub use mp::{
    mp_account, mp_cancel, mp_confirm, mp_delete_account, mp_end_session, mp_logout_everywhere,
    mp_scan,
};
pub use qr_image::get_wxacode;
pub use scene::{open_link, scene_status};
pub use session::{create_session, get_me, logout};

/// A failed call, as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{msg}")]
pub struct ApiError {
    /// The HTTP status (the QR image endpoint says 400 for every failure: see
    /// `server::error::envelope_code`); `code` on the wire. 0: no answer came.
    #[serde(rename = "code")]
    pub status: u16,
    pub msg: String,
    /// `null`, or for a 409 on a finished login how it ended.
    #[serde(default)]
    pub data: Option<crate::protocol::ErrorDetail>,
}

impl ApiError {
    pub fn new(status: u16, msg: impl Into<String>) -> Self {
        Self {
            status,
            msg: msg.into(),
            data: None,
        }
    }

    /// Sets the response's HTTP status and makes the error, with the envelope's `code`
    /// for the request's path.
    #[cfg(feature = "ssr")]
    pub fn with_status(status: axum::http::StatusCode, msg: impl Into<String>) -> Self {
        use leptos::prelude::use_context;
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(status);
        }
        let envelope_status = match use_context::<axum::http::request::Parts>() {
            Some(request) => crate::server::error::envelope_code(request.uri.path(), status),
            None => status.as_u16(),
        };
        Self::new(envelope_status, msg)
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr as E;
        let (status, msg) = match value {
            E::Args(m) | E::Deserialization(m) | E::MissingArg(m) => {
                // serde_json's words for a UTF-16 surrogate without its pair, which is what
                // text cut by UTF-16 units (inside an emoji) becomes.
                let surrogate = m.contains("surrogate") || m.contains("hex escape");
                let what = if surrogate {
                    "a string holds half of a UTF-16 surrogate pair (text cut inside an emoji?)"
                } else {
                    m.as_str()
                };
                (400, format!("malformed request: {what}"))
            }
            E::UnsupportedRequestMethod(m) => (405, m),
            E::Request(m) => (0, format!("network error: {m}")),
            E::Response(m) => (0, format!("unexpected answer: {m}")),
            E::Registration(_)
            | E::ServerError(_)
            | E::MiddlewareError(_)
            | E::Serialization(_) => (500, "internal error".to_owned()),
        };
        #[cfg(feature = "ssr")]
        if let Ok(status) = axum::http::StatusCode::from_u16(status) {
            return Self::with_status(status, msg);
        }
        Self::new(status, msg)
    }
}

/// Where the request of the server function running now comes from, for the audit trail.
#[cfg(feature = "ssr")]
async fn origin(
    state: &crate::server::AppState,
) -> Result<crate::server::audit::Origin, crate::server::error::AppError> {
    let (headers, client) = crate::server::context::request(state).await?;
    Ok(crate::server::audit::Origin::of(&headers, client))
}

/// Runs a server function's body with the request's state and maps its error once.
#[cfg(feature = "ssr")]
async fn run<T, F, Fut>(body: F) -> Result<T, ApiError>
where
    F: FnOnce(crate::server::AppState) -> Fut,
    Fut: std::future::Future<Output = Result<T, crate::server::error::AppError>>,
{
    let state = crate::server::context::state()?;
    body(state).await.map_err(ApiError::from)
}
