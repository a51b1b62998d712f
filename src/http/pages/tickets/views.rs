//! What the ticket templates show: list rows, deadlines in words, the ticket page's
//! properties and thread, and the choices of their menus.

use askama::filters::Safe;

use crate::domain::attachment::{Attachment, AttachmentOwner};
use crate::domain::sla::next_due;
use crate::domain::{
    CommentAuthor, SanitizedHtml, SlaTarget, Ticket, TicketComment, TicketPriority, TicketStatus,
    Timestamp, UserId,
};
use crate::http::views::{Choice, duration_words, format_time};
use crate::service::{TicketRow, now, render_markdown};

/// A deadline as a list or the ticket page shows it.
pub struct DueView {
    pub label: String,
    /// "overdue", "soon" (within the hour) or "later": the CSS class.
    pub urgency: &'static str,
    pub at: String,
}

pub fn due_view(target: SlaTarget, due: Timestamp) -> DueView {
    let left = due.unix_seconds() - now().unix_seconds();
    let what = match target {
        SlaTarget::FirstResponse => "first reply",
        SlaTarget::Resolution => "solve",
    };
    let (label, urgency) = if left < 0 {
        (
            format!("{what} overdue by {}", duration_words(left)),
            "overdue",
        )
    } else if left < 3600 {
        (format!("{what} in {}", duration_words(left)), "soon")
    } else {
        (format!("{what} in {}", duration_words(left)), "later")
    };
    DueView {
        label,
        urgency,
        at: format_time(due),
    }
}

pub fn requester_label(name: Option<&str>, email: Option<&str>, id: i64) -> String {
    name.or(email)
        .map_or_else(|| format!("Customer #{id}"), str::to_string)
}

pub struct RowView {
    pub id: i64,
    pub subject: String,
    pub requester: String,
    pub status: &'static str,
    pub priority: &'static str,
    pub assignee: Option<String>,
    pub team: Option<String>,
    pub tags: Vec<String>,
    pub due: Option<DueView>,
    pub breached: bool,
    pub updated: String,
}

impl RowView {
    pub fn new(row: TicketRow) -> RowView {
        let ticket = &row.ticket;
        RowView {
            id: ticket.id.get(),
            subject: ticket.subject.clone(),
            requester: requester_label(
                row.requester_name.as_deref(),
                row.requester_email.as_deref(),
                ticket.requester_id.get(),
            ),
            status: ticket.status.as_str(),
            priority: ticket.priority.as_str(),
            assignee: row.assignee_name,
            team: row.team_name,
            tags: ticket.tags.clone(),
            due: next_due(ticket).map(|(target, at)| due_view(target, at)),
            breached: row.breached,
            updated: format_time(ticket.updated_at),
        }
    }
}

/// A file on a comment or message, as a link (and a thumbnail for images).
pub struct AttachmentView {
    pub id: i64,
    pub name: String,
    pub size: String,
    pub has_thumbnail: bool,
}

impl AttachmentView {
    pub fn new(attachment: &Attachment) -> AttachmentView {
        let bytes = attachment.size_bytes;
        let size = if bytes < 1024 {
            format!("{bytes} B")
        } else if bytes < 1024 * 1024 {
            format!("{:.0} KB", bytes as f64 / 1024.0)
        } else {
            format!("{:.1} MB", bytes as f64 / 1_048_576.0)
        };
        AttachmentView {
            id: attachment.id.get(),
            name: attachment.file_name.clone(),
            size,
            has_thumbnail: attachment.has_thumbnail(),
        }
    }
}

/// One comment of the thread.
pub struct CommentView {
    pub id: i64,
    pub author: &'static str,
    pub author_label: String,
    pub public: bool,
    pub text: String,
    markup: Option<SanitizedHtml>,
    pub time: String,
    pub attachments: Vec<AttachmentView>,
}

impl CommentView {
    pub fn new(
        comment: &TicketComment,
        agent_name: Option<String>,
        requester: &str,
        attachments: &[Attachment],
    ) -> CommentView {
        let author_label = match comment.author {
            CommentAuthor::Agent => agent_name.unwrap_or_else(|| "Agent".to_string()),
            CommentAuthor::Customer => requester.to_string(),
            CommentAuthor::System => "kefu".to_string(),
        };
        CommentView {
            id: comment.id.get(),
            author: comment.author.as_str(),
            author_label,
            public: comment.public,
            text: comment.body.clone(),
            // Agents' public replies are Markdown, as in the chat.
            markup: (comment.author == CommentAuthor::Agent && comment.public)
                .then(|| render_markdown(&comment.body)),
            time: format_time(comment.created_at),
            attachments: attachments
                .iter()
                .filter(|a| {
                    matches!(a.owner, AttachmentOwner::Comment { comment: c, .. } if c == comment.id)
                })
                .map(AttachmentView::new)
                .collect(),
        }
    }

    /// The Markdown sanitiser's output, and only that, unescaped.
    pub fn markup(&self) -> Option<Safe<&str>> {
        self.markup.as_ref().map(|html| Safe(html.as_str()))
    }
}

/// The ticket's two deadlines, how each stands.
pub struct SlaLine {
    pub name: &'static str,
    pub state: String,
    /// "met", "overdue", "soon", "later", "breached", "none".
    pub class: &'static str,
}

pub fn sla_lines(ticket: &Ticket, breached: &[SlaTarget]) -> Vec<SlaLine> {
    let mut lines = Vec::new();
    let pairs = [
        (
            SlaTarget::FirstResponse,
            "First reply",
            ticket.first_response_due,
            ticket.first_responded_at,
        ),
        (
            SlaTarget::Resolution,
            "Solved",
            ticket.resolution_due,
            (!ticket.status.is_unsolved())
                .then_some(ticket.solved_at)
                .flatten(),
        ),
    ];
    for (target, name, due, done) in pairs {
        let missed = breached.contains(&target);
        let (state, class) = match (due, done) {
            (None, Some(at)) => (format!("at {}", format_time(at)), "met"),
            (None, None) => ("no target".to_string(), "none"),
            (Some(due), Some(at)) if missed || at > due => (
                format!(
                    "at {}, {} late (target {})",
                    format_time(at),
                    duration_words(at.unix_seconds() - due.unix_seconds()),
                    format_time(due)
                ),
                "breached",
            ),
            (Some(due), Some(at)) => (
                format!("at {} (target {})", format_time(at), format_time(due)),
                "met",
            ),
            (Some(due), None) => {
                let view = due_view(target, due);
                (format!("{} — by {}", view.label, view.at), view.urgency)
            }
        };
        lines.push(SlaLine { name, state, class });
    }
    lines
}

/// The statuses a ticket may move to from `current` (itself first).
pub fn status_choices(current: TicketStatus) -> Vec<Choice> {
    TicketStatus::ALL
        .into_iter()
        .filter(|to| current.can_move_to(*to))
        .map(|to| Choice::new(to.as_str(), to.as_str(), current.as_str()))
        .collect()
}

pub fn priority_choices(current: &str) -> Vec<Choice> {
    TicketPriority::ALL
        .into_iter()
        .map(|p| Choice::new(p.as_str(), p.as_str(), current))
        .collect()
}

/// Agents to assign to: nobody, then each agent by name.
pub fn assignee_choices(agents: &[(UserId, String)], current: Option<UserId>) -> Vec<Choice> {
    let current = current.map(|id| id.to_string()).unwrap_or_default();
    std::iter::once(Choice::new("", "Nobody", &current))
        .chain(
            agents
                .iter()
                .map(|(id, name)| Choice::new(id.to_string(), name.clone(), &current)),
        )
        .collect()
}
