//! What can go wrong in a use case, split into the caller's fault and ours.

use crate::domain::{RowError, ValidationError};
use crate::store::StoreError;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The input breaks a rule; the message says what to fix.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// Several fields of one form are wrong.
    #[error("{}", join_lines(.0))]
    InvalidFields(Vec<ValidationError>),
    /// Rows of an imported file are wrong; nothing was written.
    #[error("{}", join_lines(.0))]
    InvalidRows(Vec<RowError>),
    /// Deliberately vague, so nobody can learn which accounts exist.
    #[error("E-mail or password is incorrect.")]
    BadCredentials,
    #[error("The setup token is wrong or has already been used. Copy it again from kefu's log.")]
    BadSetupToken,
    #[error("Not found.")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    /// Who is asking is unknown (no, a wrong or a revoked API token).
    #[error("{0}")]
    Unauthenticated(String),
    #[error("Too many attempts. Try again in {} seconds.", retry_after.as_secs())]
    RateLimited { retry_after: Duration },
    /// Not possible yet (a model still loading); retrying later helps.
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

fn join_lines<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl ServiceError {
    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        ServiceError::Internal(error.into())
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ServiceError::NotFound,
            StoreError::Conflict(what) => {
                let mut message = format!("{what} already exists.");
                if let Some(first) = message.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                ServiceError::Conflict(message)
            }
            StoreError::RowConflict { line, message } => {
                ServiceError::InvalidRows(vec![RowError { line, message }])
            }
            other => ServiceError::Internal(other.into()),
        }
    }
}

impl From<crate::search::SearchError> for ServiceError {
    fn from(error: crate::search::SearchError) -> Self {
        ServiceError::Internal(error.into())
    }
}

impl From<crate::ml::MlError> for ServiceError {
    fn from(error: crate::ml::MlError) -> Self {
        ServiceError::Internal(error.into())
    }
}
