//! Full-text indexes (tantivy) of the knowledge base and of tickets: opening or rebuilding
//! them, applying changes from the store, and ranked search (with highlighted snippets for
//! FAQ entries). Derived state: SQLite is the truth, and an index can be thrown away and
//! rebuilt from it at any time. The only module that uses tantivy. Every method blocks;
//! callers run them on a blocking thread.

mod analyzer;
mod core;
mod document;
mod query;
mod snippet;
mod storage;
#[cfg(test)]
mod tests;
mod tickets;

pub use tickets::{TICKET_SCHEMA_VERSION, TicketHit, TicketIndex};

use crate::domain::{FaqEntry, FaqEntryId, KnowledgeChange, KnowledgeFilter, KnowledgeHit};
use core::IndexCore;
use document::Fields;
use std::path::{Path, PathBuf};
use tantivy::collector::TopDocs;
use tantivy::schema::Value;
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{DocAddress, Searcher, TantivyDocument, TantivyError, Term};

/// The version of the knowledge index's schema and analyzer this build writes. Bump it
/// whenever `document.rs` or `analyzer.rs` changes what is indexed: an index written by
/// another version is rebuilt at start-up.
pub const KNOWLEDGE_SCHEMA_VERSION: u32 = 1;

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

/// What `open` found on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexState {
    /// The index is new and empty (none was there, or it was written by another schema
    /// version, never finished building, or unreadable): call `rebuild`.
    Fresh,
    /// The index reflects the store up to `applied_sequence`: apply what came after.
    UpToDate { applied_sequence: i64 },
}

pub struct KnowledgeIndex {
    core: IndexCore,
    fields: Fields,
    analyzer: TextAnalyzer,
}

impl std::fmt::Debug for KnowledgeIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnowledgeIndex")
            .field("dir", &self.core.dir())
            .field("applied_sequence", &self.applied_sequence())
            .finish_non_exhaustive()
    }
}

impl KnowledgeIndex {
    /// Opens the index in `dir`, creating the directory. An index that cannot be reused as
    /// it is (missing, another schema version, never fully built, unreadable) is wiped and
    /// recreated empty, and `IndexState::Fresh` says it needs a `rebuild`.
    pub fn open(dir: &Path) -> Result<(KnowledgeIndex, IndexState), SearchError> {
        let (schema, fields) = document::schema();
        let (core, state) =
            IndexCore::open(dir, schema, KNOWLEDGE_SCHEMA_VERSION, WRITER_MEMORY_BYTES)?;
        let index = KnowledgeIndex {
            core,
            fields,
            analyzer: analyzer::build(),
        };
        Ok((index, state))
    }

    /// Replaces every document with `entries` and records `sequence` as applied: the first
    /// build, and `kefu reindex`. Searches see the old documents until the commit.
    pub fn rebuild(&self, entries: &[FaqEntry], sequence: i64) -> Result<(), SearchError> {
        self.core.commit_with(sequence, |writer| {
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
        self.core.commit_with(last.sequence, |writer| {
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
        self.core.applied_sequence()
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
        let Some(TopDocuments {
            searcher,
            prepared,
            top,
        }) = self.top_documents(text, filter, limit)?
        else {
            return Ok(Vec::new());
        };
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

    /// The ids `search` would return, best first, without the stored documents or snippets
    /// (what the bot's keyword retriever needs on every message).
    pub fn search_ids(
        &self,
        text: &str,
        filter: &KnowledgeFilter,
        limit: usize,
    ) -> Result<Vec<FaqEntryId>, SearchError> {
        let Some(TopDocuments { searcher, top, .. }) = self.top_documents(text, filter, limit)?
        else {
            return Ok(Vec::new());
        };
        Ok(core::fast_ids(&searcher, top)?
            .into_iter()
            .map(|(_, id)| FaqEntryId::new(id))
            .collect())
    }

    /// The best `limit` documents for `text`; `None` for text with no words.
    fn top_documents(
        &self,
        text: &str,
        filter: &KnowledgeFilter,
        limit: usize,
    ) -> Result<Option<TopDocuments>, SearchError> {
        let Some(prepared) = query::prepare(&self.analyzer, &self.fields, text, filter) else {
            return Ok(None);
        };
        let searcher = self.core.searcher();
        let top = searcher.search(
            &*prepared.query,
            &TopDocs::with_limit(limit.clamp(1, MAX_SEARCH_LIMIT)).order_by_score(),
        )?;
        Ok(Some(TopDocuments {
            searcher,
            prepared,
            top,
        }))
    }

    /// How many entries are indexed (as of the last commit).
    pub fn num_docs(&self) -> u64 {
        self.core.num_docs()
    }

    fn id_term(&self, id: FaqEntryId) -> Term {
        Term::from_field_i64(self.fields.id, id.get())
    }
}

/// A search's best documents, with the searcher that found them and the query (whose terms
/// the snippets highlight).
struct TopDocuments {
    searcher: Searcher,
    prepared: query::PreparedQuery,
    top: Vec<(f32, DocAddress)>,
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
