//! The OpenID provider's tables: authorization codes, access and refresh tokens (each kept
//! only as the SHA-256 of its value), the clients each login session logged in to, the
//! back-channel logout tokens still to deliver, and the keys ID tokens are signed with. The rules are the
//! provider's (`server::oidc`); here is only their SQL.

use super::Store;
use crate::server::error::AppError;

/// What an authorization code grants, stored with it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Grant {
    pub client_id: String,
    pub redirect_uri: String,
    pub user_id: i64,
    pub scope: String,
    pub nonce: Option<String>,
    /// `BASE64URL(SHA256(code_verifier))`, when the client used PKCE.
    pub code_challenge: Option<String>,
    pub auth_time: i64,
    /// The login session it was granted in (the ID token's `sid`).
    pub sid: Option<String>,
}

/// The columns of a [`Grant`].
const GRANT: &str =
    "client_id, redirect_uri, user_id, scope, nonce, code_challenge, auth_time, sid";

/// A live access token, as introspection tells it.
#[derive(Debug, Clone)]
pub struct TokenDetails {
    pub client_id: String,
    pub user_id: i64,
    pub scope: String,
    pub expires_at: i64,
}

/// What a refresh token grants: its family's, carried from token to token.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefreshGrant {
    /// The hash of the authorization code the family descends from.
    pub family: Vec<u8>,
    pub client_id: String,
    pub user_id: i64,
    pub scope: String,
    pub auth_time: i64,
    pub sid: Option<String>,
    /// The family's absolute end (seconds since the epoch).
    pub family_expires_at: i64,
}

/// The columns of a [`RefreshGrant`].
const REFRESH_GRANT: &str = "family, client_id, user_id, scope, auth_time, sid, family_expires_at";

/// A refresh token as [`Store::take_refresh_token`] found it.
#[derive(Debug, sqlx::FromRow)]
pub struct TakenRefreshToken {
    /// This call marked it used (it was unused, alive and the client's).
    #[sqlx(skip)]
    pub taken: bool,
    #[sqlx(flatten)]
    pub grant: RefreshGrant,
    pub used_at: Option<i64>,
    /// Its idle end.
    pub expires_at: i64,
}

/// A back-channel logout still to deliver: to whom, and what its token says.
#[derive(Debug, sqlx::FromRow)]
pub struct LogoutDelivery {
    pub id: i64,
    pub client_id: String,
    pub user_id: i64,
    pub sid: String,
    pub jti: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
}

/// A code as [`Store::take_authorization_code`] found it.
#[derive(Debug, sqlx::FromRow)]
pub struct TakenCode {
    /// This call marked it used (it was unused, unexpired and the client's).
    #[sqlx(skip)]
    pub taken: bool,
    #[sqlx(flatten)]
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
                 code_challenge, auth_time, sid, expires_at, used_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL)",
        )
        .bind(code_hash)
        .bind(&grant.client_id)
        .bind(&grant.redirect_uri)
        .bind(grant.user_id)
        .bind(&grant.scope)
        .bind(&grant.nonce)
        .bind(&grant.code_challenge)
        .bind(grant.auth_time)
        .bind(&grant.sid)
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
        Ok(sqlx::query_as(&format!(
            "SELECT {GRANT} FROM oidc_codes
             WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2 AND client_id = $3"
        ))
        .bind(code_hash)
        .bind(now)
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?)
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
        let found: Option<TakenCode> = sqlx::query_as(&format!(
            "SELECT {GRANT}, used_at FROM oidc_codes WHERE code_hash = $1"
        ))
        .bind(code_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.map(|found| TakenCode {
            taken: taken > 0,
            ..found
        }))
    }

    /// An access token of the family `code_hash`.
    pub async fn insert_access_token(
        &self,
        token_hash: &[u8],
        code_hash: &[u8],
        client_id: &str,
        user_id: i64,
        scope: &str,
        expires_at: i64,
    ) -> Result<(), AppError> {
        sqlx::query(
            "INSERT INTO oidc_tokens (token_hash, code_hash, client_id, user_id, scope, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_hash)
        .bind(code_hash)
        .bind(client_id)
        .bind(user_id)
        .bind(scope)
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

/// Refresh tokens.
impl Store {
    pub async fn insert_refresh_token(
        &self,
        token_hash: &[u8],
        grant: &RefreshGrant,
        expires_at: i64,
    ) -> Result<(), AppError> {
        sqlx::query(
            "INSERT INTO oidc_refresh_tokens (token_hash, family, client_id, user_id, scope,
                 auth_time, sid, family_expires_at, expires_at, used_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)",
        )
        .bind(token_hash)
        .bind(&grant.family)
        .bind(&grant.client_id)
        .bind(grant.user_id)
        .bind(&grant.scope)
        .bind(grant.auth_time)
        .bind(&grant.sid)
        .bind(grant.family_expires_at)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Marks the refresh token used if it is unused, alive at `now` and `client_id`'s (one
    /// statement: of two uses at once, one takes it); then reads it back, as it is now.
    /// `None`: no such token.
    pub async fn take_refresh_token(
        &self,
        token_hash: &[u8],
        client_id: &str,
        now: i64,
    ) -> Result<Option<TakenRefreshToken>, AppError> {
        let taken = sqlx::query(
            "UPDATE oidc_refresh_tokens SET used_at = $2
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
                 AND family_expires_at > $2 AND client_id = $3",
        )
        .bind(token_hash)
        .bind(now)
        .bind(client_id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        let found: Option<TakenRefreshToken> = sqlx::query_as(&format!(
            "SELECT {REFRESH_GRANT}, used_at, expires_at FROM oidc_refresh_tokens
             WHERE token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.map(|found| TakenRefreshToken {
            taken: taken > 0,
            ..found
        }))
    }

    /// A refresh token that is unused and alive at `now`, with its idle end.
    pub async fn refresh_token(
        &self,
        token_hash: &[u8],
        now: i64,
    ) -> Result<Option<(RefreshGrant, i64)>, AppError> {
        let found: Option<TakenRefreshToken> = sqlx::query_as(&format!(
            "SELECT {REFRESH_GRANT}, used_at, expires_at FROM oidc_refresh_tokens
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
                 AND family_expires_at > $2"
        ))
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.map(|found| (found.grant, found.expires_at)))
    }

    /// Ends a family: its refresh tokens, and the access tokens it issued, together.
    pub async fn revoke_refresh_family(&self, family: &[u8]) -> Result<(), AppError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM oidc_refresh_tokens WHERE family = $1")
            .bind(family)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM oidc_tokens WHERE code_hash = $1")
            .bind(family)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes the families that ended before `before`: past their absolute end, or whose
    /// newest token idled out.
    pub async fn purge_expired_refresh_tokens(&self, before: i64) -> Result<(), AppError> {
        sqlx::query(
            "DELETE FROM oidc_refresh_tokens WHERE family_expires_at < $1 OR family IN
                 (SELECT family FROM oidc_refresh_tokens GROUP BY family HAVING MAX(expires_at) < $1)",
        )
        .bind(before)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// Logins at applications that ended, for back-channel logout.
#[derive(Debug, Clone, Copy)]
pub enum LoggedOut<'a> {
    /// A login session, at every application it logged in to.
    Session(&'a str),
    /// Every login session of a user, at one application (the person revoked it).
    UserAtClient(i64, &'a str),
}

impl Store {
    /// Ends `user_id`'s authorization codes, access tokens and refresh tokens for
    /// `client_id`, together. Returns whether there were any.
    pub async fn revoke_client(&self, user_id: i64, client_id: &str) -> Result<bool, AppError> {
        let mut tx = self.pool.begin().await?;
        let mut ended = 0;
        for table in ["oidc_codes", "oidc_tokens", "oidc_refresh_tokens"] {
            let done = sqlx::query(&format!(
                "DELETE FROM {table} WHERE user_id = $1 AND client_id = $2"
            ))
            .bind(user_id)
            .bind(client_id)
            .execute(&mut *tx)
            .await?;
            ended += done.rows_affected();
        }
        tx.commit().await?;
        Ok(ended > 0)
    }
}

/// What back-channel logout needs: the clients of each login session, and the logout
/// tokens still to deliver.
impl Store {
    /// Records that the login session `sid` logged in to `client_id`, until `expires_at`.
    pub async fn record_session_client(
        &self,
        sid: &str,
        client_id: &str,
        user_id: i64,
        expires_at: i64,
    ) -> Result<(), AppError> {
        sqlx::query(
            "INSERT INTO oidc_session_clients (sid, client_id, user_id, expires_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (sid, client_id) DO UPDATE SET expires_at = excluded.expires_at",
        )
        .bind(sid)
        .bind(client_id)
        .bind(user_id)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets the applications `ended` logged in to and writes down a logout for each
    /// that `logout_of` gives a `jti` for, together (a failure in between loses none).
    /// Of two logouts at once, one finds the clients. Returns how many were written.
    pub async fn record_logouts(
        &self,
        ended: LoggedOut<'_>,
        logout_of: impl Fn(&str) -> Option<String>,
        now: i64,
    ) -> Result<usize, AppError> {
        let mut tx = self.pool.begin().await?;
        let returning = "RETURNING sid, client_id, user_id";
        let clients: Vec<(String, String, i64)> = match ended {
            LoggedOut::Session(sid) => {
                sqlx::query_as(&format!(
                    "DELETE FROM oidc_session_clients WHERE sid = $1 {returning}"
                ))
                .bind(sid)
                .fetch_all(&mut *tx)
                .await?
            }
            LoggedOut::UserAtClient(user_id, client_id) => {
                sqlx::query_as(&format!(
                    "DELETE FROM oidc_session_clients WHERE user_id = $1 AND client_id = $2
                     {returning}"
                ))
                .bind(user_id)
                .bind(client_id)
                .fetch_all(&mut *tx)
                .await?
            }
        };
        let mut written = 0;
        for (sid, client_id, user_id) in clients {
            let Some(jti) = logout_of(&client_id) else {
                continue;
            };
            sqlx::query(
                "INSERT INTO oidc_logout_deliveries (client_id, user_id, sid, jti, attempts,
                     next_attempt_at, created_at) VALUES ($1, $2, $3, $4, 0, $5, $5)",
            )
            .bind(&client_id)
            .bind(user_id)
            .bind(sid)
            .bind(jti)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            written += 1;
        }
        tx.commit().await?;
        Ok(written)
    }

    /// Up to `limit` deliveries due at `now`, oldest first.
    pub async fn due_logout_deliveries(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<LogoutDelivery>, AppError> {
        Ok(sqlx::query_as(
            "SELECT id, client_id, user_id, sid, jti, attempts, next_attempt_at
             FROM oidc_logout_deliveries WHERE next_attempt_at <= $1
             ORDER BY next_attempt_at, id LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Claims a due delivery for this instance by moving its next attempt to `until`, if
    /// no other instance moved it since it was read: whether this one has it.
    pub async fn claim_logout_delivery(
        &self,
        delivery: &LogoutDelivery,
        until: i64,
    ) -> Result<bool, AppError> {
        let claimed = sqlx::query(
            "UPDATE oidc_logout_deliveries SET next_attempt_at = $3
             WHERE id = $1 AND next_attempt_at = $2",
        )
        .bind(delivery.id)
        .bind(delivery.next_attempt_at)
        .bind(until)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(claimed > 0)
    }

    /// A delivery that failed: its attempts so far and when to try again.
    pub async fn retry_logout_delivery(
        &self,
        id: i64,
        attempts: i64,
        next_attempt_at: i64,
    ) -> Result<(), AppError> {
        sqlx::query(
            "UPDATE oidc_logout_deliveries SET attempts = $2, next_attempt_at = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(attempts)
        .bind(next_attempt_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A delivery done, or given up.
    pub async fn delete_logout_delivery(&self, id: i64) -> Result<(), AppError> {
        sqlx::query("DELETE FROM oidc_logout_deliveries WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Forgets the clients of login sessions that ended before `before`.
    pub async fn purge_expired_session_clients(&self, before: i64) -> Result<(), AppError> {
        sqlx::query("DELETE FROM oidc_session_clients WHERE expires_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
