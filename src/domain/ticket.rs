//! Tickets: work that outlives a chat. Their statuses and the moves allowed between them,
//! priorities, what a new or edited ticket must look like, and comments.

use serde::{Deserialize, Serialize};

use super::{
    ConversationId, CustomerId, InboxId, TeamId, TicketCommentId, TicketId, Timestamp, UserId,
    ValidationError,
};

pub const SUBJECT_MAX_CHARS: usize = 200;
pub const DESCRIPTION_MAX_CHARS: usize = 20_000;
pub const COMMENT_MAX_CHARS: usize = 20_000;
pub const TICKET_TAG_MAX_CHARS: usize = 50;
pub const MAX_TICKET_TAGS: usize = 20;

/// Where a ticket stands: new → open → pending (waiting on the customer) → solved → closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    /// Nobody has worked on it yet.
    New,
    /// Being worked on.
    Open,
    /// Waiting for the customer's answer.
    Pending,
    /// Done, unless the customer answers.
    Solved,
    /// Archived for good: nothing changes it any more.
    Closed,
}

impl TicketStatus {
    pub const ALL: [TicketStatus; 5] = [
        TicketStatus::New,
        TicketStatus::Open,
        TicketStatus::Pending,
        TicketStatus::Solved,
        TicketStatus::Closed,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            TicketStatus::New => "new",
            TicketStatus::Open => "open",
            TicketStatus::Pending => "pending",
            TicketStatus::Solved => "solved",
            TicketStatus::Closed => "closed",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == raw.trim())
            .ok_or_else(|| {
                ValidationError::new(
                    "status",
                    format!("{raw:?} is not a status; use new, open, pending, solved or closed"),
                )
            })
    }

    /// Whether a ticket may move from `self` to `to`. Staying put is always allowed.
    pub fn can_move_to(self, to: TicketStatus) -> bool {
        use TicketStatus::*;
        self == to
            || matches!(
                (self, to),
                (New, Open | Pending | Solved)
                    | (Open, Pending | Solved)
                    | (Pending, Open | Solved)
                    | (Solved, Open | Closed)
            )
    }

    /// The move from `self` to `to`, or a message saying why it is refused.
    pub fn move_to(self, to: TicketStatus) -> Result<TicketStatus, ValidationError> {
        if self.can_move_to(to) {
            return Ok(to);
        }
        let hint = match self {
            TicketStatus::Closed => {
                "a closed ticket is archived; create a follow-up ticket instead"
            }
            TicketStatus::New | TicketStatus::Open | TicketStatus::Pending => {
                "solve it before closing it"
            }
            TicketStatus::Solved => "reopen it first",
        };
        Err(ValidationError::new(
            "status",
            format!(
                "a {} ticket can't become {}: {hint}",
                self.as_str(),
                to.as_str()
            ),
        ))
    }

    /// Not solved or closed: the team still owes work, so the resolution clock runs.
    pub fn is_unsolved(self) -> bool {
        matches!(
            self,
            TicketStatus::New | TicketStatus::Open | TicketStatus::Pending
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketPriority {
    Low,
    Normal,
    High,
    Urgent,
}

impl TicketPriority {
    pub const ALL: [TicketPriority; 4] = [
        TicketPriority::Low,
        TicketPriority::Normal,
        TicketPriority::High,
        TicketPriority::Urgent,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            TicketPriority::Low => "low",
            TicketPriority::Normal => "normal",
            TicketPriority::High => "high",
            TicketPriority::Urgent => "urgent",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        Self::ALL
            .into_iter()
            .find(|priority| priority.as_str() == raw.trim())
            .ok_or_else(|| {
                ValidationError::new(
                    "priority",
                    format!("{raw:?} is not a priority; use low, normal, high or urgent"),
                )
            })
    }
}

/// Where a ticket came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketSource {
    /// An agent made it from a chat.
    Conversation,
    /// The customer left a message in the widget while nobody was available.
    Widget,
    /// The REST API.
    Api,
    /// An agent wrote it from scratch.
    Agent,
}

impl TicketSource {
    pub const fn as_str(self) -> &'static str {
        match self {
            TicketSource::Conversation => "conversation",
            TicketSource::Widget => "widget",
            TicketSource::Api => "api",
            TicketSource::Agent => "agent",
        }
    }

    pub fn from_stored(raw: &str) -> Option<Self> {
        Some(match raw {
            "conversation" => TicketSource::Conversation,
            "widget" => TicketSource::Widget,
            "api" => TicketSource::Api,
            "agent" => TicketSource::Agent,
            _ => return None,
        })
    }
}

/// A stored ticket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ticket {
    pub id: TicketId,
    pub subject: String,
    pub description: String,
    pub requester_id: CustomerId,
    pub status: TicketStatus,
    pub priority: TicketPriority,
    pub assignee_id: Option<UserId>,
    pub team_id: Option<TeamId>,
    /// The inbox the customer wrote in, when there is one: its agents may see the ticket.
    pub inbox_id: Option<InboxId>,
    pub tags: Vec<String>,
    pub source: TicketSource,
    pub conversation_ids: Vec<ConversationId>,
    pub first_response_due: Option<Timestamp>,
    pub resolution_due: Option<Timestamp>,
    pub first_responded_at: Option<Timestamp>,
    pub solved_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A ticket's fields as an agent, the API or the widget gave them, before checking.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TicketInput {
    pub subject: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub priority: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// The checked subject, description, priority and tags of a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketContent {
    pub subject: String,
    pub description: String,
    pub priority: TicketPriority,
    pub tags: Vec<String>,
}

impl TicketContent {
    /// Every problem at once, each naming its field.
    pub fn parse(input: TicketInput) -> Result<TicketContent, Vec<ValidationError>> {
        let mut errors = Vec::new();
        let subject = input
            .subject
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if subject.is_empty() {
            errors.push(ValidationError::new(
                "subject",
                "is missing; say in a few words what it is about",
            ));
        } else if subject.chars().count() > SUBJECT_MAX_CHARS {
            errors.push(ValidationError::new(
                "subject",
                format!("is longer than {SUBJECT_MAX_CHARS} characters"),
            ));
        }
        let description = input.description.trim().to_string();
        if description.chars().count() > DESCRIPTION_MAX_CHARS {
            errors.push(ValidationError::new(
                "description",
                format!("is longer than {DESCRIPTION_MAX_CHARS} characters"),
            ));
        }
        let priority = match input.priority.as_deref().map(str::trim) {
            None | Some("") => TicketPriority::Normal,
            Some(raw) => TicketPriority::parse(raw).unwrap_or_else(|error| {
                errors.push(error);
                TicketPriority::Normal
            }),
        };
        let tags = parse_tags(&input.tags).unwrap_or_else(|error| {
            errors.push(error);
            Vec::new()
        });
        if errors.is_empty() {
            Ok(TicketContent {
                subject,
                description,
                priority,
                tags,
            })
        } else {
            Err(errors)
        }
    }
}

/// Tags: trimmed, lower-cased, without repeats; `a, b` in one field counts as two.
pub fn parse_tags(raw: &[String]) -> Result<Vec<String>, ValidationError> {
    let mut tags: Vec<String> = Vec::new();
    for tag in raw
        .iter()
        .flat_map(|field| field.split([',', '|']))
        .map(|tag| tag.trim().to_lowercase())
    {
        if tag.is_empty() || tags.contains(&tag) {
            continue;
        }
        if tag.chars().count() > TICKET_TAG_MAX_CHARS || tag.chars().any(char::is_whitespace) {
            return Err(ValidationError::new(
                "tags",
                format!(
                    "{tag:?} is not a tag; use one word (letters, digits, - or _) of up to {TICKET_TAG_MAX_CHARS} characters"
                ),
            ));
        }
        tags.push(tag);
    }
    if tags.len() > MAX_TICKET_TAGS {
        return Err(ValidationError::new(
            "tags",
            format!("has {} tags; at most {MAX_TICKET_TAGS}", tags.len()),
        ));
    }
    Ok(tags)
}

/// Who wrote a ticket comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommentAuthor {
    Agent,
    Customer,
    /// kefu itself (e.g. "created from conversation #12").
    System,
}

impl CommentAuthor {
    pub const fn as_str(self) -> &'static str {
        match self {
            CommentAuthor::Agent => "agent",
            CommentAuthor::Customer => "customer",
            CommentAuthor::System => "system",
        }
    }

    pub fn from_stored(raw: &str) -> Option<Self> {
        Some(match raw {
            "agent" => CommentAuthor::Agent,
            "customer" => CommentAuthor::Customer,
            "system" => CommentAuthor::System,
            _ => return None,
        })
    }
}

/// A reply on a ticket. Internal notes (`public == false`) are never shown to the customer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TicketComment {
    pub id: TicketCommentId,
    pub ticket_id: TicketId,
    pub author: CommentAuthor,
    pub author_user_id: Option<UserId>,
    pub body: String,
    pub public: bool,
    pub created_at: Timestamp,
}

/// A comment body: trimmed, not empty, not too long.
pub fn parse_comment_body(raw: &str) -> Result<String, ValidationError> {
    let body = raw.trim();
    if body.is_empty() {
        return Err(ValidationError::new("body", "is empty; write a reply"));
    }
    let length = body.chars().count();
    if length > COMMENT_MAX_CHARS {
        return Err(ValidationError::new(
            "body",
            format!("is {length} characters long; the limit is {COMMENT_MAX_CHARS}"),
        ));
    }
    Ok(body.to_string())
}

/// What the ticket list may be narrowed to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketFilter {
    pub statuses: Vec<TicketStatus>,
    pub priority: Option<TicketPriority>,
    pub assignee: Option<AssigneeFilter>,
    pub team: Option<TeamId>,
    pub tag: Option<String>,
    pub breached_only: bool,
    pub requester: Option<CustomerId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeFilter {
    Nobody,
    User(UserId),
}

/// The orders a ticket list can be sorted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TicketSort {
    /// Most recently changed first.
    #[default]
    Updated,
    /// Newest first.
    Created,
    /// Soonest SLA deadline first (tickets without one last).
    Due,
    /// Urgent first, then by age.
    Priority,
    /// Best full-text match first (only with a search).
    Relevance,
}

impl TicketSort {
    pub const ALL: [TicketSort; 5] = [
        TicketSort::Updated,
        TicketSort::Created,
        TicketSort::Due,
        TicketSort::Priority,
        TicketSort::Relevance,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            TicketSort::Updated => "updated",
            TicketSort::Created => "created",
            TicketSort::Due => "due",
            TicketSort::Priority => "priority",
            TicketSort::Relevance => "relevance",
        }
    }

    /// Unknown names sort by last change, the list's usual order.
    pub fn parse(raw: &str) -> TicketSort {
        Self::ALL
            .into_iter()
            .find(|sort| sort.as_str() == raw.trim())
            .unwrap_or_default()
    }
}

/// A ticket's searchable text, as the index takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketDocument {
    pub id: TicketId,
    pub subject: String,
    pub description: String,
    /// Every comment, notes included: agents search their own notes too.
    pub comments: Vec<String>,
}

/// One change the ticket index must apply: the ticket's text now, or `None` when deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketChange {
    pub sequence: i64,
    pub ticket_id: TicketId,
    pub document: Option<TicketDocument>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_move_forward_and_back_only_where_allowed() {
        use TicketStatus::*;
        for (from, to) in [
            (New, Open),
            (New, Pending),
            (New, Solved),
            (Open, Pending),
            (Open, Solved),
            (Pending, Open),
            (Pending, Solved),
            (Solved, Open),
            (Solved, Closed),
            (Open, Open),
        ] {
            assert_eq!(from.move_to(to), Ok(to), "{from:?} → {to:?}");
        }
        for (from, to) in [
            (New, Closed),
            (Open, New),
            (Open, Closed),
            (Pending, New),
            (Pending, Closed),
            (Solved, New),
            (Solved, Pending),
            (Closed, Open),
            (Closed, Solved),
        ] {
            let error = from.move_to(to).expect_err("refused");
            assert_eq!(error.field, "status");
            assert!(error.message.contains(to.as_str()), "{}", error.message);
        }
    }

    #[test]
    fn content_reports_every_problem_with_its_field() {
        let errors = TicketContent::parse(TicketInput {
            subject: "   ".into(),
            description: "x".repeat(DESCRIPTION_MAX_CHARS + 1),
            priority: Some("asap".into()),
            tags: vec!["two words".into()],
        })
        .expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["subject", "description", "priority", "tags"]);

        let content = TicketContent::parse(TicketInput {
            subject: "  Broken   kettle ".into(),
            description: " It leaks. ".into(),
            priority: None,
            tags: vec!["Refund, kettle".into(), "refund".into()],
        })
        .expect("valid");
        assert_eq!(content.subject, "Broken kettle");
        assert_eq!(content.description, "It leaks.");
        assert_eq!(content.priority, TicketPriority::Normal);
        assert_eq!(content.tags, ["refund", "kettle"]);
    }
}
