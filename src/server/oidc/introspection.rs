//! `POST /oauth/introspect` (RFC 7662): a confidential client asks whether an access or
//! refresh token is active, and what it grants. The client authenticates as at the token endpoint (and
//! is limited the same way); it learns only of its own tokens: another client's, like an
//! unknown, expired or revoked one, is `{"active":false}`.

use axum::{
    extract::{ConnectInfo, State},
    http::HeaderMap,
    response::{IntoResponse, Response},
    Form, Json,
};

use super::{
    error::OAuthError,
    grants,
    token::{self, AboutToken},
    Provider, ProviderOf,
};
use crate::server::context::AppState;

pub(super) async fn introspect(
    State(state): State<AppState>,
    ProviderOf(p): ProviderOf,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<AboutToken>, axum::extract::rejection::FormRejection>,
) -> Response {
    match answer(&state, &p, peer, &headers, form).await {
        Ok(json) => token::no_store(Json(json).into_response()),
        Err(err) => err.into_response(),
    }
}

async fn answer(
    state: &AppState,
    p: &Provider,
    peer: std::net::SocketAddr,
    headers: &HeaderMap,
    form: Result<Form<AboutToken>, axum::extract::rejection::FormRejection>,
) -> Result<serde_json::Value, OAuthError> {
    let (client, value, _) = token::client_asking_about(state, p, peer, headers, form).await?;
    if client.is_public() {
        // Anyone can claim a public client's id: it may not introspect.
        return Err(OAuthError::invalid_client());
    }
    let inactive = serde_json::json!({"active": false});
    if value.len() > 128 {
        return Ok(inactive);
    }
    let Some(found) = grants::access_token_details(&state.store, &value).await? else {
        return Ok(
            match grants::refresh_token_details(&state.store, &value).await? {
                Some((refresh, expires_at)) if refresh.client_id == client.id => {
                    serde_json::json!({
                        "active": true,
                        "scope": refresh.scope,
                        "client_id": refresh.client_id,
                        "sub": refresh.user_id.to_string(),
                        "token_type": "refresh_token",
                        "exp": expires_at,
                        "iss": p.issuer,
                        "aud": refresh.client_id,
                    })
                }
                _ => inactive,
            },
        );
    };
    if found.client_id != client.id {
        return Ok(inactive);
    }
    Ok(serde_json::json!({
        "active": true,
        "scope": found.scope,
        "client_id": found.client_id,
        "sub": found.user_id.to_string(),
        "token_type": "Bearer",
        "exp": found.expires_at,
        "iat": found.expires_at - grants::ACCESS_TOKEN_TTL.as_secs() as i64,
        "iss": p.issuer,
        "aud": found.client_id,
    }))
}
