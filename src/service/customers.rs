//! Customer profiles: tags derived (and re-derived as history arrives), the scoped list
//! and profile page, and the data-rights actions — export and erase — each logged.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::{ServiceError, TicketService, now};
use crate::domain::profile::{ProfileFacts, ProfileTag, derive_tags};
use crate::domain::{Conversation, Customer, CustomerId, DeskScope, Timestamp, UserId};
use crate::store::{
    AttachmentFiles, AuditEntry, CustomerFacts, CustomerQuery, CustomerSummary, Store, TicketRow,
};

/// What an erased customer's words are replaced by.
pub const ERASED_MARKER: &str = "[erased]";
/// Events shown on the profile timeline.
const TIMELINE_EVENTS: usize = 100;
/// Customers whose tags are derived per background batch.
const BACKFILL_BATCH: i64 = 200;

/// Everything the profile page and the desk's side panel show.
#[derive(Debug, Clone)]
pub struct CustomerProfile {
    pub customer: Customer,
    pub facts: CustomerFacts,
    pub tags: Vec<ProfileTag>,
    pub conversations: Vec<Conversation>,
    pub tickets: Vec<TicketRow>,
}

impl CustomerProfile {
    /// The timeline: events, conversations and tickets, newest first.
    pub fn timeline(&self) -> Vec<TimelineEntry> {
        let mut entries: Vec<TimelineEntry> = self
            .facts
            .events
            .iter()
            .rev()
            .take(TIMELINE_EVENTS)
            .map(|event| TimelineEntry {
                at: event.at,
                kind: "event",
                title: event.name.clone(),
                detail: if event.properties.as_object().is_some_and(|o| !o.is_empty()) {
                    event.properties.to_string()
                } else {
                    String::new()
                },
                link: None,
            })
            .collect();
        entries.extend(self.conversations.iter().map(|conversation| TimelineEntry {
            at: conversation.created_at,
            kind: "conversation",
            title: format!("Conversation #{}", conversation.id),
            detail: conversation.status.as_str().to_string(),
            link: Some(format!("/desk/conversations/{}", conversation.id)),
        }));
        entries.extend(self.tickets.iter().map(|row| TimelineEntry {
            at: row.ticket.created_at,
            kind: "ticket",
            title: format!("Ticket #{} {}", row.ticket.id, row.ticket.subject),
            detail: row.ticket.status.as_str().to_string(),
            link: Some(format!("/tickets/{}", row.ticket.id)),
        }));
        entries.sort_by_key(|entry| std::cmp::Reverse(entry.at));
        entries
    }

    /// Average sentiment per conversation day, oldest first, for the profile's chart.
    pub fn sentiment_by_day(&self) -> Vec<(Timestamp, f32)> {
        let mut days: BTreeMap<i64, (f32, u32)> = BTreeMap::new();
        for (at, score) in &self.facts.sentiment {
            let day = at.unix_seconds().div_euclid(86_400);
            let entry = days.entry(day).or_default();
            entry.0 += score;
            entry.1 += 1;
        }
        days.into_iter()
            .map(|(day, (sum, count))| {
                #[allow(clippy::cast_precision_loss)]
                let mean = sum / count as f32;
                (Timestamp::from_unix_seconds(day * 86_400), mean)
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct TimelineEntry {
    pub at: Timestamp,
    pub kind: &'static str,
    pub title: String,
    pub detail: String,
    pub link: Option<String>,
}

pub struct CustomerService {
    store: Store,
    tickets: Arc<TicketService>,
    files: AttachmentFiles,
}

impl CustomerService {
    pub fn new(store: Store, tickets: Arc<TicketService>, files: AttachmentFiles) -> Arc<Self> {
        Arc::new(Self {
            store,
            tickets,
            files,
        })
    }

    /// Derives the customer's tags from their history now and stores them.
    pub async fn refresh_tags(&self, id: CustomerId) -> Result<Vec<ProfileTag>, ServiceError> {
        let facts = self.store.customer_facts(id).await?;
        if facts.erased_at.is_some() {
            return Ok(Vec::new());
        }
        let tags = derive_tags(&self.profile_facts(&facts).await?, now());
        self.store.replace_customer_tags(id, tags.clone()).await?;
        Ok(tags)
    }

    async fn profile_facts(&self, facts: &CustomerFacts) -> Result<ProfileFacts, ServiceError> {
        let mut ids: Vec<String> = facts.events.iter().flat_map(|e| e.item_ids()).collect();
        ids.sort();
        ids.dedup();
        let items = self.store.catalog_items_by_id(ids).await?;
        Ok(ProfileFacts {
            first_seen: facts.first_seen,
            conversations: facts.conversations,
            events: facts.events.clone(),
            asked_categories: facts.asked_categories.clone(),
            item_categories: items
                .iter()
                .filter(|stored| !stored.item.category.is_empty())
                .map(|stored| (stored.item.id.clone(), stored.item.category.clone()))
                .collect(),
            item_prices: items
                .iter()
                .filter_map(|stored| Some((stored.item.id.clone(), stored.item.price_cents?)))
                .collect(),
        })
    }

    /// Derives tags for customers who have none yet (those from before tags existed),
    /// a batch at a time; returns how many it did.
    pub async fn backfill_tags(&self) -> Result<usize, ServiceError> {
        let mut done = 0;
        loop {
            let batch = self.store.customers_without_tags(BACKFILL_BATCH).await?;
            if batch.is_empty() {
                return Ok(done);
            }
            for id in batch {
                let tags = self.refresh_tags(id).await?;
                if tags.is_empty() {
                    // Nothing to derive: a marker would only hide them from the next pass.
                    return Ok(done);
                }
                done += 1;
            }
        }
    }

    /// Derives missing tags after start-up.
    pub fn backfill_in_background(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let service = Arc::clone(self);
        tokio::spawn(async move {
            match service.backfill_tags().await {
                Ok(0) => {}
                Ok(count) => tracing::info!(customers = count, "derived customer tags"),
                Err(error) => tracing::warn!(%error, "deriving customer tags failed"),
            }
        })
    }

    pub async fn list(
        &self,
        scope: DeskScope,
        query: CustomerQuery,
    ) -> Result<(Vec<CustomerSummary>, i64), ServiceError> {
        Ok(self.store.search_customers(scope, query).await?)
    }

    pub async fn tag_counts(&self, scope: DeskScope) -> Result<Vec<(String, i64)>, ServiceError> {
        Ok(self.store.customer_tag_counts(scope).await?)
    }

    /// The profile, if `scope` may see the customer (else `NotFound`); tags derived fresh.
    pub async fn profile(
        &self,
        scope: DeskScope,
        id: CustomerId,
    ) -> Result<CustomerProfile, ServiceError> {
        self.store.customer_in_scope(scope, id).await?;
        let tags = self.refresh_tags(id).await?;
        let conversations = self
            .store
            .customer_conversations_in_scope(scope, id, 50)
            .await?;
        let mut facts = self.store.customer_facts(id).await?;
        // The language they write in: their latest chat's, unless the shop set one.
        if facts.language.is_none() {
            facts.language = conversations.first().map(|c| c.language.clone());
        }
        Ok(CustomerProfile {
            customer: self.store.customer(id).await?,
            facts,
            tags,
            conversations,
            tickets: self.tickets.of_customer(scope, id).await?.rows,
        })
    }

    /// The customer's data as JSON, for a data-access request; logged.
    pub async fn export(&self, actor: UserId, id: CustomerId) -> Result<Value, ServiceError> {
        let document = self.store.export_customer(id).await?;
        self.store
            .record_audit(
                actor,
                "customer.exported",
                format!("customer {id}"),
                serde_json::json!({}),
                now(),
            )
            .await?;
        Ok(document)
    }

    /// Erases the customer (see `Store::erase_customer`) and deletes their files; logged.
    pub async fn erase(&self, actor: UserId, id: CustomerId) -> Result<(), ServiceError> {
        let erasure = self
            .store
            .erase_customer(id, actor, ERASED_MARKER, now())
            .await?;
        let files = self.files.clone();
        super::blocking(move || files.remove(&erasure.storage_names)).await?;
        self.tickets.catch_up().await?;
        Ok(())
    }

    pub async fn audit_log(&self) -> Result<Vec<AuditEntry>, ServiceError> {
        Ok(self.store.audit_log(100).await?)
    }
}
