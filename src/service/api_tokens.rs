//! REST API tokens: created by an admin (the secret is shown once, only its SHA-256 kept),
//! checked on every API request, revoked at any time.

use sha2::{Digest, Sha256};

use super::{ServiceError, now, random_hex_token};
use crate::domain::integration::parse_token_name;
use crate::domain::{ApiScope, ApiToken, ApiTokenId, UserId};
use crate::store::Store;

/// Every token starts with this, so a leaked one is easy to recognise (and to scan for).
pub const TOKEN_PREFIX: &str = "kefu_";
const SHOWN_PREFIX_CHARS: usize = 12;

pub struct ApiTokenService {
    store: Store,
}

fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

impl ApiTokenService {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// A new token and its secret, which is never shown again.
    pub async fn create(
        &self,
        name: &str,
        scope: &str,
        by: UserId,
    ) -> Result<(ApiToken, String), ServiceError> {
        let mut errors = Vec::new();
        let name = parse_token_name(name).map_err(|error| errors.push(error));
        let scope = ApiScope::parse(scope).map_err(|error| errors.push(error));
        let (Ok(name), Ok(scope)) = (name, scope) else {
            return Err(ServiceError::InvalidFields(errors));
        };
        let secret = format!("{TOKEN_PREFIX}{}", random_hex_token());
        let prefix: String = secret.chars().take(SHOWN_PREFIX_CHARS).collect();
        let token = self
            .store
            .create_api_token(name, digest(&secret), prefix, scope, by, now())
            .await?;
        tracing::info!(token_id = %token.id, scope = scope.as_str(), "API token created");
        Ok((token, secret))
    }

    pub async fn list(&self) -> Result<Vec<ApiToken>, ServiceError> {
        Ok(self.store.api_tokens().await?)
    }

    pub async fn revoke(&self, id: ApiTokenId) -> Result<(), ServiceError> {
        self.store.revoke_api_token(id, now()).await?;
        tracing::info!(token_id = %id, "API token revoked");
        Ok(())
    }

    /// The live token `secret` belongs to; a wrong, revoked or malformed one is refused
    /// the same way.
    pub async fn authenticate(&self, secret: &str) -> Result<ApiToken, ServiceError> {
        let secret = secret.trim();
        if !secret.starts_with(TOKEN_PREFIX) || secret.len() > 200 {
            return Err(ServiceError::BadCredentials);
        }
        self.store
            .use_api_token(digest(secret), now())
            .await?
            .ok_or(ServiceError::BadCredentials)
    }
}
