//! The `/phone` demo page's only server call beyond the mini-program API.

use leptos::prelude::*;

use super::ApiError;
use crate::protocol::LoginCode;

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
