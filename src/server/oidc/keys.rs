//! The keys ID tokens are signed with: RSA 2048, RS256 (what OpenID discovery requires),
//! signed by aws-lc-rs through `jsonwebtoken` (constant-time; not the `rsa` crate, see
//! RUSTSEC-2023-0071).
//!
//! The first instance to start makes a key and stores it in the database; the others
//! find it there (a unique index on the active key makes the first insert win when two
//! start at once). `scanlogin rotate-oidc-key` makes a new active key and retires the old
//! one, which stays published in the JWKS for as long as ID tokens it signed live, then is
//! deleted. Every instance reads the keys from the database when it signs or publishes,
//! so a rotation takes effect everywhere at once.

use std::time::Duration;

use aws_lc_rs::{encoding::AsDer, rsa::KeySize};
use jsonwebtoken::{
    jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse, ThumbprintHash},
    Algorithm, EncodingKey,
};
use pkcs8::der::Decode;

use crate::server::{
    error::AppError,
    store::{unix_now, Store},
};

/// The key that signs now.
pub struct SigningKey {
    pub kid: String,
    pub key: EncodingKey,
}

/// A stored key (its PKCS#8 DER) as `jsonwebtoken` takes it: PKCS#1 DER.
fn encoding_key(pkcs8: &[u8]) -> Result<EncodingKey, AppError> {
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

fn new_key() -> Result<(String, Vec<u8>), AppError> {
    let pair = aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048)
        .map_err(|_| AppError::Internal("cannot generate an RSA key".into()))?;
    let pkcs8 = pair
        .as_der()
        .map_err(|_| AppError::Internal("cannot encode the RSA key".into()))?
        .as_ref()
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
/// (tokens they signed may still be presented). Older ones are deleted.
pub async fn published(store: &Store, id_token_ttl: Duration) -> Result<JwkSet, AppError> {
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
