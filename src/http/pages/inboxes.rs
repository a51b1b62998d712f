//! Admin → Inboxes: website chat widgets, their snippet, settings and identity secret, and a
//! preview page that embeds the widget like a shop's site would.

use crate::domain::{Inbox, InboxId, InboxInput};
use crate::http::AppState;
use crate::http::assets;
use crate::http::auth::AdminSignedIn;
use crate::http::error::PageError;
use crate::http::views::{Layout, page, page_with_status, redirect};
use crate::service::ServiceError;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

/// The form's fields as typed (kept on error so nothing is lost).
#[derive(Clone, Deserialize, Default)]
pub struct InboxForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    allowed_origins: String,
    #[serde(default)]
    greeting: String,
    #[serde(default)]
    color: String,
    #[serde(default)]
    position: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    offline_message: String,
    #[serde(default)]
    business_hours: String,
    #[serde(default)]
    utc_offset_minutes: String,
    #[serde(default)]
    unanswered_before_handoff: String,
    #[serde(default)]
    require_identity: Option<String>,
}

impl InboxForm {
    fn from_inbox(inbox: &Inbox) -> InboxForm {
        let settings = &inbox.settings;
        InboxForm {
            name: settings.name.clone(),
            allowed_origins: settings
                .allowed_origins
                .iter()
                .map(|o| o.as_str().to_string())
                .collect::<Vec<_>>()
                .join("\n"),
            greeting: settings.greeting.clone(),
            color: settings.color.clone(),
            position: settings.position.clone(),
            language: settings.language.as_str().to_string(),
            offline_message: settings.offline_message.clone(),
            business_hours: settings.business_hours_text.clone(),
            utc_offset_minutes: settings.utc_offset_minutes.to_string(),
            unanswered_before_handoff: settings.unanswered_before_handoff.to_string(),
            require_identity: settings.require_identity.then(|| "on".to_string()),
        }
    }

    fn blank() -> InboxForm {
        InboxForm {
            color: "#2563eb".into(),
            position: "right".into(),
            language: "auto".into(),
            utc_offset_minutes: "0".into(),
            unanswered_before_handoff: "2".into(),
            ..InboxForm::default()
        }
    }

    fn to_input(&self) -> Result<InboxInput, ServiceError> {
        let number = |field: &'static str, raw: &str| -> Result<i64, ServiceError> {
            raw.trim().parse::<i64>().map_err(|_| {
                ServiceError::Invalid(crate::domain::ValidationError::new(
                    field,
                    format!("{raw:?} is not a whole number"),
                ))
            })
        };
        let offset = number("utc_offset_minutes", &self.utc_offset_minutes)?;
        Ok(InboxInput {
            name: self.name.clone(),
            allowed_origins: self.allowed_origins.clone(),
            greeting: self.greeting.clone(),
            color: self.color.clone(),
            position: self.position.clone(),
            language: self.language.clone(),
            offline_message: self.offline_message.clone(),
            business_hours: self.business_hours.clone(),
            utc_offset_minutes: i32::try_from(offset).unwrap_or(i32::MAX),
            require_identity: self.require_identity.clone(),
            unanswered_before_handoff: number(
                "unanswered_before_handoff",
                &self.unanswered_before_handoff,
            )?,
        })
    }
}

struct InboxView {
    id: String,
    name: String,
    snippet: String,
    origins: String,
    secret: String,
    form: InboxForm,
}

#[derive(Template)]
#[template(path = "admin/inboxes.html")]
struct InboxesPage {
    layout: Layout,
    inboxes: Vec<InboxView>,
    new_form: InboxForm,
    editing: Option<String>,
    errors: Vec<String>,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/inbox_preview.html")]
struct PreviewPage {
    name: String,
    token: String,
    color: String,
    position: String,
    css: String,
}

/// Where kefu is reached from the admin's browser, for the snippet.
fn base_url(request: &HttpRequest) -> String {
    let info = request.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

#[derive(Deserialize)]
pub struct ListQuery {
    saved: Option<String>,
}

pub async fn list(
    admin: AdminSignedIn,
    request: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    let notice = query.saved.as_ref().map(|name| format!("Saved {name}."));
    render(
        &admin,
        &request,
        &state,
        RenderOptions {
            notice,
            ..RenderOptions::default()
        },
        StatusCode::OK,
    )
    .await
}

#[derive(Default)]
struct RenderOptions {
    new_form: Option<InboxForm>,
    edited: Option<(i64, InboxForm)>,
    errors: Vec<String>,
    notice: Option<String>,
}

async fn render(
    admin: &AdminSignedIn,
    request: &HttpRequest,
    state: &AppState,
    options: RenderOptions,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let base = base_url(request);
    let inboxes = state.conversations.inboxes().await?;
    let views = inboxes
        .iter()
        .map(|inbox| {
            let form = match &options.edited {
                Some((id, form)) if *id == inbox.id.get() => form.clone(),
                _ => InboxForm::from_inbox(inbox),
            };
            InboxView {
                id: inbox.id.to_string(),
                name: inbox.settings.name.clone(),
                snippet: format!(
                    "<script src=\"{base}/widget.js\" data-inbox=\"{}\" data-color=\"{}\" data-position=\"{}\" async></script>",
                    inbox.public_token, inbox.settings.color, inbox.settings.position
                ),
                origins: inbox
                    .settings
                    .allowed_origins
                    .iter()
                    .map(|o| o.as_str().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                secret: inbox.identity_secret.clone(),
                form,
            }
        })
        .collect();
    page_with_status(
        status,
        &InboxesPage {
            layout: Layout::signed_in("Inboxes", "admin", &admin.0, &state.csrf_key),
            inboxes: views,
            new_form: options.new_form.unwrap_or_else(InboxForm::blank),
            editing: options.edited.map(|(id, _)| id.to_string()),
            errors: options.errors,
            notice: options.notice,
        },
    )
}

fn error_lines(error: &ServiceError) -> Vec<String> {
    match error {
        ServiceError::InvalidFields(errors) => errors.iter().map(ToString::to_string).collect(),
        other => vec![other.to_string()],
    }
}

pub async fn create(
    admin: AdminSignedIn,
    request: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<InboxForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    let outcome = match form.to_input() {
        Ok(input) => state.conversations.create_inbox(input).await,
        Err(error) => Err(error),
    };
    match outcome {
        Ok(inbox) => Ok(redirect(&saved_url(&inbox))),
        Err(error @ (ServiceError::Invalid(_) | ServiceError::InvalidFields(_))) => {
            let options = RenderOptions {
                new_form: Some(form),
                errors: error_lines(&error),
                ..RenderOptions::default()
            };
            render(
                &admin,
                &request,
                &state,
                options,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn update(
    admin: AdminSignedIn,
    request: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<InboxForm>,
) -> Result<HttpResponse, PageError> {
    let id = id.into_inner();
    let form = form.into_inner();
    let outcome = match form.to_input() {
        Ok(input) => {
            state
                .conversations
                .update_inbox(InboxId::new(id), input)
                .await
        }
        Err(error) => Err(error),
    };
    match outcome {
        Ok(inbox) => Ok(redirect(&saved_url(&inbox))),
        Err(error @ (ServiceError::Invalid(_) | ServiceError::InvalidFields(_))) => {
            let options = RenderOptions {
                edited: Some((id, form)),
                errors: error_lines(&error),
                ..RenderOptions::default()
            };
            render(
                &admin,
                &request,
                &state,
                options,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

fn saved_url(inbox: &Inbox) -> String {
    let query =
        serde_urlencoded::to_string([("saved", inbox.settings.name.as_str())]).unwrap_or_default();
    format!("/admin/inboxes?{query}#inbox-{}", inbox.id)
}

/// A plain page with the snippet, standing in for the shop's site.
pub async fn preview(
    _admin: AdminSignedIn,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    let inbox = state
        .conversations
        .inbox(InboxId::new(id.into_inner()))
        .await?;
    let mut response = page(&PreviewPage {
        name: inbox.settings.name.clone(),
        token: inbox.public_token.clone(),
        color: inbox.settings.color.clone(),
        position: inbox.settings.position.clone(),
        css: assets::url("app.css"),
    })?;
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}
