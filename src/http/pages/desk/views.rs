//! The desk's view models and fragments: list rows, transcript messages, the conversation
//! header, the customer's profile, suggested replies.

use std::collections::HashMap;

use askama::Template;
use askama::filters::Safe;

use crate::domain::profile::ProfileTag;
use crate::domain::{Author, ConversationStatus, DeskView, Message, SanitizedHtml, TeamId, UserId};
use crate::http::views::{Layout, render};
use crate::service::{
    DeskConversation, DeskLists, ItemCard, SuggestedReply, render_markdown, rendered_message,
};

pub struct ViewTab {
    pub name: &'static str,
    pub title: &'static str,
    pub count: i64,
    pub current: bool,
}

pub struct RowView {
    pub id: i64,
    pub customer: String,
    pub inbox: String,
    pub status: &'static str,
    pub assignee: Option<String>,
    pub team: Option<String>,
    pub preview: String,
    pub waiting_since: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "desk/list.html")]
pub(super) struct ListFragment {
    pub(super) view: &'static str,
    pub(super) tabs: Vec<ViewTab>,
    pub(super) rows: Vec<RowView>,
    pub(super) waiting: i64,
}

pub(super) fn customer_label(name: Option<&str>, email: Option<&str>, id: i64) -> String {
    name.or(email)
        .map_or_else(|| format!("Visitor #{id}"), str::to_string)
}

pub(super) fn ago(unix_seconds: i64) -> String {
    let seconds = (crate::service::now().unix_seconds() - unix_seconds).max(0);
    match seconds {
        0..60 => "just now".to_string(),
        60..3600 => format!("{} min", seconds / 60),
        3600..86_400 => format!("{} h", seconds / 3600),
        _ => format!("{} d", seconds / 86_400),
    }
}

pub(super) fn list_fragment(lists: DeskLists, current: Option<i64>) -> ListFragment {
    let tabs = DeskView::ALL
        .into_iter()
        .zip(lists.counts)
        .map(|(view, count)| ViewTab {
            name: view.as_str(),
            title: view.title(),
            count,
            current: view == lists.view,
        })
        .collect();
    let rows = lists
        .rows
        .into_iter()
        .map(|row| {
            let c = &row.conversation;
            RowView {
                id: c.id.get(),
                customer: customer_label(
                    row.customer_name.as_deref(),
                    row.customer_email.as_deref(),
                    c.customer_id.get(),
                ),
                inbox: row.inbox_name,
                status: c.status.as_str(),
                assignee: row.assignee_name,
                team: row.team_name,
                preview: row
                    .last_message
                    .map(|text| text.chars().take(90).collect())
                    .unwrap_or_default(),
                waiting_since: ago(c
                    .handed_off_at
                    .unwrap_or(c.updated_at)
                    .unix_seconds()
                    .max(c.updated_at.unix_seconds())),
                current: Some(c.id.get()) == current,
            }
        })
        .collect();
    ListFragment {
        view: lists.view.as_str(),
        tabs,
        rows,
        waiting: lists.counts[0],
    }
}

pub struct DeskMessageView {
    pub id: i64,
    pub author: &'static str,
    pub author_label: String,
    pub text: String,
    /// Sanitised Markdown of bot answers and public replies, as the customer saw them.
    markup: Option<SanitizedHtml>,
    pub private: bool,
    pub source: Option<String>,
    pub confidence: Option<String>,
    pub sentiment: Option<String>,
    pub can_save_as_faq: bool,
    pub time: String,
    pub files: Vec<crate::http::widget::FileLink>,
    pub cards: Vec<ItemCard>,
}

impl DeskMessageView {
    pub(super) fn new(message: &Message, names: &HashMap<UserId, String>) -> DeskMessageView {
        let details = &message.details;
        let text_of = |key: &str| {
            details
                .get(key)
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let author_label = match message.author {
            Author::Customer => "Customer".to_string(),
            Author::Bot => "Bot".to_string(),
            Author::System => "kefu".to_string(),
            Author::Agent => message
                .author_user_id
                .and_then(|id| names.get(&id).cloned())
                .unwrap_or_else(|| "Agent".to_string()),
        };
        DeskMessageView {
            id: message.id.get(),
            author: message.author.as_str(),
            author_label,
            text: message.body.clone(),
            markup: rendered_message(message),
            private: message.private,
            source: text_of("question"),
            confidence: details
                .get("confidence")
                .and_then(serde_json::Value::as_f64)
                .map(|c| format!("{:.0}%", c * 100.0)),
            sentiment: (message.author == Author::Customer)
                .then(|| details.get("sentiment").and_then(serde_json::Value::as_f64))
                .flatten()
                .map(|s| format!("{s:+.2}")),
            can_save_as_faq: message.author == Author::Agent && !message.private,
            time: clock(message.created_at.unix_seconds()),
            files: crate::http::widget::file_links(message),
            cards: crate::http::widget::item_cards(message),
        }
    }
}

impl DeskMessageView {
    /// The Markdown sanitiser's output, and only that, unescaped.
    pub fn markup(&self) -> Option<Safe<&str>> {
        self.markup.as_ref().map(|html| Safe(html.as_str()))
    }
}

pub(super) fn clock(unix_seconds: i64) -> String {
    let minute = unix_seconds.div_euclid(60).rem_euclid(24 * 60);
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

#[derive(Template)]
#[template(path = "desk/message.html")]
pub(super) struct MessageFragment<'a> {
    pub(super) message: &'a DeskMessageView,
    pub(super) conversation_id: i64,
}

pub struct HeaderView {
    pub id: i64,
    pub customer: String,
    pub status: &'static str,
    pub assignee: Option<String>,
    pub assigned_to_me: bool,
    pub team: Option<String>,
    pub language: String,
    pub reason: Option<String>,
    pub inbox: String,
    pub agents: Vec<(i64, String, &'static str)>,
    pub teams: Vec<(TeamId, String)>,
}

impl HeaderView {
    pub fn is_open(&self) -> bool {
        self.status != ConversationStatus::Resolved.as_str()
    }

    pub fn with_people(&self) -> bool {
        self.status != ConversationStatus::Bot.as_str() && self.is_open()
    }
}

#[derive(Template)]
#[template(path = "desk/header.html")]
pub(super) struct HeaderFragment<'a> {
    pub(super) header: &'a HeaderView,
    pub(super) csrf_token: &'a str,
}

pub struct ProfileView {
    pub name: String,
    pub email: Option<String>,
    pub verified: bool,
    pub external_id: Option<String>,
    pub attributes: Vec<(String, String)>,
    pub events: Vec<(String, String, String)>,
    pub earlier: Vec<(i64, &'static str, String)>,
    /// (id, subject, status) of the customer's tickets.
    pub tickets: Vec<(i64, String, &'static str)>,
}

#[derive(Template)]
#[template(path = "desk/desk.html")]
pub(super) struct DeskPage {
    pub(super) layout: Layout,
    pub(super) presence: &'static str,
    pub(super) list: ListFragment,
    pub(super) conversation: Option<ConversationView>,
}

pub(super) struct ConversationView {
    pub(super) header: HeaderView,
    pub(super) messages: Vec<DeskMessageView>,
    pub(super) last_id: i64,
    pub(super) profile: ProfileView,
    pub(super) canned: Vec<(String, String)>,
}

impl DeskPage {
    fn header_html(&self, header: &HeaderView) -> askama::filters::Safe<String> {
        // Rendered by askama with escaping; only the finished fragment is marked safe.
        askama::filters::Safe(
            render(&HeaderFragment {
                header,
                csrf_token: &self.layout.csrf_token,
            })
            .unwrap_or_default(),
        )
    }

    fn message_html(
        &self,
        message: &DeskMessageView,
        conversation_id: &i64,
    ) -> askama::filters::Safe<String> {
        askama::filters::Safe(
            render(&MessageFragment {
                message,
                conversation_id: *conversation_id,
            })
            .unwrap_or_default(),
        )
    }

    fn list_html(&self) -> askama::filters::Safe<String> {
        askama::filters::Safe(render(&self.list).unwrap_or_default())
    }
}

pub(super) fn header_view(
    detail: &DeskConversation,
    names: &HashMap<UserId, String>,
    me: UserId,
) -> HeaderView {
    let c = &detail.conversation;
    HeaderView {
        id: c.id.get(),
        customer: customer_label(
            detail.customer.name.as_deref(),
            detail.customer.email.as_deref(),
            c.customer_id.get(),
        ),
        status: c.status.as_str(),
        assignee: c.assignee_id.and_then(|id| names.get(&id).cloned()),
        assigned_to_me: c.assignee_id == Some(me),
        team: c
            .team_id
            .and_then(|id| detail.teams.iter().find(|t| t.id == id))
            .map(|t| t.name.clone()),
        language: c.language.clone(),
        reason: c.handoff_reason.clone(),
        inbox: detail.inbox_name.clone(),
        agents: detail
            .agents
            .iter()
            .map(|a| (a.id.get(), a.name.clone(), a.presence.as_str()))
            .collect(),
        teams: detail
            .teams
            .iter()
            .map(|t| (t.id, t.name.clone()))
            .collect(),
    }
}

pub(super) fn profile_view(detail: &DeskConversation) -> ProfileView {
    let customer = &detail.customer;
    ProfileView {
        name: customer_label(
            customer.name.as_deref(),
            customer.email.as_deref(),
            customer.id.get(),
        ),
        email: customer.email.clone(),
        verified: customer.external_id.is_some(),
        external_id: customer.external_id.clone(),
        attributes: customer
            .attributes
            .as_object()
            .map(|map| {
                map.iter()
                    .map(|(k, v)| {
                        let value = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                        (k.clone(), value)
                    })
                    .collect()
            })
            .unwrap_or_default(),
        events: detail
            .events
            .iter()
            .map(|(name, properties, at)| {
                let props = if properties.as_object().is_some_and(|o| o.is_empty()) {
                    String::new()
                } else {
                    properties.to_string().chars().take(120).collect()
                };
                (name.clone(), props, ago(at.unix_seconds()))
            })
            .collect(),
        earlier: detail
            .earlier
            .iter()
            .map(|c| {
                (
                    c.id.get(),
                    c.status.as_str(),
                    ago(c.updated_at.unix_seconds()),
                )
            })
            .collect(),
        tickets: detail
            .tickets
            .iter()
            .map(|row| {
                (
                    row.ticket.id.get(),
                    row.ticket.subject.clone(),
                    row.ticket.status.as_str(),
                )
            })
            .collect(),
    }
}

#[derive(Template)]
#[template(path = "desk/suggestions.html")]
pub(super) struct SuggestionsFragment {
    pub(super) suggestions: Vec<SuggestedReply>,
}

impl SuggestionsFragment {
    fn percent(&self, confidence: &f32) -> String {
        format!("{:.0}%", confidence * 100.0)
    }

    /// The answer as the customer would see it: the Markdown sanitiser's output, unescaped.
    fn preview(&self, markdown: &str) -> Safe<String> {
        Safe(render_markdown(markdown).as_str().to_string())
    }
}

/// What replaces "Save as FAQ" once the draft exists.
#[derive(Template)]
#[template(path = "desk/saved_faq.html")]
pub(super) struct SavedFaqFragment {
    pub(super) link: String,
    pub(super) is_admin: bool,
}

/// The side panel's "about this customer": derived tags with reasons, and items to send.
#[derive(Template)]
#[template(path = "desk/insights.html")]
pub(super) struct InsightsFragment {
    pub(super) conversation_id: i64,
    pub(super) customer_id: i64,
    pub(super) tags: Vec<ProfileTag>,
    pub(super) cards: Vec<ItemCard>,
}
