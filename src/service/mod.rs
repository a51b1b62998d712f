//! Use cases: the only layer that coordinates storage, search, models and live updates.

pub mod accounts;
pub mod api_tokens;
pub mod assistant;
pub mod attachments;
pub mod catalog;
mod catalog_csv;
pub mod conversation_log;
pub mod conversations;
pub mod customers;
pub mod desk;
mod error;
pub mod knowledge;
pub mod knowledge_csv;
mod markdown;
mod passwords;
pub mod proactive;
mod secrets;
mod system;
pub mod tickets;
pub mod webhooks;

/// Listing parameters pass straight through to the store.
pub use crate::store::{
    CustomerQuery, CustomerSummary, FaqListQuery, FaqPage, TicketPage, TicketRow,
};
pub use accounts::{AccountService, LoginAttempt, LoginOutcome, NewUserRequest, SetupRequest};
pub use api_tokens::ApiTokenService;
pub use assistant::{AssistantService, AssistantStatus, ThresholdOverrides, Understanding};
pub use attachments::{AttachmentService, Download, Upload};
pub use catalog::{CatalogService, ItemCard};
pub use conversation_log::ConversationLog;
pub use conversations::{ConversationService, Personalisation, SetUser, Transcript, Visitor};
pub use customers::{CustomerProfile, CustomerService, TimelineEntry};
pub use desk::{DeskConversation, DeskLists, DeskService, SuggestedReply};
pub use error::ServiceError;
pub use knowledge::{KnowledgeResult, KnowledgeService};
pub use markdown::{render as render_markdown, rendered_message};
pub use proactive::ProactiveService;
pub use secrets::{SessionToken, constant_time_eq, random_hex_token};
pub use system::SystemService;
pub use tickets::{
    BulkAction, NewTicket, Requester, SlaForm, SlaSettings, TicketDetail, TicketListRequest,
    TicketService, TicketUpdate,
};
pub use webhooks::{WebhookService, install_tls_provider};

use crate::domain::Timestamp;

/// The wall clock, read in one place so the rest of the code takes time as a value.
pub fn now() -> Timestamp {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    Timestamp::from_unix_seconds(i64::try_from(seconds).unwrap_or(i64::MAX))
}

/// Runs CPU-bound or blocking work (inference, index writes) off the async threads.
async fn blocking<T: Send + 'static>(
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ServiceError> {
    tokio::task::spawn_blocking(job)
        .await
        .map_err(ServiceError::internal)
}
