//! The help-desk vocabulary: ids, accounts, roles and the rules on them. Pure: no IO, no async.

pub mod account;
pub mod attachment;
pub mod catalog;
pub mod conversation;
pub mod desk;
pub mod ids;
pub mod integration;
pub mod intent;
pub mod knowledge;
pub mod masking;
pub mod proactive;
pub mod profile;
pub mod rate_limit;
pub mod recommend;
pub mod sentiment;
pub mod sla;
pub mod ticket;
pub mod time;

pub use account::{DisplayName, Email, NewPassword, PasswordHash, Role, Session, User, UserStatus};
pub use conversation::{
    Author, BusinessHours, Conversation, ConversationStatus, Customer, HandoffReason, Inbox,
    InboxInput, InboxSettings, Message, NewMessage, WebOrigin, WidgetLanguage,
};
pub use desk::{
    AgentLoad, CannedResponse, DeskAction, DeskScope, DeskView, Presence, RoutingFacts, RoutingRule,
};
pub use ids::{
    ApiTokenId, AttachmentId, CannedResponseId, ConversationId, CustomerId, FaqEntryId, InboxId,
    MessageId, ProactiveRuleId, RoutingRuleId, SessionId, TeamId, TicketCommentId, TicketId,
    UserId, WebhookId,
};
pub use integration::{ApiScope, ApiToken, Webhook, WebhookEvent, WebhookUrl};
pub use intent::{BuiltinIntent, IntentLabel, IntentPhrase, NewIntentPhrase};
pub use knowledge::{
    FaqContent, FaqEntry, FaqInput, FaqStatus, ImportAction, ImportSummary, KnowledgeChange,
    KnowledgeFilter, KnowledgeHit, Language, RowError, SanitizedHtml, SnippetPart,
};
pub use masking::{Masked, MaskedKinds, mask_sensitive};
pub use sla::{BusinessCalendar, SlaPolicy, SlaTarget, SlaTargets};
pub use ticket::{
    AssigneeFilter, CommentAuthor, Ticket, TicketChange, TicketComment, TicketContent,
    TicketDocument, TicketFilter, TicketInput, TicketPriority, TicketSort, TicketSource,
    TicketStatus,
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
