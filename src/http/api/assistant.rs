//! `GET /api/v1/assistant/understand`: what the bot makes of a message — its decision, the
//! ranked answers with their confidence and why, the intent and the sentiment.

use super::caller::ApiCaller;
use super::resources::ErrorBody;
use crate::domain::IntentLabel;
use crate::domain::ValidationError;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::service::ServiceError;
use crate::service::assistant::{Decision, ScoredLabel, Sentiment, Thresholds};
use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

/// As long as a chat message may be.
pub const MAX_MESSAGE_CHARS: usize = 2_000;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnderstandParams {
    /// A customer's message; required.
    q: Option<String>,
}

#[derive(Serialize)]
struct UnderstandResponse<'a> {
    message: &'a str,
    language: &'a str,
    decision: Decision,
    thresholds: Thresholds,
    answers: Vec<AnswerView<'a>>,
    top_classes: &'a [ScoredLabel<IntentLabel>],
    sentiment: &'a Sentiment,
}

#[derive(Serialize)]
struct AnswerView<'a> {
    id: i64,
    question: &'a str,
    category: &'a str,
    language: &'a str,
    answer_html: &'a str,
    confidence: f32,
    keyword_rank: Option<usize>,
    semantic_rank: Option<usize>,
    semantic_similarity: Option<f32>,
    classifier_rank: Option<usize>,
}

/// What the bot makes of a message: its decision, the ranked answers with their confidence
/// and why, the top intent classes and the sentiment.
#[utoipa::path(
    tag = "assistant",
    params(UnderstandParams),
    responses(
        (status = 200, description = "`{message, language, decision, thresholds, answers, top_classes, sentiment}`", body = Object),
        (status = 422, description = "No or a too long message", body = ErrorBody),
        (status = 503, description = "The bot is still learning the knowledge base", body = ErrorBody)
    ),
    security(("token" = []))
)]
#[get("/assistant/understand")]
pub async fn understand(
    _caller: ApiCaller,
    state: web::Data<AppState>,
    params: web::Query<UnderstandParams>,
) -> Result<HttpResponse, ApiError> {
    let message = params.into_inner().q.unwrap_or_default();
    if message.trim().is_empty() {
        return Err(invalid("q", "is required: the customer's message"));
    }
    let chars = message.chars().count();
    if chars > MAX_MESSAGE_CHARS {
        return Err(invalid(
            "q",
            &format!("is {chars} characters long; at most {MAX_MESSAGE_CHARS}"),
        ));
    }
    let understanding = state.assistant.understand(&message).await?;
    let answers = understanding
        .answers
        .iter()
        .map(|answer| AnswerView {
            id: answer.entry.id.get(),
            question: &answer.entry.content.question,
            category: &answer.entry.content.category,
            language: answer.entry.content.language.as_str(),
            answer_html: answer.entry.answer_html.as_str(),
            confidence: answer.confidence,
            keyword_rank: answer.keyword_rank,
            semantic_rank: answer.semantic_rank,
            semantic_similarity: answer.semantic_similarity,
            classifier_rank: answer.classifier_rank,
        })
        .collect();
    Ok(HttpResponse::Ok().json(UnderstandResponse {
        message: message.trim(),
        language: understanding.language.as_str(),
        decision: understanding.decision,
        thresholds: understanding.thresholds,
        answers,
        top_classes: &understanding.top_classes,
        sentiment: &understanding.sentiment,
    }))
}

fn invalid(field: &'static str, message: &str) -> ApiError {
    ApiError(ServiceError::from(ValidationError::new(field, message)))
}
