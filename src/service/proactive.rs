//! Proactive messages: the admin's rules, and sending a rule's message (with suggested items)
//! into the customer's chat when a tracked event or time on a page triggers it — within the
//! rule's cap, never while a person is on the conversation.

use std::sync::Arc;

use serde_json::json;

use super::{CatalogService, ConversationLog, CustomerService, ServiceError, now};
use crate::domain::proactive::{
    Audience, Occurrence, ProactiveRule, ProactiveRuleContent, ProactiveRuleId, ProactiveRuleInput,
};
use crate::domain::{
    Author, ConversationStatus, CustomerId, Inbox, Language, NewMessage, WebhookEvent,
};
use crate::store::Store;

/// At most this many suggested items follow a proactive message.
const PROACTIVE_CARDS: usize = 3;

pub struct ProactiveService {
    store: Store,
    log: Arc<ConversationLog>,
    customers: Arc<CustomerService>,
    catalog: Arc<CatalogService>,
}

impl ProactiveService {
    pub fn new(
        store: Store,
        log: Arc<ConversationLog>,
        customers: Arc<CustomerService>,
        catalog: Arc<CatalogService>,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            log,
            customers,
            catalog,
        })
    }

    pub async fn rules(&self) -> Result<Vec<ProactiveRule>, ServiceError> {
        Ok(self.store.proactive_rules().await?)
    }

    pub async fn rule(&self, id: ProactiveRuleId) -> Result<ProactiveRule, ServiceError> {
        Ok(self.store.proactive_rule(id).await?)
    }

    /// Creates (`id` None) or edits a rule; every form problem at once.
    pub async fn save(
        &self,
        id: Option<ProactiveRuleId>,
        input: &ProactiveRuleInput,
    ) -> Result<ProactiveRuleId, ServiceError> {
        let content = ProactiveRuleContent::parse(input).map_err(ServiceError::InvalidFields)?;
        Ok(self.store.save_proactive_rule(id, content, now()).await?)
    }

    pub async fn set_paused(&self, id: ProactiveRuleId, paused: bool) -> Result<(), ServiceError> {
        Ok(self
            .store
            .set_proactive_rule_paused(id, paused, now())
            .await?)
    }

    pub async fn delete(&self, id: ProactiveRuleId) -> Result<(), ServiceError> {
        Ok(self.store.delete_proactive_rule(id).await?)
    }

    /// The page-time rules the widget loader should time (pattern and seconds), public.
    pub async fn page_timers(&self) -> Result<Vec<(String, u32)>, ServiceError> {
        Ok(self
            .store
            .proactive_rules()
            .await?
            .into_iter()
            .filter(|rule| !rule.paused)
            .filter_map(|rule| match rule.content.trigger {
                crate::domain::proactive::Trigger::Page {
                    url_pattern,
                    seconds_on_page,
                } => Some((url_pattern, seconds_on_page)),
                crate::domain::proactive::Trigger::Event { .. } => None,
            })
            .collect())
    }

    /// Sends the first rule that fires for this occurrence, if any; returns whether one did.
    pub async fn on_occurrence(
        &self,
        inbox: &Inbox,
        customer: CustomerId,
        occurrence: Occurrence<'_>,
    ) -> Result<bool, ServiceError> {
        let rules: Vec<ProactiveRule> = self
            .store
            .proactive_rules()
            .await?
            .into_iter()
            .filter(|rule| !rule.paused)
            .collect();
        if rules.is_empty() {
            return Ok(false);
        }
        let conversation = self.store.open_conversation(inbox.id, customer).await?;
        // The bot never talks over a person: a handed-off chat gets nothing unasked.
        if conversation
            .as_ref()
            .is_some_and(|c| c.status != ConversationStatus::Bot)
        {
            return Ok(false);
        }
        let tags: Vec<String> = self
            .customers
            .refresh_tags(customer)
            .await?
            .into_iter()
            .map(|tag| tag.tag)
            .collect();
        let profile = self.store.customer(customer).await?;
        let facts = self.store.customer_facts(customer).await?;
        let language = facts
            .language
            .as_deref()
            .and_then(|l| Language::parse(l).ok())
            .or_else(|| {
                conversation
                    .as_ref()
                    .and_then(|c| Language::parse(&c.language).ok())
            });
        let audience = Audience {
            tags: &tags,
            language: language.as_ref(),
            attributes: &profile.attributes,
        };
        let now = now();
        for rule in rules {
            let sent = self
                .store
                .proactive_sends_since(rule.id, customer, rule.content.cap.window_start(now))
                .await?;
            if !rule.fires(&occurrence, &audience, sent) {
                continue;
            }
            if !self
                .store
                .claim_proactive_send(rule.id, customer, rule.content.cap, now)
                .await?
            {
                continue;
            }
            let cards = if rule.content.with_recommendations {
                self.catalog
                    .recommend(Some(customer), None, PROACTIVE_CARDS)
                    .await?
            } else {
                Vec::new()
            };
            let conversation = match conversation {
                Some(conversation) => conversation,
                None => {
                    let language = language
                        .clone()
                        .unwrap_or_else(|| Language::detect(&rule.content.message));
                    let created = self
                        .store
                        .create_conversation(inbox.id, customer, language.as_str().to_string(), now)
                        .await?;
                    self.log
                        .webhooks()
                        .emit(WebhookEvent::ConversationCreated, json!(created))
                        .await;
                    created
                }
            };
            self.store
                .link_proactive_send(rule.id, customer, conversation.id)
                .await?;
            self.log
                .append(
                    &conversation,
                    vec![NewMessage {
                        author: Author::Bot,
                        author_user_id: None,
                        body: rule.content.message.clone(),
                        details: json!({
                            "kind": "proactive",
                            "rule_id": rule.id,
                            "rule": rule.content.name,
                            "recommendations": cards,
                        }),
                        private: false,
                    }],
                )
                .await?;
            return Ok(true);
        }
        Ok(false)
    }
}
