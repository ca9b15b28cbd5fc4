//! Sessions: the ticket becomes a cookie; who is logged in; logging out.

use leptos::prelude::*;

use super::ApiError;
use crate::protocol::{BrowserKey, Me, SceneId, Ticket};

/// `POST /api/session {"scene","ticket","key"}` → `{"user":{...}}` and the session cookie.
#[server(prefix = "/api", endpoint = "session", input = server_fn::codec::Json)]
pub async fn create_session(
    scene: SceneId,
    ticket: Ticket,
    key: BrowserKey,
) -> Result<Me, ApiError> {
    super::run(|state| async move {
        let (headers, client) = crate::server::context::request(&state).await?;
        state
            .limits
            .check(crate::server::limits::Bucket::Sessions, client.key)
            .await?;
        let origin = crate::server::audit::Origin::of(&headers, client);
        let (me, cookie) = crate::server::session::exchange_ticket(
            &state, &headers, &origin, &scene, &ticket, &key,
        )
        .await?;
        set_cookie(cookie);
        Ok(me)
    })
    .await
}

/// Adds a `Set-Cookie` header to the server function's response.
#[cfg(feature = "ssr")]
fn set_cookie(cookie: axum::http::HeaderValue) {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.append_header(axum::http::header::SET_COOKIE, cookie);
    }
}

/// `GET /api/me` → `{"user":{"id","nickname","avatar_url"}}`, or 401.
#[server(prefix = "/api", endpoint = "me", input = server_fn::codec::GetUrl)]
pub async fn get_me() -> Result<Me, ApiError> {
    super::run(|state| async move {
        let (headers, _) = crate::server::context::request(&state).await?;
        match crate::server::session::current_user(&state, &headers).await? {
            Some(user) => Ok(Me { user }),
            None => Err(crate::server::error::AppError::NotLoggedIn),
        }
    })
    .await
}

/// `POST /api/logout`: ends the session on the server and clears the cookie.
#[server(prefix = "/api", endpoint = "logout")]
pub async fn logout() -> Result<(), ApiError> {
    super::run(|state| async move {
        let (headers, client) = crate::server::context::request(&state).await?;
        let origin = crate::server::audit::Origin::of(&headers, client);
        let cookie = crate::server::session::logout(&state, &headers, &origin).await?;
        set_cookie(cookie);
        Ok(())
    })
    .await
}
