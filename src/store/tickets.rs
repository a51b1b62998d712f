//! Tickets' rows: tickets scoped to the agent looking, their comments and conversation links,
//! the filtered, sorted, paged list, the change log the ticket index follows, SLA settings
//! and recorded breaches.

use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use super::attachments::{StoredFile, insert_attachments};
use super::{Store, StoreError};
use crate::domain::attachment::AttachmentOwner;
use crate::domain::sla::SlaTarget;
use crate::domain::{
    AssigneeFilter, CommentAuthor, ConversationId, CustomerId, DeskScope, InboxId, SlaPolicy,
    SlaTargets, TeamId, Ticket, TicketChange, TicketComment, TicketCommentId, TicketDocument,
    TicketFilter, TicketId, TicketPriority, TicketSort, TicketSource, TicketStatus, Timestamp,
    UserId,
};

/// The SQL condition "ticket `t` is visible to the agent bound to ?1 (user) and ?2 (admin)":
/// admins see all; others their own, their teams', and — for tickets without a team — those
/// of the inboxes they work (or of no inbox).
const IN_SCOPE: &str = "(?2 OR t.assignee_id = ?1
    OR (t.team_id IS NOT NULL AND t.team_id IN (SELECT team_id FROM team_members WHERE user_id = ?1))
    OR (t.team_id IS NULL AND (t.inbox_id IS NULL
        OR t.inbox_id IN (SELECT inbox_id FROM inbox_members WHERE user_id = ?1))))";

const TICKET_COLUMNS: &str = "t.id, t.subject, t.description, t.requester_id, t.status, t.priority,
     t.assignee_id, t.team_id, t.inbox_id, t.tags, t.source, t.first_response_due,
     t.resolution_due, t.first_responded_at, t.solved_at, t.created_at, t.updated_at";

fn timestamp(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<Timestamp>> {
    Ok(row
        .get::<_, Option<i64>>(index)?
        .map(Timestamp::from_unix_seconds))
}

fn ticket_from_row(row: &Row<'_>) -> rusqlite::Result<Ticket> {
    let status: String = row.get(4)?;
    let priority: String = row.get(5)?;
    let tags: String = row.get(9)?;
    let source: String = row.get(10)?;
    Ok(Ticket {
        id: TicketId::new(row.get(0)?),
        subject: row.get(1)?,
        description: row.get(2)?,
        requester_id: CustomerId::new(row.get(3)?),
        status: TicketStatus::parse(&status).unwrap_or(TicketStatus::Open),
        priority: TicketPriority::parse(&priority).unwrap_or(TicketPriority::Normal),
        assignee_id: row.get::<_, Option<i64>>(6)?.map(UserId::new),
        team_id: row.get::<_, Option<i64>>(7)?.map(TeamId::new),
        inbox_id: row.get::<_, Option<i64>>(8)?.map(InboxId::new),
        tags: tags.split_whitespace().map(str::to_string).collect(),
        source: TicketSource::from_stored(&source).unwrap_or(TicketSource::Agent),
        conversation_ids: Vec::new(),
        first_response_due: timestamp(row, 11)?,
        resolution_due: timestamp(row, 12)?,
        first_responded_at: timestamp(row, 13)?,
        solved_at: timestamp(row, 14)?,
        created_at: Timestamp::from_unix_seconds(row.get(15)?),
        updated_at: Timestamp::from_unix_seconds(row.get(16)?),
    })
}

fn stored_tags(tags: &[String]) -> String {
    format!(" {} ", tags.join(" "))
}

fn priority_rank(priority: TicketPriority) -> i64 {
    priority as i64
}

fn conversation_links(conn: &Connection, id: TicketId) -> Result<Vec<ConversationId>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT conversation_id FROM ticket_conversations WHERE ticket_id = ?1 ORDER BY linked_at, conversation_id",
    )?;
    let rows = statement.query_map([id.get()], |row| Ok(ConversationId::new(row.get(0)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn ticket_by_id(conn: &Connection, id: TicketId) -> Result<Ticket, StoreError> {
    let mut ticket = conn
        .query_row(
            &format!("SELECT {TICKET_COLUMNS} FROM tickets t WHERE t.id = ?1"),
            [id.get()],
            ticket_from_row,
        )
        .optional()?
        .ok_or(StoreError::NotFound)?;
    ticket.conversation_ids = conversation_links(conn, id)?;
    Ok(ticket)
}

fn record_change(conn: &Connection, id: TicketId, now: Timestamp) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT INTO ticket_changes (ticket_id, changed_at) VALUES (?1, ?2)")?
        .execute(params![id.get(), now.unix_seconds()])?;
    Ok(())
}

/// Writes every mutable column of `ticket` if it is still in `expected` status; `false` when
/// someone else moved it first.
fn save_in(
    conn: &Connection,
    ticket: &Ticket,
    expected: TicketStatus,
    next_due: Option<Timestamp>,
) -> Result<bool, StoreError> {
    let changed = conn.execute(
        "UPDATE tickets SET subject = ?2, description = ?3, status = ?4, priority = ?5,
             priority_rank = ?6, assignee_id = ?7, team_id = ?8, tags = ?9,
             first_response_due = ?10, resolution_due = ?11, first_responded_at = ?12,
             solved_at = ?13, next_due_at = ?14, updated_at = ?15
         WHERE id = ?1 AND status = ?16",
        params![
            ticket.id.get(),
            ticket.subject,
            ticket.description,
            ticket.status.as_str(),
            ticket.priority.as_str(),
            priority_rank(ticket.priority),
            ticket.assignee_id.map(UserId::get),
            ticket.team_id.map(TeamId::get),
            stored_tags(&ticket.tags),
            ticket.first_response_due.map(Timestamp::unix_seconds),
            ticket.resolution_due.map(Timestamp::unix_seconds),
            ticket.first_responded_at.map(Timestamp::unix_seconds),
            ticket.solved_at.map(Timestamp::unix_seconds),
            next_due.map(Timestamp::unix_seconds),
            ticket.updated_at.unix_seconds(),
            expected.as_str(),
        ],
    )?;
    if changed == 1 {
        record_change(conn, ticket.id, ticket.updated_at)?;
    }
    Ok(changed == 1)
}

/// A new comment, as the service built it.
#[derive(Debug, Clone)]
pub struct NewComment {
    pub author: CommentAuthor,
    pub author_user_id: Option<UserId>,
    pub body: String,
    pub public: bool,
}

fn comment_from_row(row: &Row<'_>) -> rusqlite::Result<TicketComment> {
    let author: String = row.get(2)?;
    Ok(TicketComment {
        id: TicketCommentId::new(row.get(0)?),
        ticket_id: TicketId::new(row.get(1)?),
        author: CommentAuthor::from_stored(&author).unwrap_or(CommentAuthor::System),
        author_user_id: row.get::<_, Option<i64>>(3)?.map(UserId::new),
        body: row.get(4)?,
        public: row.get(5)?,
        created_at: Timestamp::from_unix_seconds(row.get(6)?),
    })
}

/// A line of the ticket list.
#[derive(Debug, Clone)]
pub struct TicketRow {
    pub ticket: Ticket,
    pub requester_name: Option<String>,
    pub requester_email: Option<String>,
    pub assignee_name: Option<String>,
    pub team_name: Option<String>,
    pub breached: bool,
}

/// One page of the ticket list and how many tickets match in all.
#[derive(Debug, Clone)]
pub struct TicketPage {
    pub rows: Vec<TicketRow>,
    pub total: i64,
}

/// What to list: the filter, the order, the page, and (after a full-text search) the
/// matching ids, best first.
#[derive(Debug, Clone, Default)]
pub struct TicketQuery {
    pub filter: TicketFilter,
    pub sort: TicketSort,
    /// 1-based.
    pub page: i64,
    pub per_page: i64,
    pub matching: Option<Vec<TicketId>>,
}

/// The WHERE clause and its parameters (after ?1 user, ?2 admin) for `query`, and the same
/// clause for choosing the page. They differ in one character: the page's status test is
/// `+t.status`, which keeps SQLite from seeking by status and sorting every match; it walks
/// the sort order's index instead and stops at the page's end (fast with or without table
/// statistics). The count seeks by status in the covering `tickets_scope` index.
fn list_conditions(
    query: &TicketQuery,
    now: Timestamp,
) -> (String, String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value;
    let mut conditions = vec![IN_SCOPE.to_string()];
    let mut values: Vec<Value> = Vec::new();
    let bind = |value: Value, values: &mut Vec<Value>| {
        values.push(value);
        format!("?{}", values.len() + 2)
    };
    let filter = &query.filter;
    if !filter.statuses.is_empty() {
        // Written out (they are the enum's own names, never user text), so SQLite can use the
        // partial index of unsolved tickets when the filter is exactly that set.
        let mut statuses: Vec<TicketStatus> = filter.statuses.clone();
        statuses.sort_by_key(|status| TicketStatus::ALL.iter().position(|s| s == status));
        statuses.dedup();
        let names: Vec<String> = statuses
            .iter()
            .map(|status| format!("'{}'", status.as_str()))
            .collect();
        conditions.push(format!("{STATUS_MARK}t.status IN ({})", names.join(", ")));
    }
    if let Some(priority) = filter.priority {
        let p = bind(Value::Text(priority.as_str().into()), &mut values);
        conditions.push(format!("t.priority = {p}"));
    }
    match filter.assignee {
        Some(AssigneeFilter::Nobody) => conditions.push("t.assignee_id IS NULL".into()),
        Some(AssigneeFilter::User(user)) => {
            let p = bind(Value::Integer(user.get()), &mut values);
            conditions.push(format!("t.assignee_id = {p}"));
        }
        None => {}
    }
    if let Some(team) = filter.team {
        let p = bind(Value::Integer(team.get()), &mut values);
        conditions.push(format!("t.team_id = {p}"));
    }
    if let Some(tag) = &filter.tag {
        let p = bind(
            Value::Text(format!("% {} %", tag.to_lowercase())),
            &mut values,
        );
        conditions.push(format!("t.tags LIKE {p}"));
    }
    if let Some(requester) = filter.requester {
        let p = bind(Value::Integer(requester.get()), &mut values);
        conditions.push(format!("t.requester_id = {p}"));
    }
    if filter.breached_only {
        // Recorded breaches, and deadlines that have just passed before the sweeper ran.
        let p = bind(Value::Integer(now.unix_seconds()), &mut values);
        conditions.push(format!(
            "(t.breached = 1 OR (t.next_due_at IS NOT NULL AND t.next_due_at < {p}))"
        ));
    }
    let page = conditions.join(" AND ").replace(STATUS_MARK, "+");
    let count = conditions.join(" AND ").replace(STATUS_MARK, "");
    (count, page, values)
}

/// Where the status test goes, to be written two ways (see `list_conditions`).
const STATUS_MARK: &str = "{status}";

fn list_order(query: &TicketQuery) -> String {
    match query.sort {
        TicketSort::Updated => "t.updated_at DESC, t.id DESC".into(),
        TicketSort::Created => "t.id DESC".into(),
        TicketSort::Due => "t.next_due_at IS NULL, t.next_due_at, t.id".into(),
        TicketSort::Priority => "t.priority_rank DESC, t.id".into(),
        // The position in the search's ranking (the joined `json_each` row's key).
        TicketSort::Relevance if query.matching.is_some() => "search_rank".into(),
        TicketSort::Relevance => "t.updated_at DESC, t.id DESC".into(),
    }
}

impl Store {
    /// Stores a new ticket (its `id` is ignored) with its first conversation link.
    pub async fn create_ticket(
        &self,
        ticket: Ticket,
        next_due: Option<Timestamp>,
    ) -> Result<Ticket, StoreError> {
        self.write(move |conn| {
            let transaction = conn.transaction()?;
            transaction.execute(
                "INSERT INTO tickets (subject, description, requester_id, status, priority,
                     priority_rank, assignee_id, team_id, inbox_id, tags, source,
                     first_response_due, resolution_due, next_due_at, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                params![
                    ticket.subject,
                    ticket.description,
                    ticket.requester_id.get(),
                    ticket.status.as_str(),
                    ticket.priority.as_str(),
                    priority_rank(ticket.priority),
                    ticket.assignee_id.map(UserId::get),
                    ticket.team_id.map(TeamId::get),
                    ticket.inbox_id.map(InboxId::get),
                    stored_tags(&ticket.tags),
                    ticket.source.as_str(),
                    ticket.first_response_due.map(Timestamp::unix_seconds),
                    ticket.resolution_due.map(Timestamp::unix_seconds),
                    next_due.map(Timestamp::unix_seconds),
                    ticket.created_at.unix_seconds(),
                    ticket.updated_at.unix_seconds(),
                ],
            )?;
            let id = TicketId::new(transaction.last_insert_rowid());
            for conversation in &ticket.conversation_ids {
                transaction.execute(
                    "INSERT OR IGNORE INTO ticket_conversations (ticket_id, conversation_id, linked_at)
                     VALUES (?1, ?2, ?3)",
                    params![id.get(), conversation.get(), ticket.created_at.unix_seconds()],
                )?;
            }
            record_change(&transaction, id, ticket.updated_at)?;
            let stored = ticket_by_id(&transaction, id)?;
            transaction.commit()?;
            Ok(stored)
        })
        .await
    }

    /// A ticket the viewer may see, else `NotFound`.
    pub async fn ticket(&self, scope: DeskScope, id: TicketId) -> Result<Ticket, StoreError> {
        self.read(move |conn| {
            let visible = conn
                .query_row(
                    &format!("SELECT 1 FROM tickets t WHERE t.id = ?3 AND {IN_SCOPE}"),
                    params![scope.user.get(), scope.is_admin, id.get()],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if !visible {
                return Err(StoreError::NotFound);
            }
            ticket_by_id(conn, id)
        })
        .await
    }

    /// A ticket whoever asks: for the customer's side and background work.
    pub async fn ticket_unscoped(&self, id: TicketId) -> Result<Ticket, StoreError> {
        self.read(move |conn| ticket_by_id(conn, id)).await
    }

    /// Saves `ticket` if it is still in `expected` status (`false` otherwise).
    pub async fn save_ticket(
        &self,
        ticket: Ticket,
        expected: TicketStatus,
        next_due: Option<Timestamp>,
    ) -> Result<bool, StoreError> {
        self.write(move |conn| {
            let transaction = conn.transaction()?;
            let saved = save_in(&transaction, &ticket, expected, next_due)?;
            transaction.commit()?;
            Ok(saved)
        })
        .await
    }

    /// Saves several tickets in one transaction: all of them, or (when one moved meanwhile)
    /// none, and `false`.
    pub async fn save_tickets(
        &self,
        tickets: Vec<(Ticket, TicketStatus, Option<Timestamp>)>,
    ) -> Result<bool, StoreError> {
        self.write(move |conn| {
            let transaction = conn.transaction()?;
            for (ticket, expected, next_due) in &tickets {
                if !save_in(&transaction, ticket, *expected, *next_due)? {
                    return Ok(false);
                }
            }
            transaction.commit()?;
            Ok(true)
        })
        .await
    }

    /// Adds a comment (with the rows of its attached `files`) and saves the ticket it
    /// changed, in one transaction; `None` when the ticket moved meanwhile.
    pub async fn add_ticket_comment(
        &self,
        comment: NewComment,
        ticket: Ticket,
        expected: TicketStatus,
        next_due: Option<Timestamp>,
        files: Vec<StoredFile>,
    ) -> Result<Option<TicketComment>, StoreError> {
        self.write(move |conn| {
            let transaction = conn.transaction()?;
            if !save_in(&transaction, &ticket, expected, next_due)? {
                return Ok(None);
            }
            transaction.execute(
                "INSERT INTO ticket_comments (ticket_id, author, author_user_id, body, public, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    ticket.id.get(),
                    comment.author.as_str(),
                    comment.author_user_id.map(UserId::get),
                    comment.body,
                    comment.public,
                    ticket.updated_at.unix_seconds(),
                ],
            )?;
            let id = transaction.last_insert_rowid();
            let stored = transaction.query_row(
                "SELECT id, ticket_id, author, author_user_id, body, public, created_at
                 FROM ticket_comments WHERE id = ?1",
                [id],
                comment_from_row,
            )?;
            let _ids = insert_attachments(
                &transaction,
                AttachmentOwner::Comment {
                    ticket: ticket.id,
                    comment: stored.id,
                },
                &files,
                ticket.updated_at,
            )?;
            transaction.commit()?;
            Ok(Some(stored))
        })
        .await
    }

    /// The ticket's comments, oldest first; internal notes only when `with_notes`.
    pub async fn ticket_comments(
        &self,
        id: TicketId,
        with_notes: bool,
    ) -> Result<Vec<TicketComment>, StoreError> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT id, ticket_id, author, author_user_id, body, public, created_at
                 FROM ticket_comments WHERE ticket_id = ?1 AND (public = 1 OR ?2) ORDER BY id",
            )?;
            let rows = statement.query_map(params![id.get(), with_notes], comment_from_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Links a conversation to a ticket (again: nothing happens).
    pub async fn link_ticket_conversation(
        &self,
        ticket: TicketId,
        conversation: ConversationId,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            conn.execute(
                "INSERT OR IGNORE INTO ticket_conversations (ticket_id, conversation_id, linked_at)
                 VALUES (?1, ?2, ?3)",
                params![ticket.get(), conversation.get(), now.unix_seconds()],
            )?;
            Ok(())
        })
        .await
    }

    /// The tickets a conversation belongs to, newest first.
    pub async fn tickets_of_conversation(
        &self,
        conversation: ConversationId,
    ) -> Result<Vec<Ticket>, StoreError> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT ticket_id FROM ticket_conversations WHERE conversation_id = ?1
                 ORDER BY ticket_id DESC",
            )?;
            let ids: Vec<i64> = statement
                .query_map([conversation.get()], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            ids.into_iter()
                .map(|id| ticket_by_id(conn, TicketId::new(id)))
                .collect()
        })
        .await
    }

    /// One page of the tickets the viewer may see.
    pub async fn list_tickets(
        &self,
        scope: DeskScope,
        query: TicketQuery,
        now: Timestamp,
    ) -> Result<TicketPage, StoreError> {
        self.read(move |conn| {
            let (conditions, page_conditions, mut values) = list_conditions(&query, now);
            // After a search, only its matches: the ranked ids joined in (each a rowid
            // lookup), so the ranking can order the page too.
            let from = match &query.matching {
                Some(ids) => {
                    let json =
                        serde_json::to_string(&ids.iter().map(|id| id.get()).collect::<Vec<_>>())
                            .unwrap_or_else(|_| "[]".into());
                    values.push(rusqlite::types::Value::Text(json));
                    format!(
                        "json_each(?{}) r JOIN tickets t ON t.id = r.value",
                        values.len() + 2
                    )
                }
                None => "tickets t".to_string(),
            };
            let mut all: Vec<rusqlite::types::Value> = vec![
                rusqlite::types::Value::Integer(scope.user.get()),
                rusqlite::types::Value::Integer(i64::from(scope.is_admin)),
            ];
            all.extend(values);
            let total: i64 = conn.query_row(
                &format!("SELECT count(*) FROM {from} WHERE {conditions}"),
                params_from_iter(all.iter()),
                |row| row.get(0),
            )?;
            let per_page = query.per_page.clamp(1, 200);
            let offset = (query.page.max(1) - 1) * per_page;
            let order = list_order(&query);
            let rank = if query.matching.is_some() {
                "r.key"
            } else {
                "0"
            };
            // The page is chosen first (an index can give it in order), and only its rows
            // are joined to names: joining before sorting would look up every match.
            let sql = format!(
                "SELECT {TICKET_COLUMNS}, cu.name, cu.email, a.display_name, tm.name, t.breached
                 FROM (SELECT t.*, {rank} AS search_rank FROM {from} WHERE {page_conditions}
                       ORDER BY {order} LIMIT {per_page} OFFSET {offset}) t
                 JOIN customers cu ON cu.id = t.requester_id
                 LEFT JOIN users a ON a.id = t.assignee_id
                 LEFT JOIN teams tm ON tm.id = t.team_id
                 ORDER BY {order}"
            );
            let mut statement = conn.prepare(&sql)?;
            let rows = statement.query_map(params_from_iter(all.iter()), |row| {
                Ok(TicketRow {
                    ticket: ticket_from_row(row)?,
                    requester_name: row.get(17)?,
                    requester_email: row.get(18)?,
                    assignee_name: row.get(19)?,
                    team_name: row.get(20)?,
                    breached: row.get(21)?,
                })
            })?;
            Ok(TicketPage {
                rows: rows.collect::<Result<_, _>>()?,
                total,
            })
        })
        .await
    }

    /// Every ticket's searchable text and the change sequence it reflects, for a rebuild.
    pub async fn ticket_documents_snapshot(
        &self,
    ) -> Result<(Vec<TicketDocument>, i64), StoreError> {
        self.read(move |conn| {
            let transaction = conn.unchecked_transaction()?;
            let sequence: i64 = transaction.query_row(
                "SELECT coalesce(max(sequence), 0) FROM ticket_changes",
                [],
                |row| row.get(0),
            )?;
            let mut documents: Vec<TicketDocument> = {
                let mut statement = transaction
                    .prepare("SELECT id, subject, description FROM tickets ORDER BY id")?;
                let rows = statement.query_map([], |row| {
                    Ok(TicketDocument {
                        id: TicketId::new(row.get(0)?),
                        subject: row.get(1)?,
                        description: row.get(2)?,
                        comments: Vec::new(),
                    })
                })?;
                rows.collect::<Result<_, _>>()?
            };
            {
                let mut statement = transaction.prepare(
                    "SELECT ticket_id, body FROM ticket_comments ORDER BY ticket_id, id",
                )?;
                let mut rows = statement.query([])?;
                let mut at = 0;
                while let Some(row) = rows.next()? {
                    let ticket: i64 = row.get(0)?;
                    while at < documents.len() && documents[at].id.get() < ticket {
                        at += 1;
                    }
                    if let Some(document) = documents.get_mut(at)
                        && document.id.get() == ticket
                    {
                        document.comments.push(row.get(1)?);
                    }
                }
            }
            transaction.finish()?;
            Ok((documents, sequence))
        })
        .await
    }

    pub async fn latest_ticket_sequence(&self) -> Result<i64, StoreError> {
        self.read(|conn| {
            Ok(conn.query_row(
                "SELECT coalesce(max(sequence), 0) FROM ticket_changes",
                [],
                |row| row.get(0),
            )?)
        })
        .await
    }

    /// Changes after `after`, oldest first, each with the ticket's text now (several changes
    /// of one ticket collapse into its last).
    pub async fn ticket_changes_since(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<TicketChange>, StoreError> {
        self.read(move |conn| {
            let transaction = conn.unchecked_transaction()?;
            let rows: Vec<(i64, i64)> = {
                let mut statement = transaction.prepare(
                    "SELECT max(sequence), ticket_id FROM ticket_changes WHERE sequence > ?1
                     GROUP BY ticket_id ORDER BY max(sequence) LIMIT ?2",
                )?;
                statement
                    .query_map((after, limit), |row| Ok((row.get(0)?, row.get(1)?)))?
                    .collect::<Result<_, _>>()?
            };
            let mut changes = Vec::with_capacity(rows.len());
            for (sequence, ticket) in rows {
                let ticket_id = TicketId::new(ticket);
                changes.push(TicketChange {
                    sequence,
                    ticket_id,
                    document: ticket_document(&transaction, ticket_id)?,
                });
            }
            transaction.finish()?;
            Ok(changes)
        })
        .await
    }

    // ---- SLA ----

    /// The SLA targets and the calendar as stored: (hours text, UTC offset, holidays text).
    pub async fn sla_settings(&self) -> Result<(SlaPolicy, String, i32, String), StoreError> {
        self.read(|conn| {
            let mut policy = SlaPolicy::default();
            let mut statement = conn.prepare_cached(
                "SELECT priority, first_response_minutes, resolution_minutes FROM sla_targets",
            )?;
            let rows = statement.query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, Option<u32>>(1)?,
                    row.get::<_, Option<u32>>(2)?,
                ))
            })?;
            for row in rows {
                let (priority, first, resolution) = row?;
                if let Ok(priority) = TicketPriority::parse(&priority) {
                    policy.set_targets(
                        priority,
                        SlaTargets {
                            first_response_minutes: first,
                            resolution_minutes: resolution,
                        },
                    );
                }
            }
            let (hours, offset, holidays) = conn.query_row(
                "SELECT business_hours, utc_offset_minutes, holidays FROM sla_calendar WHERE id = 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )?;
            Ok((policy, hours, offset, holidays))
        })
        .await
    }

    pub async fn save_sla_settings(
        &self,
        policy: SlaPolicy,
        hours: String,
        offset: i32,
        holidays: String,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            let transaction = conn.transaction()?;
            for priority in TicketPriority::ALL {
                let targets = policy.targets(priority);
                transaction.execute(
                    "INSERT INTO sla_targets (priority, first_response_minutes, resolution_minutes)
                     VALUES (?1, ?2, ?3)
                     ON CONFLICT (priority) DO UPDATE SET
                         first_response_minutes = excluded.first_response_minutes,
                         resolution_minutes = excluded.resolution_minutes",
                    params![
                        priority.as_str(),
                        targets.first_response_minutes,
                        targets.resolution_minutes
                    ],
                )?;
            }
            transaction.execute(
                "UPDATE sla_calendar SET business_hours = ?1, utc_offset_minutes = ?2, holidays = ?3
                 WHERE id = 1",
                params![hours, offset, holidays],
            )?;
            transaction.commit()?;
            Ok(())
        })
        .await
    }

    /// Unsolved tickets whose next deadline passed by `now` and that have no breach on record
    /// for it yet, oldest deadline first.
    pub async fn tickets_past_due(
        &self,
        now: Timestamp,
        limit: i64,
    ) -> Result<Vec<Ticket>, StoreError> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT t.id FROM tickets t
                 WHERE t.next_due_at IS NOT NULL AND t.next_due_at <= ?1
                   AND NOT EXISTS (SELECT 1 FROM sla_breaches b WHERE b.ticket_id = t.id
                       AND b.target = CASE WHEN t.first_responded_at IS NULL
                                           AND t.first_response_due IS NOT NULL
                                           AND t.first_response_due <= ?1
                                      THEN 'first_response' ELSE 'resolution' END)
                 ORDER BY t.next_due_at LIMIT ?2",
            )?;
            let ids: Vec<i64> = statement
                .query_map(params![now.unix_seconds(), limit], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            ids.into_iter()
                .map(|id| ticket_by_id(conn, TicketId::new(id)))
                .collect()
        })
        .await
    }

    /// Records missed deadlines (each once) and flags the ticket; returns the newly recorded.
    pub async fn record_breaches(
        &self,
        ticket: TicketId,
        priority: TicketPriority,
        missed: Vec<(SlaTarget, Timestamp)>,
        now: Timestamp,
    ) -> Result<Vec<SlaTarget>, StoreError> {
        self.write(move |conn| {
            let transaction = conn.transaction()?;
            let mut recorded = Vec::new();
            for (target, due) in missed {
                let inserted = transaction.execute(
                    "INSERT OR IGNORE INTO sla_breaches (ticket_id, target, priority, due_at, recorded_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        ticket.get(),
                        target.as_str(),
                        priority.as_str(),
                        due.unix_seconds(),
                        now.unix_seconds()
                    ],
                )?;
                if inserted == 1 {
                    recorded.push(target);
                }
            }
            transaction.execute("UPDATE tickets SET breached = 1 WHERE id = ?1", [ticket.get()])?;
            transaction.commit()?;
            Ok(recorded)
        })
        .await
    }

    /// The breaches on record for a ticket.
    pub async fn ticket_breaches(
        &self,
        ticket: TicketId,
    ) -> Result<Vec<(SlaTarget, Timestamp)>, StoreError> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT target, due_at FROM sla_breaches WHERE ticket_id = ?1 ORDER BY due_at",
            )?;
            let rows = statement.query_map([ticket.get()], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })?;
            let mut breaches = Vec::new();
            for row in rows {
                let (target, due) = row?;
                if let Some(target) = SlaTarget::from_stored(&target) {
                    breaches.push((target, Timestamp::from_unix_seconds(due)));
                }
            }
            Ok(breaches)
        })
        .await
    }
}

/// A ticket's searchable text, or `None` when it no longer exists.
fn ticket_document(conn: &Connection, id: TicketId) -> Result<Option<TicketDocument>, StoreError> {
    let Some((subject, description)) = conn
        .query_row(
            "SELECT subject, description FROM tickets WHERE id = ?1",
            [id.get()],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?
    else {
        return Ok(None);
    };
    let mut statement =
        conn.prepare_cached("SELECT body FROM ticket_comments WHERE ticket_id = ?1 ORDER BY id")?;
    let comments = statement
        .query_map([id.get()], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(Some(TicketDocument {
        id,
        subject,
        description,
        comments,
    }))
}

/// A ticket to import with its comments (`kefu bench tickets`; moving tickets in bulk).
#[derive(Debug, Clone)]
pub struct ImportedTicket {
    pub ticket: Ticket,
    pub next_due: Option<Timestamp>,
    pub breached: bool,
    pub comments: Vec<NewComment>,
}

impl Store {
    /// Writes many tickets and their comments in one transaction; all or none.
    pub async fn import_tickets(&self, tickets: Vec<ImportedTicket>) -> Result<usize, StoreError> {
        self.write(move |conn| {
            let transaction = conn.transaction()?;
            {
                let mut insert = transaction.prepare_cached(
                    "INSERT INTO tickets (subject, description, requester_id, status, priority,
                         priority_rank, assignee_id, team_id, inbox_id, tags, source,
                         first_response_due, resolution_due, first_responded_at, solved_at,
                         next_due_at, breached, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                         ?16, ?17, ?18, ?19)",
                )?;
                let mut comment = transaction.prepare_cached(
                    "INSERT INTO ticket_comments (ticket_id, author, author_user_id, body, public, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?;
                for item in &tickets {
                    let t = &item.ticket;
                    insert.execute(params![
                        t.subject,
                        t.description,
                        t.requester_id.get(),
                        t.status.as_str(),
                        t.priority.as_str(),
                        priority_rank(t.priority),
                        t.assignee_id.map(UserId::get),
                        t.team_id.map(TeamId::get),
                        t.inbox_id.map(InboxId::get),
                        stored_tags(&t.tags),
                        t.source.as_str(),
                        t.first_response_due.map(Timestamp::unix_seconds),
                        t.resolution_due.map(Timestamp::unix_seconds),
                        t.first_responded_at.map(Timestamp::unix_seconds),
                        t.solved_at.map(Timestamp::unix_seconds),
                        item.next_due.map(Timestamp::unix_seconds),
                        item.breached,
                        t.created_at.unix_seconds(),
                        t.updated_at.unix_seconds(),
                    ])?;
                    let id = TicketId::new(transaction.last_insert_rowid());
                    for note in &item.comments {
                        comment.execute(params![
                            id.get(),
                            note.author.as_str(),
                            note.author_user_id.map(UserId::get),
                            note.body,
                            note.public,
                            t.updated_at.unix_seconds(),
                        ])?;
                    }
                    record_change(&transaction, id, t.updated_at)?;
                }
            }
            transaction.commit()?;
            Ok(tickets.len())
        })
        .await
    }
}
