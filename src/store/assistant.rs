//! The local AI's rows: cached text embeddings per model, and admin-taught intent phrases.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension};

use super::{Store, StoreError, conflict_on_unique};
use crate::domain::{BuiltinIntent, IntentPhrase, NewIntentPhrase, Timestamp, UserId};

/// A vector to store for a text under a model.
#[derive(Debug, Clone)]
pub struct EmbeddingRecord {
    pub text_sha256: String,
    pub vector: Vec<f32>,
}

/// Which model made the vectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelKey {
    pub model_id: String,
    pub checksum: String,
}

/// Rows read per statement: SQLite's default limit on bound parameters is 32,766.
const LOOKUP_CHUNK: usize = 500;

impl Store {
    /// The stored vectors of `text_sha256s` under `model`; texts without one are absent.
    pub async fn cached_embeddings(
        &self,
        model: ModelKey,
        text_sha256s: Vec<String>,
    ) -> Result<HashMap<String, Vec<f32>>, StoreError> {
        self.read(move |conn| {
            let mut found = HashMap::with_capacity(text_sha256s.len());
            for chunk in text_sha256s.chunks(LOOKUP_CHUNK) {
                let placeholders = vec!["?"; chunk.len()].join(",");
                let mut statement = conn.prepare_cached(&format!(
                    "SELECT text_sha256, vector FROM text_embeddings
                     WHERE model_checksum = ? AND text_sha256 IN ({placeholders})"
                ))?;
                let parameters = std::iter::once(&model.checksum).chain(chunk.iter());
                let rows = statement.query_map(rusqlite::params_from_iter(parameters), |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, Vec<u8>>(1)?))
                })?;
                for row in rows {
                    let (sha, bytes) = row?;
                    found.insert(sha, vector_from_bytes(&bytes));
                }
            }
            Ok(found)
        })
        .await
    }

    pub async fn save_embeddings(
        &self,
        model: ModelKey,
        records: Vec<EmbeddingRecord>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        self.write(move |conn| {
            let transaction = conn.transaction()?;
            {
                let mut statement = transaction.prepare_cached(
                    "INSERT INTO text_embeddings
                         (model_checksum, text_sha256, model_id, vector, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (model_checksum, text_sha256) DO UPDATE SET
                         vector = excluded.vector, model_id = excluded.model_id",
                )?;
                for record in &records {
                    statement.execute((
                        &model.checksum,
                        &record.text_sha256,
                        &model.model_id,
                        vector_to_bytes(&record.vector),
                        now.unix_seconds(),
                    ))?;
                }
            }
            transaction.commit()?;
            Ok(())
        })
        .await
    }

    /// Deletes the vectors of every model but `keep`, and of `keep` those not in
    /// `live_text_sha256s` (texts edited or deleted since); returns how many went.
    pub async fn prune_embeddings(
        &self,
        keep: ModelKey,
        live_text_sha256s: Vec<String>,
    ) -> Result<usize, StoreError> {
        self.write(move |conn| {
            let transaction = conn.transaction()?;
            let mut removed = transaction.execute(
                "DELETE FROM text_embeddings WHERE model_checksum <> ?1",
                [&keep.checksum],
            )?;
            transaction.execute(
                "CREATE TEMP TABLE IF NOT EXISTS live_texts (sha TEXT PRIMARY KEY) WITHOUT ROWID",
                [],
            )?;
            transaction.execute("DELETE FROM temp.live_texts", [])?;
            {
                let mut insert = transaction
                    .prepare_cached("INSERT OR IGNORE INTO temp.live_texts (sha) VALUES (?1)")?;
                for sha in &live_text_sha256s {
                    insert.execute([sha])?;
                }
            }
            removed += transaction.execute(
                "DELETE FROM text_embeddings WHERE model_checksum = ?1
                   AND text_sha256 NOT IN (SELECT sha FROM temp.live_texts)",
                [&keep.checksum],
            )?;
            transaction.execute("DELETE FROM temp.live_texts", [])?;
            transaction.commit()?;
            Ok(removed)
        })
        .await
    }

    pub async fn intent_phrases(&self) -> Result<Vec<IntentPhrase>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT id, intent, text, created_at, created_by FROM intent_phrases
                 ORDER BY intent, id",
            )?;
            let rows = statement.query_map([], phrase_row)?;
            Ok(rows
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .flatten()
                .collect())
        })
        .await
    }

    pub async fn add_intent_phrase(
        &self,
        phrase: NewIntentPhrase,
        created_by: Option<UserId>,
        now: Timestamp,
    ) -> Result<IntentPhrase, StoreError> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO intent_phrases (intent, text, text_key, created_at, created_by)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                (
                    phrase.intent.as_str(),
                    &phrase.text,
                    &phrase.text_key,
                    now.unix_seconds(),
                    created_by.map(UserId::get),
                ),
            )
            .map_err(|error| conflict_on_unique(error, "phrase"))?;
            let id = conn.last_insert_rowid();
            phrase_by_id(conn, id)?.ok_or(StoreError::NotFound)
        })
        .await
    }

    pub async fn delete_intent_phrase(&self, id: i64) -> Result<(), StoreError> {
        self.write(move |conn| {
            match conn.execute("DELETE FROM intent_phrases WHERE id = ?1", [id])? {
                0 => Err(StoreError::NotFound),
                _ => Ok(()),
            }
        })
        .await
    }
}

type PhraseRow = Option<IntentPhrase>;

/// A row whose intent this build no longer knows is skipped rather than failing the list.
fn phrase_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<PhraseRow> {
    let intent: String = row.get(1)?;
    let Ok(intent) = BuiltinIntent::parse(&intent) else {
        return Ok(None);
    };
    Ok(Some(IntentPhrase {
        id: row.get(0)?,
        intent,
        text: row.get(2)?,
        created_at: Timestamp::from_unix_seconds(row.get(3)?),
        created_by: row.get::<_, Option<i64>>(4)?.map(UserId::new),
    }))
}

fn phrase_by_id(conn: &Connection, id: i64) -> Result<Option<IntentPhrase>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id, intent, text, created_at, created_by FROM intent_phrases WHERE id = ?1",
            [id],
            phrase_row,
        )
        .optional()?
        .flatten())
}

pub(super) fn vector_to_bytes(vector: &[f32]) -> Vec<u8> {
    vector
        .iter()
        .flat_map(|value| value.to_le_bytes())
        .collect()
}

pub(super) fn vector_from_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|chunk| f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
        .collect()
}
