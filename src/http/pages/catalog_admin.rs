//! Admin → Catalog: the shop's items (what the recommender suggests), imported from CSV with
//! the FAQ import's rules and progress, and deleted one by one.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::knowledge::transfer::{ImportOutcome, ImportResultFragment, ResultWords, read_csv_body};
use crate::domain::catalog::StoredCatalogItem;
use crate::http::AppState;
use crate::http::auth::AdminSignedIn;
use crate::http::error::PageError;
use crate::http::views::{Layout, page, redirect, render};
use crate::service::ServiceError;

const CATALOG_WORDS: ResultWords = ResultWords {
    column: "Title",
    see_link: "/admin/catalog",
    see_label: "See the catalog",
};

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/admin/catalog", web::get().to(show))
        .route("/admin/catalog/import", web::post().to(import))
        .route("/admin/catalog/delete", web::post().to(delete));
}

#[derive(Template)]
#[template(path = "admin/catalog.html")]
struct CatalogPage {
    layout: Layout,
    items: Vec<StoredCatalogItem>,
    q: String,
    total: usize,
}

#[derive(Deserialize, Default)]
pub struct CatalogQuery {
    #[serde(default)]
    q: String,
}

/// Items shown at once; the search narrows a long catalog.
const SHOWN: usize = 500;

async fn show(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
    query: web::Query<CatalogQuery>,
) -> Result<HttpResponse, PageError> {
    let needle = query.q.trim().to_lowercase();
    let all = state.catalog.items().await?;
    let matching: Vec<StoredCatalogItem> = all
        .into_iter()
        .filter(|stored| {
            needle.is_empty()
                || stored.item.title.to_lowercase().contains(&needle)
                || stored.item.id.to_lowercase().contains(&needle)
                || stored.item.category.to_lowercase().contains(&needle)
        })
        .collect();
    let total = matching.len();
    page(&CatalogPage {
        layout: Layout::signed_in("Catalog", "admin", &admin.0, &state.csrf_key),
        items: matching.into_iter().take(SHOWN).collect(),
        q: query.q.clone(),
        total,
    })
}

#[derive(Deserialize)]
pub struct ImportParams {
    #[serde(default)]
    dry_run: String,
}

async fn import(
    request: HttpRequest,
    _admin: AdminSignedIn,
    state: web::Data<AppState>,
    params: web::Query<ImportParams>,
    body: web::Payload,
) -> Result<HttpResponse, PageError> {
    let dry_run = matches!(params.dry_run.as_str(), "1" | "true" | "on" | "yes");
    let (status, outcome) = match read_csv_body(&request, body).await {
        Err((status, message)) => (status, ImportOutcome::refused(message, Vec::new())),
        Ok(bytes) => match state.catalog.import_csv(&bytes, dry_run).await {
            Ok(summary) => (StatusCode::OK, ImportOutcome::imported(summary)),
            Err(ServiceError::InvalidRows(lines)) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ImportOutcome::refused(
                    format!(
                        "The file has {} problem(s). Nothing was imported; fix them and upload the file again.",
                        lines.len()
                    ),
                    lines,
                ),
            ),
            Err(other) => return Err(other.into()),
        },
    };
    let html = render(&ImportResultFragment {
        outcome,
        result: CATALOG_WORDS,
    })
    .map_err(|e| PageError(ServiceError::internal(e)))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(html))
}

#[derive(Deserialize)]
pub struct DeleteForm {
    item_id: String,
}

async fn delete(
    _admin: AdminSignedIn,
    state: web::Data<AppState>,
    form: web::Form<DeleteForm>,
) -> Result<HttpResponse, PageError> {
    state.catalog.delete(&form.item_id).await?;
    Ok(redirect("/admin/catalog"))
}
