//! argon2id hashing and verification, run on the blocking pool (each takes tens of ms).

use super::ServiceError;
use crate::domain::{NewPassword, PasswordHash};
use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc};
use std::sync::OnceLock;

pub async fn hash(password: NewPassword) -> Result<PasswordHash, ServiceError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.expose().as_bytes())
            .map(|hash| PasswordHash::from_phc(hash.to_string()))
            .map_err(|e| ServiceError::internal(anyhow::anyhow!("hashing a password: {e}")))
    })
    .await
    .map_err(ServiceError::internal)?
}

/// Checks `candidate` against `stored`; with no stored hash it still does the same work,
/// so response times do not reveal whether an account exists.
pub async fn verify(candidate: String, stored: Option<PasswordHash>) -> Result<bool, ServiceError> {
    tokio::task::spawn_blocking(move || {
        let phc_string = match &stored {
            Some(hash) => hash.as_phc().to_string(),
            None => dummy_hash().to_string(),
        };
        let parsed = phc::PasswordHash::new(&phc_string)
            .map_err(|e| ServiceError::internal(anyhow::anyhow!("stored password hash: {e}")))?;
        let matches = Argon2::default()
            .verify_password(candidate.as_bytes(), &parsed)
            .is_ok();
        Ok(matches && stored.is_some())
    })
    .await
    .map_err(ServiceError::internal)?
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let random_password = hex::encode(rand::random::<[u8; 16]>());
        Argon2::default()
            .hash_password(random_password.as_bytes())
            .map(|hash| hash.to_string())
            .unwrap_or_default()
    })
}
