//! Authorization codes and access tokens, in the database (so any instance can redeem
//! what another issued), each kept only as the SHA-256 of its value.
//!
//! A code is single-use, lives 60 s (`SCANLOGIN_OIDC_CODE_TTL_SECS`), and is bound to its client, its redirect URI and
//! its PKCE challenge; a second use of a code revokes the access tokens the first use
//! issued (RFC 6749 §4.1.2: the code may have been stolen). Access tokens are opaque
//! random strings rather than JWTs: the only API they open is `/oauth/userinfo`, on
//! this same server, and an opaque token is revoked by deleting its row, which a JWT
//! can't be until it expires.

use std::time::Duration;

use crate::server::{
    error::AppError,
    secret,
    store::{unix_now, Store},
};

/// An access token's life.
pub const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(3600);

/// What an authorization code grants, stored with it.
#[derive(Debug, Clone)]
pub struct Grant {
    pub client_id: String,
    pub redirect_uri: String,
    pub user_id: i64,
    pub scope: String,
    pub nonce: Option<String>,
    /// `BASE64URL(SHA256(code_verifier))`, when the client used PKCE.
    pub code_challenge: Option<String>,
    pub auth_time: i64,
}

/// Why a code was refused (`invalid_grant` either way, but a reuse also revokes).
#[derive(Debug, PartialEq, Eq)]
pub enum CodeRefused {
    /// Unknown, or expired.
    Invalid,
    /// Redeemed before: what that redemption issued is now revoked.
    Reused,
}

pub async fn issue_code(store: &Store, grant: &Grant, ttl: Duration) -> Result<String, AppError> {
    let code = secret::token();
    sqlx::query(
        "INSERT INTO oidc_codes (code_hash, client_id, redirect_uri, user_id, scope, nonce,
             code_challenge, auth_time, expires_at, used_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)",
    )
    .bind(secret::hash(&code).to_vec())
    .bind(&grant.client_id)
    .bind(&grant.redirect_uri)
    .bind(grant.user_id)
    .bind(&grant.scope)
    .bind(&grant.nonce)
    .bind(&grant.code_challenge)
    .bind(grant.auth_time)
    .bind(unix_now() + ttl.as_secs() as i64)
    .execute(&store.pool)
    .await?;
    Ok(code)
}

/// Takes a code for `client_id`: its grant the first time, within its life; never again.
/// Another client's attempt leaves the code as it was.
pub async fn redeem_code(
    store: &Store,
    code: &str,
    client_id: &str,
) -> Result<Result<Grant, CodeRefused>, AppError> {
    let hash = secret::hash(code).to_vec();
    let now = unix_now();
    // One statement marks it used, so two redemptions at once cannot both win.
    let taken = sqlx::query(
        "UPDATE oidc_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2 AND client_id = $3",
    )
    .bind(&hash)
    .bind(now)
    .bind(client_id)
    .execute(&store.pool)
    .await?
    .rows_affected();
    type Row = (
        String,
        String,
        i64,
        String,
        Option<String>,
        Option<String>,
        i64,
        Option<i64>,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT client_id, redirect_uri, user_id, scope, nonce, code_challenge, auth_time, used_at
         FROM oidc_codes WHERE code_hash = $1",
    )
    .bind(&hash)
    .fetch_optional(&store.pool)
    .await?;
    let Some((
        code_client,
        redirect_uri,
        user_id,
        scope,
        nonce,
        code_challenge,
        auth_time,
        used_at,
    )) = row
    else {
        return Ok(Err(CodeRefused::Invalid));
    };
    if code_client != client_id {
        // Another client's code: refused, and left as it was for its own client.
        return Ok(Err(CodeRefused::Invalid));
    }
    if taken == 0 {
        if used_at.is_some() {
            revoke_tokens_of(store, &hash).await?;
            tracing::warn!(
                client_id,
                "an authorization code was used twice; its tokens are revoked"
            );
            return Ok(Err(CodeRefused::Reused));
        }
        return Ok(Err(CodeRefused::Invalid));
    }
    Ok(Ok(Grant {
        client_id: code_client,
        redirect_uri,
        user_id,
        scope,
        nonce,
        code_challenge,
        auth_time,
    }))
}

async fn revoke_tokens_of(store: &Store, code_hash: &[u8]) -> Result<(), AppError> {
    sqlx::query("DELETE FROM oidc_tokens WHERE code_hash = $1")
        .bind(code_hash)
        .execute(&store.pool)
        .await?;
    Ok(())
}

/// An access token for what `code` granted.
pub async fn issue_access_token(
    store: &Store,
    code: &str,
    grant: &Grant,
) -> Result<String, AppError> {
    let token = secret::token();
    sqlx::query(
        "INSERT INTO oidc_tokens (token_hash, code_hash, client_id, user_id, scope, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(secret::hash(&token).to_vec())
    .bind(secret::hash(code).to_vec())
    .bind(&grant.client_id)
    .bind(grant.user_id)
    .bind(&grant.scope)
    .bind(unix_now() + ACCESS_TOKEN_TTL.as_secs() as i64)
    .execute(&store.pool)
    .await?;
    Ok(token)
}

/// The user and scope of a live access token.
pub async fn access_token(store: &Store, token: &str) -> Result<Option<(i64, String)>, AppError> {
    Ok(sqlx::query_as(
        "SELECT user_id, scope FROM oidc_tokens WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(secret::hash(token).to_vec())
    .bind(unix_now())
    .fetch_optional(&store.pool)
    .await?)
}

/// Drops expired codes and tokens (the sweeper, with sessions). A code is kept a while
/// after it expires, so that a late reuse is still recognised and revokes.
pub async fn purge_expired(store: &Store) -> Result<(), AppError> {
    let now = unix_now();
    sqlx::query("DELETE FROM oidc_codes WHERE expires_at < $1")
        .bind(now - ACCESS_TOKEN_TTL.as_secs() as i64)
        .execute(&store.pool)
        .await?;
    sqlx::query("DELETE FROM oidc_tokens WHERE expires_at < $1")
        .bind(now)
        .execute(&store.pool)
        .await?;
    Ok(())
}
