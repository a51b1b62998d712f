//! The help-desk vocabulary: ids, accounts, roles and the rules on them. Pure: no IO, no async.

pub mod account;
pub mod ids;
pub mod rate_limit;
pub mod time;

pub use account::{DisplayName, Email, NewPassword, PasswordHash, Role, Session, User, UserStatus};
pub use ids::{SessionId, UserId};
pub use time::Timestamp;

/// Input that breaks a domain rule; the message tells the user what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: &'static str,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}
