//! The OpenID provider's tables: authorization codes and access tokens (each kept only as
//! the SHA-256 of its value), and the keys ID tokens are signed with. The rules are the
//! provider's (`server::oidc`); here is only their SQL.

use super::Store;
use crate::server::error::AppError;

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

/// A live access token, as introspection tells it.
#[derive(Debug, Clone)]
pub struct TokenDetails {
    pub client_id: String,
    pub user_id: i64,
    pub scope: String,
    pub expires_at: i64,
}

/// A code as [`Store::take_authorization_code`] found it.
#[derive(Debug)]
pub struct TakenCode {
    /// This call marked it used (it was unused, unexpired and the client's).
    pub taken: bool,
    pub grant: Grant,
    /// When it was first used (seconds since the epoch), if it was.
    pub used_at: Option<i64>,
}

impl Store {
    pub async fn insert_authorization_code(
        &self,
        code_hash: &[u8],
        grant: &Grant,
        expires_at: i64,
    ) -> Result<(), AppError> {
        sqlx::query(
            "INSERT INTO oidc_codes (code_hash, client_id, redirect_uri, user_id, scope, nonce,
                 code_challenge, auth_time, expires_at, used_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)",
        )
        .bind(code_hash)
        .bind(&grant.client_id)
        .bind(&grant.redirect_uri)
        .bind(grant.user_id)
        .bind(&grant.scope)
        .bind(&grant.nonce)
        .bind(&grant.code_challenge)
        .bind(grant.auth_time)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The grant of a code that is unused, unexpired at `now` and `client_id`'s.
    pub async fn pending_authorization_code(
        &self,
        code_hash: &[u8],
        client_id: &str,
        now: i64,
    ) -> Result<Option<Grant>, AppError> {
        type Row = (String, i64, String, Option<String>, Option<String>, i64);
        let row: Option<Row> = sqlx::query_as(
            "SELECT redirect_uri, user_id, scope, nonce, code_challenge, auth_time
             FROM oidc_codes
             WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2 AND client_id = $3",
        )
        .bind(code_hash)
        .bind(now)
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(
            |(redirect_uri, user_id, scope, nonce, code_challenge, auth_time)| Grant {
                client_id: client_id.to_owned(),
                redirect_uri,
                user_id,
                scope,
                nonce,
                code_challenge,
                auth_time,
            },
        ))
    }

    /// Marks the code used if it is unused, unexpired at `now` and `client_id`'s (one
    /// statement, so two redemptions at once cannot both take it); then reads it back, as
    /// it is now. `None`: no such code.
    pub async fn take_authorization_code(
        &self,
        code_hash: &[u8],
        client_id: &str,
        now: i64,
    ) -> Result<Option<TakenCode>, AppError> {
        let taken = sqlx::query(
            "UPDATE oidc_codes SET used_at = $2
             WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2 AND client_id = $3",
        )
        .bind(code_hash)
        .bind(now)
        .bind(client_id)
        .execute(&self.pool)
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
        .bind(code_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(
            |(
                client_id,
                redirect_uri,
                user_id,
                scope,
                nonce,
                code_challenge,
                auth_time,
                used_at,
            )| {
                TakenCode {
                    taken: taken > 0,
                    grant: Grant {
                        client_id,
                        redirect_uri,
                        user_id,
                        scope,
                        nonce,
                        code_challenge,
                        auth_time,
                    },
                    used_at,
                }
            },
        ))
    }

    /// Deletes the access tokens issued for the authorization code `code_hash`.
    pub async fn revoke_access_tokens_of(&self, code_hash: &[u8]) -> Result<(), AppError> {
        sqlx::query("DELETE FROM oidc_tokens WHERE code_hash = $1")
            .bind(code_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn insert_access_token(
        &self,
        token_hash: &[u8],
        code_hash: &[u8],
        grant: &Grant,
        expires_at: i64,
    ) -> Result<(), AppError> {
        sqlx::query(
            "INSERT INTO oidc_tokens (token_hash, code_hash, client_id, user_id, scope, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_hash)
        .bind(code_hash)
        .bind(&grant.client_id)
        .bind(grant.user_id)
        .bind(&grant.scope)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The user and scope of an access token alive at `now`.
    pub async fn access_token(
        &self,
        token_hash: &[u8],
        now: i64,
    ) -> Result<Option<(i64, String)>, AppError> {
        Ok(sqlx::query_as(
            "SELECT user_id, scope FROM oidc_tokens WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The details of an access token alive at `now`.
    pub async fn access_token_details(
        &self,
        token_hash: &[u8],
        now: i64,
    ) -> Result<Option<TokenDetails>, AppError> {
        let row: Option<(String, i64, String, i64)> = sqlx::query_as(
            "SELECT client_id, user_id, scope, expires_at FROM oidc_tokens
             WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(
            row.map(|(client_id, user_id, scope, expires_at)| TokenDetails {
                client_id,
                user_id,
                scope,
                expires_at,
            }),
        )
    }

    /// Deletes the access token `token_hash` if it is `client_id`'s: whether it did.
    pub async fn delete_access_token(
        &self,
        token_hash: &[u8],
        client_id: &str,
    ) -> Result<bool, AppError> {
        let deleted =
            sqlx::query("DELETE FROM oidc_tokens WHERE token_hash = $1 AND client_id = $2")
                .bind(token_hash)
                .bind(client_id)
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(deleted > 0)
    }

    /// Deletes codes that expired before `codes_before` and tokens that expired before
    /// `tokens_before`.
    pub async fn purge_expired_grants(
        &self,
        codes_before: i64,
        tokens_before: i64,
    ) -> Result<(), AppError> {
        sqlx::query("DELETE FROM oidc_codes WHERE expires_at < $1")
            .bind(codes_before)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM oidc_tokens WHERE expires_at < $1")
            .bind(tokens_before)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Stores a key as the active one unless there is one (a unique index on the active
    /// key makes the first of two concurrent inserts win).
    pub async fn insert_first_signing_key(
        &self,
        kid: &str,
        pkcs8: &[u8],
        now: i64,
    ) -> Result<(), AppError> {
        sqlx::query(
            "INSERT INTO oidc_keys (kid, pkcs8, created_at, retired_at) VALUES ($1, $2, $3, NULL)
             ON CONFLICT DO NOTHING",
        )
        .bind(kid)
        .bind(pkcs8)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The active key's id and PKCS#8 DER.
    pub async fn active_signing_key(&self) -> Result<Option<(String, Vec<u8>)>, AppError> {
        Ok(
            sqlx::query_as("SELECT kid, pkcs8 FROM oidc_keys WHERE retired_at IS NULL")
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// The PKCS#8 DER of the active key and of those retired since `since`: the active key
    /// first, then the newest retired ones. Reads only.
    pub async fn published_signing_keys(&self, since: i64) -> Result<Vec<Vec<u8>>, AppError> {
        let rows: Vec<(Vec<u8>,)> = sqlx::query_as(
            "SELECT pkcs8 FROM oidc_keys WHERE retired_at IS NULL OR retired_at >= $1
             ORDER BY CASE WHEN retired_at IS NULL THEN 0 ELSE 1 END, created_at DESC, kid",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(pkcs8,)| pkcs8).collect())
    }

    /// Deletes the keys retired before `before`.
    pub async fn purge_retired_signing_keys(&self, before: i64) -> Result<(), AppError> {
        sqlx::query("DELETE FROM oidc_keys WHERE retired_at IS NOT NULL AND retired_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Retires the active key at `now` and makes `kid` the active one, together.
    pub async fn rotate_signing_key(
        &self,
        kid: &str,
        pkcs8: &[u8],
        now: i64,
    ) -> Result<(), AppError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE oidc_keys SET retired_at = $1 WHERE retired_at IS NULL")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO oidc_keys (kid, pkcs8, created_at, retired_at) VALUES ($1, $2, $3, NULL)",
        )
        .bind(kid)
        .bind(pkcs8)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
