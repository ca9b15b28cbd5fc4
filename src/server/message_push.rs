//! `/wechat/push`: WeChat's message push (消息推送), set up in the mini program's admin
//! console with this URL, the token `SCANLOGIN_WECHAT_PUSH_TOKEN`, plain-text mode and
//! JSON. What it says of a person is done by `account::on_wechat_event`.
//!
//! Plain axum handlers, not server functions: WeChat checks the URL with a GET that must
//! answer its `echostr` as text, and expects the text `success` to a push. WeChat sends
//! no browser origin; a push is authenticated by its signature alone (and its timestamp,
//! since the body is not signed: see `wechat::push`).

use axum::{
    body::Bytes,
    extract::{ConnectInfo, Query, State},
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use secrecy::ExposeSecret;

use super::{
    audit::Origin,
    context::AppState,
    error::AppError,
    store::unix_now,
    wechat::push::{PushEvent, Signed},
};

pub const PATH: &str = "/wechat/push";

/// The push token, if the query is signed with it; else why not.
fn check(state: &AppState, signed: &Signed) -> Result<(), AppError> {
    let token = state.push_token.as_ref().ok_or(AppError::NotFound)?;
    if !signed.is_valid(token.expose_secret(), unix_now()) {
        return Err(AppError::Forbidden("not signed by WeChat's message push"));
    }
    Ok(())
}

/// `GET /wechat/push`: WeChat checking the URL; its `echostr` back, if signed.
pub async fn verify_url(State(state): State<AppState>, Query(signed): Query<Signed>) -> Response {
    match check(&state, &signed) {
        Ok(()) => signed.echostr.unwrap_or_default().into_response(),
        Err(err) => err.into_response(),
    }
}

/// `POST /wechat/push`: an event; `success` once it is done.
pub async fn receive(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Query(signed): Query<Signed>,
    body: Bytes,
) -> Response {
    let done = async {
        check(&state, &signed)?;
        let event = PushEvent::parse(&body)
            .ok_or_else(|| AppError::Malformed("not a message push of WeChat's".into()))?;
        let client = super::context::Client::resolve(&state, &headers, peer.ip());
        let origin = Origin {
            user_agent: "WeChat message push".into(),
            ..Origin::of(&headers, client)
        };
        super::account::on_wechat_event(&state, &origin, event).await
    };
    match done.await {
        Ok(()) => "success".into_response(),
        Err(err) => err.into_response(),
    }
}
