//! `POST /oauth/revoke` (RFC 7009): a client ends one of its tokens, as when its user logs
//! out of it: an access token alone, a refresh token with every token of its family. The client authenticates as at the token endpoint (and is limited
//! the same way); an unknown, expired or already revoked token is answered 200 as well,
//! so that a client cannot learn which tokens exist, and a token of another client is
//! refused and left alone.

use axum::{
    extract::{ConnectInfo, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Form,
};

use super::{
    error::OAuthError,
    grants::{self, Revoked},
    token::{self, AboutToken},
    Provider, ProviderOf,
};
use crate::server::{
    audit::{self, Entry, Event, Origin},
    context::AppState,
};

pub(super) async fn revoke(
    State(state): State<AppState>,
    ProviderOf(p): ProviderOf,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<AboutToken>, axum::extract::rejection::FormRejection>,
) -> Response {
    match answer(&state, &p, peer, &headers, form).await {
        Ok(()) => token::no_store(StatusCode::OK.into_response()),
        Err(err) => err.into_response(),
    }
}

async fn answer(
    state: &AppState,
    p: &Provider,
    peer: std::net::SocketAddr,
    headers: &HeaderMap,
    form: Result<Form<AboutToken>, axum::extract::rejection::FormRejection>,
) -> Result<(), OAuthError> {
    let (client, value, hint) = token::client_asking_about(state, p, peer, headers, form).await?;
    // The hint is a hint (RFC 7009 §2.1): both kinds are looked for whatever it says.
    if hint.is_some_and(|hint| hint != "access_token" && hint != "refresh_token") {
        return Err(OAuthError::bad_request(
            "unsupported_token_type",
            "only access and refresh tokens are issued here",
        ));
    }
    if value.len() > 128 {
        return Ok(());
    }
    match grants::revoke_token(&state.store, &value, &client.id).await? {
        Revoked::Yes => {
            let caller = crate::server::context::Client::resolve(state, headers, peer.ip());
            let entry =
                Entry::new(Event::TokenRevoked, &Origin::of(headers, caller)).client(&client.id);
            audit::record(state, entry).await;
            Ok(())
        }
        Revoked::Unknown => Ok(()),
        Revoked::AnotherClients => Err(OAuthError::bad_request(
            "unauthorized_client",
            "the token was issued to another client",
        )),
    }
}
