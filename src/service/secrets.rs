//! Random tokens that grant access, and the one-way hashes under which they are stored.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A bearer secret (session cookie value): 256 random bits, hex-encoded.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    pub fn generate() -> Self {
        Self(random_hex_token())
    }

    pub fn from_cookie(value: &str) -> Self {
        Self(value.to_string())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the store keeps: a stolen database does not yield usable sessions.
    pub fn storage_hash(&self) -> Vec<u8> {
        Sha256::digest(self.0.as_bytes()).to_vec()
    }
}

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken(***)")
    }
}

/// 256 random bits as 64 hex characters.
pub fn random_hex_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

pub fn constant_time_eq(left: &str, right: &str) -> bool {
    left.as_bytes().ct_eq(right.as_bytes()).into()
}
