//! Agent areas not built yet (tickets), saying so honestly.

use crate::http::AppState;
use crate::http::auth::SignedIn;
use crate::http::error::PageError;
use crate::http::views::{Layout, page};
use actix_web::{HttpResponse, web};
use askama::Template;

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

pub async fn tickets(who: SignedIn, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    workspace(
        &who,
        &state,
        "tickets",
        "Tickets",
        "Tickets are not built yet. Follow-up work that outlives a chat will be tracked here.",
    )
}
