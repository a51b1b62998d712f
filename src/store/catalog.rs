//! The catalog's rows: all-or-nothing imports keyed by the shop's item id, the admin list,
//! and each item's vector under the current model.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, Row, params};

use super::assistant::{vector_from_bytes, vector_to_bytes};
use super::{ModelKey, Store, StoreError};
use crate::domain::catalog::{CatalogItem, StoredCatalogItem};
use crate::domain::{ImportAction, ImportSummary, Language, Timestamp};

const ITEM_COLUMNS: &str = "item_id, title, description, category, tags, price_cents, url, image_url, language, updated_at";

fn item_from_row(row: &Row<'_>) -> rusqlite::Result<StoredCatalogItem> {
    let tags: String = row.get(4)?;
    let language: String = row.get(8)?;
    Ok(StoredCatalogItem {
        item: CatalogItem {
            id: row.get(0)?,
            title: row.get(1)?,
            description: row.get(2)?,
            category: row.get(3)?,
            tags: serde_json::from_str(&tags).unwrap_or_default(),
            price_cents: row.get(5)?,
            url: row.get(6)?,
            image_url: row.get(7)?,
            language: Language::parse(&language).unwrap_or_else(|_| Language::en()),
        },
        updated_at: Timestamp::from_unix_seconds(row.get(9)?),
    })
}

/// An item's vector, and the hash of the text it was computed from.
#[derive(Debug, Clone)]
pub struct CatalogVector {
    pub text_sha256: String,
    pub vector: Vec<f32>,
}

impl Store {
    /// Creates or updates every row in one transaction (nothing is saved if one fails);
    /// rows equal to what is stored are left alone. With `dry_run`, only counts.
    pub async fn import_catalog(
        &self,
        rows: Vec<(u64, CatalogItem)>,
        dry_run: bool,
        now: Timestamp,
    ) -> Result<ImportSummary, StoreError> {
        self.write(move |conn| {
            let transaction = conn.transaction()?;
            let mut summary = ImportSummary {
                dry_run,
                ..ImportSummary::default()
            };
            {
                let mut find = transaction.prepare_cached(&format!(
                    "SELECT {ITEM_COLUMNS} FROM catalog_items WHERE item_id = ?1"
                ))?;
                let mut upsert = transaction.prepare_cached(
                    "INSERT INTO catalog_items (item_id, title, description, category, tags,
                         price_cents, url, image_url, language, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)
                     ON CONFLICT (item_id) DO UPDATE SET title = excluded.title,
                         description = excluded.description, category = excluded.category,
                         tags = excluded.tags, price_cents = excluded.price_cents,
                         url = excluded.url, image_url = excluded.image_url,
                         language = excluded.language, updated_at = excluded.updated_at",
                )?;
                for (line, item) in &rows {
                    let existing = find.query_row([&item.id], item_from_row).optional()?;
                    let action = match existing {
                        None => ImportAction::Created,
                        Some(stored) if stored.item == *item => ImportAction::Unchanged,
                        Some(_) => ImportAction::Updated,
                    };
                    summary.record(*line, action, &item.title);
                    if action != ImportAction::Unchanged && !dry_run {
                        upsert.execute(params![
                            item.id,
                            item.title,
                            item.description,
                            item.category,
                            serde_json::to_string(&item.tags).unwrap_or_else(|_| "[]".into()),
                            item.price_cents,
                            item.url,
                            item.image_url,
                            item.language.as_str(),
                            now.unix_seconds(),
                        ])?;
                    }
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

    /// The whole catalog, by category then title.
    pub async fn catalog_items(&self) -> Result<Vec<StoredCatalogItem>, StoreError> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {ITEM_COLUMNS} FROM catalog_items ORDER BY category, title, item_id"
            ))?;
            let rows = statement.query_map([], item_from_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Items with these ids (unknown ids are skipped).
    pub async fn catalog_items_by_id(
        &self,
        ids: Vec<String>,
    ) -> Result<Vec<StoredCatalogItem>, StoreError> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {ITEM_COLUMNS} FROM catalog_items WHERE item_id = ?1"
            ))?;
            let mut found = Vec::with_capacity(ids.len());
            for id in &ids {
                if let Some(item) = statement.query_row([id], item_from_row).optional()? {
                    found.push(item);
                }
            }
            Ok(found)
        })
        .await
    }

    pub async fn delete_catalog_item(&self, id: String) -> Result<(), StoreError> {
        self.write(move |conn| {
            match conn.execute("DELETE FROM catalog_items WHERE item_id = ?1", [id])? {
                0 => Err(StoreError::NotFound),
                _ => Ok(()),
            }
        })
        .await
    }

    /// Changes whenever an item is added, edited or deleted.
    pub async fn catalog_version(&self) -> Result<(i64, i64), StoreError> {
        self.read(move |conn| {
            Ok(conn.query_row(
                "SELECT count(*), coalesce(max(updated_at), 0) + coalesce(sum(id), 0)
                 FROM catalog_items",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?)
        })
        .await
    }

    /// The stored vectors under `model`, by item id.
    pub async fn catalog_vectors(
        &self,
        model: ModelKey,
    ) -> Result<HashMap<String, CatalogVector>, StoreError> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT i.item_id, e.text_sha256, e.vector FROM catalog_embeddings e
                 JOIN catalog_items i ON i.id = e.item_id WHERE e.model_checksum = ?1",
            )?;
            let rows = statement.query_map([&model.checksum], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    CatalogVector {
                        text_sha256: row.get(1)?,
                        vector: vector_from_bytes(&row.get::<_, Vec<u8>>(2)?),
                    },
                ))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Saves vectors by item id; vectors of other models are dropped.
    pub async fn save_catalog_vectors(
        &self,
        model: ModelKey,
        vectors: Vec<(String, CatalogVector)>,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            let transaction = conn.transaction()?;
            transaction.execute(
                "DELETE FROM catalog_embeddings WHERE model_checksum <> ?1",
                [&model.checksum],
            )?;
            {
                let mut insert = transaction.prepare_cached(
                    "INSERT OR REPLACE INTO catalog_embeddings
                         (item_id, model_checksum, text_sha256, vector)
                     SELECT id, ?2, ?3, ?4 FROM catalog_items WHERE item_id = ?1",
                )?;
                for (item_id, vector) in &vectors {
                    insert.execute(params![
                        item_id,
                        model.checksum,
                        vector.text_sha256,
                        vector_to_bytes(&vector.vector)
                    ])?;
                }
            }
            transaction.commit()?;
            Ok(())
        })
        .await
    }
}
