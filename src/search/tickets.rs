//! The tickets' full-text index: subject, description and every comment, Chinese and
//! English through the same analyzer as the knowledge base. It answers "which tickets match
//! these words, best first"; filters, scope and sorting are the store's (SQLite) job.

use super::core::IndexCore;
use super::{IndexState, SearchError, analyzer, query};
use crate::domain::{TicketChange, TicketDocument, TicketId};
use std::path::Path;
use tantivy::collector::TopDocs;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{TantivyDocument, Term};

/// Bump when the schema or what goes into a document changes: the index is then rebuilt.
pub const TICKET_SCHEMA_VERSION: u32 = 1;

/// Tickets are longer than FAQ entries and there can be hundreds of thousands of them.
const WRITER_MEMORY_BYTES: usize = 64 * 1024 * 1024;

/// The most ticket ids one search hands back to be filtered and sorted by the store.
pub const MAX_TICKET_HITS: usize = 5_000;

#[derive(Debug, Clone, Copy)]
struct Fields {
    id: Field,
    subject: Field,
    description: Field,
    comments: Field,
}

fn schema() -> (Schema, Fields) {
    let indexing = TextFieldIndexing::default()
        .set_tokenizer(analyzer::ANALYZER_NAME)
        .set_index_option(IndexRecordOption::WithFreqs);
    let text = TextOptions::default().set_indexing_options(indexing);
    let mut builder = Schema::builder();
    let fields = Fields {
        id: builder.add_i64_field("id", INDEXED | STORED | FAST),
        subject: builder.add_text_field("subject", text.clone()),
        description: builder.add_text_field("description", text.clone()),
        comments: builder.add_text_field("comments", text),
    };
    (builder.build(), fields)
}

/// A ticket that matched, and how well.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TicketHit {
    pub ticket_id: TicketId,
    pub score: f32,
}

pub struct TicketIndex {
    core: IndexCore,
    fields: Fields,
    analyzer: TextAnalyzer,
}

impl std::fmt::Debug for TicketIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TicketIndex")
            .field("dir", &self.core.dir())
            .field("applied_sequence", &self.applied_sequence())
            .finish_non_exhaustive()
    }
}

impl TicketIndex {
    /// Opens (or recreates, then `IndexState::Fresh`) the index in `dir`.
    pub fn open(dir: &Path) -> Result<(TicketIndex, IndexState), SearchError> {
        let (schema, fields) = schema();
        let (core, state) =
            IndexCore::open(dir, schema, TICKET_SCHEMA_VERSION, WRITER_MEMORY_BYTES)?;
        Ok((
            TicketIndex {
                core,
                fields,
                analyzer: analyzer::build(),
            },
            state,
        ))
    }

    /// Replaces every document with `tickets` and records `sequence` as applied.
    pub fn rebuild(&self, tickets: &[TicketDocument], sequence: i64) -> Result<(), SearchError> {
        self.core.commit_with(sequence, |writer| {
            writer.delete_all_documents()?;
            for ticket in tickets {
                writer.add_document(self.document(ticket))?;
            }
            Ok(())
        })
    }

    /// Applies `changes` in order and records the last sequence, in one commit.
    pub fn apply(&self, changes: &[TicketChange]) -> Result<(), SearchError> {
        let Some(last) = changes.last() else {
            return Ok(());
        };
        self.core.commit_with(last.sequence, |writer| {
            for change in changes {
                writer.delete_term(Term::from_field_i64(self.fields.id, change.ticket_id.get()));
                if let Some(ticket) = &change.document {
                    writer.add_document(self.document(ticket))?;
                }
            }
            Ok(())
        })
    }

    pub fn applied_sequence(&self) -> i64 {
        self.core.applied_sequence()
    }

    pub fn num_docs(&self) -> u64 {
        self.core.num_docs()
    }

    /// The tickets matching `text` (words, not query syntax), best first, at most `limit`
    /// (clamped to `MAX_TICKET_HITS`). Text without words finds nothing.
    pub fn search(&self, text: &str, limit: usize) -> Result<Vec<TicketHit>, SearchError> {
        let fields = [
            (self.fields.subject, 3.0),
            (self.fields.description, 1.5),
            (self.fields.comments, 1.0),
        ];
        let Some(prepared) = query::any_term(&self.analyzer, &fields, text) else {
            return Ok(Vec::new());
        };
        let searcher = self.core.searcher();
        let top = searcher.search(
            &*prepared.query,
            &TopDocs::with_limit(limit.clamp(1, MAX_TICKET_HITS)).order_by_score(),
        )?;
        let hits = super::core::fast_ids(&searcher, top)?
            .into_iter()
            .map(|(score, id)| TicketHit {
                ticket_id: TicketId::new(id),
                score,
            })
            .collect();
        Ok(hits)
    }

    fn document(&self, ticket: &TicketDocument) -> TantivyDocument {
        let mut doc = TantivyDocument::default();
        doc.add_i64(self.fields.id, ticket.id.get());
        doc.add_text(self.fields.subject, &ticket.subject);
        doc.add_text(self.fields.description, &ticket.description);
        for comment in &ticket.comments {
            doc.add_text(self.fields.comments, comment);
        }
        doc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(id: i64, subject: &str, description: &str, comments: &[&str]) -> TicketDocument {
        TicketDocument {
            id: TicketId::new(id),
            subject: subject.into(),
            description: description.into(),
            comments: comments.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn finds_tickets_by_subject_description_and_comments_in_both_languages() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (index, state) = TicketIndex::open(dir.path()).expect("open");
        assert_eq!(state, IndexState::Fresh);
        index
            .rebuild(
                &[
                    ticket(1, "Kettle leaks", "The lid drips when pouring", &[]),
                    ticket(2, "退款还没到账", "我上周申请了退款", &["已经转给财务"]),
                    ticket(3, "Wrong colour", "", &["Customer wants a refund instead"]),
                ],
                7,
            )
            .expect("rebuild");
        let ids = |text: &str| -> Vec<i64> {
            index
                .search(text, 10)
                .expect("search")
                .into_iter()
                .map(|hit| hit.ticket_id.get())
                .collect()
        };
        assert_eq!(ids("leaking kettle"), [1]);
        assert_eq!(ids("退款"), [2]);
        assert_eq!(ids("refunds"), [3]);
        assert!(ids("!!!").is_empty());

        index
            .apply(&[TicketChange {
                sequence: 8,
                ticket_id: TicketId::new(1),
                document: None,
            }])
            .expect("apply");
        assert!(ids("kettle").is_empty());
        assert_eq!(index.applied_sequence(), 8);
        drop(index);
        let (reopened, state) = TicketIndex::open(dir.path()).expect("reopen");
        assert_eq!(
            state,
            IndexState::UpToDate {
                applied_sequence: 8
            }
        );
        assert_eq!(reopened.num_docs(), 2);
    }
}
