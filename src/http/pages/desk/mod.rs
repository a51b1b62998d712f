//! The agent desk: live lists, the conversation page with the assist panel, replies, notes
//! and actions, presence, and the desk's two event streams.

mod streams;
mod views;

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::domain::{
    ConversationId, DeskScope, DeskView, MessageId, Presence, TeamId, TicketInput, UserId,
    ValidationError,
};
use crate::http::AppState;
use crate::http::auth::SignedIn;
use crate::http::error::PageError;
use crate::http::request_info::is_htmx;
use crate::http::views::{Layout, page, redirect};
use crate::service::ServiceError;
use streams::{conversation_events, desk_events};
use views::{
    ConversationView, DeskMessageView, DeskPage, HeaderFragment, InsightsFragment,
    SavedFaqFragment, SuggestionsFragment, header_view, list_fragment, profile_view,
};

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/desk", web::get().to(desk))
        .route("/desk/list", web::get().to(list))
        .route("/desk/events", web::get().to(desk_events))
        .route("/desk/presence", web::post().to(set_presence))
        .route("/desk/conversations/{id}", web::get().to(conversation))
        .route(
            "/desk/conversations/{id}/header",
            web::get().to(conversation_header),
        )
        .route(
            "/desk/conversations/{id}/events",
            web::get().to(conversation_events),
        )
        .route(
            "/desk/conversations/{id}/suggestions",
            web::get().to(suggestions),
        )
        .route("/desk/conversations/{id}/insights", web::get().to(insights))
        .route("/desk/conversations/{id}/card", web::post().to(send_card))
        .route(
            "/desk/conversations/{id}/{kind:(reply|note)}",
            web::post().to(write_message),
        )
        .route("/desk/conversations/{id}/typing", web::post().to(typing))
        .route(
            "/desk/conversations/{id}/ticket",
            web::post().to(create_ticket),
        )
        .route("/desk/conversations/{id}/{action}", web::post().to(act))
        .route(
            "/desk/conversations/{id}/messages/{message}/save-faq",
            web::post().to(save_as_faq),
        );
}

fn scope(who: &SignedIn) -> DeskScope {
    DeskScope {
        user: who.session.user.id,
        is_admin: who.session.user.is_admin(),
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    view: String,
    #[serde(default)]
    current: Option<i64>,
}

async fn names(state: &AppState) -> Result<HashMap<UserId, String>, ServiceError> {
    Ok(state
        .desk
        .agents()
        .await?
        .into_iter()
        .map(|agent| (agent.id, agent.name))
        .collect())
}

async fn render_desk(
    who: &SignedIn,
    state: &AppState,
    view: DeskView,
    conversation: Option<ConversationId>,
) -> Result<HttpResponse, PageError> {
    let me = scope(who);
    let presence = state.desk.presence(me.user).await?;
    let lists = state.desk.lists(me, view).await?;
    let conversation = match conversation {
        Some(id) => {
            let detail = state.desk.conversation(me, id).await?;
            let names = names(state).await?;
            let messages: Vec<DeskMessageView> = detail
                .messages
                .iter()
                .map(|m| DeskMessageView::new(m, &names))
                .collect();
            Some(ConversationView {
                header: header_view(&detail, &names, me.user),
                last_id: detail.messages.last().map_or(0, |m| m.id.get()),
                messages,
                profile: profile_view(&detail),
                canned: detail
                    .canned
                    .iter()
                    .map(|c| (c.shortcut.clone(), c.body.clone()))
                    .collect(),
            })
        }
        None => None,
    };
    let title = match &conversation {
        Some(c) => format!("{} · Desk", c.header.customer),
        None => "Desk".to_string(),
    };
    page(&DeskPage {
        layout: Layout::signed_in(title, "desk", who, &state.csrf_key),
        presence: presence.as_str(),
        list: list_fragment(lists, conversation.as_ref().map(|c| c.header.id)),
        conversation,
    })
}

async fn desk(
    who: SignedIn,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    state.desk.heartbeat(who.session.user.id).await?;
    render_desk(&who, &state, DeskView::parse(&query.view), None).await
}

async fn conversation(
    who: SignedIn,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    let view = if query.view.is_empty() {
        DeskView::Open
    } else {
        DeskView::parse(&query.view)
    };
    render_desk(&who, &state, view, Some(ConversationId::new(*path))).await
}

async fn list(
    who: SignedIn,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    let lists = state
        .desk
        .lists(scope(&who), DeskView::parse(&query.view))
        .await?;
    page(&list_fragment(lists, query.current))
}

async fn conversation_header(
    who: SignedIn,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    let me = scope(&who);
    let detail = state
        .desk
        .conversation(me, ConversationId::new(*path))
        .await?;
    let names = names(&state).await?;
    let header = header_view(&detail, &names, me.user);
    let csrf_token = Layout::signed_in("", "desk", &who, &state.csrf_key).csrf_token;
    page(&HeaderFragment {
        header: &header,
        csrf_token: &csrf_token,
    })
}

async fn suggestions(
    who: SignedIn,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    let suggestions = state
        .desk
        .suggestions(scope(&who), ConversationId::new(*path))
        .await?;
    page(&SuggestionsFragment { suggestions })
}

async fn insights(
    who: SignedIn,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    let id = ConversationId::new(*path);
    let (customer_id, tags, cards) = state.desk.insights(scope(&who), id).await?;
    page(&InsightsFragment {
        conversation_id: id.get(),
        customer_id: customer_id.get(),
        tags,
        cards,
    })
}

#[derive(Deserialize)]
pub struct CardForm {
    item_id: String,
}

async fn send_card(
    request: HttpRequest,
    who: SignedIn,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<CardForm>,
) -> Result<HttpResponse, PageError> {
    match state
        .desk
        .send_card(scope(&who), ConversationId::new(*path), &form.item_id)
        .await
    {
        Ok(_) => Ok(done(&request, *path)),
        Err(error) => refused(&request, error),
    }
}

// ---- writing ----

#[derive(Deserialize)]
pub struct BodyForm {
    #[serde(default)]
    body: String,
}

fn done(request: &HttpRequest, id: i64) -> HttpResponse {
    if is_htmx(request) {
        HttpResponse::NoContent().finish()
    } else {
        redirect(&format!("/desk/conversations/{id}"))
    }
}

/// An htmx form shows a rule's message next to the form; a plain form gets an error page.
fn refused(request: &HttpRequest, error: ServiceError) -> Result<HttpResponse, PageError> {
    match &error {
        ServiceError::Invalid(_) | ServiceError::InvalidFields(_) | ServiceError::Conflict(_)
            if is_htmx(request) =>
        {
            let (status, _, message) = crate::http::error::classify(&error);
            Ok(HttpResponse::build(status)
                .content_type("text/plain; charset=utf-8")
                .body(message))
        }
        _ => Err(error.into()),
    }
}

/// A reply to the customer, or (`/note`) a private note for agents.
async fn write_message(
    request: HttpRequest,
    who: SignedIn,
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
    form: web::Form<BodyForm>,
) -> Result<HttpResponse, PageError> {
    let (id, kind) = path.into_inner();
    let private = kind == "note";
    match state
        .desk
        .write_message(scope(&who), ConversationId::new(id), &form.body, private)
        .await
    {
        Ok(_) => Ok(done(&request, id)),
        Err(error) => refused(&request, error),
    }
}

async fn typing(
    who: SignedIn,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    state
        .desk
        .agent_typing(scope(&who), ConversationId::new(*path))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    agent: Option<i64>,
    #[serde(default)]
    team: Option<TeamId>,
}

/// assign / transfer / resolve / reopen / hand-back.
async fn act(
    request: HttpRequest,
    who: SignedIn,
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
    form: web::Form<ActionForm>,
) -> Result<HttpResponse, PageError> {
    let (id, action) = path.into_inner();
    let me = scope(&who);
    let conversation = ConversationId::new(id);
    let outcome = match action.as_str() {
        "assign" => {
            let agent = form.agent.map_or(me.user, UserId::new);
            state.desk.assign(me, conversation, agent).await
        }
        "transfer" => match form.team {
            Some(team) => state.desk.transfer_to_team(me, conversation, team).await,
            None => Err(ServiceError::Invalid(ValidationError::new(
                "team",
                "choose a team",
            ))),
        },
        "resolve" => state.desk.resolve(me, conversation).await,
        "reopen" => state.desk.reopen(me, conversation).await,
        "hand-back" => state.desk.hand_back_to_bot(me, conversation).await,
        _ => Err(ServiceError::NotFound),
    };
    match outcome {
        Ok(()) => Ok(done(&request, id)),
        Err(error) => refused(&request, error),
    }
}

async fn save_as_faq(
    request: HttpRequest,
    who: SignedIn,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, PageError> {
    let (id, message) = path.into_inner();
    match state
        .desk
        .save_as_faq(
            scope(&who),
            ConversationId::new(id),
            MessageId::new(message),
        )
        .await
    {
        Ok(entry) => {
            // Admins review and publish it; agents can read it.
            let is_admin = who.session.user.is_admin();
            let link = if is_admin {
                format!("/knowledge/{}/edit", entry.id)
            } else {
                format!("/knowledge/{}", entry.id)
            };
            if is_htmx(&request) {
                page(&SavedFaqFragment { link, is_admin })
            } else {
                Ok(redirect(&link))
            }
        }
        Err(error) => refused(&request, error),
    }
}

#[derive(Deserialize)]
pub struct PresenceForm {
    presence: String,
}

async fn set_presence(
    request: HttpRequest,
    who: SignedIn,
    state: web::Data<AppState>,
    form: web::Form<PresenceForm>,
) -> Result<HttpResponse, PageError> {
    let presence = Presence::parse(&form.presence).map_err(ServiceError::Invalid)?;
    state
        .desk
        .set_presence(who.session.user.id, presence)
        .await?;
    let back = request
        .headers()
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|referer| referer.find("/desk").map(|at| referer[at..].to_string()))
        .unwrap_or_else(|| "/desk".to_string());
    Ok(redirect(&back))
}

#[derive(Deserialize, Default)]
pub struct TicketForm {
    #[serde(default)]
    subject: String,
    #[serde(default)]
    priority: String,
}

/// "Create ticket from this chat": a ticket linked to the conversation, then its page.
async fn create_ticket(
    who: SignedIn,
    state: web::Data<AppState>,
    path: web::Path<ConversationId>,
    form: web::Form<TicketForm>,
) -> Result<HttpResponse, PageError> {
    let ticket = state
        .tickets
        .create_from_conversation(
            scope(&who),
            path.into_inner(),
            TicketInput {
                subject: form.subject.clone(),
                priority: Some(form.priority.clone()),
                ..TicketInput::default()
            },
        )
        .await?;
    Ok(redirect(&format!("/tickets/{}", ticket.id)))
}
