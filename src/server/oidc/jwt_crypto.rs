//! `jsonwebtoken`'s cryptography, done by `ring`: RS256 only, which is all the provider
//! signs and verifies. `ring`'s RSA signing is constant-time (the `rsa` crate's is not,
//! RUSTSEC-2023-0071, still open), and `ring` is built already for TLS, where
//! `jsonwebtoken`'s other constant-time backend, aws-lc, is a C build of 7 to 8 minutes on
//! a 2-core machine, in each of the debug and release builds.
//!
//! [`install`] makes it the process's provider; it must come before any other use of
//! `jsonwebtoken` (whose first use without one caches a provider that panics), so startup
//! and every path to a key call it.

use jsonwebtoken::{
    crypto::{CryptoProvider, JwkUtils, JwtSigner, JwtVerifier},
    errors::{new_error, ErrorKind, Result},
    jwk::ThumbprintHash,
    signature::{Error as SignatureError, Signer, Verifier},
    Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind, EncodingKey,
};
use ring::{
    digest,
    rand::SystemRandom,
    signature::{
        RsaKeyPair, RsaPublicKeyComponents, UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256,
        RSA_PKCS1_SHA256,
    },
};

/// Makes `ring` `jsonwebtoken`'s provider, once per process.
pub fn install() {
    // Err: already installed (by an earlier call).
    let _ = PROVIDER.install_default();
}

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: signer,
    verifier_factory: verifier,
    jwk_utils: JwkUtils {
        extract_rsa_public_key_components: public_components,
        extract_ec_public_key_coordinates: |_, _| Err(new_error(ErrorKind::InvalidEcdsaKey)),
        compute_digest,
    },
};

struct RsaSigner(RsaKeyPair);

impl Signer<Vec<u8>> for RsaSigner {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, SignatureError> {
        let mut signature = vec![0; self.0.public().modulus_len()];
        self.0
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|_| SignatureError::new())?;
        Ok(signature)
    }
}

impl JwtSigner for RsaSigner {
    fn algorithm(&self) -> Algorithm {
        Algorithm::RS256
    }
}

struct RsaVerifier(DecodingKey);

impl Verifier<Vec<u8>> for RsaVerifier {
    fn verify(
        &self,
        message: &[u8],
        signature: &Vec<u8>,
    ) -> std::result::Result<(), SignatureError> {
        let params = &RSA_PKCS1_2048_8192_SHA256;
        match self.0.kind() {
            DecodingKeyKind::RsaModulusExponent { n, e } => {
                RsaPublicKeyComponents { n, e }.verify(params, message, signature)
            }
            DecodingKeyKind::SecretOrDer(der) => {
                UnparsedPublicKey::new(params, der).verify(message, signature)
            }
        }
        .map_err(|_| SignatureError::new())
    }
}

impl JwtVerifier for RsaVerifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::RS256
    }
}

/// Only RS256, with an RSA key.
fn check(algorithm: &Algorithm, family: AlgorithmFamily) -> Result<()> {
    if *algorithm == Algorithm::RS256 && family == AlgorithmFamily::Rsa {
        Ok(())
    } else {
        Err(new_error(ErrorKind::InvalidAlgorithm))
    }
}

/// A key pair from PKCS#1 DER (what an RSA `EncodingKey` holds).
fn key_pair(der: &[u8]) -> Result<RsaKeyPair> {
    RsaKeyPair::from_der(der).map_err(|e| new_error(ErrorKind::InvalidRsaKey(e.to_string())))
}

fn signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    check(algorithm, key.family())?;
    Ok(Box::new(RsaSigner(key_pair(key.inner())?)))
}

fn verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    check(algorithm, key.family())?;
    Ok(Box::new(RsaVerifier(key.clone())))
}

/// The public modulus and exponent of a PKCS#1 DER private key (for its JWK).
fn public_components(der: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    let public = RsaPublicKeyComponents::<Vec<u8>>::from(key_pair(der)?.public());
    Ok((public.n, public.e))
}

fn compute_digest(data: &[u8], hash: ThumbprintHash) -> Vec<u8> {
    let algorithm = match hash {
        ThumbprintHash::SHA256 => &digest::SHA256,
        ThumbprintHash::SHA384 => &digest::SHA384,
        ThumbprintHash::SHA512 => &digest::SHA512,
    };
    digest::digest(algorithm, data).as_ref().to_vec()
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{jwk::Jwk, Header, Validation};

    use super::*;

    #[test]
    fn a_token_signed_here_verifies_with_its_jwk_and_not_once_changed() {
        install();
        let (_, pkcs8) = super::super::keys::new_key().unwrap();
        let key = super::super::keys::encoding_key(&pkcs8).unwrap();
        let jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).unwrap();
        let claims = serde_json::json!({"sub": "1", "exp": 4_000_000_000u64});
        let token = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key).unwrap();
        let decoding = DecodingKey::from_jwk(&jwk).unwrap();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.required_spec_claims.clear();
        let read = jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation);
        assert_eq!(read.unwrap().claims, claims);
        let mut forged = token.clone();
        forged.replace_range(forged.len() - 4.., "AAAA");
        assert!(
            jsonwebtoken::decode::<serde_json::Value>(&forged, &decoding, &validation).is_err()
        );
        let hs256 = Validation::new(Algorithm::HS256);
        assert!(jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &hs256).is_err());
    }
}
