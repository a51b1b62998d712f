//! Attachment rows: written in the same transaction as the comment or message they belong
//! to, read back for the thread and for downloads.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{Store, StoreError};
use crate::domain::attachment::{Attachment, AttachmentOwner};
use crate::domain::{
    AttachmentId, ConversationId, MessageId, TicketCommentId, TicketId, Timestamp,
};

/// A file already written by `AttachmentFiles`, waiting for its row.
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub sha256: String,
    pub storage_name: String,
    pub thumbnail_name: Option<String>,
}

const COLUMNS: &str = "id, ticket_id, comment_id, conversation_id, message_id, file_name,
     content_type, size_bytes, sha256, storage_name, thumbnail_name, created_at";

fn attachment_from_row(row: &Row<'_>) -> rusqlite::Result<Attachment> {
    let ticket: Option<i64> = row.get(1)?;
    let comment: Option<i64> = row.get(2)?;
    let conversation: Option<i64> = row.get(3)?;
    let message: Option<i64> = row.get(4)?;
    let owner = match (ticket, comment, conversation, message) {
        (Some(ticket), Some(comment), _, _) => AttachmentOwner::Comment {
            ticket: TicketId::new(ticket),
            comment: TicketCommentId::new(comment),
        },
        (_, _, Some(conversation), Some(message)) => AttachmentOwner::Message {
            conversation: ConversationId::new(conversation),
            message: MessageId::new(message),
        },
        _ => return Err(rusqlite::Error::InvalidQuery),
    };
    Ok(Attachment {
        id: AttachmentId::new(row.get(0)?),
        owner,
        file_name: row.get(5)?,
        content_type: row.get(6)?,
        size_bytes: u64::try_from(row.get::<_, i64>(7)?).unwrap_or(0),
        sha256: row.get(8)?,
        storage_name: row.get(9)?,
        thumbnail_name: row.get(10)?,
        created_at: Timestamp::from_unix_seconds(row.get(11)?),
    })
}

/// Inserts the rows of `files` for `owner`; returns their ids, in order.
pub(super) fn insert_attachments(
    conn: &Connection,
    owner: AttachmentOwner,
    files: &[StoredFile],
    now: Timestamp,
) -> Result<Vec<AttachmentId>, StoreError> {
    let (ticket, comment, conversation, message) = match owner {
        AttachmentOwner::Comment { ticket, comment } => {
            (Some(ticket.get()), Some(comment.get()), None, None)
        }
        AttachmentOwner::Message {
            conversation,
            message,
        } => (None, None, Some(conversation.get()), Some(message.get())),
    };
    let mut statement = conn.prepare_cached(
        "INSERT INTO attachments (ticket_id, comment_id, conversation_id, message_id, file_name,
             content_type, size_bytes, sha256, storage_name, thumbnail_name, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    let mut ids = Vec::with_capacity(files.len());
    for file in files {
        statement.execute(params![
            ticket,
            comment,
            conversation,
            message,
            file.file_name,
            file.content_type,
            i64::try_from(file.size_bytes).unwrap_or(i64::MAX),
            file.sha256,
            file.storage_name,
            file.thumbnail_name,
            now.unix_seconds(),
        ])?;
        ids.push(AttachmentId::new(conn.last_insert_rowid()));
    }
    Ok(ids)
}

impl Store {
    pub async fn attachment(&self, id: AttachmentId) -> Result<Attachment, StoreError> {
        self.read(move |conn| {
            conn.query_row(
                &format!("SELECT {COLUMNS} FROM attachments WHERE id = ?1"),
                [id.get()],
                attachment_from_row,
            )
            .optional()?
            .ok_or(StoreError::NotFound)
        })
        .await
    }

    /// The attachments of a ticket's comments, in order.
    pub async fn ticket_attachments(
        &self,
        ticket: TicketId,
    ) -> Result<Vec<Attachment>, StoreError> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM attachments WHERE ticket_id = ?1 ORDER BY id"
            ))?;
            let rows = statement.query_map([ticket.get()], attachment_from_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// The attachments of a conversation's messages, in order.
    pub async fn conversation_attachments(
        &self,
        conversation: ConversationId,
    ) -> Result<Vec<Attachment>, StoreError> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM attachments WHERE conversation_id = ?1 ORDER BY id"
            ))?;
            let rows = statement.query_map([conversation.get()], attachment_from_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }
}
