//! The agent's areas: the desk (so far only availability for handoffs) and tickets (not
//! built yet), saying so honestly.

use crate::http::AppState;
use crate::http::auth::SignedIn;
use crate::http::error::PageError;
use crate::http::views::{Layout, page, redirect};
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "workspace.html")]
struct WorkspacePage {
    layout: Layout,
    heading: &'static str,
    explanation: &'static str,
}

fn workspace(
    who: &SignedIn,
    state: &AppState,
    section: &'static str,
    heading: &'static str,
    explanation: &'static str,
) -> Result<HttpResponse, PageError> {
    page(&WorkspacePage {
        layout: Layout::signed_in(heading, section, who, &state.csrf_key),
        heading,
        explanation,
    })
}

#[derive(Template)]
#[template(path = "desk.html")]
struct DeskPage {
    layout: Layout,
    online: bool,
}

pub async fn desk(who: SignedIn, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let online = state.conversations.is_online(who.session.user.id).await?;
    page(&DeskPage {
        layout: Layout::signed_in("Desk", "desk", &who, &state.csrf_key),
        online,
    })
}

#[derive(Deserialize)]
pub struct PresenceForm {
    online: String,
}

/// Available / offline for handoffs.
pub async fn set_presence(
    who: SignedIn,
    state: web::Data<AppState>,
    form: web::Form<PresenceForm>,
) -> Result<HttpResponse, PageError> {
    state
        .conversations
        .set_presence(who.session.user.id, form.online == "yes")
        .await?;
    Ok(redirect("/desk"))
}

pub async fn tickets(who: SignedIn, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    workspace(
        &who,
        &state,
        "tickets",
        "Tickets",
        "Tickets are not built yet. Follow-up work that outlives a chat will be tracked here.",
    )
}
