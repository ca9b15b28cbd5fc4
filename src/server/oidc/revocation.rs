//! `POST /oauth/revoke` (RFC 7009): a client ends one of its access tokens, as when its
//! user logs out of it. The client authenticates as at the token endpoint (and is limited
//! the same way); an unknown, expired or already revoked token is answered 200 as well,
//! so that a client cannot learn which tokens exist, and a token of another client is
//! refused and left alone.

use axum::{
    extract::{ConnectInfo, State},
    http::HeaderMap,
    response::{IntoResponse, Response},
    Form,
};
use serde::Deserialize;

use super::{error::OAuthError, grants, token, ProviderOf};
use crate::server::context::{AppState, Client as Caller};

#[derive(Deserialize)]
pub(super) struct RevocationRequest {
    token: Option<String>,
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

pub(super) async fn revoke(
    State(state): State<AppState>,
    ProviderOf(p): ProviderOf,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<RevocationRequest>, axum::extract::rejection::FormRejection>,
) -> Response {
    let caller = Caller::resolve(&state, &headers, peer.ip());
    let answer = async {
        let Ok(Form(req)) = form else {
            return Err(token::not_a_form());
        };
        let claimed =
            token::claimed_client(&headers, req.client_id.as_ref(), req.client_secret.as_ref())?;
        let Some(value) = req.token.filter(|t| !t.is_empty()) else {
            return Err(OAuthError::bad_request(
                "invalid_request",
                "token is missing",
            ));
        };
        // Only access tokens exist here; the hint is a hint (RFC 7009 §2.1).
        if let Some(hint) = req.token_type_hint.as_deref() {
            if hint != "access_token" && hint != "refresh_token" {
                return Err(OAuthError::bad_request(
                    "unsupported_token_type",
                    "only access tokens are issued here",
                ));
            }
        }
        let client = token::authenticate(&state, &p, &caller, claimed).await?;
        if value.len() > 128 {
            return Ok(());
        }
        match grants::revoke_access_token(&state.store, &value, &client.id).await? {
            grants::Revoked::Yes | grants::Revoked::Unknown => Ok(()),
            grants::Revoked::AnotherClients => Err(OAuthError::bad_request(
                "unauthorized_client",
                "the token was issued to another client",
            )),
        }
    };
    match answer.await {
        Ok(()) => token::no_store(axum::http::StatusCode::OK.into_response()),
        Err(err) => err.into_response(),
    }
}
