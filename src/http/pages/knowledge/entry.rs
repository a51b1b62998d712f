//! One FAQ entry: reading it (everyone signed in) and deleting it after a confirmation page
//! (admins), which works without JavaScript.

use super::views::{EntryView, parse_entry_id};
use crate::http::AppState;
use crate::http::auth::{AdminSignedIn, SignedIn};
use crate::http::error::PageError;
use crate::http::views::{Layout, page, redirect};
use crate::service::ServiceError;
use actix_web::{HttpResponse, web};
use askama::Template;

#[derive(Template)]
#[template(path = "knowledge/entry.html")]
struct EntryPage {
    layout: Layout,
    entry: EntryView,
    is_admin: bool,
    notice: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "knowledge/delete.html")]
struct DeletePage {
    layout: Layout,
    entry: EntryView,
}

#[derive(serde::Deserialize)]
pub struct Saved {
    saved: Option<String>,
}

pub async fn show(
    who: SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
    saved: web::Query<Saved>,
) -> Result<HttpResponse, PageError> {
    let id = parse_entry_id(&id)?;
    let entry = EntryView::new(state.knowledge.entry(id).await?);
    let is_admin = who.session.user.is_admin();
    page(&EntryPage {
        layout: Layout::signed_in(entry.question.clone(), "knowledge", &who, &state.csrf_key),
        notice: saved.saved.is_some().then_some("Saved."),
        entry,
        is_admin,
    })
}

pub async fn confirm_delete(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let id = parse_entry_id(&id)?;
    let entry = EntryView::new(state.knowledge.entry(id).await?);
    page(&DeletePage {
        layout: Layout::signed_in("Delete entry", "knowledge", &admin.0, &state.csrf_key),
        entry,
    })
}

pub async fn delete(
    _admin: AdminSignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let id = parse_entry_id(&id)?;
    let question = state.knowledge.entry(id).await?.content.question;
    state.knowledge.delete(id).await?;
    let query = serde_urlencoded::to_string([("deleted", question.as_str())])
        .map_err(ServiceError::internal)?;
    Ok(redirect(&format!("/knowledge?{query}")))
}
