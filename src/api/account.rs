//! The account page's server function: always the request's own person's account, never
//! one named in the request.

use leptos::prelude::*;

use super::ApiError;
use crate::protocol::Account;

/// `GET /api/account` → the person's sessions, applications and recent entries, or 401.
#[server(prefix = "/api", endpoint = "account", input = server_fn::codec::GetUrl)]
pub async fn get_account() -> Result<Account, ApiError> {
    super::run(|state| async move {
        let (headers, _) = crate::server::context::request(&state).await?;
        let me = crate::server::session::require(&state, &headers).await?;
        crate::server::account::account(&state, &me).await
    })
    .await
}
