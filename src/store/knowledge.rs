//! FAQ entries, their phrasings and tags, imports, and the change log the index follows.

use super::{Store, StoreError, conflict_on_unique};
use crate::domain::{
    FaqContent, FaqEntry, FaqEntryId, FaqStatus, ImportAction, ImportSummary, KnowledgeChange,
    Language, SanitizedHtml, Timestamp,
};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

/// An entry to write: checked content plus its rendered answer.
#[derive(Debug, Clone)]
pub struct FaqRecord {
    pub content: FaqContent,
    pub answer_html: SanitizedHtml,
}

/// One row of an import, with the file line it came from.
#[derive(Debug, Clone)]
pub struct ImportRecord {
    pub line: u64,
    pub record: FaqRecord,
}

/// Which entries a list page shows.
#[derive(Debug, Clone, Default)]
pub struct FaqListQuery {
    pub language: Option<Language>,
    pub category: Option<String>,
    pub status: Option<FaqStatus>,
    pub offset: u32,
    pub limit: u32,
}

#[derive(Debug, Clone)]
pub struct FaqPage {
    pub entries: Vec<FaqEntry>,
    pub total: u64,
}

const ENTRY_COLUMNS: &str = "id, external_id, question, answer_markdown, answer_html, category, \
     language, status, revision, created_at, updated_at";

struct EntryRow {
    id: FaqEntryId,
    external_id: Option<String>,
    question: String,
    answer_markdown: String,
    answer_html: String,
    category: String,
    language: String,
    status: String,
    revision: i64,
    created_at: i64,
    updated_at: i64,
}

fn entry_row(row: &Row<'_>) -> rusqlite::Result<EntryRow> {
    Ok(EntryRow {
        id: FaqEntryId::new(row.get(0)?),
        external_id: row.get(1)?,
        question: row.get(2)?,
        answer_markdown: row.get(3)?,
        answer_html: row.get(4)?,
        category: row.get(5)?,
        language: row.get(6)?,
        status: row.get(7)?,
        revision: row.get(8)?,
        created_at: row.get(9)?,
        updated_at: row.get(10)?,
    })
}

/// Completes a row with its variants and tags.
fn hydrate(conn: &Connection, row: EntryRow) -> Result<FaqEntry, StoreError> {
    let mut variants =
        conn.prepare_cached("SELECT text FROM faq_variants WHERE entry_id = ?1 ORDER BY position")?;
    let variants = variants
        .query_map([row.id.get()], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    let mut tags =
        conn.prepare_cached("SELECT tag FROM faq_tags WHERE entry_id = ?1 ORDER BY position")?;
    let tags = tags
        .query_map([row.id.get()], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(FaqEntry {
        id: row.id,
        content: FaqContent {
            question: row.question,
            variants,
            answer_markdown: row.answer_markdown,
            category: row.category,
            tags,
            language: Language::from_trusted(row.language),
            // The CHECK constraint allows only these two.
            status: if row.status == "draft" {
                FaqStatus::Draft
            } else {
                FaqStatus::Published
            },
            external_id: row.external_id,
        },
        answer_html: SanitizedHtml::from_sanitizer(row.answer_html),
        revision: row.revision,
        created_at: Timestamp::from_unix_seconds(row.created_at),
        updated_at: Timestamp::from_unix_seconds(row.updated_at),
    })
}

fn entry_by_id(conn: &Connection, id: FaqEntryId) -> Result<Option<FaqEntry>, StoreError> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT {ENTRY_COLUMNS} FROM faq_entries WHERE id = ?1"
        ))?
        .query_row([id.get()], entry_row)
        .optional()?;
    row.map(|row| hydrate(conn, row)).transpose()
}

fn entry_id_where(
    conn: &Connection,
    clause: &str,
    values: impl rusqlite::Params,
) -> Result<Option<FaqEntryId>, StoreError> {
    Ok(conn
        .prepare_cached(&format!("SELECT id FROM faq_entries WHERE {clause}"))?
        .query_row(values, |row| row.get(0))
        .optional()?
        .map(FaqEntryId::new))
}

fn log_change(conn: &Connection, id: FaqEntryId, now: Timestamp) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT INTO knowledge_changes (entry_id, changed_at) VALUES (?1, ?2)")?
        .execute((id.get(), now.unix_seconds()))?;
    Ok(())
}

fn write_children(
    conn: &Connection,
    id: FaqEntryId,
    content: &FaqContent,
) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM faq_variants WHERE entry_id = ?1")?
        .execute([id.get()])?;
    conn.prepare_cached("DELETE FROM faq_tags WHERE entry_id = ?1")?
        .execute([id.get()])?;
    let mut variant = conn.prepare_cached(
        "INSERT INTO faq_variants (entry_id, position, text) VALUES (?1, ?2, ?3)",
    )?;
    for (position, text) in (0_i64..).zip(&content.variants) {
        variant.execute(params![id.get(), position, text])?;
    }
    let mut tag =
        conn.prepare_cached("INSERT INTO faq_tags (entry_id, position, tag) VALUES (?1, ?2, ?3)")?;
    for (position, text) in (0_i64..).zip(&content.tags) {
        tag.execute(params![id.get(), position, text])?;
    }
    Ok(())
}

fn insert_entry(
    conn: &Connection,
    record: &FaqRecord,
    now: Timestamp,
) -> Result<FaqEntryId, StoreError> {
    let content = &record.content;
    let id: i64 = conn
        .prepare_cached(
            "INSERT INTO faq_entries (external_id, question, question_key, answer_markdown,
                 answer_html, category, language, status, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9) RETURNING id",
        )?
        .query_row(
            params![
                content.external_id,
                content.question,
                content.question_key(),
                content.answer_markdown,
                record.answer_html.as_str(),
                content.category,
                content.language.as_str(),
                content.status.as_str(),
                now.unix_seconds(),
            ],
            |row| row.get(0),
        )
        .map_err(|e| conflict_on_unique(e, "an entry with this question or external id"))?;
    let id = FaqEntryId::new(id);
    write_children(conn, id, content)?;
    log_change(conn, id, now)?;
    Ok(id)
}

fn update_entry(
    conn: &Connection,
    id: FaqEntryId,
    record: &FaqRecord,
    now: Timestamp,
) -> Result<(), StoreError> {
    let content = &record.content;
    let changed = conn
        .prepare_cached(
            "UPDATE faq_entries SET external_id = ?2, question = ?3, question_key = ?4,
                 answer_markdown = ?5, answer_html = ?6, category = ?7, language = ?8,
                 status = ?9, revision = revision + 1, updated_at = ?10
             WHERE id = ?1",
        )?
        .execute(params![
            id.get(),
            content.external_id,
            content.question,
            content.question_key(),
            content.answer_markdown,
            record.answer_html.as_str(),
            content.category,
            content.language.as_str(),
            content.status.as_str(),
            now.unix_seconds(),
        ])
        .map_err(|e| conflict_on_unique(e, "an entry with this question or external id"))?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    write_children(conn, id, content)?;
    log_change(conn, id, now)
}

/// The entry a row refers to: by external id, else by its question in its language. A row
/// whose question belongs to an entry with a different external id is a conflict.
fn import_target(
    conn: &Connection,
    line: u64,
    content: &FaqContent,
) -> Result<Option<FaqEntryId>, StoreError> {
    if let Some(external_id) = &content.external_id
        && let Some(id) = entry_id_where(conn, "external_id = ?1", [external_id])?
    {
        return Ok(Some(id));
    }
    let by_question = conn
        .prepare_cached(
            "SELECT id, external_id FROM faq_entries WHERE language = ?1 AND question_key = ?2",
        )?
        .query_row((content.language.as_str(), content.question_key()), |row| {
            Ok((
                FaqEntryId::new(row.get(0)?),
                row.get::<_, Option<String>>(1)?,
            ))
        })
        .optional()?;
    match (by_question, &content.external_id) {
        (None, _) => Ok(None),
        (Some((id, None)), _) | (Some((id, Some(_))), None) => Ok(Some(id)),
        (Some((_, Some(theirs))), Some(ours)) => Err(StoreError::RowConflict {
            line,
            message: format!(
                "the question already belongs to the entry with external_id {theirs:?}, not {ours:?}"
            ),
        }),
    }
}

fn import_one(
    transaction: &Transaction<'_>,
    row: &ImportRecord,
    now: Timestamp,
) -> Result<ImportAction, StoreError> {
    let with_line = |error: StoreError| match error {
        StoreError::Conflict(what) => StoreError::RowConflict {
            line: row.line,
            message: format!("{what} already exists"),
        },
        other => other,
    };
    let Some(id) = import_target(transaction, row.line, &row.record.content)? else {
        insert_entry(transaction, &row.record, now).map_err(with_line)?;
        return Ok(ImportAction::Created);
    };
    let existing = entry_by_id(transaction, id)?.ok_or(StoreError::NotFound)?;
    let mut incoming = row.record.content.clone();
    if incoming.external_id.is_none() {
        // A file without ids keeps the ids the entries already have.
        incoming
            .external_id
            .clone_from(&existing.content.external_id);
    }
    if existing.content == incoming && existing.answer_html == row.record.answer_html {
        return Ok(ImportAction::Unchanged);
    }
    let record = FaqRecord {
        content: incoming,
        answer_html: row.record.answer_html.clone(),
    };
    update_entry(transaction, id, &record, now).map_err(with_line)?;
    Ok(ImportAction::Updated)
}

impl Store {
    pub async fn faq_entry(&self, id: FaqEntryId) -> Result<FaqEntry, StoreError> {
        self.read(move |conn| entry_by_id(conn, id)?.ok_or(StoreError::NotFound))
            .await
    }

    /// Entries in the order of `ids`, skipping ids that no longer exist.
    pub async fn faq_entries(&self, ids: Vec<FaqEntryId>) -> Result<Vec<FaqEntry>, StoreError> {
        self.read(move |conn| {
            let mut entries = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(entry) = entry_by_id(conn, id)? {
                    entries.push(entry);
                }
            }
            Ok(entries)
        })
        .await
    }

    pub async fn list_faq(&self, query: FaqListQuery) -> Result<FaqPage, StoreError> {
        self.read(move |conn| {
            let filter = "(?1 IS NULL OR language = ?1) AND (?2 IS NULL OR category = ?2)
                          AND (?3 IS NULL OR status = ?3)";
            let values = (
                query.language.as_ref().map(Language::as_str),
                query.category.as_deref(),
                query.status.map(FaqStatus::as_str),
            );
            let total: i64 = conn.query_row(
                &format!("SELECT count(*) FROM faq_entries WHERE {filter}"),
                values,
                |row| row.get(0),
            )?;
            let mut statement = conn.prepare(&format!(
                "SELECT {ENTRY_COLUMNS} FROM faq_entries WHERE {filter}
                 ORDER BY updated_at DESC, id DESC LIMIT ?4 OFFSET ?5"
            ))?;
            let rows = statement
                .query_map(
                    params![values.0, values.1, values.2, query.limit, query.offset],
                    entry_row,
                )?
                .collect::<Result<Vec<_>, _>>()?;
            let entries = rows
                .into_iter()
                .map(|row| hydrate(conn, row))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(FaqPage {
                entries,
                total: u64::try_from(total).unwrap_or_default(),
            })
        })
        .await
    }

    /// Every category in use, for filter menus.
    pub async fn faq_categories(&self) -> Result<Vec<String>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare(
                "SELECT DISTINCT category FROM faq_entries WHERE category != '' ORDER BY category",
            )?;
            let rows = statement.query_map([], |row| row.get(0))?;
            Ok(rows.collect::<Result<Vec<String>, _>>()?)
        })
        .await
    }

    /// All entries and the change sequence they reflect, read in one snapshot.
    pub async fn knowledge_snapshot(&self) -> Result<(Vec<FaqEntry>, i64), StoreError> {
        self.read(|conn| {
            let transaction = conn.unchecked_transaction()?;
            let sequence = latest_sequence(&transaction)?;
            let mut statement = transaction.prepare(&format!(
                "SELECT {ENTRY_COLUMNS} FROM faq_entries ORDER BY id"
            ))?;
            let rows = statement
                .query_map([], entry_row)?
                .collect::<Result<Vec<_>, _>>()?;
            let entries = rows
                .into_iter()
                .map(|row| hydrate(&transaction, row))
                .collect::<Result<Vec<_>, _>>()?;
            drop(statement);
            transaction.finish()?;
            Ok((entries, sequence))
        })
        .await
    }

    pub async fn latest_knowledge_sequence(&self) -> Result<i64, StoreError> {
        self.read(latest_sequence).await
    }

    /// Changes after `after`, oldest first, each with the entry as it is now; several
    /// changes of one entry collapse into its last.
    pub async fn knowledge_changes_since(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<KnowledgeChange>, StoreError> {
        self.read(move |conn| {
            let transaction = conn.unchecked_transaction()?;
            let mut statement = transaction.prepare(
                "SELECT max(sequence), entry_id FROM knowledge_changes WHERE sequence > ?1
                 GROUP BY entry_id ORDER BY max(sequence) LIMIT ?2",
            )?;
            let rows = statement
                .query_map((after, limit), |row| {
                    Ok((row.get::<_, i64>(0)?, FaqEntryId::new(row.get(1)?)))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut changes = Vec::with_capacity(rows.len());
            for (sequence, entry_id) in rows {
                changes.push(KnowledgeChange {
                    sequence,
                    entry_id,
                    entry: entry_by_id(&transaction, entry_id)?,
                });
            }
            drop(statement);
            transaction.finish()?;
            Ok(changes)
        })
        .await
    }

    pub async fn create_faq(
        &self,
        record: FaqRecord,
        now: Timestamp,
    ) -> Result<FaqEntry, StoreError> {
        self.write(move |conn| {
            let transaction = conn.transaction()?;
            let id = insert_entry(&transaction, &record, now)?;
            let entry = entry_by_id(&transaction, id)?.ok_or(StoreError::NotFound)?;
            transaction.commit()?;
            Ok(entry)
        })
        .await
    }

    pub async fn update_faq(
        &self,
        id: FaqEntryId,
        record: FaqRecord,
        now: Timestamp,
    ) -> Result<FaqEntry, StoreError> {
        self.write(move |conn| {
            let transaction = conn.transaction()?;
            update_entry(&transaction, id, &record, now)?;
            let entry = entry_by_id(&transaction, id)?.ok_or(StoreError::NotFound)?;
            transaction.commit()?;
            Ok(entry)
        })
        .await
    }

    pub async fn delete_faq(&self, id: FaqEntryId, now: Timestamp) -> Result<(), StoreError> {
        self.write(move |conn| {
            let transaction = conn.transaction()?;
            if transaction.execute("DELETE FROM faq_entries WHERE id = ?1", [id.get()])? == 0 {
                return Err(StoreError::NotFound);
            }
            log_change(&transaction, id, now)?;
            transaction.commit()?;
            Ok(())
        })
        .await
    }

    /// Upserts every row in one transaction: all rows land, or none. A dry run does the same
    /// work and rolls it back, so its summary is exactly what a real run would do.
    pub async fn import_faq(
        &self,
        rows: Vec<ImportRecord>,
        dry_run: bool,
        now: Timestamp,
        progress: Option<std::sync::Arc<std::sync::atomic::AtomicUsize>>,
    ) -> Result<ImportSummary, StoreError> {
        self.write(move |conn| {
            let transaction = conn.transaction()?;
            let mut summary = ImportSummary {
                dry_run,
                ..ImportSummary::default()
            };
            for row in &rows {
                let action = import_one(&transaction, row, now)?;
                summary.record(row.line, action, &row.record.content.question);
                if let Some(progress) = &progress {
                    progress.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
            if dry_run {
                transaction.rollback()?;
            } else {
                transaction.commit()?;
            }
            Ok(summary)
        })
        .await
    }
}

fn latest_sequence(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT coalesce(max(sequence), 0) FROM knowledge_changes",
        [],
        |row| row.get(0),
    )?)
}
