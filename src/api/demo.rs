//! The `/phone` demo page's server calls beyond the mini-program API: what the simulated
//! WeChat on the phone does.

use leptos::prelude::*;

use super::ApiError;
use crate::protocol::{LoginCode, PhoneMessage};

/// `POST /api/demo/login_code {"openid"}` → the `wx.login` code that person's phone would
/// get, from the instance's WeChat simulator (404 without one).
#[server(prefix = "/api/demo", endpoint = "login_code", input = server_fn::codec::Json)]
pub async fn demo_login_code(openid: String) -> Result<LoginCode, ApiError> {
    super::run(|state| async move {
        let (_, client) = crate::server::context::request(&state).await?;
        crate::server::demo::mint_login_code(&state, client, &openid).await
    })
    .await
}

/// `POST /api/demo/accept_message {"openid"}`: that person taps "allow" in
/// `wx.requestSubscribeMessage`'s dialog, for the login notice's template.
#[server(prefix = "/api/demo", endpoint = "accept_message", input = server_fn::codec::Json)]
pub async fn demo_accept_message(openid: String) -> Result<(), ApiError> {
    super::run(|state| async move {
        let (_, client) = crate::server::context::request(&state).await?;
        crate::server::demo::accept_message(&state, client, &openid)
    })
    .await
}

/// `POST /api/demo/messages {"openid"}`: the WeChat messages that reached that person,
/// newest first.
#[server(prefix = "/api/demo", endpoint = "messages", input = server_fn::codec::Json)]
pub async fn demo_messages(openid: String) -> Result<Vec<PhoneMessage>, ApiError> {
    super::run(|state| async move {
        let (_, client) = crate::server::context::request(&state).await?;
        crate::server::demo::arrived_messages(&state, client, &openid)
    })
    .await
}
