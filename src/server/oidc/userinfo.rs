//! `GET|POST /oauth/userinfo`: the user, for an access token sent as `Authorization:
//! Bearer`, or as `access_token` in a form body (RFC 6750 §2.1 and §2.2).

use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderMap},
    response::{IntoResponse, Response},
    Json,
};

use super::{error::OAuthError, grants, picture, ProviderOf};
use crate::server::context::AppState;

/// The access token of a request: in the header, or in a form body, never both.
fn access_token(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let in_body = form
        .then(|| {
            url::form_urlencoded::parse(body)
                .find(|(name, _)| name == "access_token")
                .map(|(_, token)| token.into_owned())
        })
        .flatten();
    match (bearer, in_body) {
        (Some(token), None) | (None, Some(token)) => Some(token),
        _ => None,
    }
}

pub(super) async fn userinfo(
    State(state): State<AppState>,
    ProviderOf(p): ProviderOf,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match answer(&state, &p.issuer, &headers, &body).await {
        Ok(answer) => Json(answer).into_response(),
        Err(err) => err.into_response(),
    }
}

async fn answer(
    state: &AppState,
    issuer: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<serde_json::Value, OAuthError> {
    let Some(token) = access_token(headers, body).filter(|t| t.len() <= 128) else {
        return Err(OAuthError::invalid_token());
    };
    let Some((user_id, scope)) = grants::access_token(&state.store, &token).await? else {
        return Err(OAuthError::invalid_token());
    };
    let Some(user) = state.store.user(user_id).await? else {
        return Err(OAuthError::invalid_token());
    };
    let mut answer = serde_json::json!({"sub": user.id.to_string()});
    if scope.split(' ').any(|s| s == "profile") {
        answer["name"] = user.nickname.into();
        if let Some(picture) = picture(issuer, &user.avatar_url) {
            answer["picture"] = picture.into();
        }
    }
    Ok(answer)
}
