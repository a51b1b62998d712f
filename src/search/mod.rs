//! The knowledge base's full-text index (tantivy): opening or rebuilding it, applying changes
//! from the store, and ranked, highlighted search. Derived state: SQLite is the truth, and
//! the index can be thrown away and rebuilt from it at any time. The only module that uses
//! tantivy. Every method blocks; callers run them on a blocking thread.

mod analyzer;
mod document;
mod query;
mod snippet;
mod storage;
#[cfg(test)]
mod tests;

pub use storage::SCHEMA_VERSION;

use crate::domain::{FaqEntry, FaqEntryId, KnowledgeChange, KnowledgeFilter, KnowledgeHit};
use document::Fields;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard};
use tantivy::collector::TopDocs;
use tantivy::schema::{Schema, Value};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, TantivyError, Term};

/// The most hits one search returns.
pub const MAX_SEARCH_LIMIT: usize = 100;

/// The indexing memory budget. FAQ entries are small; this keeps a full rebuild of tens of
/// thousands of them in a few segments without holding much memory.
const WRITER_MEMORY_BYTES: usize = 32 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("the search index at {dir} is already open, in this process or another")]
    Locked { dir: PathBuf },
    #[error("cannot read or write the search index files at {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the search index failed")]
    Index(#[from] TantivyError),
}

/// Why an index on disk was not reopened.
enum Reopen {
    Locked(SearchError),
    Unusable(String),
}

/// What `open` found on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexState {
    /// The index is new and empty (none was there, or it was written by another schema
    /// version, never finished building, or unreadable): call `rebuild`.
    Fresh,
    /// The index reflects the knowledge base up to `applied_sequence`: apply what came after.
    UpToDate { applied_sequence: i64 },
}

pub struct KnowledgeIndex {
    dir: PathBuf,
    reader: IndexReader,
    /// tantivy allows one writer per index; the mutex makes `apply` and `rebuild` take turns.
    writer: Mutex<IndexWriter>,
    fields: Fields,
    analyzer: TextAnalyzer,
    /// The sequence in the last commit's payload, kept here so reading it needs no IO.
    applied_sequence: AtomicI64,
}

impl std::fmt::Debug for KnowledgeIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnowledgeIndex")
            .field("dir", &self.dir)
            .field("applied_sequence", &self.applied_sequence())
            .finish_non_exhaustive()
    }
}

impl KnowledgeIndex {
    /// Opens the index in `dir`, creating the directory. An index that cannot be reused as
    /// it is (missing, another schema version, never fully built, unreadable) is wiped and
    /// recreated empty, and `IndexState::Fresh` says it needs a `rebuild`.
    pub fn open(dir: &Path) -> Result<(KnowledgeIndex, IndexState), SearchError> {
        std::fs::create_dir_all(dir).map_err(|source| SearchError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let (schema, fields) = document::schema();
        if let Some((index, applied_sequence)) = Self::reopen(dir, &schema, fields)? {
            return Ok((index, IndexState::UpToDate { applied_sequence }));
        }
        let index = storage::recreate(dir, schema)?;
        let index = Self::assemble(dir, index, fields, 0)?;
        Ok((index, IndexState::Fresh))
    }

    /// The index already in `dir` with its applied sequence, or `None` (logged) when it
    /// cannot be reused and should be recreated.
    fn reopen(
        dir: &Path,
        schema: &Schema,
        fields: Fields,
    ) -> Result<Option<(KnowledgeIndex, i64)>, SearchError> {
        // tantivy panics on some damaged files (a segment file of 4 to 7 bytes underflows
        // reading its footer). Here that is one more kind of corrupt index, rebuilt from the
        // store; everything touched inside is dropped after a panic, hence AssertUnwindSafe.
        let attempt = panic::catch_unwind(AssertUnwindSafe(|| {
            let found = storage::probe(dir, schema).map_err(Reopen::Unusable)?;
            let sequence = found.applied_sequence;
            match Self::assemble(dir, found.index, fields, sequence) {
                Ok(index) => Ok((index, sequence)),
                Err(error @ SearchError::Locked { .. }) => Err(Reopen::Locked(error)),
                Err(error) => Err(Reopen::Unusable(describe(&error))),
            }
        }));
        match attempt {
            Ok(Ok(reopened)) => return Ok(Some(reopened)),
            // Someone else is using it: wiping it would pull the files from under them.
            Ok(Err(Reopen::Locked(error))) => return Err(error),
            Ok(Err(Reopen::Unusable(reason))) => {
                tracing::info!(dir = %dir.display(), %reason, "recreating the search index");
            }
            Err(_panic) => tracing::warn!(
                dir = %dir.display(),
                "reading the search index panicked; recreating it"
            ),
        }
        Ok(None)
    }

    fn assemble(
        dir: &Path,
        index: Index,
        fields: Fields,
        applied_sequence: i64,
    ) -> Result<KnowledgeIndex, SearchError> {
        let analyzer = analyzer::build();
        index
            .tokenizers()
            .register(analyzer::ANALYZER_NAME, analyzer.clone());
        // One indexing thread: entries are small, and the server has other work to do.
        let writer = index
            .writer_with_num_threads(1, WRITER_MEMORY_BYTES)
            .map_err(|error| match error {
                TantivyError::LockFailure(..) => SearchError::Locked {
                    dir: dir.to_path_buf(),
                },
                other => SearchError::Index(other),
            })?;
        // Reloaded by hand right after each commit, so a search that follows `apply` sees it.
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(KnowledgeIndex {
            dir: dir.to_path_buf(),
            reader,
            writer: Mutex::new(writer),
            fields,
            analyzer,
            applied_sequence: AtomicI64::new(applied_sequence),
        })
    }

    /// Replaces every document with `entries` and records `sequence` as applied: the first
    /// build, and `kefu reindex`. Searches see the old documents until the commit.
    pub fn rebuild(&self, entries: &[FaqEntry], sequence: i64) -> Result<(), SearchError> {
        self.commit_with(sequence, |writer| {
            writer.delete_all_documents()?;
            for entry in entries {
                writer.add_document(document::document(&self.fields, entry))?;
            }
            Ok(())
        })
    }

    /// Applies `changes` in order (an entry is replaced, or removed when `entry` is `None`)
    /// and records the last one's sequence as applied, in one commit.
    pub fn apply(&self, changes: &[KnowledgeChange]) -> Result<(), SearchError> {
        let Some(last) = changes.last() else {
            return Ok(());
        };
        self.commit_with(last.sequence, |writer| {
            for change in changes {
                // A delete only affects documents added before it, so a change that follows
                // another for the same entry replaces it as expected.
                writer.delete_term(self.id_term(change.entry_id));
                if let Some(entry) = &change.entry {
                    writer.add_document(document::document(&self.fields, entry))?;
                }
            }
            Ok(())
        })
    }

    /// The last knowledge-base sequence the index reflects; 0 before the first build.
    pub fn applied_sequence(&self) -> i64 {
        self.applied_sequence.load(Ordering::SeqCst)
    }

    /// The best matches for `text` (words, not query syntax) among the entries `filter`
    /// allows, best first, each with a snippet. `limit` is clamped to 1..=`MAX_SEARCH_LIMIT`;
    /// text with no words finds nothing.
    pub fn search(
        &self,
        text: &str,
        filter: &KnowledgeFilter,
        limit: usize,
    ) -> Result<Vec<KnowledgeHit>, SearchError> {
        let limit = limit.clamp(1, MAX_SEARCH_LIMIT);
        let Some(prepared) = query::prepare(&self.analyzer, &self.fields, text, filter) else {
            return Ok(Vec::new());
        };
        let searcher = self.reader.searcher();
        let top = searcher.search(
            &*prepared.query,
            &TopDocs::with_limit(limit).order_by_score(),
        )?;
        let mut snippets = snippet::Snippets::new(&searcher, &self.fields, &prepared.terms)?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let document: TantivyDocument = searcher.doc(address)?;
            // Every document is written with its id; one without would be a foreign file.
            let Some(id) = document.get_first(self.fields.id).and_then(|v| v.as_i64()) else {
                continue;
            };
            hits.push(KnowledgeHit {
                entry_id: FaqEntryId::new(id),
                score,
                snippet: snippets.for_document(&document),
            });
        }
        Ok(hits)
    }

    /// How many entries are indexed (as of the last commit).
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    fn id_term(&self, id: FaqEntryId) -> Term {
        Term::from_field_i64(self.fields.id, id.get())
    }

    /// Runs `stage` on the writer, then commits with `sequence` as the payload and makes the
    /// result visible. On failure nothing staged is kept, so it cannot leak into a later commit.
    fn commit_with(
        &self,
        sequence: i64,
        stage: impl FnOnce(&mut IndexWriter) -> tantivy::Result<()>,
    ) -> Result<(), SearchError> {
        let mut writer = self.lock_writer();
        let committed = stage(&mut writer).and_then(|()| {
            let mut prepared = writer.prepare_commit()?;
            prepared.set_payload(&storage::payload(sequence));
            prepared.commit()
        });
        if let Err(error) = committed {
            if let Err(rollback_error) = writer.rollback() {
                tracing::error!(
                    error = &rollback_error as &dyn std::error::Error,
                    "rolling back the search index writer failed"
                );
            }
            return Err(error.into());
        }
        self.applied_sequence.store(sequence, Ordering::SeqCst);
        drop(writer);
        self.reader.reload()?;
        Ok(())
    }

    /// A panic while staging (a bug) poisons the lock; the staged work is rolled back and
    /// the writer used again, since the index on disk is only ever changed by commits.
    fn lock_writer(&self) -> MutexGuard<'_, IndexWriter> {
        match self.writer.lock() {
            Ok(writer) => writer,
            Err(poisoned) => {
                let mut writer = poisoned.into_inner();
                if let Err(error) = writer.rollback() {
                    tracing::error!(
                        error = &error as &dyn std::error::Error,
                        "rolling back the search index writer failed"
                    );
                }
                self.writer.clear_poison();
                writer
            }
        }
    }
}

/// An error and its causes on one line, for a log field.
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
