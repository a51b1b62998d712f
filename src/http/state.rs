//! What every handler can reach: the services, the metrics, and request-level settings.

use super::{CsrfKey, Metrics};
use crate::service::{
    AccountService, AssistantService, ConversationService, DeskService, KnowledgeService,
    SystemService,
};
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub accounts: Arc<AccountService>,
    pub knowledge: Arc<KnowledgeService>,
    pub assistant: Arc<AssistantService>,
    pub conversations: Arc<ConversationService>,
    pub desk: Arc<DeskService>,
    pub system: SystemService,
    pub metrics: Arc<Metrics>,
    pub csrf_key: CsrfKey,
    pub trust_proxy: bool,
}
