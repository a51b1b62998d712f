//! Website chat rows: inboxes, customers and their visitor tokens, conversations, messages,
//! tracked events and agent presence.

use rusqlite::{Connection, OptionalExtension, Row};

use super::{Store, StoreError};
use crate::domain::{
    Author, Conversation, ConversationId, ConversationStatus, Customer, CustomerId, HandoffReason,
    Inbox, InboxId, InboxSettings, Message, MessageId, NewMessage, Timestamp, UserId, WebOrigin,
    WidgetLanguage,
};

/// How a customer identified through `setUser`.
#[derive(Debug, Clone)]
pub struct CustomerIdentity {
    /// `Some` only when the shop's hash proved it.
    pub verified_external_id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub attributes: Option<serde_json::Value>,
}

/// Messages read per page of the transcript.
const TRANSCRIPT_LIMIT: i64 = 500;

const INBOX_COLUMNS: &str = "id, public_token, identity_secret, require_identity, allowed_origins,
     greeting, color, position, language, offline_message, business_hours, utc_offset_minutes,
     unanswered_before_handoff, name, created_at";

fn inbox_from_row(row: &Row<'_>) -> rusqlite::Result<Inbox> {
    let origins: String = row.get(4)?;
    let language: String = row.get(8)?;
    Ok(Inbox {
        id: InboxId::new(row.get(0)?),
        public_token: row.get(1)?,
        identity_secret: row.get(2)?,
        settings: InboxSettings {
            require_identity: row.get::<_, i64>(3)? != 0,
            allowed_origins: origins
                .lines()
                .filter_map(|line| WebOrigin::parse(line).ok())
                .collect(),
            greeting: row.get(5)?,
            color: row.get(6)?,
            position: row.get(7)?,
            language: WidgetLanguage::parse(&language).unwrap_or(WidgetLanguage::Auto),
            offline_message: row.get(9)?,
            business_hours_text: row.get(10)?,
            utc_offset_minutes: row.get(11)?,
            unanswered_before_handoff: row.get(12)?,
            name: row.get(13)?,
        },
        created_at: Timestamp::from_unix_seconds(row.get(14)?),
    })
}

pub(super) const CONVERSATION_COLUMNS: &str =
    "id, inbox_id, customer_id, status, assignee_id, language,
     unanswered, handoff_reason, handed_off_at, contact, created_at, updated_at, team_id, topic";

pub(super) fn conversation_from_row(row: &Row<'_>) -> rusqlite::Result<Conversation> {
    let status: String = row.get(3)?;
    Ok(Conversation {
        id: ConversationId::new(row.get(0)?),
        inbox_id: InboxId::new(row.get(1)?),
        customer_id: CustomerId::new(row.get(2)?),
        status: ConversationStatus::from_stored(&status).unwrap_or(ConversationStatus::Waiting),
        assignee_id: row.get::<_, Option<i64>>(4)?.map(UserId::new),
        language: row.get(5)?,
        unanswered: row.get(6)?,
        handoff_reason: row.get(7)?,
        handed_off_at: row
            .get::<_, Option<i64>>(8)?
            .map(Timestamp::from_unix_seconds),
        contact: row.get(9)?,
        created_at: Timestamp::from_unix_seconds(row.get(10)?),
        updated_at: Timestamp::from_unix_seconds(row.get(11)?),
        team_id: row
            .get::<_, Option<i64>>(12)?
            .map(crate::domain::TeamId::new),
        topic: row.get(13)?,
    })
}

pub(super) const MESSAGE_COLUMNS: &str =
    "id, conversation_id, author, author_user_id, body, details, private, feedback, created_at";

pub(super) fn message_from_row(row: &Row<'_>) -> rusqlite::Result<Message> {
    let author: String = row.get(2)?;
    let details: String = row.get(5)?;
    Ok(Message {
        id: MessageId::new(row.get(0)?),
        conversation_id: ConversationId::new(row.get(1)?),
        author: Author::from_stored(&author).unwrap_or(Author::System),
        author_user_id: row.get::<_, Option<i64>>(3)?.map(UserId::new),
        body: row.get(4)?,
        details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
        private: row.get::<_, i64>(6)? != 0,
        feedback: row.get(7)?,
        created_at: Timestamp::from_unix_seconds(row.get(8)?),
    })
}

pub(super) fn conversation_by_id(
    conn: &Connection,
    id: ConversationId,
) -> Result<Conversation, StoreError> {
    conn.query_row(
        &format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ?1"),
        [id.get()],
        conversation_from_row,
    )
    .optional()?
    .ok_or(StoreError::NotFound)
}

fn origins_text(settings: &InboxSettings) -> String {
    settings
        .allowed_origins
        .iter()
        .map(WebOrigin::as_str)
        .collect::<Vec<_>>()
        .join("\n")
}

impl Store {
    pub async fn create_inbox(
        &self,
        settings: InboxSettings,
        public_token: String,
        identity_secret: String,
        now: Timestamp,
    ) -> Result<InboxId, StoreError> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO inboxes (name, public_token, identity_secret, require_identity,
                     allowed_origins, greeting, color, position, language, offline_message,
                     business_hours, utc_offset_minutes, unanswered_before_handoff,
                     created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)",
                rusqlite::params![
                    settings.name,
                    public_token,
                    identity_secret,
                    i64::from(settings.require_identity),
                    origins_text(&settings),
                    settings.greeting,
                    settings.color,
                    settings.position,
                    settings.language.as_str(),
                    settings.offline_message,
                    settings.business_hours_text,
                    settings.utc_offset_minutes,
                    settings.unanswered_before_handoff,
                    now.unix_seconds(),
                ],
            )?;
            Ok(InboxId::new(conn.last_insert_rowid()))
        })
        .await
    }

    pub async fn update_inbox(
        &self,
        id: InboxId,
        settings: InboxSettings,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            let changed = conn.execute(
                "UPDATE inboxes SET name = ?2, require_identity = ?3, allowed_origins = ?4,
                     greeting = ?5, color = ?6, position = ?7, language = ?8,
                     offline_message = ?9, business_hours = ?10, utc_offset_minutes = ?11,
                     unanswered_before_handoff = ?12, updated_at = ?13
                 WHERE id = ?1",
                rusqlite::params![
                    id.get(),
                    settings.name,
                    i64::from(settings.require_identity),
                    origins_text(&settings),
                    settings.greeting,
                    settings.color,
                    settings.position,
                    settings.language.as_str(),
                    settings.offline_message,
                    settings.business_hours_text,
                    settings.utc_offset_minutes,
                    settings.unanswered_before_handoff,
                    now.unix_seconds(),
                ],
            )?;
            if changed == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    pub async fn inboxes(&self) -> Result<Vec<Inbox>, StoreError> {
        self.read(|conn| {
            let mut statement =
                conn.prepare_cached(&format!("SELECT {INBOX_COLUMNS} FROM inboxes ORDER BY id"))?;
            let rows = statement.query_map([], inbox_from_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    pub async fn inbox(&self, id: InboxId) -> Result<Inbox, StoreError> {
        self.read(move |conn| {
            conn.query_row(
                &format!("SELECT {INBOX_COLUMNS} FROM inboxes WHERE id = ?1"),
                [id.get()],
                inbox_from_row,
            )
            .optional()?
            .ok_or(StoreError::NotFound)
        })
        .await
    }

    pub async fn inbox_by_token(&self, public_token: String) -> Result<Inbox, StoreError> {
        self.read(move |conn| {
            conn.query_row(
                &format!("SELECT {INBOX_COLUMNS} FROM inboxes WHERE public_token = ?1"),
                [public_token],
                inbox_from_row,
            )
            .optional()?
            .ok_or(StoreError::NotFound)
        })
        .await
    }

    /// The customer a visitor token belongs to in `inbox`, and marks them seen.
    pub async fn visitor_customer(
        &self,
        inbox: InboxId,
        token_sha256: Vec<u8>,
        now: Timestamp,
    ) -> Result<Option<CustomerId>, StoreError> {
        self.write(move |conn| {
            let found: Option<i64> = conn
                .query_row(
                    "UPDATE visitor_tokens SET last_seen_at = ?3
                     WHERE token_sha256 = ?1 AND inbox_id = ?2 RETURNING customer_id",
                    rusqlite::params![token_sha256, inbox.get(), now.unix_seconds()],
                    |row| row.get(0),
                )
                .optional()?;
            Ok(found.map(CustomerId::new))
        })
        .await
    }

    /// A new anonymous customer and their visitor token.
    pub async fn create_visitor(
        &self,
        inbox: InboxId,
        token_sha256: Vec<u8>,
        language: Option<String>,
        now: Timestamp,
    ) -> Result<CustomerId, StoreError> {
        self.write(move |conn| {
            let transaction = conn.transaction()?;
            transaction.execute(
                "INSERT INTO customers (language, created_at, last_seen_at) VALUES (?1, ?2, ?2)",
                rusqlite::params![language, now.unix_seconds()],
            )?;
            let customer = transaction.last_insert_rowid();
            transaction.execute(
                "INSERT INTO visitor_tokens (token_sha256, customer_id, inbox_id, created_at, last_seen_at)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
                rusqlite::params![token_sha256, customer, inbox.get(), now.unix_seconds()],
            )?;
            transaction.commit()?;
            Ok(CustomerId::new(customer))
        })
        .await
    }

    /// Applies `setUser`. A verified id joins this visitor to the customer who already has
    /// it (moving the anonymous history over), or claims it; unverified details only
    /// decorate the current customer and never join anyone.
    pub async fn identify_customer(
        &self,
        token_sha256: Vec<u8>,
        identity: CustomerIdentity,
        now: Timestamp,
    ) -> Result<CustomerId, StoreError> {
        self.write(move |conn| {
            let transaction = conn.transaction()?;
            let current: i64 = transaction
                .query_row(
                    "SELECT customer_id FROM visitor_tokens WHERE token_sha256 = ?1",
                    [&token_sha256],
                    |row| row.get(0),
                )
                .optional()?
                .ok_or(StoreError::NotFound)?;
            let mut target = current;
            if let Some(external_id) = &identity.verified_external_id {
                let owner: Option<i64> = transaction
                    .query_row(
                        "SELECT id FROM customers WHERE external_id = ?1",
                        [external_id],
                        |row| row.get(0),
                    )
                    .optional()?;
                match owner {
                    Some(owner) if owner != current => {
                        let current_external: Option<String> = transaction.query_row(
                            "SELECT external_id FROM customers WHERE id = ?1",
                            [current],
                            |row| row.get(0),
                        )?;
                        // Another verified person on this browser (a shared computer):
                        // their history stays theirs; this visitor now speaks as the owner.
                        if current_external.is_none() {
                            for table in [
                                "conversations",
                                "customer_events",
                                "visitor_tokens",
                                "proactive_sends",
                            ] {
                                transaction.execute(
                                    &format!(
                                        "UPDATE {table} SET customer_id = ?1 WHERE customer_id = ?2"
                                    ),
                                    [owner, current],
                                )?;
                            }
                            // Tickets too (deleting the anonymous customer would take them).
                            transaction.execute(
                                "UPDATE tickets SET requester_id = ?1 WHERE requester_id = ?2",
                                [owner, current],
                            )?;
                            transaction.execute("DELETE FROM customers WHERE id = ?1", [current])?;
                        } else {
                            transaction.execute(
                                "UPDATE visitor_tokens SET customer_id = ?1 WHERE token_sha256 = ?2",
                                rusqlite::params![owner, token_sha256],
                            )?;
                        }
                        target = owner;
                    }
                    Some(_) => {}
                    None => {
                        let current_external: Option<String> = transaction.query_row(
                            "SELECT external_id FROM customers WHERE id = ?1",
                            [current],
                            |row| row.get(0),
                        )?;
                        if current_external.is_none() {
                            transaction.execute(
                                "UPDATE customers SET external_id = ?1 WHERE id = ?2",
                                rusqlite::params![external_id, current],
                            )?;
                        } else {
                            // A different verified person: a fresh customer for them.
                            transaction.execute(
                                "INSERT INTO customers (external_id, created_at, last_seen_at)
                                 VALUES (?1, ?2, ?2)",
                                rusqlite::params![external_id, now.unix_seconds()],
                            )?;
                            target = transaction.last_insert_rowid();
                            transaction.execute(
                                "UPDATE visitor_tokens SET customer_id = ?1 WHERE token_sha256 = ?2",
                                rusqlite::params![target, token_sha256],
                            )?;
                        }
                    }
                }
            }
            transaction.execute(
                "UPDATE customers SET name = COALESCE(?2, name), email = COALESCE(?3, email),
                     attributes = COALESCE(?4, attributes), last_seen_at = ?5
                 WHERE id = ?1",
                rusqlite::params![
                    target,
                    identity.name,
                    identity.email,
                    identity.attributes.map(|a| a.to_string()),
                    now.unix_seconds()
                ],
            )?;
            transaction.commit()?;
            Ok(CustomerId::new(target))
        })
        .await
    }

    /// Forgets a visitor token (`kefu('reset')` on logout).
    pub async fn forget_visitor(&self, token_sha256: Vec<u8>) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.execute(
                "DELETE FROM visitor_tokens WHERE token_sha256 = ?1",
                [token_sha256],
            )?;
            Ok(())
        })
        .await
    }

    /// The customer with this e-mail address (case ignored), or a new one: the requester of
    /// a ticket an agent or the API opens for someone who never chatted.
    pub async fn customer_by_email_or_new(
        &self,
        email: String,
        name: Option<String>,
        now: Timestamp,
    ) -> Result<CustomerId, StoreError> {
        self.write(move |conn| {
            let transaction = conn.transaction()?;
            let found: Option<i64> = transaction
                .query_row(
                    "SELECT id FROM customers WHERE email = ?1 COLLATE NOCASE ORDER BY id LIMIT 1",
                    [&email],
                    |row| row.get(0),
                )
                .optional()?;
            let id = match found {
                Some(id) => {
                    if let Some(name) = &name {
                        transaction.execute(
                            "UPDATE customers SET name = coalesce(name, ?2) WHERE id = ?1",
                            rusqlite::params![id, name],
                        )?;
                    }
                    id
                }
                None => {
                    transaction.execute(
                        "INSERT INTO customers (name, email, created_at, last_seen_at)
                         VALUES (?1, ?2, ?3, ?3)",
                        rusqlite::params![name, email, now.unix_seconds()],
                    )?;
                    transaction.last_insert_rowid()
                }
            };
            transaction.commit()?;
            Ok(CustomerId::new(id))
        })
        .await
    }

    /// Remembers the e-mail a customer left, unless they already have one.
    pub async fn fill_customer_email(
        &self,
        id: CustomerId,
        email: String,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE customers SET email = ?2 WHERE id = ?1 AND email IS NULL",
                rusqlite::params![id.get(), email],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn customer(&self, id: CustomerId) -> Result<Customer, StoreError> {
        self.read(move |conn| {
            conn.query_row(
                "SELECT id, external_id, name, email, attributes, created_at FROM customers WHERE id = ?1",
                [id.get()],
                |row| {
                    let attributes: String = row.get(4)?;
                    Ok(Customer {
                        id: CustomerId::new(row.get(0)?),
                        external_id: row.get(1)?,
                        name: row.get(2)?,
                        email: row.get(3)?,
                        attributes: serde_json::from_str(&attributes)
                            .unwrap_or(serde_json::Value::Null),
                        created_at: Timestamp::from_unix_seconds(row.get(5)?),
                    })
                },
            )
            .optional()?
            .ok_or(StoreError::NotFound)
        })
        .await
    }

    /// The customer's latest conversation in `inbox` that is not resolved.
    pub async fn open_conversation(
        &self,
        inbox: InboxId,
        customer: CustomerId,
    ) -> Result<Option<Conversation>, StoreError> {
        self.read(move |conn| {
            Ok(conn
                .query_row(
                    &format!(
                        "SELECT {CONVERSATION_COLUMNS} FROM conversations
                         WHERE inbox_id = ?1 AND customer_id = ?2 AND status != 'resolved'
                         ORDER BY id DESC LIMIT 1"
                    ),
                    [inbox.get(), customer.get()],
                    conversation_from_row,
                )
                .optional()?)
        })
        .await
    }

    /// A conversation, only if it belongs to `customer` (else `NotFound`).
    pub async fn customer_conversation(
        &self,
        customer: CustomerId,
        id: ConversationId,
    ) -> Result<Conversation, StoreError> {
        self.read(move |conn| {
            let conversation = conversation_by_id(conn, id)?;
            if conversation.customer_id != customer {
                return Err(StoreError::NotFound);
            }
            Ok(conversation)
        })
        .await
    }

    pub async fn conversation(&self, id: ConversationId) -> Result<Conversation, StoreError> {
        self.read(move |conn| conversation_by_id(conn, id)).await
    }

    pub async fn create_conversation(
        &self,
        inbox: InboxId,
        customer: CustomerId,
        language: String,
        now: Timestamp,
    ) -> Result<Conversation, StoreError> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO conversations (inbox_id, customer_id, status, language, created_at, updated_at)
                 VALUES (?1, ?2, 'bot', ?3, ?4, ?4)",
                rusqlite::params![inbox.get(), customer.get(), language, now.unix_seconds()],
            )?;
            conversation_by_id(conn, ConversationId::new(conn.last_insert_rowid()))
        })
        .await
    }

    /// Stores messages of one conversation in one transaction, in order.
    pub async fn append_messages(
        &self,
        conversation: ConversationId,
        messages: Vec<NewMessage>,
        now: Timestamp,
    ) -> Result<Vec<Message>, StoreError> {
        self.append_messages_with_files(conversation, messages, Vec::new(), now)
            .await
    }

    /// Appends `messages`; the rows of `files` belong to the first of them. One transaction.
    pub async fn append_messages_with_files(
        &self,
        conversation: ConversationId,
        messages: Vec<NewMessage>,
        files: Vec<super::attachments::StoredFile>,
        now: Timestamp,
    ) -> Result<Vec<Message>, StoreError> {
        self.write(move |conn| {
            let transaction = conn.transaction()?;
            let mut stored: Vec<Message> = Vec::with_capacity(messages.len());
            for message in messages {
                let row = transaction.query_row(
                    &format!(
                        "INSERT INTO messages (conversation_id, author, author_user_id, body, details, private, created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING {MESSAGE_COLUMNS}"
                    ),
                    rusqlite::params![
                        conversation.get(),
                        message.author.as_str(),
                        message.author_user_id.map(UserId::get),
                        message.body,
                        message.details.to_string(),
                        i64::from(message.private),
                        now.unix_seconds(),
                    ],
                    message_from_row,
                )?;
                stored.push(row);
            }
            if let Some(first) = stored.first_mut()
                && !files.is_empty()
            {
                let ids = super::attachments::insert_attachments(
                    &transaction,
                    crate::domain::attachment::AttachmentOwner::Message {
                        conversation,
                        message: first.id,
                    },
                    &files,
                    now,
                )?;
                // Listed on the message too, so a transcript or a live event shows the files
                // without another query; downloads still check the attachments table.
                first.details["attachments"] = serde_json::Value::Array(
                    ids.iter()
                        .zip(&files)
                        .map(|(id, file)| {
                            serde_json::json!({
                                "id": id,
                                "name": file.file_name,
                                "size": file.size_bytes,
                                "thumbnail": file.thumbnail_name.is_some(),
                            })
                        })
                        .collect(),
                );
                transaction.execute(
                    "UPDATE messages SET details = ?2 WHERE id = ?1",
                    rusqlite::params![first.id.get(), first.details.to_string()],
                )?;
            }
            transaction.execute(
                "UPDATE conversations SET updated_at = ?2 WHERE id = ?1",
                [conversation.get(), now.unix_seconds()],
            )?;
            transaction.commit()?;
            Ok(stored)
        })
        .await
    }

    /// Messages after `after` (all when `None`), oldest first; private notes only when asked.
    pub async fn messages_after(
        &self,
        conversation: ConversationId,
        after: Option<MessageId>,
        include_private: bool,
    ) -> Result<Vec<Message>, StoreError> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM (
                     SELECT {MESSAGE_COLUMNS} FROM messages
                     WHERE conversation_id = ?1 AND id > ?2 AND (private = 0 OR ?3)
                     ORDER BY id DESC LIMIT ?4)
                 ORDER BY id"
            ))?;
            let rows = statement.query_map(
                rusqlite::params![
                    conversation.get(),
                    after.map_or(0, MessageId::get),
                    include_private,
                    TRANSCRIPT_LIMIT
                ],
                message_from_row,
            )?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Public messages of a customer's conversations in `inbox` after `after`, oldest
    /// first: what a widget that reconnects missed.
    pub async fn customer_messages_after(
        &self,
        inbox: InboxId,
        customer: CustomerId,
        after: MessageId,
    ) -> Result<Vec<Message>, StoreError> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages
                 WHERE id > ?3 AND private = 0 AND conversation_id IN
                     (SELECT id FROM conversations WHERE inbox_id = ?1 AND customer_id = ?2)
                 ORDER BY id LIMIT ?4"
            ))?;
            let rows = statement.query_map(
                rusqlite::params![inbox.get(), customer.get(), after.get(), TRANSCRIPT_LIMIT],
                message_from_row,
            )?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Counts a message the bot could not answer (or resets the count); returns the count.
    pub async fn record_bot_outcome(
        &self,
        conversation: ConversationId,
        answered: bool,
    ) -> Result<i64, StoreError> {
        self.write(move |conn| {
            Ok(conn.query_row(
                "UPDATE conversations
                 SET unanswered = CASE WHEN ?2 THEN 0 ELSE unanswered + 1 END
                 WHERE id = ?1 RETURNING unanswered",
                rusqlite::params![conversation.get(), answered],
                |row| row.get(0),
            )?)
        })
        .await
    }

    /// Moves a bot conversation to people in one step (to `team` when routing named one);
    /// `false` when it was not with the bot (already handed off), so two triggers at once
    /// hand off once.
    pub async fn hand_off(
        &self,
        conversation: ConversationId,
        to: ConversationStatus,
        reason: HandoffReason,
        team: Option<crate::domain::TeamId>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.write(move |conn| {
            let changed = conn.execute(
                "UPDATE conversations
                 SET status = ?2, handoff_reason = ?3, handed_off_at = ?4, updated_at = ?4,
                     team_id = ?5, assignee_id = NULL
                 WHERE id = ?1 AND status = 'bot'",
                rusqlite::params![
                    conversation.get(),
                    to.as_str(),
                    reason.as_str(),
                    now.unix_seconds(),
                    team.map(crate::domain::TeamId::get)
                ],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    /// 1-based place among waiting conversations (first handed off, first served).
    pub async fn queue_position(
        &self,
        conversation: ConversationId,
    ) -> Result<Option<i64>, StoreError> {
        self.read(move |conn| {
            let conversation = conversation_by_id(conn, conversation)?;
            let (ConversationStatus::Waiting, Some(at)) =
                (conversation.status, conversation.handed_off_at)
            else {
                return Ok(None);
            };
            let ahead: i64 = conn.query_row(
                "SELECT count(*) FROM conversations
                 WHERE status = 'waiting' AND (handed_off_at < ?1 OR (handed_off_at = ?1 AND id < ?2))",
                [at.unix_seconds(), conversation.id.get()],
                |row| row.get(0),
            )?;
            Ok(Some(ahead + 1))
        })
        .await
    }

    pub async fn set_conversation_contact(
        &self,
        conversation: ConversationId,
        contact: String,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE conversations SET contact = ?2, updated_at = ?3 WHERE id = ?1",
                rusqlite::params![conversation.get(), contact, now.unix_seconds()],
            )?;
            Ok(())
        })
        .await
    }

    /// Records helpful / not helpful on a bot message of `conversation`.
    pub async fn set_message_feedback(
        &self,
        conversation: ConversationId,
        message: MessageId,
        feedback: &'static str,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            let changed = conn.execute(
                "UPDATE messages SET feedback = ?3
                 WHERE id = ?2 AND conversation_id = ?1 AND author = 'bot'",
                rusqlite::params![conversation.get(), message.get(), feedback],
            )?;
            if changed == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
        .await
    }

    pub async fn record_customer_event(
        &self,
        customer: CustomerId,
        name: String,
        properties: serde_json::Value,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO customer_events (customer_id, name, properties, created_at)
                 VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![
                    customer.get(),
                    name,
                    properties.to_string(),
                    now.unix_seconds()
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// Events of a customer, newest first.
    pub async fn customer_events(
        &self,
        customer: CustomerId,
        limit: i64,
    ) -> Result<Vec<(String, serde_json::Value, Timestamp)>, StoreError> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT name, properties, created_at FROM customer_events
                 WHERE customer_id = ?1 ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = statement.query_map([customer.get(), limit], |row| {
                let properties: String = row.get(1)?;
                Ok((
                    row.get(0)?,
                    serde_json::from_str(&properties).unwrap_or(serde_json::Value::Null),
                    Timestamp::from_unix_seconds(row.get(2)?),
                ))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }
}
