//! Moving the FAQ in and out as CSV (admins). The import page's script sends the chosen file
//! as the raw request body (`Content-Type: text/csv`), so the upload can show its progress;
//! the answer is a fragment with the summary, or every bad line and the news that nothing
//! was imported.

use super::views::today;
use crate::domain::{ImportSummary, RowError};
use crate::http::AppState;
use crate::http::auth::AdminSignedIn;
use crate::http::error::PageError;
use crate::http::request_info::is_htmx;
use crate::http::views::{Layout, page_with_status, render};
use crate::service::ServiceError;
use crate::service::knowledge_csv::MAX_FILE_BYTES;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

/// A long file's table stops here; the counts above it still cover every row.
const ROWS_SHOWN: usize = 500;
const ERRORS_SHOWN: usize = 200;

pub struct RowView {
    line: u64,
    action: &'static str,
    question: String,
}

/// What the result area shows after an upload.
pub(crate) struct ImportOutcome {
    /// Set when the rows were checked (and, unless a dry run, written).
    summary: Option<SummaryView>,
    /// Set when the file was refused; nothing was written.
    refusal: Option<Refusal>,
}

pub struct SummaryView {
    dry_run: bool,
    created: usize,
    updated: usize,
    unchanged: usize,
    rows: Vec<RowView>,
    rows_hidden: usize,
}

pub struct Refusal {
    message: String,
    lines: Vec<RowError>,
    lines_hidden: usize,
}

impl ImportOutcome {
    pub(crate) fn imported(summary: ImportSummary) -> ImportOutcome {
        let total = summary.rows.len();
        let rows = summary
            .rows
            .into_iter()
            .take(ROWS_SHOWN)
            .map(|row| RowView {
                line: row.line,
                action: row.action.as_str(),
                question: row.question,
            })
            .collect();
        ImportOutcome {
            summary: Some(SummaryView {
                dry_run: summary.dry_run,
                created: summary.created,
                updated: summary.updated,
                unchanged: summary.unchanged,
                rows,
                rows_hidden: total.saturating_sub(ROWS_SHOWN),
            }),
            refusal: None,
        }
    }

    pub(crate) fn refused(message: impl Into<String>, mut lines: Vec<RowError>) -> ImportOutcome {
        let lines_hidden = lines.len().saturating_sub(ERRORS_SHOWN);
        lines.truncate(ERRORS_SHOWN);
        ImportOutcome {
            summary: None,
            refusal: Some(Refusal {
                message: message.into(),
                lines,
                lines_hidden,
            }),
        }
    }
}

#[derive(Template)]
#[template(path = "knowledge/import.html")]
struct ImportPage {
    layout: Layout,
    max_bytes: usize,
    outcome: Option<ImportOutcome>,
    result: ResultWords,
}

/// How the result fragment names the rows and where it links: the FAQ's or the catalog's.
#[derive(Clone, Copy)]
pub(crate) struct ResultWords {
    pub(crate) column: &'static str,
    pub(crate) see_link: &'static str,
    pub(crate) see_label: &'static str,
}

const FAQ_WORDS: ResultWords = ResultWords {
    column: "Question",
    see_link: "/knowledge",
    see_label: "See the knowledge base",
};

#[derive(Template)]
#[template(path = "knowledge/import_result.html")]
pub(crate) struct ImportResultFragment {
    pub(crate) outcome: ImportOutcome,
    pub(crate) result: ResultWords,
}

#[derive(Deserialize)]
pub struct ImportParams {
    #[serde(default)]
    dry_run: String,
}

impl ImportParams {
    fn dry_run(&self) -> bool {
        matches!(self.dry_run.as_str(), "1" | "true" | "on" | "yes")
    }
}

pub async fn import_page(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    page_with_status(
        StatusCode::OK,
        &ImportPage {
            layout: Layout::signed_in("Import CSV", "knowledge", &admin.0, &state.csrf_key),
            max_bytes: MAX_FILE_BYTES,
            outcome: None,
            result: FAQ_WORDS,
        },
    )
}

pub async fn import_upload(
    request: HttpRequest,
    admin: AdminSignedIn,
    state: web::Data<AppState>,
    params: web::Query<ImportParams>,
    body: web::Payload,
) -> Result<HttpResponse, PageError> {
    let (status, outcome) = match read_csv_body(&request, body).await {
        Err((status, message)) => (status, ImportOutcome::refused(message, Vec::new())),
        Ok(bytes) => match state
            .knowledge
            .import_csv(&bytes, params.dry_run(), None)
            .await
        {
            Ok(summary) => (StatusCode::OK, ImportOutcome::imported(summary)),
            Err(ServiceError::InvalidRows(lines)) => {
                let message = match lines.len() {
                    1 => "The file has a problem. Nothing was imported; fix it and upload the file again.".to_string(),
                    n => format!("The file has {n} problems. Nothing was imported; fix them and upload the file again."),
                };
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ImportOutcome::refused(message, lines),
                )
            }
            Err(other) => return Err(other.into()),
        },
    };
    if is_htmx(&request) {
        let html = render(&ImportResultFragment {
            outcome,
            result: FAQ_WORDS,
        })
        .map_err(|e| PageError(ServiceError::internal(e)))?;
        return Ok(HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header(("Cache-Control", "no-store"))
            .body(html));
    }
    page_with_status(
        status,
        &ImportPage {
            layout: Layout::signed_in("Import CSV", "knowledge", &admin.0, &state.csrf_key),
            max_bytes: MAX_FILE_BYTES,
            outcome: Some(outcome),
            result: FAQ_WORDS,
        },
    )
}

fn too_large(bytes: Option<u64>) -> (StatusCode, String) {
    let size = match bytes {
        Some(bytes) => format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0)),
        None => "larger than 10 MiB".to_string(),
    };
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "The file is {size}; the limit is 10 MiB. Split it into smaller files and import them one after another. Nothing was imported."
        ),
    )
}

/// The CSV from the request body: refused early when too large or not sent as CSV.
pub(crate) async fn read_csv_body(
    request: &HttpRequest,
    body: web::Payload,
) -> Result<web::Bytes, (StatusCode, String)> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if content_type != "text/csv" {
        return Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Upload the file from the import page (it needs JavaScript), or send it as the request body with Content-Type: text/csv. Nothing was imported.".to_string(),
        ));
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if let Some(length) = declared
        && length > MAX_FILE_BYTES as u64
    {
        return Err(too_large(Some(length)));
    }
    let bytes = match body.to_bytes_limited(MAX_FILE_BYTES).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(error)) => {
            tracing::info!(%error, "CSV upload broke off");
            return Err((
                StatusCode::BAD_REQUEST,
                "The upload broke off before the whole file arrived. Try again.".to_string(),
            ));
        }
        Err(_) => return Err(too_large(None)),
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            "The file is empty. Choose a CSV with a header row and at least one row. Nothing was imported.".to_string(),
        ));
    }
    Ok(bytes)
}

pub async fn export(
    _admin: AdminSignedIn,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let csv = state.knowledge.export_csv().await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"kefu-faq-{}.csv\"", today()),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .body(csv))
}
