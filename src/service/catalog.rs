//! The catalog and the recommender: CSV imports embedded with the local model, the items
//! held in memory with their vectors, "bought together" counts rebuilt as events arrive,
//! and the ranked, explained suggestions for one customer in one context.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{ServiceError, blocking, catalog_csv, now};
use crate::domain::catalog::{CatalogItem, StoredCatalogItem, mentions, naming_terms};
use crate::domain::profile::{basket_items, interest_categories, purchased_items};
use crate::domain::recommend::{
    Candidate, CoOccurrence, ReasonKind, RecommendationContext, recommend,
};
use crate::domain::{CustomerId, ImportSummary, Language};
use crate::ml::Embedder;
use crate::store::{CatalogVector, ModelKey, Store};

/// "Bought together" is rebuilt at most this often, and only when events arrived.
const TOGETHER_REFRESH: Duration = Duration::from_secs(30);
/// Items embedded per blocking job.
const EMBED_CHUNK: usize = 64;
/// Cards follow a bot answer only when the best item stands out this far (in cosine) from
/// the catalog's average item: a question about passwords has no item that does.
pub const RELATED_MARGIN: f32 = 0.09;
const DEMO_CATALOG: &[u8] = include_bytes!("demo/catalog.csv");
/// Added to the similarity of an item the customer names.
const MENTION_BONUS: f32 = 0.15;
/// At most this many cards follow one answer.
pub const ANSWER_CARDS: usize = 3;

/// A suggested item as the widget, the desk and the API show it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ItemCard {
    pub item_id: String,
    pub title: String,
    pub category: String,
    /// "129.00", in the shop's currency.
    pub price: Option<String>,
    pub url: String,
    pub image_url: String,
    /// Why it is suggested ("bought together with Desk lamp").
    pub reason: String,
    /// matches_question, bought_together, interest or popular.
    pub reason_kind: String,
    pub score: f32,
}

/// The catalog as the recommender reads it, rebuilt when the catalog changes.
struct Snapshot {
    version: (i64, i64),
    items: Vec<StoredCatalogItem>,
    /// Row i is the vector of items[i] (all items have one once embedded).
    vectors: Vec<Vec<f32>>,
    /// The words that name items[i] (see `naming_terms`).
    terms: Vec<Vec<String>>,
}

struct Ranked {
    cards: Vec<ItemCard>,
    margin: Option<f32>,
    named_any: bool,
}

struct Together {
    newest_event: i64,
    built: Instant,
    model: Arc<CoOccurrence>,
}

pub struct CatalogService {
    store: Store,
    embedder: Arc<Embedder>,
    snapshot: tokio::sync::Mutex<Option<Arc<Snapshot>>>,
    together: Mutex<Option<Together>>,
}

fn text_sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl CatalogService {
    pub fn new(store: Store, embedder: Arc<Embedder>) -> Arc<Self> {
        Arc::new(Self {
            store,
            embedder,
            snapshot: tokio::sync::Mutex::new(None),
            together: Mutex::new(None),
        })
    }

    fn model_key(&self) -> ModelKey {
        ModelKey {
            model_id: self.embedder.model_id().to_string(),
            checksum: self.embedder.checksum().to_string(),
        }
    }

    /// Imports a CSV file: every row valid or nothing saved; then embeds what changed.
    pub async fn import_csv(
        &self,
        bytes: &[u8],
        dry_run: bool,
    ) -> Result<ImportSummary, ServiceError> {
        let rows = catalog_csv::parse(bytes).map_err(ServiceError::InvalidRows)?;
        let summary = self.store.import_catalog(rows, dry_run, now()).await?;
        if !dry_run {
            self.ensure_embedded().await?;
        }
        Ok(summary)
    }

    /// Loads the demo shop's catalog into a new instance (once: deleting it sticks).
    pub async fn load_demo_if_new(&self) -> Result<(), ServiceError> {
        if self.store.setting("demo_catalog").await?.is_some()
            || self.store.catalog_version().await?.0 > 0
        {
            return Ok(());
        }
        let rows = catalog_csv::parse(DEMO_CATALOG).map_err(ServiceError::InvalidRows)?;
        let summary = self.store.import_catalog(rows, false, now()).await?;
        self.store
            .setting_or_insert("demo_catalog", "loaded".into())
            .await?;
        tracing::info!(items = summary.created, "loaded the demo catalog");
        Ok(())
    }

    /// Embeds the catalog after start-up, so the server answers at once.
    pub fn embed_in_background(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let service = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(error) = service.snapshot().await {
                tracing::warn!(%error, "embedding the catalog failed");
            }
        })
    }

    pub async fn items(&self) -> Result<Vec<StoredCatalogItem>, ServiceError> {
        Ok(self.store.catalog_items().await?)
    }

    pub async fn delete(&self, item_id: &str) -> Result<(), ServiceError> {
        self.store.delete_catalog_item(item_id.to_string()).await?;
        Ok(())
    }

    /// Embeds items that have no vector under the current model, or whose text changed.
    /// Returns how many it embedded.
    pub async fn ensure_embedded(&self) -> Result<usize, ServiceError> {
        let items = self.store.catalog_items().await?;
        let stored = self.store.catalog_vectors(self.model_key()).await?;
        let missing: Vec<(String, String)> = items
            .iter()
            .map(|stored_item| {
                (
                    stored_item.item.id.clone(),
                    stored_item.item.embedding_text(),
                )
            })
            .filter(|(id, text)| {
                stored
                    .get(id)
                    .is_none_or(|vector| vector.text_sha256 != text_sha256(text))
            })
            .collect();
        for chunk in missing.chunks(EMBED_CHUNK) {
            let embedder = Arc::clone(&self.embedder);
            let texts: Vec<String> = chunk.iter().map(|(_, text)| text.clone()).collect();
            let vectors = blocking(move || {
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                embedder.embed_passages(&refs)
            })
            .await??;
            let records = chunk
                .iter()
                .zip(vectors)
                .map(|((id, text), vector)| {
                    (
                        id.clone(),
                        CatalogVector {
                            text_sha256: text_sha256(text),
                            vector,
                        },
                    )
                })
                .collect();
            self.store
                .save_catalog_vectors(self.model_key(), records)
                .await?;
        }
        Ok(missing.len())
    }

    async fn snapshot(&self) -> Result<Arc<Snapshot>, ServiceError> {
        let version = self.store.catalog_version().await?;
        let mut slot = self.snapshot.lock().await;
        if let Some(current) = slot.as_ref()
            && current.version == version
        {
            return Ok(Arc::clone(current));
        }
        self.ensure_embedded().await?;
        let items = self.store.catalog_items().await?;
        let mut stored = self.store.catalog_vectors(self.model_key()).await?;
        let vectors = items
            .iter()
            .map(|item| {
                stored
                    .remove(&item.item.id)
                    .map(|v| v.vector)
                    .unwrap_or_default()
            })
            .collect();
        let terms = naming_terms(&items.iter().map(|stored| &stored.item).collect::<Vec<_>>());
        let snapshot = Arc::new(Snapshot {
            version,
            items,
            vectors,
            terms,
        });
        *slot = Some(Arc::clone(&snapshot));
        Ok(snapshot)
    }

    async fn together(&self) -> Result<Arc<CoOccurrence>, ServiceError> {
        {
            let cached = self.together.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(cached) = cached.as_ref()
                && cached.built.elapsed() < TOGETHER_REFRESH
            {
                return Ok(Arc::clone(&cached.model));
            }
        }
        let (histories, newest_event) = self.store.basket_histories().await?;
        {
            let mut cached = self.together.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(cached) = cached.as_mut()
                && cached.newest_event == newest_event
            {
                cached.built = Instant::now();
                return Ok(Arc::clone(&cached.model));
            }
        }
        let model = blocking(move || {
            let items: Vec<Vec<String>> = histories
                .iter()
                .map(|events| events.iter().flat_map(|event| event.item_ids()).collect())
                .collect();
            Arc::new(CoOccurrence::from_histories(
                items.iter().map(Vec::as_slice),
            ))
        })
        .await?;
        *self.together.lock().unwrap_or_else(PoisonError::into_inner) = Some(Together {
            newest_event,
            built: Instant::now(),
            model: Arc::clone(&model),
        });
        Ok(model)
    }

    /// The best `limit` items for the customer (if known) in the context of `text` (a
    /// question, a conversation), each with its reason.
    pub async fn recommend(
        &self,
        customer: Option<CustomerId>,
        text: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ItemCard>, ServiceError> {
        Ok(self
            .rank(customer, text, limit)
            .await?
            .map(|ranked| ranked.cards)
            .unwrap_or_default())
    }

    /// Cards to follow a bot answer: only when the question is about something the
    /// catalog holds.
    pub async fn cards_for_question(
        &self,
        customer: CustomerId,
        question: &str,
    ) -> Result<Vec<ItemCard>, ServiceError> {
        let ranked = self
            .rank(Some(customer), Some(question), ANSWER_CARDS)
            .await?;
        if let Some(ranked) = &ranked {
            tracing::debug!(
                margin = ranked.margin.unwrap_or_default(),
                named = ranked.named_any,
                best = ranked.cards.first().map_or("", |card| card.title.as_str()),
                "catalog match for a question"
            );
        }
        match ranked {
            Some(ranked)
                if ranked.named_any || ranked.margin.is_some_and(|m| m >= RELATED_MARGIN) =>
            {
                Ok(ranked.cards)
            }
            _ => Ok(Vec::new()),
        }
    }

    /// The ranked cards, how far the best item stands out from the average one for `text`
    /// (when given), and whether `text` names an item; `None` for an empty catalog.
    async fn rank(
        &self,
        customer: Option<CustomerId>,
        text: Option<&str>,
        limit: usize,
    ) -> Result<Option<Ranked>, ServiceError> {
        let snapshot = self.snapshot().await?;
        if snapshot.items.is_empty() {
            return Ok(None);
        }
        let together = self.together().await?;
        let similarities: Option<Vec<f32>> = match text.map(str::trim).filter(|t| !t.is_empty()) {
            Some(text) => {
                let embedder = Arc::clone(&self.embedder);
                let owned = text.to_string();
                let query = blocking(move || embedder.embed_queries(&[owned.as_str()]))
                    .await??
                    .pop()
                    .unwrap_or_default();
                Some(
                    snapshot
                        .vectors
                        .iter()
                        .map(|vector| {
                            if vector.is_empty() {
                                0.0
                            } else {
                                dot(&query, vector)
                            }
                        })
                        .collect(),
                )
            }
            None => None,
        };
        let margin = similarities.as_ref().map(|values| {
            #[allow(clippy::cast_precision_loss)]
            let mean = values.iter().sum::<f32>() / values.len().max(1) as f32;
            values.iter().copied().fold(f32::MIN, f32::max) - mean
        });
        // An item the customer names ("the kettle", "台灯") is what they ask about, whatever
        // the sentence around it.
        let mentioned: Vec<bool> = match text {
            Some(text) => snapshot
                .terms
                .iter()
                .map(|terms| mentions(text, terms))
                .collect(),
            None => vec![false; snapshot.items.len()],
        };
        let similarities = similarities.map(|values| {
            values
                .iter()
                .zip(&mentioned)
                .map(|(similarity, named)| similarity + if *named { MENTION_BONUS } else { 0.0 })
                .collect::<Vec<f32>>()
        });
        let named_any = mentioned.iter().any(|named| *named);
        // Text about nothing in the catalog says nothing about which item fits: then the
        // other signals rank alone (the best of unrelated items is not "a match").
        let related = named_any || margin.is_some_and(|m| m >= RELATED_MARGIN);
        let similarities = similarities.filter(|_| related);
        let (purchased, seeds, interests) = match customer {
            Some(customer) => self.customer_signals(customer).await?,
            None => Default::default(),
        };
        // A question in Chinese gets the Chinese items where the catalog has any.
        let language = text.map(Language::detect);
        let has_language = language.as_ref().is_some_and(|l| {
            snapshot
                .items
                .iter()
                .any(|stored| stored.item.language == *l)
        });
        let candidates: Vec<Candidate<'_>> = snapshot
            .items
            .iter()
            .enumerate()
            .filter(|(_, stored)| !has_language || language.as_ref() == Some(&stored.item.language))
            .map(|(index, stored)| Candidate {
                id: &stored.item.id,
                title: &stored.item.title,
                category: &stored.item.category,
                content_similarity: similarities.as_ref().map(|values| values[index]),
            })
            .collect();
        let ranked = recommend(
            &candidates,
            &together,
            &RecommendationContext {
                purchased: &purchased,
                seeds: &seeds,
                interests: &interests,
                topic: text,
            },
            limit,
        );
        let by_id: HashMap<&str, &CatalogItem> = snapshot
            .items
            .iter()
            .map(|stored| (stored.item.id.as_str(), &stored.item))
            .collect();
        let cards = ranked
            .into_iter()
            .filter_map(|recommendation| {
                let item = by_id.get(recommendation.item_id.as_str())?;
                Some(ItemCard {
                    item_id: item.id.clone(),
                    title: item.title.clone(),
                    category: item.category.clone(),
                    price: item.price_text(),
                    url: item.url.clone(),
                    image_url: item.image_url.clone(),
                    reason: recommendation.reason,
                    reason_kind: reason_name(recommendation.reason_kind).into(),
                    score: recommendation.score,
                })
            })
            .collect();
        Ok(Some(Ranked {
            cards,
            margin,
            named_any,
        }))
    }

    /// One item as a card an agent sends, with the agent's reason.
    pub async fn card(&self, item_id: &str) -> Result<ItemCard, ServiceError> {
        let item = self
            .store
            .catalog_items_by_id(vec![item_id.to_string()])
            .await?
            .pop()
            .ok_or(ServiceError::NotFound)?
            .item;
        Ok(ItemCard {
            price: item.price_text(),
            item_id: item.id,
            title: item.title,
            category: item.category,
            url: item.url,
            image_url: item.image_url,
            reason: "suggested by our team".into(),
            reason_kind: "agent".into(),
            score: 0.0,
        })
    }

    /// What they bought (never suggested again), what they bought or carted (latest last),
    /// and their interest categories, strongest first.
    async fn customer_signals(
        &self,
        customer: CustomerId,
    ) -> Result<(Vec<String>, Vec<String>, Vec<String>), ServiceError> {
        let facts = self.store.customer_facts(customer).await?;
        let purchased = purchased_items(&facts.events);
        let seeds = basket_items(&facts.events);
        let interests = interest_categories(&self.store.customer_tags(customer).await?);
        Ok((purchased, seeds, interests))
    }
}

fn reason_name(kind: ReasonKind) -> &'static str {
    match kind {
        ReasonKind::MatchesQuestion => "matches_question",
        ReasonKind::BoughtTogether => "bought_together",
        ReasonKind::Interest => "interest",
        ReasonKind::Popular => "popular",
    }
}
