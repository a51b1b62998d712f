//! What every handler can reach: the services, the metrics, and request-level settings.

use super::{CsrfKey, Metrics};
use crate::service::{
    AccountService, ApiTokenService, AssistantService, AttachmentService, CatalogService,
    ConversationService, CustomerService, DeskService, KnowledgeService, ProactiveService,
    SystemService, TicketService, WebhookService,
};
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub accounts: Arc<AccountService>,
    pub knowledge: Arc<KnowledgeService>,
    pub assistant: Arc<AssistantService>,
    pub conversations: Arc<ConversationService>,
    pub desk: Arc<DeskService>,
    pub tickets: Arc<TicketService>,
    pub customers: Arc<CustomerService>,
    pub catalog: Arc<CatalogService>,
    pub proactive: Arc<ProactiveService>,
    pub api_tokens: Arc<ApiTokenService>,
    pub attachments: Arc<AttachmentService>,
    pub webhooks: Arc<WebhookService>,
    pub system: SystemService,
    pub metrics: Arc<Metrics>,
    pub csrf_key: CsrfKey,
    pub trust_proxy: bool,
}
