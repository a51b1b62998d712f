//! The JSON shapes of the REST API, with their OpenAPI schemas. Times are Unix seconds;
//! ids are integers; lists come as `{data, page, per_page, total}`.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{Conversation, Customer, Message, Ticket, TicketComment, Timestamp};

fn seconds(at: Option<Timestamp>) -> Option<i64> {
    at.map(Timestamp::unix_seconds)
}

#[derive(Serialize, ToSchema)]
pub struct TicketResource {
    pub id: i64,
    pub subject: String,
    pub description: String,
    /// new, open, pending, solved or closed.
    pub status: String,
    /// low, normal, high or urgent.
    pub priority: String,
    pub requester_id: i64,
    pub assignee_id: Option<i64>,
    pub team_id: Option<i64>,
    pub inbox_id: Option<i64>,
    pub tags: Vec<String>,
    /// conversation, widget, api or agent.
    pub source: String,
    pub conversation_ids: Vec<i64>,
    pub first_response_due: Option<i64>,
    pub resolution_due: Option<i64>,
    pub first_responded_at: Option<i64>,
    pub solved_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<Ticket> for TicketResource {
    fn from(ticket: Ticket) -> Self {
        TicketResource {
            id: ticket.id.get(),
            subject: ticket.subject,
            description: ticket.description,
            status: ticket.status.as_str().into(),
            priority: ticket.priority.as_str().into(),
            requester_id: ticket.requester_id.get(),
            assignee_id: ticket.assignee_id.map(|id| id.get()),
            team_id: ticket.team_id.map(|id| id.get()),
            inbox_id: ticket.inbox_id.map(|id| id.get()),
            tags: ticket.tags,
            source: ticket.source.as_str().into(),
            conversation_ids: ticket.conversation_ids.iter().map(|id| id.get()).collect(),
            first_response_due: seconds(ticket.first_response_due),
            resolution_due: seconds(ticket.resolution_due),
            first_responded_at: seconds(ticket.first_responded_at),
            solved_at: seconds(ticket.solved_at),
            created_at: ticket.created_at.unix_seconds(),
            updated_at: ticket.updated_at.unix_seconds(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CommentResource {
    pub id: i64,
    pub ticket_id: i64,
    /// agent, customer or system.
    pub author: String,
    pub author_user_id: Option<i64>,
    pub body: String,
    /// false: an internal note, never shown to the customer.
    pub public: bool,
    pub created_at: i64,
}

impl From<TicketComment> for CommentResource {
    fn from(comment: TicketComment) -> Self {
        CommentResource {
            id: comment.id.get(),
            ticket_id: comment.ticket_id.get(),
            author: comment.author.as_str().into(),
            author_user_id: comment.author_user_id.map(|id| id.get()),
            body: comment.body,
            public: comment.public,
            created_at: comment.created_at.unix_seconds(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ConversationResource {
    pub id: i64,
    pub inbox_id: i64,
    pub customer_id: i64,
    /// bot, waiting, assigned, pending or resolved.
    pub status: String,
    pub assignee_id: Option<i64>,
    pub team_id: Option<i64>,
    pub language: String,
    pub topic: Option<String>,
    pub handoff_reason: Option<String>,
    pub handed_off_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<Conversation> for ConversationResource {
    fn from(conversation: Conversation) -> Self {
        ConversationResource {
            id: conversation.id.get(),
            inbox_id: conversation.inbox_id.get(),
            customer_id: conversation.customer_id.get(),
            status: conversation.status.as_str().into(),
            assignee_id: conversation.assignee_id.map(|id| id.get()),
            team_id: conversation.team_id.map(|id| id.get()),
            language: conversation.language,
            topic: conversation.topic,
            handoff_reason: conversation.handoff_reason,
            handed_off_at: seconds(conversation.handed_off_at),
            created_at: conversation.created_at.unix_seconds(),
            updated_at: conversation.updated_at.unix_seconds(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MessageResource {
    pub id: i64,
    pub conversation_id: i64,
    /// customer, bot, agent or system.
    pub author: String,
    pub author_user_id: Option<i64>,
    pub body: String,
    /// An agents' note, never shown to the customer.
    pub private: bool,
    pub created_at: i64,
}

impl From<Message> for MessageResource {
    fn from(message: Message) -> Self {
        MessageResource {
            id: message.id.get(),
            conversation_id: message.conversation_id.get(),
            author: message.author.as_str().into(),
            author_user_id: message.author_user_id.map(|id| id.get()),
            body: message.body,
            private: message.private,
            created_at: message.created_at.unix_seconds(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CustomerResource {
    pub id: i64,
    /// The shop's own id for them, set by a verified `setUser`.
    pub external_id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    /// What the shop's page said about them (`setUser` attributes).
    #[schema(value_type = Object)]
    pub attributes: serde_json::Value,
    pub created_at: i64,
}

impl From<Customer> for CustomerResource {
    fn from(customer: Customer) -> Self {
        CustomerResource {
            id: customer.id.get(),
            external_id: customer.external_id,
            name: customer.name,
            email: customer.email,
            attributes: customer.attributes,
            created_at: customer.created_at.unix_seconds(),
        }
    }
}

/// One page of a list.
#[derive(Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub data: Vec<T>,
    /// 1-based.
    pub page: i64,
    pub per_page: i64,
    /// How many items match in all.
    pub total: i64,
}

/// Every error: a stable code and a message that says what to fix.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// invalid_input, unauthenticated, forbidden, not_found, conflict, rate_limited,
    /// unavailable or internal.
    pub code: String,
    pub message: String,
}
