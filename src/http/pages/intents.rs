//! Admin → Intents: the built-in intents with their phrases (add your own), the model's
//! training state and calibrated thresholds, and a box to try a message.

use crate::domain::{BuiltinIntent, IntentLabel};
use crate::http::AppState;
use crate::http::api::MAX_MESSAGE_CHARS;
use crate::http::auth::AdminSignedIn;
use crate::http::error::{PageError, classify};
use crate::http::views::{Layout, page_with_status, redirect};
use crate::service::ServiceError;
use crate::service::assistant::{AssistantStatus, Decision, Understanding};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

struct PhraseRow {
    id: i64,
    text: String,
}

struct IntentRow {
    name: &'static str,
    description: &'static str,
    seeds: &'static [&'static str],
    phrases: Vec<PhraseRow>,
}

struct TriedMessage {
    message: String,
    decision: String,
    answers: Vec<(String, String)>,
    classes: Vec<(String, String)>,
    sentiment: String,
    cues: String,
}

#[derive(Template)]
#[template(path = "admin/intents.html")]
struct IntentsPage {
    layout: Layout,
    status: AssistantStatus,
    intents: Vec<IntentRow>,
    form: PhraseForm,
    tried: Option<TriedMessage>,
    error: Option<String>,
    notice: Option<String>,
}

impl IntentsPage {
    fn percent(value: &Option<f32>) -> String {
        value.map_or_else(|| "—".to_string(), |v| format!("{:.1}%", v * 100.0))
    }
}

#[derive(Deserialize, Default)]
pub struct PhraseForm {
    #[serde(default)]
    intent: String,
    #[serde(default)]
    text: String,
}

#[derive(Deserialize)]
pub struct PageQuery {
    #[serde(rename = "try")]
    try_message: Option<String>,
    added: Option<String>,
}

pub async fn show(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, PageError> {
    let query = query.into_inner();
    let mut error = None;
    let tried = match query.try_message.filter(|m| !m.trim().is_empty()) {
        Some(message) if message.chars().count() > MAX_MESSAGE_CHARS => {
            error = Some(format!(
                "A message is at most {MAX_MESSAGE_CHARS} characters."
            ));
            None
        }
        Some(message) => match state.assistant.understand(&message).await {
            Ok(understanding) => Some(describe(message, &understanding)),
            Err(ServiceError::Unavailable(why)) => {
                error = Some(why);
                None
            }
            Err(other) => return Err(other.into()),
        },
        None => None,
    };
    let notice = query
        .added
        .map(|intent| format!("Phrase added to {intent}. The bot retrains in a few seconds."));
    render(
        &admin,
        &state,
        PhraseForm::default(),
        tried,
        error,
        notice,
        StatusCode::OK,
    )
    .await
}

pub async fn add_phrase(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
    form: web::Form<PhraseForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    let by = Some(admin.0.session.user.id);
    match state
        .assistant
        .add_intent_phrase(&form.intent, &form.text, by)
        .await
    {
        Ok(phrase) => {
            let query = serde_urlencoded::to_string([("added", phrase.intent.as_str())])
                .map_err(ServiceError::internal)?;
            Ok(redirect(&format!("/admin/intents?{query}")))
        }
        Err(
            error @ (ServiceError::Invalid(_)
            | ServiceError::InvalidFields(_)
            | ServiceError::Conflict(_)),
        ) => {
            let (status, _, message) = classify(&error);
            render(&admin, &state, form, None, Some(message), None, status).await
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn delete_phrase(
    _admin: AdminSignedIn,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    state
        .assistant
        .delete_intent_phrase(id.into_inner())
        .await?;
    Ok(redirect("/admin/intents"))
}

async fn render(
    admin: &AdminSignedIn,
    state: &AppState,
    form: PhraseForm,
    tried: Option<TriedMessage>,
    error: Option<String>,
    notice: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let phrases = state.assistant.intent_phrases().await?;
    let intents = BuiltinIntent::ALL
        .into_iter()
        .map(|intent| IntentRow {
            name: intent.as_str(),
            description: intent.description(),
            seeds: intent.seed_phrases(),
            phrases: phrases
                .iter()
                .filter(|p| p.intent == intent)
                .map(|p| PhraseRow {
                    id: p.id,
                    text: p.text.clone(),
                })
                .collect(),
        })
        .collect();
    page_with_status(
        status,
        &IntentsPage {
            layout: Layout::signed_in("Intents", "admin", &admin.0, &state.csrf_key),
            status: state.assistant.status(),
            intents,
            form,
            tried,
            error,
            notice,
        },
    )
}

fn describe(message: String, understanding: &Understanding) -> TriedMessage {
    let decision = match understanding.decision {
        Decision::Intent(intent) => format!("intent: {}", intent.as_str()),
        Decision::Answer => "answer".to_string(),
        Decision::Suggest => "did you mean…".to_string(),
        Decision::Unknown => "don't know".to_string(),
    };
    let answers = understanding
        .answers
        .iter()
        .map(|a| {
            (
                a.entry.content.question.clone(),
                format!("{:.2}", a.confidence),
            )
        })
        .collect();
    let classes = understanding
        .top_classes
        .iter()
        .map(|scored| {
            let label = match scored.label {
                IntentLabel::Builtin(intent) => intent.as_str().to_string(),
                IntentLabel::Faq(id) => understanding
                    .answers
                    .iter()
                    .find(|answer| answer.entry.id == id)
                    .map_or_else(
                        || format!("FAQ #{id}"),
                        |a| a.entry.content.question.clone(),
                    ),
                IntentLabel::OutOfScope => "out of scope".to_string(),
            };
            (label, format!("{:.2}", scored.confidence))
        })
        .collect();
    let cues = understanding
        .sentiment
        .lexicon
        .cues
        .iter()
        .map(|cue| format!("{} ({:+.2})", cue.term, cue.weight))
        .collect::<Vec<_>>()
        .join(", ");
    TriedMessage {
        message,
        decision,
        answers,
        classes,
        sentiment: format!("{:+.2}", understanding.sentiment.score),
        cues,
    }
}
