//! Random values from the operating system's generator (via `rand`'s thread RNG,
//! a CSPRNG reseeded from the OS).

use rand::{distr::Alphanumeric, Rng};

/// `len` characters of `[A-Za-z0-9]`.
pub fn alphanumeric(len: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// `N` random bytes.
pub fn bytes<const N: usize>() -> [u8; N] {
    rand::rng().random()
}
