//! `POST /oauth/introspect` (RFC 7662): a confidential client asks whether an access token
//! is active, and what it grants. The client authenticates as at the token endpoint (and
//! is limited the same way); it learns only of its own tokens: another client's, like an
//! unknown, expired or revoked one, is `{"active":false}`.

use axum::{
    extract::{ConnectInfo, State},
    http::HeaderMap,
    response::{IntoResponse, Response},
    Form, Json,
};
use serde::Deserialize;

use super::{error::OAuthError, grants, token, ProviderOf};
use crate::server::context::{AppState, Client as Caller};

#[derive(Deserialize)]
pub(super) struct IntrospectionRequest {
    token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

pub(super) async fn introspect(
    State(state): State<AppState>,
    ProviderOf(p): ProviderOf,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<IntrospectionRequest>, axum::extract::rejection::FormRejection>,
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
        let client = token::authenticate(&state, &p, &caller, claimed).await?;
        if client.is_public() {
            // Anyone can claim a public client's id: it may not introspect.
            return Err(OAuthError::invalid_client());
        }
        let inactive = serde_json::json!({"active": false});
        if value.len() > 128 {
            return Ok(inactive);
        }
        let Some(found) = grants::access_token_details(&state.store, &value).await? else {
            return Ok(inactive);
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
    };
    match answer.await {
        Ok(json) => token::no_store(Json(json).into_response()),
        Err(err) => err.into_response(),
    }
}
