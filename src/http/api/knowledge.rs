//! `GET /api/v1/kb/search`: ranked knowledge-base entries with a highlighted snippet.

use super::caller::ApiCaller;
use super::resources::ErrorBody;
use crate::domain::{KnowledgeFilter, Language, SnippetPart, ValidationError};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::service::ServiceError;
use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

const MAX_QUERY_CHARS: usize = 500;
const DEFAULT_LIMIT: usize = 10;
const MAX_LIMIT: usize = 50;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The words to search for (zh or en); required.
    q: Option<String>,
    /// 1 to 50; 10 unless given.
    limit: Option<usize>,
    /// zh or en.
    language: Option<String>,
    category: Option<String>,
    /// true: only entries the bot answers from.
    #[serde(default)]
    published_only: bool,
}

#[derive(Serialize)]
struct SearchResponse<'a> {
    query: &'a str,
    results: Vec<SearchResultView<'a>>,
}

#[derive(Serialize)]
struct SearchResultView<'a> {
    id: i64,
    question: &'a str,
    category: &'a str,
    language: &'a str,
    status: &'a str,
    score: f32,
    snippet: &'a [SnippetPart],
    answer_html: &'a str,
}

/// Searches the knowledge base: ranked entries with a highlighted snippet.
#[utoipa::path(
    tag = "knowledge",
    params(SearchParams),
    responses(
        (status = 200, description = "`{query, results: [{id, question, category, language, status, score, snippet, answer_html}]}`", body = Object),
        (status = 422, description = "A parameter is wrong", body = ErrorBody)
    ),
    security(("token" = []))
)]
#[get("/kb/search")]
pub async fn search(
    _caller: ApiCaller,
    state: web::Data<AppState>,
    params: web::Query<SearchParams>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let query = params.q.unwrap_or_default();
    if query.trim().is_empty() {
        return Err(invalid("q", "is required: the text to search for"));
    }
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(invalid(
            "q",
            &format!("is longer than {MAX_QUERY_CHARS} characters"),
        ));
    }
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(invalid(
            "limit",
            &format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let language = params
        .language
        .filter(|l| !l.trim().is_empty())
        .map(|l| Language::parse(&l))
        .transpose()
        .map_err(ServiceError::from)?;
    let filter = KnowledgeFilter {
        published_only: params.published_only,
        language,
        category: params.category.filter(|c| !c.trim().is_empty()),
    };
    let results = state.knowledge.search(&query, filter, limit).await?;
    let body = SearchResponse {
        query: &query,
        results: results
            .iter()
            .map(|result| SearchResultView {
                id: result.entry.id.get(),
                question: &result.entry.content.question,
                category: &result.entry.content.category,
                language: result.entry.content.language.as_str(),
                status: result.entry.content.status.as_str(),
                score: result.hit.score,
                snippet: &result.hit.snippet,
                answer_html: result.entry.answer_html.as_str(),
            })
            .collect(),
    };
    Ok(HttpResponse::Ok().json(body))
}

fn invalid(field: &'static str, message: &str) -> ApiError {
    ApiError(ServiceError::from(ValidationError::new(field, message)))
}
