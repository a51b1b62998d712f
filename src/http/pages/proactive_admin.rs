//! Admin → Proactive messages: rules that greet customers unasked (on a tracked event or
//! after time on a page), with conditions on the profile, a frequency cap, pause and resume.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::proactive::{ProactiveRule, ProactiveRuleId, ProactiveRuleInput, Trigger};
use crate::http::AppState;
use crate::http::auth::AdminSignedIn;
use crate::http::error::{PageError, classify};
use crate::http::views::{Layout, page_with_status, redirect};
use crate::service::ServiceError;

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/admin/proactive", web::get().to(show))
        .route("/admin/proactive", web::post().to(create))
        .route("/admin/proactive/{id}", web::get().to(edit))
        .route("/admin/proactive/{id}", web::post().to(update))
        .route(
            "/admin/proactive/{id}/{action:(pause|resume|delete)}",
            web::post().to(act),
        );
}

struct RuleRow {
    id: i64,
    name: String,
    trigger: String,
    conditions: String,
    message: String,
    cap: String,
    paused: bool,
    sends: i64,
}

impl From<&ProactiveRule> for RuleRow {
    fn from(rule: &ProactiveRule) -> RuleRow {
        let content = &rule.content;
        let trigger = match &content.trigger {
            Trigger::Event { name } => format!("event {name}"),
            Trigger::Page {
                url_pattern,
                seconds_on_page,
            } => format!("{seconds_on_page} s on {url_pattern}"),
        };
        let mut conditions: Vec<String> = content.conditions.tags.clone();
        if let Some(language) = &content.conditions.language {
            conditions.push(format!("language {}", language.as_str()));
        }
        conditions.extend(
            content
                .conditions
                .attributes
                .iter()
                .map(|(key, value)| format!("{key}={value}")),
        );
        RuleRow {
            id: rule.id.get(),
            name: content.name.clone(),
            trigger,
            conditions: if conditions.is_empty() {
                "everyone".into()
            } else {
                conditions.join(", ")
            },
            message: content.message.clone(),
            cap: format!(
                "{} per {} day{}",
                content.cap.max_sends,
                content.cap.per_days,
                if content.cap.per_days == 1 { "" } else { "s" }
            ),
            paused: rule.paused,
            sends: rule.sends,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/proactive.html")]
struct ProactivePage {
    layout: Layout,
    rules: Vec<RuleRow>,
    /// The rule being edited, or None for the "new rule" form.
    editing: Option<i64>,
    form: ProactiveRuleInput,
    errors: Vec<String>,
}

fn blank_form() -> ProactiveRuleInput {
    ProactiveRuleInput {
        trigger: "event".into(),
        event_name: "cart_abandoned".into(),
        max_sends: "1".into(),
        per_days: "7".into(),
        seconds_on_page: "30".into(),
        ..ProactiveRuleInput::default()
    }
}

async fn render_page(
    admin: &AdminSignedIn,
    state: &AppState,
    status: StatusCode,
    editing: Option<i64>,
    form: ProactiveRuleInput,
    errors: Vec<String>,
) -> Result<HttpResponse, PageError> {
    let rules = state.proactive.rules().await?;
    page_with_status(
        status,
        &ProactivePage {
            layout: Layout::signed_in("Proactive messages", "admin", &admin.0, &state.csrf_key),
            rules: rules.iter().map(RuleRow::from).collect(),
            editing,
            form,
            errors,
        },
    )
}

async fn show(admin: AdminSignedIn, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    render_page(
        &admin,
        &state,
        StatusCode::OK,
        None,
        blank_form(),
        Vec::new(),
    )
    .await
}

async fn edit(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    let rule = state.proactive.rule(ProactiveRuleId::new(*path)).await?;
    render_page(
        &admin,
        &state,
        StatusCode::OK,
        Some(*path),
        rule.content.to_input(),
        Vec::new(),
    )
    .await
}

async fn save(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
    id: Option<i64>,
    form: ProactiveRuleInput,
) -> Result<HttpResponse, PageError> {
    match state
        .proactive
        .save(id.map(ProactiveRuleId::new), &form)
        .await
    {
        Ok(_) => Ok(redirect("/admin/proactive")),
        Err(error @ (ServiceError::Invalid(_) | ServiceError::InvalidFields(_))) => {
            let (status, _, message) = classify(&error);
            let errors = message.lines().map(str::to_string).collect();
            render_page(&admin, &state, status, id, form, errors).await
        }
        Err(error) => Err(error.into()),
    }
}

async fn create(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
    form: web::Form<ProactiveRuleInput>,
) -> Result<HttpResponse, PageError> {
    save(admin, state, None, form.into_inner()).await
}

async fn update(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<ProactiveRuleInput>,
) -> Result<HttpResponse, PageError> {
    let id = *path;
    save(admin, state, Some(id), form.into_inner()).await
}

#[derive(Deserialize)]
pub struct ActionPath {
    id: i64,
    action: String,
}

async fn act(
    _admin: AdminSignedIn,
    state: web::Data<AppState>,
    path: web::Path<ActionPath>,
) -> Result<HttpResponse, PageError> {
    let id = ProactiveRuleId::new(path.id);
    match path.action.as_str() {
        "pause" => state.proactive.set_paused(id, true).await?,
        "resume" => state.proactive.set_paused(id, false).await?,
        _ => state.proactive.delete(id).await?,
    }
    Ok(redirect("/admin/proactive"))
}
