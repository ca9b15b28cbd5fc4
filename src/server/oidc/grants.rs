//! Authorization codes, access tokens and refresh tokens, in the database (so any instance
//! can redeem what another issued), each kept only as the SHA-256 of its value.
//!
//! A code is single-use, lives 60 s (`SCANLOGIN_OIDC_CODE_TTL_SECS`), and is bound to its client, its redirect URI and
//! its PKCE challenge; a second use of a code revokes the access tokens the first use
//! issued (RFC 6749 §4.1.2: the authorization code may have been stolen). Access tokens are opaque
//! random strings rather than JWTs: the only API they open is `/oauth/userinfo`, on
//! this same server, and an opaque token is revoked by deleting its row, which a JWT
//! can't be until it expires.
//!
//! Refresh tokens go only to clients allowed `offline_access` that asked for it. Each is
//! single-use: a refresh gives a new one (rotation), and every refresh token and access
//! token descending from one authorization code is one family. A refresh token used a
//! second time means one of its two users stole it, and we cannot tell which: the whole
//! family ends (RFC 9700 §4.14.2), so the thief's tokens die with the victim's. A family
//! ends after `SCANLOGIN_OIDC_REFRESH_MAX_SECS` whatever its use, and a token unused for
//! `SCANLOGIN_OIDC_REFRESH_IDLE_SECS` expires.

use std::time::Duration;

pub use crate::server::store::oidc::{Grant, RefreshGrant, TokenDetails};
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
            store.revoke_refresh_family(&hash).await?;
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

/// An access token of the family `family` (the hash of the code it descends from).
pub async fn issue_access_token(
    store: &Store,
    family: &[u8],
    client_id: &str,
    user_id: i64,
    scope: &str,
) -> Result<String, AppError> {
    let token = secret::token();
    let expires_at = unix_now() + ACCESS_TOKEN_TTL.as_secs() as i64;
    store
        .insert_access_token(
            &secret::hash(&token),
            family,
            client_id,
            user_id,
            scope,
            expires_at,
        )
        .await?;
    Ok(token)
}

/// How long refresh tokens live.
#[derive(Debug, Clone, Copy)]
pub struct RefreshPolicy {
    /// A token unused this long expires (`SCANLOGIN_OIDC_REFRESH_IDLE_SECS`).
    pub idle: Duration,
    /// A family ends this long after its code was redeemed, whatever its use
    /// (`SCANLOGIN_OIDC_REFRESH_MAX_SECS`).
    pub max: Duration,
}

impl Default for RefreshPolicy {
    /// 14 days idle, 90 days in all.
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(14 * 86_400),
            max: Duration::from_secs(90 * 86_400),
        }
    }
}

/// The first refresh token of the family that begins with redeeming `code`.
pub async fn issue_first_refresh_token(
    store: &Store,
    code: &str,
    grant: &Grant,
    policy: RefreshPolicy,
) -> Result<String, AppError> {
    let family = RefreshGrant {
        family: secret::hash(code).to_vec(),
        client_id: grant.client_id.clone(),
        user_id: grant.user_id,
        scope: grant.scope.clone(),
        auth_time: grant.auth_time,
        sid: grant.sid.clone(),
        family_expires_at: unix_now() + policy.max.as_secs() as i64,
    };
    issue_refresh_token(store, &family, policy).await
}

/// A refresh token of `family`, its idle end never past the family's end.
async fn issue_refresh_token(
    store: &Store,
    family: &RefreshGrant,
    policy: RefreshPolicy,
) -> Result<String, AppError> {
    let token = secret::token();
    let expires_at = (unix_now() + policy.idle.as_secs() as i64).min(family.family_expires_at);
    store
        .insert_refresh_token(&secret::hash(&token), family, expires_at)
        .await?;
    Ok(token)
}

/// Why a refresh token was refused (`invalid_grant` either way, but a reuse also revokes).
#[derive(Debug, PartialEq, Eq)]
pub enum RefreshRefused {
    /// Unknown, expired, revoked, or another client's.
    Invalid,
    /// Used before: its whole family is now revoked.
    Reused,
}

/// Uses `token` for `client_id`: its family's grant and the family's next refresh token,
/// the first time within its life; a second use ends the family.
pub async fn rotate_refresh_token(
    store: &Store,
    token: &str,
    client_id: &str,
    policy: RefreshPolicy,
) -> Result<Result<(RefreshGrant, String), RefreshRefused>, AppError> {
    let hash = secret::hash(token);
    let Some(found) = store
        .take_refresh_token(&hash, client_id, unix_now())
        .await?
    else {
        return Ok(Err(RefreshRefused::Invalid));
    };
    if found.grant.client_id != client_id {
        // Another client's: refused, and left as it was.
        return Ok(Err(RefreshRefused::Invalid));
    }
    if !found.taken {
        if found.used_at.is_some() {
            store.revoke_refresh_family(&found.grant.family).await?;
            tracing::warn!(
                client_id,
                "a refresh token was used twice; its family is revoked"
            );
            return Ok(Err(RefreshRefused::Reused));
        }
        return Ok(Err(RefreshRefused::Invalid));
    }
    let next = issue_refresh_token(store, &found.grant, policy).await?;
    Ok(Ok((found.grant, next)))
}

/// A live, unused refresh token's grant and idle end.
pub async fn refresh_token_details(
    store: &Store,
    token: &str,
) -> Result<Option<(RefreshGrant, i64)>, AppError> {
    store.refresh_token(&secret::hash(token), unix_now()).await
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

/// Revokes `token` if it is `client_id`'s: an access token alone, a refresh token with
/// its whole family (RFC 7009 §2.1: the access tokens of the same grant too).
pub async fn revoke_token(
    store: &Store,
    token: &str,
    client_id: &str,
) -> Result<Revoked, AppError> {
    let hash = secret::hash(token);
    if store.delete_access_token(&hash, client_id).await? {
        return Ok(Revoked::Yes);
    }
    if let Some((refresh, _)) = store.refresh_token(&hash, unix_now()).await? {
        if refresh.client_id != client_id {
            return Ok(Revoked::AnotherClients);
        }
        store.revoke_refresh_family(&refresh.family).await?;
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

/// Drops expired codes, tokens, refresh families and the clients of ended login sessions
/// (the housekeeping, with sessions). A code is kept a while after it expires, so that a
/// late reuse is still recognised and revokes.
pub async fn purge_expired(store: &Store) -> Result<(), AppError> {
    let now = unix_now();
    store
        .purge_expired_grants(now - ACCESS_TOKEN_TTL.as_secs() as i64, now)
        .await?;
    store.purge_expired_refresh_tokens(now).await?;
    store.purge_expired_session_clients(now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn family_with(policy: RefreshPolicy) -> (Store, String) {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let user = store.upsert_user("wx1", "o1", None, None).await.unwrap();
        let grant = Grant {
            client_id: "web".into(),
            redirect_uri: "https://rp.example/cb".into(),
            user_id: user.id,
            scope: "openid offline_access".into(),
            nonce: None,
            code_challenge: None,
            auth_time: unix_now(),
            sid: Some("sid".into()),
        };
        let token = issue_first_refresh_token(&store, "a-code", &grant, policy)
            .await
            .unwrap();
        (store, token)
    }

    const DAY: Duration = Duration::from_secs(86_400);

    #[tokio::test]
    async fn a_refresh_token_lives_within_its_idle_and_its_familys_absolute_life() {
        let (store, token) = family_with(RefreshPolicy {
            idle: DAY,
            max: DAY,
        })
        .await;
        let (family, next) = rotate_refresh_token(&store, &token, "web", RefreshPolicy::default())
            .await
            .unwrap()
            .unwrap();
        let (_, idle_end) = refresh_token_details(&store, &next).await.unwrap().unwrap();
        assert_eq!(
            idle_end, family.family_expires_at,
            "a longer idle life never passes the family's end"
        );

        let idle_over = RefreshPolicy {
            idle: Duration::ZERO,
            max: DAY,
        };
        let (store, token) = family_with(idle_over).await;
        assert_eq!(
            rotate_refresh_token(&store, &token, "web", idle_over)
                .await
                .unwrap()
                .err(),
            Some(RefreshRefused::Invalid),
            "idled out"
        );
        let family_over = RefreshPolicy {
            idle: DAY,
            max: Duration::ZERO,
        };
        let (store, token) = family_with(family_over).await;
        assert_eq!(
            rotate_refresh_token(&store, &token, "web", family_over)
                .await
                .unwrap()
                .err(),
            Some(RefreshRefused::Invalid),
            "the family's life is over"
        );
    }
}
