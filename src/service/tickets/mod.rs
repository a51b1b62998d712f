//! Tickets: creating them (from a conversation, the widget's offline form, the API, or by an
//! agent from scratch), the list with filters and full-text search, status moves, public
//! replies and internal notes, SLA deadlines, and the thread they share with the customer's
//! chat: a public reply reaches the customer's widget, and the customer's answer there
//! comes back as a comment that reopens the ticket.

mod index;
mod sla;

pub use sla::{SlaForm, SlaSettings};

use std::path::Path;
use std::sync::Arc;

use serde_json::json;

use super::attachments::{AttachmentService, Upload};
use super::conversation_log::ConversationLog;
use super::{ServiceError, blocking, now};
use crate::domain::attachment::Attachment;
use crate::domain::sla::{breaches, due_dates, next_due};
use crate::domain::ticket::{parse_comment_body, parse_tags};
use crate::domain::{
    Author, CommentAuthor, Conversation, ConversationId, ConversationStatus, Customer, CustomerId,
    DeskScope, Email, Message, NewMessage, SlaTarget, TeamId, Ticket, TicketComment, TicketContent,
    TicketFilter, TicketId, TicketInput, TicketPriority, TicketSort, TicketSource, TicketStatus,
    Timestamp, UserId, ValidationError, WebhookEvent,
};
use crate::search::TicketIndex;
use crate::store::{NewComment, Store, TicketPage, TicketQuery};

/// 2000-01-01: no imported ticket is older.
const EARLIEST_IMPORT: i64 = 946_684_800;
/// The most tickets one bulk action changes.
pub const MAX_BULK: usize = 200;
/// The most full-text matches a list looks at (best first) before filtering.
const SEARCH_HITS: usize = 5_000;
const MAX_SEARCH_CHARS: usize = 500;

/// Who opens a ticket for whom.
#[derive(Debug, Clone)]
pub enum Requester {
    /// A customer kefu already knows (from the widget).
    Customer(CustomerId),
    /// Someone known by e-mail: found, or added as a customer.
    Contact { email: String, name: Option<String> },
}

/// A ticket to open, as an agent or the API described it.
#[derive(Debug, Clone, Default)]
pub struct NewTicket {
    pub input: TicketInput,
    pub requester: Option<Requester>,
    pub assignee: Option<UserId>,
    pub team: Option<TeamId>,
    /// When the ticket really began, for tickets moved from another help desk (API only);
    /// its deadlines count from then.
    pub created_at: Option<Timestamp>,
}

/// Changes to a ticket's fields; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TicketUpdate {
    pub subject: Option<String>,
    pub status: Option<String>,
    pub priority: Option<String>,
    /// `Some(None)` unassigns.
    pub assignee: Option<Option<UserId>>,
    pub team: Option<Option<TeamId>>,
    pub tags: Option<Vec<String>>,
}

/// The list as asked for: filters, an optional full-text search, order and page.
#[derive(Debug, Clone, Default)]
pub struct TicketListRequest {
    pub filter: TicketFilter,
    pub search: String,
    pub sort: TicketSort,
    pub page: i64,
    pub per_page: i64,
}

/// Everything the ticket page shows.
pub struct TicketDetail {
    pub ticket: Ticket,
    pub requester: Customer,
    pub comments: Vec<TicketComment>,
    pub attachments: Vec<Attachment>,
    pub breaches: Vec<(SlaTarget, Timestamp)>,
}

/// A bulk action on selected tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkAction {
    Assign(Option<UserId>),
    SetStatus(TicketStatus),
}

pub struct TicketService {
    store: Store,
    index: Arc<TicketIndex>,
    /// Serialises catching up, so the follower and a local write never apply twice at once.
    catching_up: tokio::sync::Mutex<()>,
    changed: tokio::sync::Notify,
    log: Arc<ConversationLog>,
    attachments: Arc<AttachmentService>,
}

impl TicketService {
    /// Opens the ticket index in `index_dir` (rebuilding it when needed).
    pub async fn open(
        store: Store,
        index_dir: &Path,
        log: Arc<ConversationLog>,
        attachments: Arc<AttachmentService>,
    ) -> Result<Arc<Self>, ServiceError> {
        let dir = index_dir.to_path_buf();
        let (index, state) = blocking(move || TicketIndex::open(&dir)).await??;
        let service = Arc::new(TicketService {
            store,
            index: Arc::new(index),
            catching_up: tokio::sync::Mutex::new(()),
            changed: tokio::sync::Notify::new(),
            log,
            attachments,
        });
        service.bring_index_up_to_date(state).await?;
        Ok(service)
    }

    // ---- creating ----

    /// An agent (or the API, with an admin's scope) opens a ticket.
    pub async fn create(
        &self,
        scope: DeskScope,
        new: NewTicket,
        source: TicketSource,
    ) -> Result<Ticket, ServiceError> {
        let content = TicketContent::parse(new.input).map_err(ServiceError::InvalidFields)?;
        let requester = match new.requester {
            Some(Requester::Customer(id)) => {
                self.store
                    .customer(id)
                    .await
                    .map_err(|_| invalid("requester", "no customer has this id"))?;
                id
            }
            Some(Requester::Contact { email, name }) => {
                let email = Email::parse(&email).map_err(|mut error| {
                    error.field = "requester_email";
                    ServiceError::Invalid(error)
                })?;
                let name = name
                    .map(|n| n.trim().chars().take(200).collect::<String>())
                    .filter(|n| !n.is_empty());
                self.store
                    .customer_by_email_or_new(email.as_str().to_string(), name, now())
                    .await?
            }
            None => {
                return Err(invalid(
                    "requester_email",
                    "is missing: whom is the ticket for?",
                ));
            }
        };
        if let Some(team) = new.team {
            self.check_team(team).await?;
        }
        if let Some(at) = new.created_at
            && (at > now() || at.unix_seconds() < EARLIEST_IMPORT)
        {
            return Err(invalid(
                "created_at",
                "must be in the past (Unix seconds), and after 2000-01-01",
            ));
        }
        if let Some(assignee) = new.assignee {
            self.check_assignee(assignee, new.team).await?;
        }
        let created = self
            .insert(
                content,
                requester,
                source,
                Placement {
                    assignee: new
                        .assignee
                        .or((source == TicketSource::Agent).then_some(scope.user)),
                    team: new.team,
                    inbox: None,
                    conversation: None,
                    created_at: new.created_at,
                },
            )
            .await?;
        Ok(created)
    }

    /// A ticket from a chat an agent can see: the customer is the requester, the chat is
    /// linked (its transcript one click away), the subject defaults to what they asked.
    pub async fn create_from_conversation(
        &self,
        scope: DeskScope,
        conversation: ConversationId,
        mut input: TicketInput,
    ) -> Result<Ticket, ServiceError> {
        let conversation = self.store.desk_conversation(scope, conversation).await?;
        let messages = self
            .store
            .messages_after(conversation.id, None, false)
            .await?;
        // What the customer asked: their messages, except the small talk and the requests
        // for a person (those the bot answered with small talk, or that handed off).
        let asked: Vec<&str> = messages
            .iter()
            .enumerate()
            .filter(|(at, m)| {
                let answered_as = messages
                    .get(at + 1)
                    .and_then(|next| next.details.get("kind"))
                    .and_then(|kind| kind.as_str());
                m.author == Author::Customer
                    && !matches!(answered_as, Some("small_talk" | "handoff"))
            })
            .map(|(_, m)| m.body.as_str())
            .collect();
        if input.subject.trim().is_empty() {
            input.subject = asked
                .last()
                .map(|text| summary(text))
                .unwrap_or_else(|| format!("Conversation #{}", conversation.id));
        }
        if input.description.trim().is_empty() {
            input.description = asked.join("\n");
        }
        let content = TicketContent::parse(input).map_err(ServiceError::InvalidFields)?;
        let ticket = self
            .insert(
                content,
                conversation.customer_id,
                TicketSource::Conversation,
                Placement {
                    assignee: Some(scope.user),
                    team: conversation.team_id,
                    inbox: Some(conversation.inbox_id),
                    conversation: Some(conversation.id),
                    created_at: None,
                },
            )
            .await?;
        self.system_comment(
            &ticket,
            format!(
                "Created from conversation #{} by an agent.",
                conversation.id
            ),
        )
        .await?;
        Ok(ticket)
    }

    /// The widget's offline form: the message the customer left becomes a ticket, linked to
    /// their conversation so replies reach them there.
    pub async fn create_from_left_message(
        &self,
        conversation: &Conversation,
        contact: &str,
        text: &str,
    ) -> Result<Ticket, ServiceError> {
        if let Ok(email) = Email::parse(contact) {
            self.store
                .fill_customer_email(conversation.customer_id, email.as_str().to_string())
                .await?;
        }
        let content = TicketContent::parse(TicketInput {
            subject: summary(text),
            description: format!("{text}\n\nContact: {contact}"),
            priority: None,
            tags: vec!["offline".to_string()],
        })
        .map_err(ServiceError::InvalidFields)?;
        self.insert(
            content,
            conversation.customer_id,
            TicketSource::Widget,
            Placement {
                assignee: None,
                team: conversation.team_id,
                inbox: Some(conversation.inbox_id),
                conversation: Some(conversation.id),
                created_at: None,
            },
        )
        .await
    }

    async fn insert(
        &self,
        content: TicketContent,
        requester: CustomerId,
        source: TicketSource,
        placement: Placement,
    ) -> Result<Ticket, ServiceError> {
        let created = placement.created_at.unwrap_or_else(now);
        let (policy, calendar) = self.sla().await?;
        let (first_response_due, resolution_due) =
            due_dates(&policy, &calendar, content.priority, created);
        let ticket = Ticket {
            id: TicketId::new(0),
            subject: content.subject,
            description: content.description,
            requester_id: requester,
            status: TicketStatus::New,
            priority: content.priority,
            assignee_id: placement.assignee,
            team_id: placement.team,
            inbox_id: placement.inbox,
            tags: content.tags,
            source,
            conversation_ids: placement.conversation.into_iter().collect(),
            first_response_due,
            resolution_due,
            first_responded_at: None,
            solved_at: None,
            created_at: created,
            updated_at: now(),
        };
        let next = next_due(&ticket).map(|(_, at)| at);
        let stored = self.store.create_ticket(ticket, next).await?;
        tracing::info!(ticket_id = %stored.id, source = stored.source.as_str(), "ticket created");
        self.after_write().await;
        // An imported ticket may be past its deadlines already.
        self.record_breaches_of(&stored).await?;
        self.announce(WebhookEvent::TicketCreated, &stored).await;
        Ok(stored)
    }

    async fn system_comment(&self, ticket: &Ticket, body: String) -> Result<(), ServiceError> {
        let mut updated = ticket.clone();
        updated.updated_at = now();
        self.store
            .add_ticket_comment(
                NewComment {
                    author: CommentAuthor::System,
                    author_user_id: None,
                    body,
                    public: false,
                },
                updated,
                ticket.status,
                next_due(ticket).map(|(_, at)| at),
                Vec::new(),
            )
            .await?;
        self.after_write().await;
        Ok(())
    }

    // ---- reading ----

    pub async fn detail(
        &self,
        scope: DeskScope,
        id: TicketId,
    ) -> Result<TicketDetail, ServiceError> {
        let ticket = self.store.ticket(scope, id).await?;
        Ok(TicketDetail {
            requester: self.store.customer(ticket.requester_id).await?,
            comments: self.store.ticket_comments(id, true).await?,
            attachments: self.store.ticket_attachments(id).await?,
            breaches: self.store.ticket_breaches(id).await?,
            ticket,
        })
    }

    pub async fn ticket(&self, scope: DeskScope, id: TicketId) -> Result<Ticket, ServiceError> {
        Ok(self.store.ticket(scope, id).await?)
    }

    pub async fn comments(
        &self,
        scope: DeskScope,
        id: TicketId,
    ) -> Result<Vec<TicketComment>, ServiceError> {
        self.store.ticket(scope, id).await?;
        Ok(self.store.ticket_comments(id, true).await?)
    }

    /// A page of the tickets the agent may see; with search words, only those that match.
    pub async fn list(
        &self,
        scope: DeskScope,
        request: TicketListRequest,
    ) -> Result<TicketPage, ServiceError> {
        let search = request.search.trim().to_string();
        if search.chars().count() > MAX_SEARCH_CHARS {
            return Err(invalid(
                "q",
                &format!("is longer than {MAX_SEARCH_CHARS} characters"),
            ));
        }
        let matching = if search.is_empty() {
            None
        } else {
            let index = Arc::clone(&self.index);
            let hits = blocking(move || index.search(&search, SEARCH_HITS)).await??;
            Some(hits.into_iter().map(|hit| hit.ticket_id).collect())
        };
        let sort = match (request.sort, &matching) {
            (TicketSort::Relevance, None) => TicketSort::Updated,
            (sort, _) => sort,
        };
        Ok(self
            .store
            .list_tickets(
                scope,
                TicketQuery {
                    filter: request.filter,
                    sort,
                    page: request.page.max(1),
                    per_page: request.per_page,
                    matching,
                },
                now(),
            )
            .await?)
    }

    /// The customer's tickets (for the desk's side panel), newest first.
    pub async fn of_customer(
        &self,
        scope: DeskScope,
        customer: CustomerId,
    ) -> Result<TicketPage, ServiceError> {
        self.list(
            scope,
            TicketListRequest {
                filter: TicketFilter {
                    requester: Some(customer),
                    ..TicketFilter::default()
                },
                sort: TicketSort::Created,
                page: 1,
                per_page: 10,
                ..TicketListRequest::default()
            },
        )
        .await
    }

    // ---- changing ----

    /// Applies `update` (each field checked; nothing is saved unless all are valid).
    pub async fn update(
        &self,
        scope: DeskScope,
        id: TicketId,
        update: TicketUpdate,
    ) -> Result<Ticket, ServiceError> {
        let current = self.store.ticket(scope, id).await?;
        let changed = self.updated(current.clone(), update).await?;
        self.save(&current, changed).await
    }

    /// The ticket with `update` applied and its deadlines recomputed, or every problem.
    async fn updated(&self, current: Ticket, update: TicketUpdate) -> Result<Ticket, ServiceError> {
        let mut errors = Vec::new();
        let mut ticket = current.clone();
        if let Some(subject) = update.subject {
            match TicketContent::parse(TicketInput {
                subject,
                description: current.description.clone(),
                priority: Some(current.priority.as_str().into()),
                tags: current.tags.clone(),
            }) {
                Ok(content) => ticket.subject = content.subject,
                Err(problems) => errors.extend(problems),
            }
        }
        if let Some(status) = update.status.filter(|s| !s.trim().is_empty()) {
            match TicketStatus::parse(&status).and_then(|to| current.status.move_to(to)) {
                Ok(to) => ticket.status = to,
                Err(error) => errors.push(error),
            }
        }
        if let Some(priority) = update.priority.filter(|p| !p.trim().is_empty()) {
            match TicketPriority::parse(&priority) {
                Ok(priority) => ticket.priority = priority,
                Err(error) => errors.push(error),
            }
        }
        if let Some(tags) = update.tags {
            match parse_tags(&tags) {
                Ok(tags) => ticket.tags = tags,
                Err(error) => errors.push(error),
            }
        }
        if let Some(team) = update.team {
            if let Some(team) = team
                && let Err(error) = self.check_team(team).await
            {
                errors.push(validation(error));
            }
            ticket.team_id = team;
        }
        if let Some(assignee) = update.assignee {
            if let Some(user) = assignee
                && let Err(error) = self.check_assignee(user, ticket.team_id).await
            {
                errors.push(validation(error));
            }
            ticket.assignee_id = assignee;
        }
        if current.status == TicketStatus::Closed && ticket != current {
            errors.push(ValidationError::new(
                "status",
                "a closed ticket is archived and can't change; create a follow-up ticket",
            ));
        }
        if !errors.is_empty() {
            return Err(ServiceError::InvalidFields(errors));
        }
        self.settle(&current, &mut ticket).await?;
        Ok(ticket)
    }

    /// Deadlines and timestamps that follow from a change: new due dates after a priority
    /// change, `solved_at` when solved (cleared when reopened), the new `updated_at`.
    async fn settle(&self, current: &Ticket, ticket: &mut Ticket) -> Result<(), ServiceError> {
        let at = now();
        if ticket.priority != current.priority {
            let (policy, calendar) = self.sla().await?;
            let (first, resolution) =
                due_dates(&policy, &calendar, ticket.priority, ticket.created_at);
            ticket.first_response_due = first;
            ticket.resolution_due = resolution;
        }
        if ticket.status != current.status {
            ticket.solved_at = match ticket.status {
                TicketStatus::Solved => Some(at),
                TicketStatus::Closed => current.solved_at.or(Some(at)),
                _ => None,
            };
        }
        ticket.updated_at = at;
        Ok(())
    }

    async fn save(&self, current: &Ticket, ticket: Ticket) -> Result<Ticket, ServiceError> {
        if ticket == *current {
            return Ok(ticket);
        }
        let next = next_due(&ticket).map(|(_, at)| at);
        if !self
            .store
            .save_ticket(ticket.clone(), current.status, next)
            .await?
        {
            return Err(moved());
        }
        self.after_write().await;
        self.record_breaches_of(&ticket).await?;
        if ticket.status == TicketStatus::Closed && current.status != TicketStatus::Closed {
            self.close_threads(&ticket).await?;
        }
        self.announce(WebhookEvent::TicketUpdated, &ticket).await;
        Ok(ticket)
    }

    /// A public reply (the customer sees it in their chat) or an internal note, optionally
    /// moving the ticket (e.g. to pending: waiting for the customer). A reply on a new
    /// ticket opens it.
    pub async fn comment(
        &self,
        scope: DeskScope,
        id: TicketId,
        body: &str,
        public: bool,
        status: Option<String>,
        uploads: Vec<Upload>,
    ) -> Result<TicketComment, ServiceError> {
        // Files alone make a comment too; it then lists them.
        let body = if body.trim().is_empty() && !uploads.is_empty() {
            uploads
                .iter()
                .map(|upload| format!("📎 {}", upload.file_name))
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            body.to_string()
        };
        let body = parse_comment_body(&body).map_err(ServiceError::Invalid)?;
        let current = self.store.ticket(scope, id).await?;
        if current.status == TicketStatus::Closed {
            return Err(invalid(
                "status",
                "a closed ticket is archived; create a follow-up ticket instead",
            ));
        }
        let requested = status.filter(|s| !s.trim().is_empty());
        let mut ticket = if requested.is_some() {
            self.updated(
                current.clone(),
                TicketUpdate {
                    status: requested,
                    ..TicketUpdate::default()
                },
            )
            .await?
        } else {
            current.clone()
        };
        if public && ticket.status == TicketStatus::New {
            ticket.status = TicketStatus::Open;
        }
        if public && ticket.first_responded_at.is_none() {
            ticket.first_responded_at = Some(now());
        }
        if ticket.assignee_id.is_none() && public {
            ticket.assignee_id = Some(scope.user);
        }
        self.settle(&current, &mut ticket).await?;
        let next = next_due(&ticket).map(|(_, at)| at);
        let files = self.attachments.store_uploads(uploads).await?;
        let saved = self
            .store
            .add_ticket_comment(
                NewComment {
                    author: CommentAuthor::Agent,
                    author_user_id: Some(scope.user),
                    body: body.clone(),
                    public,
                },
                ticket.clone(),
                current.status,
                next,
                files.clone(),
            )
            .await;
        let comment = match saved {
            Ok(Some(comment)) => comment,
            // Nothing half-saved: the files go when their comment does not come.
            Ok(None) => {
                self.attachments.discard(files).await;
                return Err(moved());
            }
            Err(error) => {
                self.attachments.discard(files).await;
                return Err(error.into());
            }
        };
        self.after_write().await;
        self.record_breaches_of(&ticket).await?;
        if public {
            self.reply_in_chat(&ticket, scope.user, &body).await?;
        }
        self.announce(WebhookEvent::TicketUpdated, &ticket).await;
        Ok(comment)
    }

    /// Several tickets at once: every one is checked first, then all change in one
    /// transaction, or none (the refusal lists which tickets and why).
    pub async fn bulk(
        &self,
        scope: DeskScope,
        ids: &[TicketId],
        action: BulkAction,
    ) -> Result<usize, ServiceError> {
        if ids.is_empty() {
            return Err(invalid("tickets", "select at least one ticket"));
        }
        if ids.len() > MAX_BULK {
            return Err(invalid(
                "tickets",
                &format!("select at most {MAX_BULK} tickets at once"),
            ));
        }
        let mut changes = Vec::with_capacity(ids.len());
        let mut problems = Vec::new();
        for &id in ids {
            let current = self.store.ticket(scope, id).await?;
            let update = match action {
                BulkAction::Assign(user) => TicketUpdate {
                    assignee: Some(user),
                    ..TicketUpdate::default()
                },
                BulkAction::SetStatus(status) => TicketUpdate {
                    status: Some(status.as_str().to_string()),
                    ..TicketUpdate::default()
                },
            };
            match self.updated(current.clone(), update).await {
                Ok(ticket) => changes.push((current, ticket)),
                Err(ServiceError::InvalidFields(errors)) => {
                    for error in errors {
                        problems.push(ValidationError::new(
                            "tickets",
                            format!("#{id}: {}", error.message),
                        ));
                    }
                }
                Err(error) => return Err(error),
            }
        }
        if !problems.is_empty() {
            return Err(ServiceError::InvalidFields(problems));
        }
        let rows = changes
            .iter()
            .map(|(current, ticket)| {
                (
                    ticket.clone(),
                    current.status,
                    next_due(ticket).map(|(_, at)| at),
                )
            })
            .collect();
        if !self.store.save_tickets(rows).await? {
            return Err(moved());
        }
        self.after_write().await;
        for (current, ticket) in &changes {
            if ticket.status == TicketStatus::Closed && current.status != TicketStatus::Closed {
                self.close_threads(ticket).await?;
            }
            self.announce(WebhookEvent::TicketUpdated, ticket).await;
        }
        Ok(changes.len())
    }

    // ---- the thread shared with the customer's chat ----

    /// The agent's public reply, as a message in the customer's chat. A chat that was over
    /// (or back with the bot) comes back to people, so the bot never answers the customer's
    /// reply and it reaches the ticket instead.
    async fn reply_in_chat(
        &self,
        ticket: &Ticket,
        agent: UserId,
        body: &str,
    ) -> Result<(), ServiceError> {
        let Some(&conversation_id) = ticket.conversation_ids.last() else {
            return Ok(());
        };
        let mut conversation = self.store.conversation(conversation_id).await?;
        if matches!(
            conversation.status,
            ConversationStatus::Resolved | ConversationStatus::Bot
        ) {
            let moved = self
                .store
                .move_conversation(
                    conversation.id,
                    conversation.status,
                    ConversationStatus::Pending,
                    None,
                    None,
                    now(),
                )
                .await?;
            if moved {
                conversation.status = ConversationStatus::Pending;
                self.log
                    .publish_status(&conversation, ConversationStatus::Pending)
                    .await;
            }
        }
        let agent_name = self.store.user(agent).await?.display_name;
        self.log
            .append(
                &conversation,
                vec![NewMessage {
                    author: Author::Agent,
                    author_user_id: Some(agent),
                    body: body.to_string(),
                    details: json!({
                        "agent_name": agent_name.as_str(),
                        "ticket_id": ticket.id,
                    }),
                    private: false,
                }],
            )
            .await?;
        Ok(())
    }

    /// The customer wrote in a chat that waits on a ticket (not a live chat): their message
    /// becomes a public comment, and a pending or solved ticket opens again.
    pub async fn customer_replied(
        &self,
        conversation: &Conversation,
        message: &Message,
    ) -> Result<(), ServiceError> {
        if conversation.status != ConversationStatus::Pending {
            return Ok(());
        }
        let Some(current) = self
            .store
            .tickets_of_conversation(conversation.id)
            .await?
            .into_iter()
            .find(|ticket| ticket.status != TicketStatus::Closed)
        else {
            return Ok(());
        };
        let mut ticket = current.clone();
        if matches!(ticket.status, TicketStatus::Pending | TicketStatus::Solved) {
            ticket.status = TicketStatus::Open;
        }
        self.settle(&current, &mut ticket).await?;
        let next = next_due(&ticket).map(|(_, at)| at);
        self.store
            .add_ticket_comment(
                NewComment {
                    author: CommentAuthor::Customer,
                    author_user_id: None,
                    body: message.body.clone(),
                    public: true,
                },
                ticket.clone(),
                current.status,
                next,
                Vec::new(),
            )
            .await?
            .ok_or_else(moved)?;
        self.after_write().await;
        self.announce(WebhookEvent::TicketUpdated, &ticket).await;
        Ok(())
    }

    /// A closed ticket's chats that only waited on it are over.
    async fn close_threads(&self, ticket: &Ticket) -> Result<(), ServiceError> {
        for &id in &ticket.conversation_ids {
            let conversation = self.store.conversation(id).await?;
            if conversation.status == ConversationStatus::Pending
                && self
                    .store
                    .move_conversation(
                        id,
                        ConversationStatus::Pending,
                        ConversationStatus::Resolved,
                        conversation.assignee_id,
                        None,
                        now(),
                    )
                    .await?
            {
                self.log
                    .publish_status(&conversation, ConversationStatus::Resolved)
                    .await;
            }
        }
        Ok(())
    }

    /// Tells the webhooks.
    async fn announce(&self, event: WebhookEvent, ticket: &Ticket) {
        self.log.webhooks().emit(event, json!(ticket)).await;
    }

    // ---- checks ----

    async fn check_team(&self, team: TeamId) -> Result<(), ServiceError> {
        if self.store.teams().await?.iter().any(|t| t.id == team) {
            Ok(())
        } else {
            Err(invalid("team", "no such team"))
        }
    }

    /// The assignee must be an active account, of the ticket's team when it has one.
    async fn check_assignee(&self, user: UserId, team: Option<TeamId>) -> Result<(), ServiceError> {
        let account = self
            .store
            .user(user)
            .await
            .map_err(|_| invalid("assignee", "no such agent"))?;
        if !account.is_active() {
            return Err(invalid("assignee", "this account is deactivated"));
        }
        if let Some(team) = team
            && !account.is_admin()
        {
            let teams = self.store.teams().await?;
            let member = teams
                .iter()
                .find(|t| t.id == team)
                .is_some_and(|t| t.members.contains(&user));
            if !member {
                return Err(invalid(
                    "assignee",
                    "is not in the ticket's team; change the team first",
                ));
            }
        }
        Ok(())
    }

    /// Records the deadlines `ticket` has missed by now (each once).
    async fn record_breaches_of(&self, ticket: &Ticket) -> Result<(), ServiceError> {
        let missed = breaches(ticket, now());
        if missed.is_empty() {
            return Ok(());
        }
        let recorded = self
            .store
            .record_breaches(ticket.id, ticket.priority, missed, now())
            .await?;
        for target in recorded {
            tracing::info!(ticket_id = %ticket.id, target = target.as_str(), "SLA breached");
        }
        Ok(())
    }
}

/// Where a new ticket goes.
struct Placement {
    assignee: Option<UserId>,
    team: Option<TeamId>,
    inbox: Option<crate::domain::InboxId>,
    conversation: Option<ConversationId>,
    created_at: Option<Timestamp>,
}

/// The first line of `text`, cut to a subject's length.
fn summary(text: &str) -> String {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or(text);
    let words = line.split_whitespace().collect::<Vec<_>>().join(" ");
    if words.chars().count() <= 80 {
        words
    } else {
        let cut: String = words.chars().take(77).collect();
        format!("{cut}…")
    }
}

fn invalid(field: &'static str, message: &str) -> ServiceError {
    ServiceError::Invalid(ValidationError::new(field, message))
}

fn validation(error: ServiceError) -> ValidationError {
    match error {
        ServiceError::Invalid(error) => error,
        other => ValidationError::new("ticket", other.to_string()),
    }
}

fn moved() -> ServiceError {
    ServiceError::Conflict("someone else changed this ticket meanwhile; reload it".into())
}
