//! Rows of what other programs use: API tokens (hashes only), webhooks, and the queue of
//! webhook deliveries with their attempts.

use rusqlite::{OptionalExtension, Row, params};

use super::{Store, StoreError};
use crate::domain::integration::WebhookUrl;
use crate::domain::{
    ApiScope, ApiToken, ApiTokenId, Timestamp, UserId, Webhook, WebhookEvent, WebhookId,
};

fn optional_time(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<Timestamp>> {
    Ok(row
        .get::<_, Option<i64>>(index)?
        .map(Timestamp::from_unix_seconds))
}

const TOKEN_COLUMNS: &str =
    "id, name, prefix, scope, created_by, created_at, last_used_at, revoked_at";

fn token_from_row(row: &Row<'_>) -> rusqlite::Result<ApiToken> {
    let scope: String = row.get(3)?;
    Ok(ApiToken {
        id: ApiTokenId::new(row.get(0)?),
        name: row.get(1)?,
        prefix: row.get(2)?,
        scope: ApiScope::parse(&scope).unwrap_or(ApiScope::Read),
        created_by: row.get::<_, Option<i64>>(4)?.map(UserId::new),
        created_at: Timestamp::from_unix_seconds(row.get(5)?),
        last_used_at: optional_time(row, 6)?,
        revoked_at: optional_time(row, 7)?,
    })
}

const WEBHOOK_COLUMNS: &str = "id, url, secret, events, allow_private, active, created_at";

fn webhook_from_row(row: &Row<'_>) -> rusqlite::Result<Webhook> {
    let url: String = row.get(1)?;
    let events: String = row.get(3)?;
    Ok(Webhook {
        id: WebhookId::new(row.get(0)?),
        // Stored URLs were checked when saved.
        url: WebhookUrl::parse(&url).unwrap_or_else(|_| {
            WebhookUrl::parse("https://invalid.invalid/").expect("a valid URL")
        }),
        secret: row.get(2)?,
        events: events
            .split_whitespace()
            .filter_map(WebhookEvent::parse)
            .collect(),
        allow_private: row.get(4)?,
        active: row.get(5)?,
        created_at: Timestamp::from_unix_seconds(row.get(6)?),
    })
}

/// A delivery due to be attempted.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub id: i64,
    pub webhook: Webhook,
    pub event: String,
    pub payload: String,
    pub attempts: u32,
}

/// A delivery as the admin page lists it.
#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    pub id: i64,
    pub event: String,
    pub attempts: u32,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub delivered_at: Option<Timestamp>,
    pub next_attempt_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl Store {
    // ---- API tokens ----

    pub async fn create_api_token(
        &self,
        name: String,
        token_sha256: Vec<u8>,
        prefix: String,
        scope: ApiScope,
        created_by: UserId,
        now: Timestamp,
    ) -> Result<ApiToken, StoreError> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO api_tokens (name, token_sha256, prefix, scope, created_by, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    name,
                    token_sha256,
                    prefix,
                    scope.as_str(),
                    created_by.get(),
                    now.unix_seconds()
                ],
            )?;
            let id = conn.last_insert_rowid();
            Ok(conn.query_row(
                &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = ?1"),
                [id],
                token_from_row,
            )?)
        })
        .await
    }

    pub async fn api_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY revoked_at IS NOT NULL, id DESC"
            ))?;
            let rows = statement.query_map([], token_from_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// The live token with this hash; its last use is recorded (at most once a minute).
    pub async fn use_api_token(
        &self,
        token_sha256: Vec<u8>,
        now: Timestamp,
    ) -> Result<Option<ApiToken>, StoreError> {
        let found = self
            .read(move |conn| {
                Ok(conn
                    .query_row(
                        &format!(
                            "SELECT {TOKEN_COLUMNS} FROM api_tokens
                             WHERE token_sha256 = ?1 AND revoked_at IS NULL"
                        ),
                        [token_sha256],
                        token_from_row,
                    )
                    .optional()?)
            })
            .await?;
        if let Some(token) = &found {
            let stale = token
                .last_used_at
                .is_none_or(|at| now.unix_seconds() - at.unix_seconds() >= 60);
            if stale {
                let id = token.id;
                self.write(move |conn| {
                    conn.execute(
                        "UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1",
                        params![id.get(), now.unix_seconds()],
                    )?;
                    Ok(())
                })
                .await?;
            }
        }
        Ok(found)
    }

    pub async fn revoke_api_token(&self, id: ApiTokenId, now: Timestamp) -> Result<(), StoreError> {
        self.write(move |conn| {
            let changed = conn.execute(
                "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id.get(), now.unix_seconds()],
            )?;
            if changed == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    // ---- webhooks ----

    pub async fn create_webhook(
        &self,
        url: WebhookUrl,
        secret: String,
        events: Vec<WebhookEvent>,
        allow_private: bool,
        now: Timestamp,
    ) -> Result<Webhook, StoreError> {
        self.write(move |conn| {
            let events: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
            conn.execute(
                "INSERT INTO webhooks (url, secret, events, allow_private, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    url.as_str(),
                    secret,
                    events.join(" "),
                    allow_private,
                    now.unix_seconds()
                ],
            )?;
            let id = conn.last_insert_rowid();
            Ok(conn.query_row(
                &format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = ?1"),
                [id],
                webhook_from_row,
            )?)
        })
        .await
    }

    pub async fn webhooks(&self) -> Result<Vec<Webhook>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY id"
            ))?;
            let rows = statement.query_map([], webhook_from_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    pub async fn delete_webhook(&self, id: WebhookId) -> Result<(), StoreError> {
        self.write(move |conn| {
            if conn.execute("DELETE FROM webhooks WHERE id = ?1", [id.get()])? == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    /// Queues one delivery per webhook, due now.
    pub async fn enqueue_deliveries(
        &self,
        webhooks: Vec<WebhookId>,
        event: WebhookEvent,
        payload: String,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            let transaction = conn.transaction()?;
            for webhook in webhooks {
                transaction.execute(
                    "INSERT INTO webhook_deliveries (webhook_id, event, payload, next_attempt_at, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?4)",
                    params![webhook.get(), event.as_str(), payload, now.unix_seconds()],
                )?;
            }
            transaction.commit()?;
            Ok(())
        })
        .await
    }

    /// Deliveries due by `now`, oldest first, with their webhook.
    pub async fn due_deliveries(
        &self,
        now: Timestamp,
        limit: i64,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        self.read(move |conn| {
            let webhook_columns = WEBHOOK_COLUMNS
                .split(", ")
                .map(|column| format!("w.{column}"))
                .collect::<Vec<_>>()
                .join(", ");
            // The webhook's columns first, so `webhook_from_row` reads them as it always does.
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {webhook_columns}, d.id, d.event, d.payload, d.attempts
                 FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
                 WHERE d.next_attempt_at IS NOT NULL AND d.next_attempt_at <= ?1
                 ORDER BY d.next_attempt_at, d.id LIMIT ?2"
            ))?;
            let rows = statement.query_map(params![now.unix_seconds(), limit], |row| {
                Ok(DueDelivery {
                    webhook: webhook_from_row(row)?,
                    id: row.get(7)?,
                    event: row.get(8)?,
                    payload: row.get(9)?,
                    attempts: row.get(10)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Records an attempt: delivered, or failed with the next attempt due at `retry_at`
    /// (`None`: given up).
    pub async fn record_delivery_attempt(
        &self,
        id: i64,
        status: Option<u16>,
        error: Option<String>,
        delivered: bool,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = ?2,
                     last_error = ?3, delivered_at = CASE WHEN ?4 THEN ?6 ELSE NULL END,
                     next_attempt_at = ?5
                 WHERE id = ?1",
                params![
                    id,
                    status,
                    error,
                    delivered,
                    retry_at.map(Timestamp::unix_seconds),
                    now.unix_seconds()
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// The latest deliveries of a webhook, newest first.
    pub async fn webhook_deliveries(
        &self,
        webhook: WebhookId,
        limit: i64,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT id, event, attempts, last_status, last_error, delivered_at, next_attempt_at, created_at
                 FROM webhook_deliveries WHERE webhook_id = ?1 ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = statement.query_map(params![webhook.get(), limit], |row| {
                Ok(DeliveryRecord {
                    id: row.get(0)?,
                    event: row.get(1)?,
                    attempts: row.get(2)?,
                    last_status: row.get(3)?,
                    last_error: row.get(4)?,
                    delivered_at: optional_time(row, 5)?,
                    next_attempt_at: optional_time(row, 6)?,
                    created_at: Timestamp::from_unix_seconds(row.get(7)?),
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }
}
