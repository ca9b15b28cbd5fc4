//! Authorization codes and access tokens, in the database (so any instance can redeem
//! what another issued), each kept only as the SHA-256 of its value.
//!
//! A code is single-use, lives 60 s (`SCANLOGIN_OIDC_CODE_TTL_SECS`), and is bound to its client, its redirect URI and
//! its PKCE challenge; a second use of a code revokes the access tokens the first use
//! issued (RFC 6749 §4.1.2: the authorization code may have been stolen). Access tokens are opaque
//! random strings rather than JWTs: the only API they open is `/oauth/userinfo`, on
//! this same server, and an opaque token is revoked by deleting its row, which a JWT
//! can't be until it expires.

use std::time::Duration;

pub use crate::server::store::oidc::{Grant, TokenDetails};
use crate::server::{
    error::AppError,
    secret,
    store::{unix_now, Store},
};

/// An access token's life.
pub const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(3600);

/// Why a code was refused (`invalid_grant` either way, but a reuse also revokes).
#[derive(Debug, PartialEq, Eq)]
pub enum CodeRefused {
    /// Unknown, or expired.
    Invalid,
    /// Redeemed before: what that redemption issued is now revoked.
    Reused,
}

pub async fn issue_authorization_code(
    store: &Store,
    grant: &Grant,
    ttl: Duration,
) -> Result<String, AppError> {
    let code = secret::token();
    let expires_at = unix_now() + ttl.as_secs() as i64;
    store
        .insert_authorization_code(&secret::hash(&code), grant, expires_at)
        .await?;
    Ok(code)
}

/// The grant of a code `client_id` may still redeem (unused, unexpired, its own), read
/// without using it up: a redemption that then fails (a wrong PKCE verifier) leaves it.
pub async fn pending_authorization_code(
    store: &Store,
    code: &str,
    client_id: &str,
) -> Result<Option<Grant>, AppError> {
    store
        .pending_authorization_code(&secret::hash(code), client_id, unix_now())
        .await
}

/// Takes a code for `client_id`: its grant the first time, within its life; never again.
/// Another client's attempt leaves the authorization code as it was.
pub async fn redeem_authorization_code(
    store: &Store,
    code: &str,
    client_id: &str,
) -> Result<Result<Grant, CodeRefused>, AppError> {
    let hash = secret::hash(code);
    let Some(found) = store
        .take_authorization_code(&hash, client_id, unix_now())
        .await?
    else {
        return Ok(Err(CodeRefused::Invalid));
    };
    if found.grant.client_id != client_id {
        // Another client's code: refused, and left as it was for its own client.
        return Ok(Err(CodeRefused::Invalid));
    }
    if !found.taken {
        if found.used_at.is_some() {
            store.revoke_access_tokens_of(&hash).await?;
            tracing::warn!(
                client_id,
                "an authorization code was used twice; its tokens are revoked"
            );
            return Ok(Err(CodeRefused::Reused));
        }
        return Ok(Err(CodeRefused::Invalid));
    }
    Ok(Ok(found.grant))
}

/// An access token for what `code` granted.
pub async fn issue_access_token(
    store: &Store,
    code: &str,
    grant: &Grant,
) -> Result<String, AppError> {
    let token = secret::token();
    let expires_at = unix_now() + ACCESS_TOKEN_TTL.as_secs() as i64;
    store
        .insert_access_token(
            &secret::hash(&token),
            &secret::hash(code),
            grant,
            expires_at,
        )
        .await?;
    Ok(token)
}

/// What revoking an access token did.
#[derive(Debug, PartialEq, Eq)]
pub enum Revoked {
    Yes,
    /// No such live token (unknown, expired, revoked before).
    Unknown,
    /// The token is another client's: left alone.
    AnotherClients,
}

/// Revokes `token` if it is `client_id`'s.
pub async fn revoke_access_token(
    store: &Store,
    token: &str,
    client_id: &str,
) -> Result<Revoked, AppError> {
    let hash = secret::hash(token);
    if store.delete_access_token(&hash, client_id).await? {
        return Ok(Revoked::Yes);
    }
    Ok(match store.access_token_details(&hash, unix_now()).await? {
        Some(_) => Revoked::AnotherClients,
        None => Revoked::Unknown,
    })
}

/// Everything about a live access token.
pub async fn access_token_details(
    store: &Store,
    token: &str,
) -> Result<Option<TokenDetails>, AppError> {
    store
        .access_token_details(&secret::hash(token), unix_now())
        .await
}

/// The user and scope of a live access token.
pub async fn access_token(store: &Store, token: &str) -> Result<Option<(i64, String)>, AppError> {
    store.access_token(&secret::hash(token), unix_now()).await
}

/// Drops expired codes and tokens (the housekeeping, with sessions). A code is kept a
/// while after it expires, so that a late reuse is still recognised and revokes.
pub async fn purge_expired(store: &Store) -> Result<(), AppError> {
    let now = unix_now();
    store
        .purge_expired_grants(now - ACCESS_TOKEN_TTL.as_secs() as i64, now)
        .await
}
