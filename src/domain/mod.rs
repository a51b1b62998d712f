//! The help-desk vocabulary: ids, accounts, roles and the rules on them. Pure: no IO, no async.

pub mod account;
pub mod ids;
pub mod intent;
pub mod knowledge;
pub mod rate_limit;
pub mod sentiment;
pub mod time;

pub use account::{DisplayName, Email, NewPassword, PasswordHash, Role, Session, User, UserStatus};
pub use ids::{FaqEntryId, SessionId, UserId};
pub use intent::{BuiltinIntent, IntentLabel, IntentPhrase, NewIntentPhrase};
pub use knowledge::{
    FaqContent, FaqEntry, FaqInput, FaqStatus, ImportAction, ImportSummary, KnowledgeChange,
    KnowledgeFilter, KnowledgeHit, Language, RowError, SanitizedHtml, SnippetPart,
};
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
