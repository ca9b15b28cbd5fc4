//! The keys ID tokens are signed with: RSA 2048, RS256 (what OpenID discovery requires),
//! signed by `ring` through `jsonwebtoken` (`jwt_crypto.rs`: constant-time). The `rsa`
//! crate only makes new keys: its timing leak (RUSTSEC-2023-0071) is in operations on a
//! key that a client can have repeated and time, which key generation is not.
//!
//! The first instance to start makes a key and stores it in the database; the others
//! find it there (a unique index on the active key makes the first insert win when two
//! start at once). `scanlogin rotate-oidc-key` makes a new active key and retires the old
//! one, which stays published in the JWKS for as long as ID tokens it signed live, then is
//! deleted. Every instance reads the active key from the database when it signs, so a
//! rotation takes effect everywhere at once; the JWKS it serves from memory
//! ([`PublishedKeys`]), read again every few seconds, so a rotation is published
//! everywhere within [`PublishedKeys`]'s refresh and serving the JWKS costs the database
//! nothing.

use std::{sync::Arc, time::Duration};

use axum::{
    extract::State,
    response::{IntoResponse, Response},
    Json,
};

use jsonwebtoken::{
    jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse, ThumbprintHash},
    Algorithm, EncodingKey,
};
use pkcs8::der::Decode;
use rsa::pkcs8::EncodePrivateKey;

use crate::server::{
    context::AppState,
    error::AppError,
    store::{unix_now, Store},
};

/// The key that signs now.
pub struct SigningKey {
    pub kid: String,
    pub key: EncodingKey,
}

/// A stored key (its PKCS#8 DER) as `jsonwebtoken` takes it: PKCS#1 DER. Every use of a
/// key comes here first, so `ring` is `jsonwebtoken`'s provider before any.
pub(super) fn encoding_key(pkcs8: &[u8]) -> Result<EncodingKey, AppError> {
    super::jwt_crypto::install();
    let info = pkcs8::PrivateKeyInfo::from_der(pkcs8)
        .map_err(|e| AppError::Internal(format!("a stored OIDC key does not parse: {e}")))?;
    Ok(EncodingKey::from_rsa_der(info.private_key))
}

/// The public half, as a JWK with its RFC 7638 thumbprint as `kid`.
fn public_jwk(key: &EncodingKey) -> Result<Jwk, AppError> {
    let mut jwk = Jwk::from_encoding_key(key, Algorithm::RS256)
        .map_err(|e| AppError::Internal(format!("OIDC key: {e}")))?;
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    jwk.common.key_algorithm = Some(KeyAlgorithm::RS256);
    jwk.common.key_id = Some(jwk.thumbprint(ThumbprintHash::SHA256));
    Ok(jwk)
}

/// A new RSA 2048 key: its id and PKCS#8 DER.
pub(super) fn new_key() -> Result<(String, Vec<u8>), AppError> {
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
        .map_err(|e| AppError::Internal(format!("cannot generate an RSA key: {e}")))?;
    let pkcs8 = key
        .to_pkcs8_der()
        .map_err(|e| AppError::Internal(format!("cannot encode the RSA key: {e}")))?
        .as_bytes()
        .to_vec();
    let kid = public_jwk(&encoding_key(&pkcs8)?)?
        .common
        .key_id
        .unwrap_or_default();
    Ok((kid, pkcs8))
}

/// Makes the active key unless one exists (at start-up). Concurrent starts agree on one.
pub async fn ensure_active(store: &Store) -> Result<(), AppError> {
    if active(store).await.is_ok() {
        return Ok(());
    }
    let (kid, pkcs8) = new_key()?;
    store
        .insert_first_signing_key(&kid, &pkcs8, unix_now())
        .await?;
    active(store).await.map(|_| ())
}

/// The key to sign with.
pub async fn active(store: &Store) -> Result<SigningKey, AppError> {
    let (kid, pkcs8) = store
        .active_signing_key()
        .await?
        .ok_or_else(|| AppError::Internal("no active OIDC key".into()))?;
    Ok(SigningKey {
        kid,
        key: encoding_key(&pkcs8)?,
    })
}

/// The keys to publish: the active one and those retired less than `id_token_ttl` ago
/// (tokens they signed may still be presented).
async fn published(store: &Store, id_token_ttl: Duration) -> Result<JwkSet, AppError> {
    let oldest = unix_now() - id_token_ttl.as_secs() as i64;
    let keys = store
        .published_signing_keys(oldest)
        .await?
        .iter()
        .map(|pkcs8| encoding_key(pkcs8).and_then(|k| public_jwk(&k)))
        .collect::<Result<_, _>>()?;
    Ok(JwkSet { keys })
}

/// `scanlogin rotate-oidc-key`: a new active key; the old one is retired now and stays
/// published while its tokens live. Returns the new key's id.
pub async fn rotate(store: &Store) -> Result<String, AppError> {
    let (kid, pkcs8) = new_key()?;
    store.rotate_signing_key(&kid, &pkcs8, unix_now()).await?;
    Ok(kid)
}

/// Deletes the keys retired longer ago than `id_token_ttl` (the hourly purge).
pub async fn purge_retired(store: &Store, id_token_ttl: Duration) -> Result<(), AppError> {
    store
        .purge_retired_signing_keys(unix_now() - id_token_ttl.as_secs() as i64)
        .await
}

/// The JWKS as this instance serves it: from memory, read again from the database when
/// older than the refresh (5 s, or half an ID token's life when that is shorter, so that
/// a retired key leaves the set soon after its last token).
#[derive(Debug)]
pub struct PublishedKeys {
    refresh: Duration,
    id_token_ttl: Duration,
    cached: tokio::sync::Mutex<Option<(tokio::time::Instant, Arc<JwkSet>)>>,
}

impl PublishedKeys {
    pub fn new(id_token_ttl: Duration) -> Self {
        Self {
            refresh: Duration::from_secs(5).min(id_token_ttl / 2),
            id_token_ttl,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// The set, read again (once, however many ask) when it is older than the refresh.
    pub async fn get(&self, store: &Store) -> Result<Arc<JwkSet>, AppError> {
        let mut cached = self.cached.lock().await;
        if let Some((read_at, set)) = &*cached {
            if read_at.elapsed() < self.refresh {
                return Ok(set.clone());
            }
        }
        let set = Arc::new(published(store, self.id_token_ttl).await?);
        *cached = Some((tokio::time::Instant::now(), set.clone()));
        Ok(set)
    }
}

/// `GET /oauth/jwks`: the public keys.
pub(super) async fn jwks(State(state): State<AppState>) -> Response {
    let Some(keys) = &state.oidc_keys else {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    };
    match keys.get(&state.store).await {
        Ok(set) => Json(set.as_ref().clone()).into_response(),
        Err(err) => super::error::OAuthError::from(err).into_response(),
    }
}
