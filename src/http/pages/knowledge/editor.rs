//! The entry editor (admins): new and edit forms, their submissions, and the live Markdown
//! preview. Invalid input comes back with everything the admin typed and every problem listed.

use super::views::{AnswerHtml, parse_entry_id};
use crate::domain::{FaqEntry, FaqEntryId, FaqInput, ValidationError};
use crate::http::AppState;
use crate::http::auth::AdminSignedIn;
use crate::http::error::{PageError, classify};
use crate::http::views::{Layout, page_with_status, redirect, render};
use crate::service::ServiceError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

/// The form as typed: variants one per line, tags separated by commas or `|`.
#[derive(Deserialize, Default)]
pub struct EntryForm {
    #[serde(default)]
    question: String,
    #[serde(default)]
    variants: String,
    #[serde(default)]
    answer: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    external_id: String,
}

impl EntryForm {
    fn blank() -> EntryForm {
        EntryForm {
            status: "draft".into(),
            ..EntryForm::default()
        }
    }

    fn from_entry(entry: &FaqEntry) -> EntryForm {
        let content = &entry.content;
        EntryForm {
            question: content.question.clone(),
            variants: content.variants.join("\n"),
            answer: content.answer_markdown.clone(),
            category: content.category.clone(),
            tags: content.tags.join(", "),
            language: content.language.as_str().to_string(),
            status: content.status.as_str().to_string(),
            external_id: content.external_id.clone().unwrap_or_default(),
        }
    }

    fn to_input(&self) -> FaqInput {
        FaqInput {
            question: self.question.clone(),
            variants: split_list(&self.variants, &['\n', '|']),
            answer: self.answer.clone(),
            category: self.category.clone(),
            tags: split_list(&self.tags, &['\n', '|', ',', '，', '、']),
            language: self.language.clone(),
            status: self.status.clone(),
            external_id: self.external_id.clone(),
        }
    }

    /// Auto-detect, zh, en — plus the entry's own code when it is another language.
    fn language_choices(&self) -> Vec<Choice> {
        let current = self.language.trim().to_ascii_lowercase();
        let mut options = vec![
            ("", "Detect from the text".to_string()),
            ("zh", "中文 (zh)".to_string()),
            ("en", "English (en)".to_string()),
        ];
        if !["", "zh", "en"].contains(&current.as_str()) {
            options.push((self.language.as_str(), self.language.clone()));
        }
        options
            .into_iter()
            .map(|(value, label)| Choice {
                selected: value.eq_ignore_ascii_case(&current),
                value: value.to_string(),
                label,
            })
            .collect()
    }
}

fn split_list(raw: &str, separators: &[char]) -> Vec<String> {
    raw.split(separators)
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

pub struct Choice {
    value: String,
    label: String,
    selected: bool,
}

/// A problem with one field, as the form shows it.
pub struct FieldError {
    field: &'static str,
    label: &'static str,
    message: String,
}

impl FieldError {
    fn new(error: ValidationError) -> FieldError {
        let label = match error.field {
            "question" => "Question",
            "variants" => "Other phrasings",
            "answer" => "Answer",
            "category" => "Category",
            "tags" => "Tags",
            "language" => "Language",
            "status" => "Status",
            "external_id" => "External id",
            _ => "Entry",
        };
        FieldError {
            field: error.field,
            label,
            message: error.message,
        }
    }
}

#[derive(Template)]
#[template(path = "knowledge/editor.html")]
struct EditorPage {
    layout: Layout,
    /// `None` for a new entry.
    entry_id: Option<FaqEntryId>,
    revision: Option<i64>,
    form: EntryForm,
    languages: Vec<Choice>,
    categories: Vec<String>,
    errors: Vec<FieldError>,
    /// A conflict (e.g. a taken external id) or other message about the whole entry.
    problem: Option<String>,
    preview: AnswerHtml,
}

impl EditorPage {
    fn has_error(&self, field: &str) -> bool {
        self.errors.iter().any(|error| error.field == field)
    }

    /// `aria-invalid` for a field.
    fn invalid(&self, field: &str) -> &'static str {
        if self.has_error(field) {
            "true"
        } else {
            "false"
        }
    }
}

#[derive(Template)]
#[template(path = "knowledge/preview.html")]
struct PreviewFragment {
    preview: AnswerHtml,
}

struct Editing {
    entry_id: Option<FaqEntryId>,
    revision: Option<i64>,
}

async fn editor(
    admin: &AdminSignedIn,
    state: &AppState,
    editing: Editing,
    form: EntryForm,
    errors: Vec<FieldError>,
    problem: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let title = if editing.entry_id.is_some() {
        "Edit entry"
    } else {
        "New entry"
    };
    page_with_status(
        status,
        &EditorPage {
            layout: Layout::signed_in(title, "knowledge", &admin.0, &state.csrf_key),
            entry_id: editing.entry_id,
            revision: editing.revision,
            languages: form.language_choices(),
            categories: state.knowledge.categories().await?,
            preview: AnswerHtml(state.knowledge.preview(&form.answer)),
            form,
            errors,
            problem,
        },
    )
}

pub async fn new_entry(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let editing = Editing {
        entry_id: None,
        revision: None,
    };
    let form = EntryForm::blank();
    editor(&admin, &state, editing, form, vec![], None, StatusCode::OK).await
}

pub async fn edit_entry(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let id = parse_entry_id(&id)?;
    let entry = state.knowledge.entry(id).await?;
    let editing = Editing {
        entry_id: Some(entry.id),
        revision: Some(entry.revision),
    };
    let form = EntryForm::from_entry(&entry);
    editor(&admin, &state, editing, form, vec![], None, StatusCode::OK).await
}

pub async fn create(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
    form: web::Form<EntryForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    let saved = state.knowledge.create(form.to_input()).await;
    let editing = Editing {
        entry_id: None,
        revision: None,
    };
    after_save(&admin, &state, editing, form, saved).await
}

pub async fn update(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<EntryForm>,
) -> Result<HttpResponse, PageError> {
    let id = parse_entry_id(&id)?;
    let form = form.into_inner();
    let saved = state.knowledge.update(id, form.to_input()).await;
    let editing = Editing {
        entry_id: Some(id),
        revision: None,
    };
    after_save(&admin, &state, editing, form, saved).await
}

/// Saved: on to the entry. Refused: the same form again, with the reasons.
async fn after_save(
    admin: &AdminSignedIn,
    state: &AppState,
    editing: Editing,
    form: EntryForm,
    saved: Result<FaqEntry, ServiceError>,
) -> Result<HttpResponse, PageError> {
    match saved {
        Ok(entry) => Ok(redirect(&format!("/knowledge/{}?saved=1", entry.id))),
        Err(ServiceError::InvalidFields(errors)) => {
            let errors = errors.into_iter().map(FieldError::new).collect();
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            editor(admin, state, editing, form, errors, None, status).await
        }
        Err(ServiceError::Invalid(error)) => {
            let errors = vec![FieldError::new(error)];
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            editor(admin, state, editing, form, errors, None, status).await
        }
        Err(error @ ServiceError::Conflict(_)) => {
            let (status, _, message) = classify(&error);
            editor(admin, state, editing, form, vec![], Some(message), status).await
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
pub struct PreviewForm {
    #[serde(default)]
    answer: String,
}

/// The answer as the bot and agents will see it, sanitised exactly as when it is saved.
pub async fn preview(
    _admin: AdminSignedIn,
    state: web::Data<AppState>,
    form: web::Form<PreviewForm>,
) -> Result<HttpResponse, PageError> {
    let fragment = PreviewFragment {
        preview: AnswerHtml(state.knowledge.preview(&form.answer)),
    };
    let html = render(&fragment).map_err(|e| PageError(ServiceError::internal(e)))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(html))
}
