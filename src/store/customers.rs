//! Customer profiles: the facts their tags are derived from, the stored tags, the scoped
//! customer list, the data export, the erasure, and the audit log of both.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};

use super::conversations::{CONVERSATION_COLUMNS, conversation_from_row};
use super::{Store, StoreError};
use crate::domain::profile::{ProfileEvent, ProfileTag, TagKind};
use crate::domain::{Conversation, CustomerId, DeskScope, Timestamp, UserId};

/// A customer an agent may see: one with a conversation in an inbox they work, or (for
/// admins) anyone.
const CUSTOMER_IN_SCOPE: &str = "(?2 OR EXISTS (SELECT 1 FROM conversations c
     JOIN inbox_members m ON m.inbox_id = c.inbox_id AND m.user_id = ?1
     WHERE c.customer_id = cu.id))";

/// Events read for the tags; older ones no longer change them.
const FACT_EVENTS: i64 = 2_000;
const SENTIMENT_POINTS: i64 = 60;

/// What the profile is built from, beyond the `Customer` row.
#[derive(Debug, Clone)]
pub struct CustomerFacts {
    pub phone: Option<String>,
    pub language: Option<String>,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub erased_at: Option<Timestamp>,
    pub conversations: usize,
    /// Oldest first.
    pub events: Vec<ProfileEvent>,
    pub asked_categories: Vec<String>,
    /// The sentiment of their messages as the bot scored them, oldest first.
    pub sentiment: Vec<(Timestamp, f32)>,
}

/// One line of the customer list.
#[derive(Debug, Clone)]
pub struct CustomerSummary {
    pub id: CustomerId,
    pub name: Option<String>,
    pub email: Option<String>,
    pub external_id: Option<String>,
    pub last_seen: Timestamp,
    pub conversations: i64,
    pub tags: Vec<String>,
    pub erased: bool,
}

#[derive(Debug, Clone, Default)]
pub struct CustomerQuery {
    /// Part of a name, e-mail address or the shop's id.
    pub text: Option<String>,
    /// A derived tag the customer must have (`returning`, `interest:lighting`).
    pub tag: Option<String>,
    pub page: i64,
    pub per_page: i64,
}

/// A data-rights action, as the audit log shows it.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub actor: Option<String>,
    pub action: String,
    pub subject: String,
    pub details: Value,
    pub at: Timestamp,
}

/// What the erasure removed from the rows, for the caller to finish outside SQLite.
#[derive(Debug, Clone, Default)]
pub struct Erasure {
    /// Files of their attachments (and thumbnails) to delete from disk.
    pub storage_names: Vec<String>,
    pub messages: usize,
    pub events: usize,
    pub tickets: usize,
}

pub(super) fn events_from_rows(
    statement: &mut rusqlite::CachedStatement<'_>,
    parameters: impl rusqlite::Params,
) -> Result<Vec<ProfileEvent>, StoreError> {
    let rows = statement.query_map(parameters, |row| {
        let properties: String = row.get(1)?;
        Ok(ProfileEvent {
            name: row.get(0)?,
            properties: serde_json::from_str(&properties).unwrap_or(Value::Null),
            at: Timestamp::from_unix_seconds(row.get(2)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn check_in_scope(conn: &Connection, scope: DeskScope, id: CustomerId) -> Result<(), StoreError> {
    let visible: Option<i64> = conn
        .query_row(
            &format!("SELECT 1 FROM customers cu WHERE cu.id = ?3 AND {CUSTOMER_IN_SCOPE}"),
            params![scope.user.get(), scope.is_admin, id.get()],
            |row| row.get(0),
        )
        .optional()?;
    visible.map(|_| ()).ok_or(StoreError::NotFound)
}

impl Store {
    /// `NotFound` unless the customer exists and `scope` may see them.
    pub async fn customer_in_scope(
        &self,
        scope: DeskScope,
        id: CustomerId,
    ) -> Result<(), StoreError> {
        self.read(move |conn| check_in_scope(conn, scope, id)).await
    }

    /// The customer's conversations in the inboxes `scope` works, newest first.
    pub async fn customer_conversations_in_scope(
        &self,
        scope: DeskScope,
        id: CustomerId,
        limit: i64,
    ) -> Result<Vec<Conversation>, StoreError> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {CONVERSATION_COLUMNS} FROM conversations c
                 WHERE c.customer_id = ?3
                   AND (?2 OR c.inbox_id IN (SELECT inbox_id FROM inbox_members WHERE user_id = ?1))
                 ORDER BY c.id DESC LIMIT ?4"
            ))?;
            let rows = statement.query_map(
                params![scope.user.get(), scope.is_admin, id.get(), limit],
                conversation_from_row,
            )?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    pub async fn customer_facts(&self, id: CustomerId) -> Result<CustomerFacts, StoreError> {
        self.read(move |conn| {
            let (phone, language, first_seen, last_seen, erased_at) = conn
                .query_row(
                    "SELECT phone, language, created_at, last_seen_at, erased_at
                     FROM customers WHERE id = ?1",
                    [id.get()],
                    |row| {
                        Ok((
                            row.get::<_, Option<String>>(0)?,
                            row.get::<_, Option<String>>(1)?,
                            row.get::<_, i64>(2)?,
                            row.get::<_, i64>(3)?,
                            row.get::<_, Option<i64>>(4)?,
                        ))
                    },
                )
                .optional()?
                .ok_or(StoreError::NotFound)?;
            let conversations: i64 = conn.query_row(
                "SELECT count(*) FROM conversations WHERE customer_id = ?1",
                [id.get()],
                |row| row.get(0),
            )?;
            let mut events = events_from_rows(
                &mut conn.prepare_cached(
                    "SELECT name, properties, created_at FROM customer_events
                     WHERE customer_id = ?1 ORDER BY id DESC LIMIT ?2",
                )?,
                params![id.get(), FACT_EVENTS],
            )?;
            events.reverse();
            let mut statement = conn.prepare_cached(
                "SELECT f.category FROM conversations c
                 JOIN messages m ON m.conversation_id = c.id
                 JOIN faq_entries f ON f.id = m.details ->> '$.faq_id'
                 WHERE c.customer_id = ?1 AND m.author = 'bot'
                   AND m.details ->> '$.kind' = 'answer' AND f.category <> ''
                 ORDER BY m.id",
            )?;
            let asked_categories = statement
                .query_map([id.get()], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            let mut statement = conn.prepare_cached(
                "SELECT m.created_at, m.details ->> '$.sentiment' FROM conversations c
                 JOIN messages m ON m.conversation_id = c.id
                 WHERE c.customer_id = ?1 AND m.author = 'bot'
                   AND m.details ->> '$.sentiment' IS NOT NULL
                 ORDER BY m.id DESC LIMIT ?2",
            )?;
            let mut sentiment: Vec<(Timestamp, f32)> = statement
                .query_map(params![id.get(), SENTIMENT_POINTS], |row| {
                    #[allow(clippy::cast_possible_truncation)]
                    let score = row.get::<_, f64>(1)? as f32;
                    Ok((Timestamp::from_unix_seconds(row.get(0)?), score))
                })?
                .collect::<Result<_, _>>()?;
            sentiment.reverse();
            Ok(CustomerFacts {
                phone,
                language,
                first_seen: Timestamp::from_unix_seconds(first_seen),
                last_seen: Timestamp::from_unix_seconds(last_seen),
                erased_at: erased_at.map(Timestamp::from_unix_seconds),
                conversations: usize::try_from(conversations).unwrap_or(0),
                events,
                asked_categories,
                sentiment,
            })
        })
        .await
    }

    /// Replaces the customer's derived tags.
    pub async fn replace_customer_tags(
        &self,
        id: CustomerId,
        tags: Vec<ProfileTag>,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            let transaction = conn.transaction()?;
            transaction.execute(
                "DELETE FROM customer_tags WHERE customer_id = ?1",
                [id.get()],
            )?;
            {
                let mut insert = transaction.prepare_cached(
                    "INSERT OR REPLACE INTO customer_tags (customer_id, tag, kind, reason)
                     VALUES (?1, ?2, ?3, ?4)",
                )?;
                for tag in &tags {
                    insert.execute(params![id.get(), tag.tag, kind_name(tag.kind), tag.reason])?;
                }
            }
            transaction.commit()?;
            Ok(())
        })
        .await
    }

    pub async fn customer_tags(&self, id: CustomerId) -> Result<Vec<ProfileTag>, StoreError> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT tag, kind, reason FROM customer_tags WHERE customer_id = ?1",
            )?;
            let rows = statement.query_map([id.get()], |row| {
                Ok(ProfileTag {
                    tag: row.get(0)?,
                    kind: kind_from_name(&row.get::<_, String>(1)?),
                    reason: row.get(2)?,
                })
            })?;
            let mut tags: Vec<ProfileTag> = rows.collect::<Result<_, _>>()?;
            tags.sort_by_key(|tag| kind_order(tag.kind));
            Ok(tags)
        })
        .await
    }

    /// Customers whose tags were never derived (those from before tags existed).
    pub async fn customers_without_tags(&self, limit: i64) -> Result<Vec<CustomerId>, StoreError> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT id FROM customers cu WHERE erased_at IS NULL AND NOT EXISTS
                     (SELECT 1 FROM customer_tags t WHERE t.customer_id = cu.id)
                 ORDER BY id LIMIT ?1",
            )?;
            let rows = statement.query_map([limit], |row| Ok(CustomerId::new(row.get(0)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// A page of the customers `scope` may see, most recently seen first.
    pub async fn search_customers(
        &self,
        scope: DeskScope,
        query: CustomerQuery,
    ) -> Result<(Vec<CustomerSummary>, i64), StoreError> {
        self.read(move |conn| {
            let pattern = query
                .text
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| format!("%{}%", t.replace(['%', '_', '\\'], "")));
            let tag = query.tag.filter(|t| !t.trim().is_empty());
            let conditions = format!(
                "{CUSTOMER_IN_SCOPE}
                 AND (?3 IS NULL OR cu.name LIKE ?3 OR cu.email LIKE ?3 OR cu.external_id LIKE ?3)
                 AND (?4 IS NULL OR EXISTS (SELECT 1 FROM customer_tags t
                                            WHERE t.customer_id = cu.id AND t.tag = ?4))"
            );
            let total: i64 = conn.query_row(
                &format!("SELECT count(*) FROM customers cu WHERE {conditions}"),
                params![scope.user.get(), scope.is_admin, pattern, tag],
                |row| row.get(0),
            )?;
            let per_page = query.per_page.clamp(1, 200);
            let offset = (query.page.max(1) - 1) * per_page;
            let mut statement = conn.prepare_cached(&format!(
                "SELECT cu.id, cu.name, cu.email, cu.external_id, cu.last_seen_at,
                        (SELECT count(*) FROM conversations c WHERE c.customer_id = cu.id),
                        (SELECT group_concat(tag, ' ') FROM customer_tags t WHERE t.customer_id = cu.id),
                        cu.erased_at IS NOT NULL
                 FROM customers cu WHERE {conditions}
                 ORDER BY cu.last_seen_at DESC, cu.id DESC LIMIT ?5 OFFSET ?6"
            ))?;
            let rows = statement.query_map(
                params![scope.user.get(), scope.is_admin, pattern, tag, per_page, offset],
                |row| {
                    let tags: Option<String> = row.get(6)?;
                    Ok(CustomerSummary {
                        id: CustomerId::new(row.get(0)?),
                        name: row.get(1)?,
                        email: row.get(2)?,
                        external_id: row.get(3)?,
                        last_seen: Timestamp::from_unix_seconds(row.get(4)?),
                        conversations: row.get(5)?,
                        tags: tags
                            .unwrap_or_default()
                            .split(' ')
                            .filter(|t| !t.is_empty())
                            .map(str::to_string)
                            .collect(),
                        erased: row.get(7)?,
                    })
                },
            )?;
            Ok((rows.collect::<Result<_, _>>()?, total))
        })
        .await
    }

    /// The tags used by customers `scope` may see, with how many have each.
    pub async fn customer_tag_counts(
        &self,
        scope: DeskScope,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT t.tag, count(*) FROM customer_tags t JOIN customers cu ON cu.id = t.customer_id
                 WHERE {CUSTOMER_IN_SCOPE} GROUP BY t.tag ORDER BY count(*) DESC, t.tag LIMIT 50"
            ))?;
            let rows = statement.query_map(params![scope.user.get(), scope.is_admin], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Everything kefu holds about the customer that is theirs, as one JSON document:
    /// profile, tags, events, conversations with their public messages, tickets with their
    /// public comments, proactive messages sent. Agents' private notes are internal and
    /// not included.
    pub async fn export_customer(&self, id: CustomerId) -> Result<Value, StoreError> {
        self.read(move |conn| {
            let customer = conn
                .query_row(
                    "SELECT id, external_id, name, email, phone, attributes, language,
                            created_at, last_seen_at, erased_at FROM customers WHERE id = ?1",
                    [id.get()],
                    |row| {
                        let attributes: String = row.get(5)?;
                        Ok(json!({
                            "id": row.get::<_, i64>(0)?,
                            "external_id": row.get::<_, Option<String>>(1)?,
                            "name": row.get::<_, Option<String>>(2)?,
                            "email": row.get::<_, Option<String>>(3)?,
                            "phone": row.get::<_, Option<String>>(4)?,
                            "attributes": serde_json::from_str::<Value>(&attributes).unwrap_or(Value::Null),
                            "language": row.get::<_, Option<String>>(6)?,
                            "created_at": row.get::<_, i64>(7)?,
                            "last_seen_at": row.get::<_, i64>(8)?,
                            "erased_at": row.get::<_, Option<i64>>(9)?,
                        }))
                    },
                )
                .optional()?
                .ok_or(StoreError::NotFound)?;
            let rows = |sql: &str, map: &dyn Fn(&rusqlite::Row<'_>) -> rusqlite::Result<Value>| -> Result<Vec<Value>, StoreError> {
                let mut statement = conn.prepare(sql)?;
                let found = statement.query_map([id.get()], map)?;
                Ok(found.collect::<Result<_, _>>()?)
            };
            let tags = rows(
                "SELECT tag, reason FROM customer_tags WHERE customer_id = ?1 ORDER BY tag",
                &|row| Ok(json!({ "tag": row.get::<_, String>(0)?, "reason": row.get::<_, String>(1)? })),
            )?;
            let events = rows(
                "SELECT name, properties, created_at FROM customer_events
                 WHERE customer_id = ?1 ORDER BY id",
                &|row| {
                    let properties: String = row.get(1)?;
                    Ok(json!({
                        "name": row.get::<_, String>(0)?,
                        "properties": serde_json::from_str::<Value>(&properties).unwrap_or(Value::Null),
                        "at": row.get::<_, i64>(2)?,
                    }))
                },
            )?;
            let mut conversations = rows(
                "SELECT id, status, language, contact, created_at FROM conversations
                 WHERE customer_id = ?1 ORDER BY id",
                &|row| {
                    Ok(json!({
                        "id": row.get::<_, i64>(0)?,
                        "status": row.get::<_, String>(1)?,
                        "language": row.get::<_, String>(2)?,
                        "contact": row.get::<_, Option<String>>(3)?,
                        "created_at": row.get::<_, i64>(4)?,
                    }))
                },
            )?;
            let mut messages = conn.prepare_cached(
                "SELECT author, body, created_at FROM messages
                 WHERE conversation_id = ?1 AND private = 0 ORDER BY id",
            )?;
            for conversation in &mut conversations {
                let conversation_id = conversation["id"].as_i64().unwrap_or_default();
                let found = messages.query_map([conversation_id], |row| {
                    Ok(json!({
                        "author": row.get::<_, String>(0)?,
                        "body": row.get::<_, String>(1)?,
                        "at": row.get::<_, i64>(2)?,
                    }))
                })?;
                conversation["messages"] = Value::Array(found.collect::<Result<_, _>>()?);
            }
            let mut tickets = rows(
                "SELECT id, subject, description, status, priority, created_at FROM tickets
                 WHERE requester_id = ?1 ORDER BY id",
                &|row| {
                    Ok(json!({
                        "id": row.get::<_, i64>(0)?,
                        "subject": row.get::<_, String>(1)?,
                        "description": row.get::<_, String>(2)?,
                        "status": row.get::<_, String>(3)?,
                        "priority": row.get::<_, String>(4)?,
                        "created_at": row.get::<_, i64>(5)?,
                    }))
                },
            )?;
            let mut comments = conn.prepare_cached(
                "SELECT author, body, created_at FROM ticket_comments
                 WHERE ticket_id = ?1 AND public = 1 ORDER BY id",
            )?;
            for ticket in &mut tickets {
                let ticket_id = ticket["id"].as_i64().unwrap_or_default();
                let found = comments.query_map([ticket_id], |row| {
                    Ok(json!({
                        "author": row.get::<_, String>(0)?,
                        "body": row.get::<_, String>(1)?,
                        "at": row.get::<_, i64>(2)?,
                    }))
                })?;
                ticket["public_comments"] = Value::Array(found.collect::<Result<_, _>>()?);
            }
            let proactive = rows(
                "SELECT r.name, s.created_at FROM proactive_sends s
                 JOIN proactive_rules r ON r.id = s.rule_id
                 WHERE s.customer_id = ?1 ORDER BY s.id",
                &|row| Ok(json!({ "rule": row.get::<_, String>(0)?, "at": row.get::<_, i64>(1)? })),
            )?;
            Ok(json!({
                "customer": customer,
                "tags": tags,
                "events": events,
                "conversations": conversations,
                "tickets": tickets,
                "proactive_messages": proactive,
            }))
        })
        .await
    }

    /// Erases a customer in one transaction: contact details, attributes and visitor
    /// tokens gone; their messages, tickets' subjects and descriptions and their comments
    /// replaced by a marker;
    /// events, tags and proactive sends deleted; their tickets queued for re-indexing; the
    /// action logged. The row stays (as "erased") so tickets and statistics keep adding up.
    pub async fn erase_customer(
        &self,
        id: CustomerId,
        actor: UserId,
        marker: &'static str,
        now: Timestamp,
    ) -> Result<Erasure, StoreError> {
        self.write(move |conn| {
            let transaction = conn.transaction()?;
            let found: Option<i64> = transaction
                .query_row("SELECT id FROM customers WHERE id = ?1", [id.get()], |row| row.get(0))
                .optional()?;
            if found.is_none() {
                return Err(StoreError::NotFound);
            }
            let mut erasure = Erasure::default();
            {
                let mut statement = transaction.prepare(
                    "SELECT a.storage_name, a.thumbnail_name FROM attachments a
                     JOIN conversations c ON c.id = a.conversation_id
                     JOIN messages m ON m.id = a.message_id AND m.author = 'customer'
                     WHERE c.customer_id = ?1
                     UNION ALL
                     SELECT a.storage_name, a.thumbnail_name FROM attachments a
                     JOIN tickets t ON t.id = a.ticket_id
                     JOIN ticket_comments tc ON tc.id = a.comment_id AND tc.author = 'customer'
                     WHERE t.requester_id = ?1",
                )?;
                let files = statement.query_map([id.get()], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, Option<String>>(1)?))
                })?;
                for file in files {
                    let (original, thumbnail) = file?;
                    erasure.storage_names.push(original);
                    erasure.storage_names.extend(thumbnail);
                }
            }
            transaction.execute(
                "DELETE FROM attachments WHERE id IN (
                     SELECT a.id FROM attachments a JOIN conversations c ON c.id = a.conversation_id
                     JOIN messages m ON m.id = a.message_id AND m.author = 'customer'
                     WHERE c.customer_id = ?1
                     UNION ALL
                     SELECT a.id FROM attachments a JOIN tickets t ON t.id = a.ticket_id
                     JOIN ticket_comments tc ON tc.id = a.comment_id AND tc.author = 'customer'
                     WHERE t.requester_id = ?1)",
                [id.get()],
            )?;
            erasure.messages = transaction.execute(
                "UPDATE messages SET body = ?2, details = '{}'
                 WHERE author = 'customer'
                   AND conversation_id IN (SELECT id FROM conversations WHERE customer_id = ?1)",
                params![id.get(), marker],
            )?;
            // The bot's records keep the customer's words (the question it matched).
            transaction.execute(
                "UPDATE messages SET details = json_remove(details, '$.question_text', '$.contact')
                 WHERE conversation_id IN (SELECT id FROM conversations WHERE customer_id = ?1)",
                [id.get()],
            )?;
            transaction.execute(
                "UPDATE conversations SET contact = NULL WHERE customer_id = ?1",
                [id.get()],
            )?;
            erasure.events = transaction.execute(
                "DELETE FROM customer_events WHERE customer_id = ?1",
                [id.get()],
            )?;
            for table in ["customer_tags", "proactive_sends", "visitor_tokens"] {
                transaction.execute(
                    &format!("DELETE FROM {table} WHERE customer_id = ?1"),
                    [id.get()],
                )?;
            }
            transaction.execute(
                "UPDATE ticket_comments SET body = ?2 WHERE author = 'customer'
                   AND ticket_id IN (SELECT id FROM tickets WHERE requester_id = ?1)",
                params![id.get(), marker],
            )?;
            erasure.tickets = transaction.execute(
                "UPDATE tickets SET subject = ?2, description = ?2, updated_at = ?3 WHERE requester_id = ?1",
                params![id.get(), marker, now.unix_seconds()],
            )?;
            transaction.execute(
                "INSERT INTO ticket_changes (ticket_id, changed_at)
                 SELECT id, ?2 FROM tickets WHERE requester_id = ?1",
                params![id.get(), now.unix_seconds()],
            )?;
            transaction.execute(
                "UPDATE customers SET external_id = NULL, name = NULL, email = NULL, phone = NULL,
                     attributes = '{}', erased_at = ?2 WHERE id = ?1",
                params![id.get(), now.unix_seconds()],
            )?;
            insert_audit(
                &transaction,
                actor,
                "customer.erased",
                &format!("customer {id}"),
                &json!({
                    "messages": erasure.messages,
                    "events": erasure.events,
                    "tickets": erasure.tickets,
                    "files": erasure.storage_names.len(),
                }),
                now,
            )?;
            transaction.commit()?;
            Ok(erasure)
        })
        .await
    }

    pub async fn record_audit(
        &self,
        actor: UserId,
        action: &'static str,
        subject: String,
        details: Value,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(move |conn| insert_audit(conn, actor, action, &subject, &details, now))
            .await
    }

    /// The latest data-rights actions, newest first.
    pub async fn audit_log(&self, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT u.display_name, a.action, a.subject, a.details, a.created_at
                 FROM audit_log a LEFT JOIN users u ON u.id = a.actor_user_id
                 ORDER BY a.id DESC LIMIT ?1",
            )?;
            let rows = statement.query_map([limit], |row| {
                let details: String = row.get(3)?;
                Ok(AuditEntry {
                    actor: row.get(0)?,
                    action: row.get(1)?,
                    subject: row.get(2)?,
                    details: serde_json::from_str(&details).unwrap_or(Value::Null),
                    at: Timestamp::from_unix_seconds(row.get(4)?),
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Every customer's purchases and carts, in order, for "bought together"; and the
    /// newest event id, which tells when they changed.
    pub async fn basket_histories(&self) -> Result<(Vec<Vec<ProfileEvent>>, i64), StoreError> {
        self.read(move |conn| {
            let newest: i64 = conn.query_row(
                "SELECT coalesce(max(id), 0) FROM customer_events",
                [],
                |row| row.get(0),
            )?;
            let mut statement = conn.prepare_cached(
                "SELECT customer_id, name, properties, created_at FROM customer_events
                 WHERE name IN ('purchase', 'add_to_cart') ORDER BY customer_id, id",
            )?;
            let rows = statement.query_map([], |row| {
                let properties: String = row.get(2)?;
                Ok((
                    row.get::<_, i64>(0)?,
                    ProfileEvent {
                        name: row.get(1)?,
                        properties: serde_json::from_str(&properties).unwrap_or(Value::Null),
                        at: Timestamp::from_unix_seconds(row.get(3)?),
                    },
                ))
            })?;
            let mut histories: Vec<Vec<ProfileEvent>> = Vec::new();
            let mut current: Option<i64> = None;
            for row in rows {
                let (customer, event) = row?;
                if current != Some(customer) {
                    histories.push(Vec::new());
                    current = Some(customer);
                }
                if let Some(history) = histories.last_mut() {
                    history.push(event);
                }
            }
            Ok((histories, newest))
        })
        .await
    }
}

fn insert_audit(
    conn: &Connection,
    actor: UserId,
    action: &str,
    subject: &str,
    details: &Value,
    now: Timestamp,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO audit_log (actor_user_id, action, subject, details, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            actor.get(),
            action,
            subject,
            details.to_string(),
            now.unix_seconds()
        ],
    )?;
    Ok(())
}

fn kind_name(kind: TagKind) -> &'static str {
    match kind {
        TagKind::Interest => "interest",
        TagKind::Lifecycle => "lifecycle",
        TagKind::Value => "value",
        TagKind::Cart => "cart",
    }
}

fn kind_from_name(name: &str) -> TagKind {
    match name {
        "interest" => TagKind::Interest,
        "value" => TagKind::Value,
        "cart" => TagKind::Cart,
        _ => TagKind::Lifecycle,
    }
}

fn kind_order(kind: TagKind) -> u8 {
    match kind {
        TagKind::Lifecycle => 0,
        TagKind::Value => 1,
        TagKind::Cart => 2,
        TagKind::Interest => 3,
    }
}
