//! Server-made secrets (scan tokens, tickets, session tokens) and how they are kept:
//! only a SHA-256 hash is stored, and hashes are compared in constant time.

use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub type Hash = [u8; 32];

/// 256 random bits, URL-safe base64 (43 characters).
pub fn token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(super::random::bytes::<32>())
}

pub fn hash(value: &str) -> Hash {
    Sha256::digest(value.as_bytes()).into()
}

/// Whether `value` hashes to `expected`, in time that does not depend on where they differ.
pub fn matches(expected: &Hash, value: &str) -> bool {
    expected.ct_eq(&hash(value)).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_match_their_hash_only() {
        let (a, b) = (token(), token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(matches(&hash(&a), &a));
        assert!(!matches(&hash(&a), &b));
    }
}
