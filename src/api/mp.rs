//! The mini-program API: what the phone calls.

use leptos::prelude::*;

use super::ApiError;
use crate::protocol::{Account, Ended, Envelope, LoginCode, Profile, ScanData, ScanToken, SceneId};

/// `POST /api/mp/scan {"scene","code"}`: `code` is from `wx.login`.
#[server(prefix = "/api/mp", endpoint = "scan", input = server_fn::codec::Json)]
pub async fn mp_scan(scene: SceneId, code: LoginCode) -> Result<Envelope<ScanData>, ApiError> {
    super::run(|state| async move {
        let (headers, client) = crate::server::context::request(&state).await?;
        let origin = crate::server::audit::Origin::of(&headers, client);
        crate::server::mp_api::scan(&state, client, &origin, &scene, &code).await
    })
    .await
}

/// `POST /api/mp/confirm {"scene","scan_token","profile"?,"notify"?}`: `notify` says the
/// phone asked the person for a message after the login (`wx.requestSubscribeMessage`),
/// whatever they answered.
#[server(prefix = "/api/mp", endpoint = "confirm", input = server_fn::codec::Json)]
pub async fn mp_confirm(
    scene: SceneId,
    scan_token: ScanToken,
    profile: Option<Profile>,
    notify: Option<bool>,
) -> Result<Envelope<()>, ApiError> {
    super::run(|state| async move {
        let origin = super::origin(&state).await?;
        let notify = notify.unwrap_or(false);
        crate::server::mp_api::confirm(&state, &origin, &scene, &scan_token, profile, notify).await
    })
    .await
}

/// `POST /api/mp/cancel {"scene","scan_token"}`.
#[server(prefix = "/api/mp", endpoint = "cancel", input = server_fn::codec::Json)]
pub async fn mp_cancel(scene: SceneId, scan_token: ScanToken) -> Result<Envelope<()>, ApiError> {
    super::run(|state| async move {
        let origin = super::origin(&state).await?;
        crate::server::mp_api::cancel(&state, &origin, &scene, &scan_token).await
    })
    .await
}

/// `POST /api/mp/account {"code"}`: the account of the person whose fresh `wx.login` code
/// this is (404: this WeChat identity has none).
#[server(prefix = "/api/mp", endpoint = "account", input = server_fn::codec::Json)]
pub async fn mp_account(code: LoginCode) -> Result<Envelope<Account>, ApiError> {
    super::run(|state| async move {
        let (_, client) = crate::server::context::request(&state).await?;
        crate::server::account::mp_account(&state, client, &code).await
    })
    .await
}

/// `POST /api/mp/logout_everywhere {"code"}`: ends every session of that person.
#[server(prefix = "/api/mp", endpoint = "logout_everywhere", input = server_fn::codec::Json)]
pub async fn mp_logout_everywhere(code: LoginCode) -> Result<Envelope<Ended>, ApiError> {
    super::run(|state| async move {
        let (headers, client) = crate::server::context::request(&state).await?;
        let origin = crate::server::audit::Origin::of(&headers, client);
        crate::server::account::mp_logout_everywhere(&state, client, &origin, &code).await
    })
    .await
}

/// `POST /api/mp/end_session {"code","session"}`: ends one of that person's sessions, by
/// its id (the page a login's message opens offers it; 404: not theirs, or ended).
#[server(prefix = "/api/mp", endpoint = "end_session", input = server_fn::codec::Json)]
pub async fn mp_end_session(code: LoginCode, session: String) -> Result<Envelope<Ended>, ApiError> {
    super::run(|state| async move {
        let (headers, client) = crate::server::context::request(&state).await?;
        let origin = crate::server::audit::Origin::of(&headers, client);
        crate::server::account::mp_end_session(&state, client, &origin, &code, &session).await
    })
    .await
}

/// `POST /api/mp/delete_account {"code"}`: deletes that person's account.
#[server(prefix = "/api/mp", endpoint = "delete_account", input = server_fn::codec::Json)]
pub async fn mp_delete_account(code: LoginCode) -> Result<Envelope<()>, ApiError> {
    super::run(|state| async move {
        let (headers, client) = crate::server::context::request(&state).await?;
        let origin = crate::server::audit::Origin::of(&headers, client);
        crate::server::account::mp_delete_account(&state, client, &origin, &code).await
    })
    .await
}
