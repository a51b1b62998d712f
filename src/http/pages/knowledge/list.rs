//! `GET /knowledge`: the FAQ list with filters and pages, or — with `q` — search results that
//! update as the user types (htmx asks for just the results fragment).

use super::views::{format_time, language_label, plain_excerpt};
use crate::domain::{FaqEntry, FaqEntryId, FaqStatus, KnowledgeFilter, Language, SnippetPart};
use crate::http::AppState;
use crate::http::auth::SignedIn;
use crate::http::error::PageError;
use crate::http::request_info::is_htmx;
use crate::http::views::{Layout, page, render};
use crate::service::FaqListQuery;
use crate::service::{KnowledgeResult, ServiceError};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

pub const PAGE_SIZE: usize = 25;
/// Searches rank at most this many entries (the index's own ceiling); pages cut them up.
const SEARCH_LIMIT: usize = 100;
const MAX_QUERY_CHARS: usize = 500;
const EXCERPT_CHARS: usize = 160;

/// The query string as typed into the URL or sent by the filter form; empty means "any".
#[derive(Deserialize, Default)]
pub struct ListParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    page: String,
}

/// The parameters once checked.
struct Filters {
    query: String,
    category: Option<String>,
    language: Option<Language>,
    status: Option<FaqStatus>,
    page: usize,
}

impl Filters {
    fn parse(params: &ListParams) -> Result<Filters, ServiceError> {
        let query = params.q.trim().to_string();
        if query.chars().count() > MAX_QUERY_CHARS {
            return Err(invalid(
                "q",
                format!("is longer than {MAX_QUERY_CHARS} characters; shorten the search"),
            ));
        }
        let category = Some(params.category.trim().to_string()).filter(|c| !c.is_empty());
        let language = match params.language.trim() {
            "" => None,
            raw => Some(Language::parse(raw)?),
        };
        let status = match params.status.trim() {
            "" => None,
            raw => Some(FaqStatus::parse(raw)?),
        };
        let page = match params.page.trim() {
            "" => 1,
            raw => raw
                .parse::<usize>()
                .ok()
                .filter(|page| (1..=1_000_000).contains(page))
                .ok_or_else(|| invalid("page", "must be a page number such as 2"))?,
        };
        Ok(Filters {
            query,
            category,
            language,
            status,
            page,
        })
    }

    fn any_facet(&self) -> bool {
        self.category.is_some() || self.language.is_some() || self.status.is_some()
    }

    fn offset(&self) -> usize {
        (self.page - 1) * PAGE_SIZE
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> ServiceError {
    ServiceError::from(crate::domain::ValidationError::new(field, message))
}

/// One entry in the list or the results.
pub struct EntryRow {
    id: FaqEntryId,
    question: String,
    category: String,
    language: String,
    language_label: String,
    status: &'static str,
    updated: String,
    variants: usize,
    /// Search results: the matching passage, highlighted parts marked.
    snippet: Vec<SnippetPart>,
    /// The plain list: the start of the answer.
    excerpt: String,
}

impl EntryRow {
    fn new(entry: &FaqEntry, snippet: Vec<SnippetPart>) -> EntryRow {
        let content = &entry.content;
        EntryRow {
            id: entry.id,
            question: content.question.clone(),
            category: content.category.clone(),
            language: content.language.as_str().to_string(),
            language_label: language_label(content.language.as_str()),
            status: content.status.as_str(),
            updated: format_time(entry.updated_at),
            variants: content.variants.len(),
            excerpt: if snippet.is_empty() {
                plain_excerpt(&entry.answer_html, EXCERPT_CHARS)
            } else {
                String::new()
            },
            snippet,
        }
    }
}

/// What the results area shows; the same for the full page and the htmx fragment.
pub struct ResultsView {
    searching: bool,
    query: String,
    rows: Vec<EntryRow>,
    first: usize,
    last: usize,
    total: usize,
    /// The search stopped at its limit; there may be more matches than `total`.
    more_than_total: bool,
    previous_url: Option<String>,
    next_url: Option<String>,
    /// Filters narrowed the list (so "clear the filters" is the way out of an empty one).
    filtered: bool,
    /// The same search without the filters.
    unfiltered_url: String,
    /// This page's own address, without empty parameters (what the address bar shows).
    own_url: String,
    is_admin: bool,
}

impl ResultsView {
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

#[derive(Template)]
#[template(path = "knowledge/results.html")]
struct ResultsFragment {
    results: ResultsView,
}

pub struct Choice {
    value: String,
    label: String,
    selected: bool,
}

fn choices(current: &str, options: Vec<(String, String)>) -> Vec<Choice> {
    options
        .into_iter()
        .map(|(value, label)| Choice {
            selected: value == current,
            value,
            label,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "knowledge/list.html")]
struct ListPage {
    layout: Layout,
    query: String,
    categories: Vec<Choice>,
    languages: Vec<Choice>,
    statuses: Vec<Choice>,
    notice: Option<String>,
    results: ResultsView,
}

#[derive(Deserialize)]
pub struct Notice {
    deleted: Option<String>,
}

pub async fn show(
    request: HttpRequest,
    who: SignedIn,
    state: web::Data<AppState>,
    params: web::Query<ListParams>,
    notice: web::Query<Notice>,
) -> Result<HttpResponse, PageError> {
    let params = params.into_inner();
    let filters = Filters::parse(&params)?;
    let is_admin = who.session.user.is_admin();
    let results = if filters.query.is_empty() {
        listed(&state, &filters, &params, is_admin).await?
    } else {
        searched(&state, &filters, &params, is_admin).await?
    };

    // A history restore needs the whole page back, not the fragment.
    let wants_fragment =
        is_htmx(&request) && !request.headers().contains_key("HX-History-Restore-Request");
    if wants_fragment {
        let own_url = results.own_url.clone();
        let html = render(&ResultsFragment { results })
            .map_err(|e| PageError(ServiceError::internal(e)))?;
        return Ok(HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header(("Cache-Control", "no-store"))
            .insert_header(("Vary", "HX-Request"))
            // The form sends every field, empty ones too; the address bar gets the tidy URL.
            .insert_header(("HX-Push-Url", own_url))
            .body(html));
    }

    let mut categories = state.knowledge.categories().await?;
    if let Some(selected) = &filters.category
        && !categories.contains(selected)
    {
        categories.push(selected.clone());
    }
    let category_options = std::iter::once((String::new(), "All categories".to_string()))
        .chain(categories.into_iter().map(|c| (c.clone(), c)))
        .collect();
    let language_options = vec![
        (String::new(), "All languages".to_string()),
        ("zh".to_string(), "中文 (zh)".to_string()),
        ("en".to_string(), "English (en)".to_string()),
    ];
    let status_options = vec![
        (String::new(), "Any status".to_string()),
        ("published".to_string(), "Published".to_string()),
        ("draft".to_string(), "Draft".to_string()),
    ];
    let title = if filters.query.is_empty() {
        "Knowledge".to_string()
    } else {
        format!("{} – Knowledge", filters.query)
    };
    page(&ListPage {
        layout: Layout::signed_in(title, "knowledge", &who, &state.csrf_key),
        query: filters.query.clone(),
        categories: choices(
            filters.category.as_deref().unwrap_or_default(),
            category_options,
        ),
        languages: choices(
            filters.language.as_ref().map_or("", Language::as_str),
            language_options,
        ),
        statuses: choices(filters.status.map_or("", FaqStatus::as_str), status_options),
        notice: notice
            .into_inner()
            .deleted
            .map(|question| format!("Deleted “{question}”.")),
        results,
    })
}

async fn listed(
    state: &AppState,
    filters: &Filters,
    params: &ListParams,
    is_admin: bool,
) -> Result<ResultsView, PageError> {
    let listing = state
        .knowledge
        .list(FaqListQuery {
            language: filters.language.clone(),
            category: filters.category.clone(),
            status: filters.status,
            offset: u32::try_from(filters.offset()).unwrap_or(u32::MAX),
            limit: PAGE_SIZE as u32,
        })
        .await?;
    let total = usize::try_from(listing.total).unwrap_or(usize::MAX);
    let rows = listing
        .entries
        .iter()
        .map(|entry| EntryRow::new(entry, Vec::new()))
        .collect();
    Ok(paged(filters, params, rows, total, false, is_admin))
}

async fn searched(
    state: &AppState,
    filters: &Filters,
    params: &ListParams,
    is_admin: bool,
) -> Result<ResultsView, PageError> {
    let filter = KnowledgeFilter {
        // Admins curate drafts too; the status facet narrows below.
        published_only: false,
        language: filters.language.clone(),
        category: filters.category.clone(),
    };
    let found = state
        .knowledge
        .search(&filters.query, filter, SEARCH_LIMIT)
        .await?;
    let more_than_total = found.len() >= SEARCH_LIMIT;
    let matching: Vec<KnowledgeResult> = found
        .into_iter()
        .filter(|result| {
            filters
                .status
                .is_none_or(|status| result.entry.content.status == status)
        })
        .collect();
    let total = matching.len();
    let rows = matching
        .into_iter()
        .skip(filters.offset())
        .take(PAGE_SIZE)
        .map(|result| EntryRow::new(&result.entry, result.hit.snippet))
        .collect();
    Ok(paged(
        filters,
        params,
        rows,
        total,
        more_than_total,
        is_admin,
    ))
}

fn paged(
    filters: &Filters,
    params: &ListParams,
    rows: Vec<EntryRow>,
    total: usize,
    more_than_total: bool,
    is_admin: bool,
) -> ResultsView {
    let offset = filters.offset();
    let shown = rows.len();
    let page_url = |page: usize| {
        let page = if page > 1 {
            page.to_string()
        } else {
            String::new()
        };
        let pairs: Vec<(&str, &str)> = [
            ("q", params.q.trim()),
            ("category", params.category.trim()),
            ("language", params.language.trim()),
            ("status", params.status.trim()),
            ("page", page.as_str()),
        ]
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .collect();
        match serde_urlencoded::to_string(pairs) {
            Ok(query) if !query.is_empty() => format!("/knowledge?{query}"),
            _ => "/knowledge".to_string(),
        }
    };
    ResultsView {
        searching: !filters.query.is_empty(),
        query: filters.query.clone(),
        first: if shown == 0 { 0 } else { offset + 1 },
        last: offset + shown,
        total,
        more_than_total,
        own_url: page_url(filters.page),
        previous_url: (filters.page > 1).then(|| page_url(filters.page - 1)),
        next_url: (offset + shown < total).then(|| page_url(filters.page + 1)),
        filtered: filters.any_facet(),
        unfiltered_url: match serde_urlencoded::to_string([("q", filters.query.as_str())]) {
            Ok(query) if !filters.query.is_empty() => format!("/knowledge?{query}"),
            _ => "/knowledge".to_string(),
        },
        is_admin,
        rows,
    }
}
