//! The knowledge base use cases: edit, import/export, search — SQLite first, then the index,
//! which follows the store's change log (so edits by `kefu import` in another process
//! reach a running server too).

use super::{ServiceError, blocking, knowledge_csv, markdown, now};
use crate::domain::{
    FaqContent, FaqEntry, FaqEntryId, FaqInput, ImportSummary, KnowledgeFilter, KnowledgeHit,
    RowError, SanitizedHtml,
};
use crate::search::{IndexState, KnowledgeIndex};
use crate::store::{FaqListQuery, FaqPage, FaqRecord, ImportRecord, Store, StoreError};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

/// How often the index looks for changes made by other processes.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(500);
const CHANGES_PER_BATCH: u32 = 2_000;
const DEMO_FAQ: &[u8] = include_bytes!("demo/faq.csv");

pub struct KnowledgeService {
    store: Store,
    index: Arc<KnowledgeIndex>,
    /// Serialises catching up, so the follower and a local write never apply twice at once.
    catching_up: tokio::sync::Mutex<()>,
    changed: tokio::sync::Notify,
}

/// A search result: the entry as stored plus how it matched.
#[derive(Debug, Clone)]
pub struct KnowledgeResult {
    pub entry: FaqEntry,
    pub hit: KnowledgeHit,
}

impl KnowledgeService {
    /// Opens the index in `index_dir`, rebuilding it when it is new, damaged, from another
    /// schema version, or ahead of the database (after a restore).
    pub async fn open(store: Store, index_dir: &Path) -> Result<Arc<Self>, ServiceError> {
        let dir = index_dir.to_path_buf();
        let (index, state) = blocking(move || KnowledgeIndex::open(&dir)).await??;
        let service = Arc::new(KnowledgeService {
            store,
            index: Arc::new(index),
            catching_up: tokio::sync::Mutex::new(()),
            changed: tokio::sync::Notify::new(),
        });
        let latest = service.store.latest_knowledge_sequence().await?;
        let needs_rebuild = match state {
            IndexState::Fresh => true,
            IndexState::UpToDate { applied_sequence } => applied_sequence > latest,
        };
        if needs_rebuild {
            service.rebuild_index().await?;
        } else {
            service.catch_up().await?;
        }
        Ok(service)
    }

    /// Rebuilds the index from the database.
    pub async fn rebuild_index(&self) -> Result<usize, ServiceError> {
        let _guard = self.catching_up.lock().await;
        let (entries, sequence) = self.store.knowledge_snapshot().await?;
        let count = entries.len();
        let index = Arc::clone(&self.index);
        blocking(move || index.rebuild(&entries, sequence)).await??;
        tracing::info!(entries = count, "knowledge index rebuilt");
        Ok(count)
    }

    /// Applies every change the index has not seen yet; returns how many entries changed.
    pub async fn catch_up(&self) -> Result<usize, ServiceError> {
        let _guard = self.catching_up.lock().await;
        let mut applied = 0;
        loop {
            let after = self.index.applied_sequence();
            let changes = self
                .store
                .knowledge_changes_since(after, CHANGES_PER_BATCH)
                .await?;
            if changes.is_empty() {
                return Ok(applied);
            }
            applied += changes.len();
            let index = Arc::clone(&self.index);
            blocking(move || index.apply(&changes)).await??;
        }
    }

    /// Keeps the index following the database until the process ends.
    pub fn follow_changes(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let service = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = service.changed.notified() => {}
                    () = tokio::time::sleep(FOLLOW_INTERVAL) => {}
                }
                match service.catch_up().await {
                    Ok(0) => {}
                    Ok(count) => tracing::debug!(count, "index caught up"),
                    Err(error) => tracing::warn!(%error, "updating the knowledge index failed"),
                }
            }
        })
    }

    /// After a local write: the database has it; bring the index along right away.
    async fn after_write(&self) {
        if let Err(error) = self.catch_up().await {
            tracing::warn!(%error, "index update after a write failed; the follower retries");
            self.changed.notify_one();
        }
    }

    pub fn indexed_entries(&self) -> u64 {
        self.index.num_docs()
    }

    pub async fn search(
        &self,
        query: &str,
        filter: KnowledgeFilter,
        limit: usize,
    ) -> Result<Vec<KnowledgeResult>, ServiceError> {
        let index = Arc::clone(&self.index);
        let query = query.to_string();
        let hits = blocking(move || index.search(&query, &filter, limit)).await??;
        let entries = self
            .store
            .faq_entries(hits.iter().map(|hit| hit.entry_id).collect())
            .await?;
        Ok(hits
            .into_iter()
            .filter_map(|hit| {
                let entry = entries.iter().find(|e| e.id == hit.entry_id)?.clone();
                Some(KnowledgeResult { entry, hit })
            })
            .collect())
    }

    /// The ids of the entries `search` would return, best first, without loading them.
    pub async fn search_ids(
        &self,
        query: &str,
        filter: KnowledgeFilter,
        limit: usize,
    ) -> Result<Vec<FaqEntryId>, ServiceError> {
        let index = Arc::clone(&self.index);
        let query = query.to_string();
        Ok(blocking(move || index.search_ids(&query, &filter, limit)).await??)
    }

    pub async fn list(&self, query: FaqListQuery) -> Result<FaqPage, ServiceError> {
        Ok(self.store.list_faq(query).await?)
    }

    pub async fn categories(&self) -> Result<Vec<String>, ServiceError> {
        Ok(self.store.faq_categories().await?)
    }

    pub async fn entry(&self, id: FaqEntryId) -> Result<FaqEntry, ServiceError> {
        Ok(self.store.faq_entry(id).await?)
    }

    /// The entries with these ids that still exist, in no particular order.
    pub async fn entries(&self, ids: Vec<FaqEntryId>) -> Result<Vec<FaqEntry>, ServiceError> {
        Ok(self.store.faq_entries(ids).await?)
    }

    pub fn preview(&self, markdown_text: &str) -> SanitizedHtml {
        markdown::render(markdown_text)
    }

    pub async fn create(&self, input: FaqInput) -> Result<FaqEntry, ServiceError> {
        let record = record_from(input)?;
        let entry = self.store.create_faq(record, now()).await?;
        tracing::info!(entry_id = %entry.id, "FAQ entry created");
        self.after_write().await;
        Ok(entry)
    }

    pub async fn update(&self, id: FaqEntryId, input: FaqInput) -> Result<FaqEntry, ServiceError> {
        let record = record_from(input)?;
        let entry = self.store.update_faq(id, record, now()).await?;
        tracing::info!(entry_id = %entry.id, revision = entry.revision, "FAQ entry updated");
        self.after_write().await;
        Ok(entry)
    }

    pub async fn delete(&self, id: FaqEntryId) -> Result<(), ServiceError> {
        self.store.delete_faq(id, now()).await?;
        tracing::info!(entry_id = %id, "FAQ entry deleted");
        self.after_write().await;
        Ok(())
    }

    /// Imports a CSV file: every row is checked before anything is written, then all rows
    /// are written in one transaction (or, for a dry run, rolled back).
    pub async fn import_csv(
        &self,
        bytes: &[u8],
        dry_run: bool,
        progress: Option<Arc<AtomicUsize>>,
    ) -> Result<ImportSummary, ServiceError> {
        let summary = import_into(&self.store, bytes, dry_run, progress).await?;
        if !dry_run {
            self.after_write().await;
        }
        Ok(summary)
    }

    pub async fn export_csv(&self) -> Result<Vec<u8>, ServiceError> {
        export_from(&self.store).await
    }

    /// Loads the bilingual demo FAQ into a knowledge base that has never had an entry.
    pub async fn load_demo_if_new(&self) -> Result<Option<ImportSummary>, ServiceError> {
        if self.store.latest_knowledge_sequence().await? > 0 {
            return Ok(None);
        }
        let summary = self.import_csv(DEMO_FAQ, false, None).await?;
        tracing::info!(entries = summary.created, "loaded the demo knowledge base");
        Ok(Some(summary))
    }
}

fn record_from(input: FaqInput) -> Result<FaqRecord, ServiceError> {
    let content = FaqContent::parse(input).map_err(ServiceError::InvalidFields)?;
    let answer_html = markdown::render(&content.answer_markdown);
    Ok(FaqRecord {
        content,
        answer_html,
    })
}

/// The import itself, usable without a running index (the CLI writes only the database;
/// a running server's index follows the change log).
pub async fn import_into(
    store: &Store,
    bytes: &[u8],
    dry_run: bool,
    progress: Option<Arc<AtomicUsize>>,
) -> Result<ImportSummary, ServiceError> {
    let rows = knowledge_csv::parse(bytes).map_err(ServiceError::InvalidRows)?;
    let records = rows
        .into_iter()
        .map(|row| ImportRecord {
            line: row.line,
            record: FaqRecord {
                answer_html: markdown::render(&row.content.answer_markdown),
                content: row.content,
            },
        })
        .collect();
    store
        .import_faq(records, dry_run, now(), progress)
        .await
        .map_err(|error| match error {
            StoreError::RowConflict { line, message } => {
                ServiceError::InvalidRows(vec![RowError { line, message }])
            }
            other => other.into(),
        })
}

pub async fn export_from(store: &Store) -> Result<Vec<u8>, ServiceError> {
    let (mut entries, _) = store.knowledge_snapshot().await?;
    entries.sort_by(|a, b| {
        (a.content.category.as_str(), a.id).cmp(&(b.content.category.as_str(), b.id))
    });
    knowledge_csv::write(&entries).map_err(ServiceError::internal)
}
