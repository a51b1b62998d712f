//! Admin → Agents & teams (capacity, which inboxes each agent works, teams, routing rules)
//! and Admin → Canned responses.

use std::collections::HashSet;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::{CannedResponseId, InboxId, RoutingRuleId, TeamId, UserId, ValidationError};
use crate::http::AppState;
use crate::http::auth::AdminSignedIn;
use crate::http::error::{PageError, classify};
use crate::http::views::{Layout, page_with_status, redirect};
use crate::service::ServiceError;

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/admin/agents", web::get().to(agents_page))
        .route("/admin/agents/{id}/capacity", web::post().to(set_capacity))
        .route(
            "/admin/inboxes/{id}/members",
            web::post().to(set_inbox_members),
        )
        .route("/admin/teams", web::post().to(create_team))
        .route(
            "/admin/teams/{id}/members",
            web::post().to(set_team_members),
        )
        .route("/admin/teams/{id}/delete", web::post().to(delete_team))
        .route("/admin/routing-rules", web::post().to(add_rule))
        .route(
            "/admin/routing-rules/{id}/delete",
            web::post().to(delete_rule),
        )
        .route("/admin/canned", web::get().to(canned_page))
        .route("/admin/canned", web::post().to(save_canned))
        .route("/admin/canned/{id}", web::post().to(save_canned))
        .route("/admin/canned/{id}/delete", web::post().to(delete_canned));
}

#[derive(Deserialize, Default)]
pub struct NoticeQuery {
    #[serde(default)]
    saved: Option<String>,
}

/// An admin form that failed: what to show above the page (with 422/409), or a real error.
fn rejected(error: ServiceError) -> Result<(StatusCode, String), PageError> {
    match error {
        ServiceError::Invalid(_) | ServiceError::InvalidFields(_) | ServiceError::Conflict(_) => {
            let (status, _, message) = classify(&error);
            Ok((status, message))
        }
        other => Err(other.into()),
    }
}

fn saved(page: &str, what: &str) -> HttpResponse {
    let query = serde_urlencoded::to_string([("saved", what)]).unwrap_or_default();
    redirect(&format!("{page}?{query}"))
}

/// Repeated `member` fields of a checkbox list (serde_urlencoded can't collect repeats).
fn members(body: &web::Bytes) -> Result<Vec<UserId>, PageError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|_| ServiceError::NotFound)?;
    Ok(pairs
        .into_iter()
        .filter(|(name, _)| name == "member")
        .filter_map(|(_, value)| value.parse().ok().map(UserId::new))
        .collect())
}

// ---- agents & teams ----

struct AgentRow {
    id: i64,
    name: String,
    presence: &'static str,
    open: i64,
    capacity: i64,
}

struct InboxMembership {
    id: i64,
    name: String,
    /// Agent id → works this inbox.
    members: HashSet<i64>,
}

struct TeamRow {
    id: TeamId,
    name: String,
    members: HashSet<i64>,
}

struct RuleRow {
    id: RoutingRuleId,
    description: String,
}

#[derive(Template)]
#[template(path = "admin/agents.html")]
struct AgentsPage {
    layout: Layout,
    agents: Vec<AgentRow>,
    inboxes: Vec<InboxMembership>,
    teams: Vec<TeamRow>,
    rules: Vec<RuleRow>,
    categories: Vec<String>,
    notice: Option<String>,
    error: Option<String>,
}

async fn render_agents(
    admin: &AdminSignedIn,
    state: &AppState,
    notice: Option<String>,
    error: Option<(StatusCode, String)>,
) -> Result<HttpResponse, PageError> {
    let agents: Vec<AgentRow> = state
        .desk
        .agents()
        .await?
        .into_iter()
        .map(|agent| AgentRow {
            id: agent.id.get(),
            name: agent.name,
            presence: agent.presence.as_str(),
            open: agent.open,
            capacity: agent.capacity,
        })
        .collect();
    let mut inboxes = Vec::new();
    for inbox in state.conversations.inboxes().await? {
        let members = state
            .desk
            .inbox_members(inbox.id)
            .await?
            .into_iter()
            .map(UserId::get)
            .collect();
        inboxes.push(InboxMembership {
            id: inbox.id.get(),
            name: inbox.settings.name,
            members,
        });
    }
    let teams = state
        .desk
        .teams()
        .await?
        .into_iter()
        .map(|team| TeamRow {
            id: team.id,
            name: team.name,
            members: team.members.into_iter().map(UserId::get).collect(),
        })
        .collect();
    let rules = state
        .desk
        .routing_rules()
        .await?
        .into_iter()
        .map(|rule| {
            let mut conditions = Vec::new();
            if let Some(inbox) = rule.inbox_id {
                let name = inboxes
                    .iter()
                    .find(|i| i.id == inbox.get())
                    .map_or_else(|| format!("#{inbox}"), |i| i.name.clone());
                conditions.push(format!("inbox is {name}"));
            }
            if let Some(language) = &rule.language {
                conditions.push(format!("language is {language}"));
            }
            if let Some(category) = &rule.category {
                conditions.push(format!("the question is about {category}"));
            }
            RuleRow {
                id: rule.id,
                description: format!("If {} → team {}", conditions.join(" and "), rule.team_name),
            }
        })
        .collect();
    let (status, error) = match error {
        Some((status, message)) => (status, Some(message)),
        None => (StatusCode::OK, None),
    };
    page_with_status(
        status,
        &AgentsPage {
            layout: Layout::signed_in("Agents & teams", "admin", &admin.0, &state.csrf_key),
            agents,
            inboxes,
            teams,
            rules,
            categories: state.knowledge.categories().await?,
            notice,
            error,
        },
    )
}

async fn agents_page(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
    query: web::Query<NoticeQuery>,
) -> Result<HttpResponse, PageError> {
    render_agents(&admin, &state, query.into_inner().saved, None).await
}

/// Saves, then back to the agents page with a notice, or the page with the problem.
async fn agents_outcome(
    admin: &AdminSignedIn,
    state: &AppState,
    outcome: Result<(), ServiceError>,
    what: &str,
) -> Result<HttpResponse, PageError> {
    match outcome {
        Ok(()) => Ok(saved("/admin/agents", what)),
        Err(error) => render_agents(admin, state, None, Some(rejected(error)?)).await,
    }
}

#[derive(Deserialize)]
pub struct CapacityForm {
    #[serde(default)]
    capacity: String,
}

async fn set_capacity(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<CapacityForm>,
) -> Result<HttpResponse, PageError> {
    let outcome = state
        .desk
        .set_capacity(UserId::new(*path), &form.capacity)
        .await;
    agents_outcome(&admin, &state, outcome, "Capacity saved.").await
}

async fn set_inbox_members(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let outcome = state
        .desk
        .set_inbox_members(InboxId::new(*path), members(&body)?)
        .await;
    agents_outcome(&admin, &state, outcome, "The inbox's agents are saved.").await
}

#[derive(Deserialize)]
pub struct TeamForm {
    #[serde(default)]
    name: String,
}

async fn create_team(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
    form: web::Form<TeamForm>,
) -> Result<HttpResponse, PageError> {
    let outcome = state.desk.create_team(&form.name).await.map(|_| ());
    agents_outcome(&admin, &state, outcome, "Team created.").await
}

async fn set_team_members(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
    path: web::Path<TeamId>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let outcome = state.desk.set_team_members(*path, members(&body)?).await;
    agents_outcome(&admin, &state, outcome, "Team members saved.").await
}

async fn delete_team(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
    path: web::Path<TeamId>,
) -> Result<HttpResponse, PageError> {
    let outcome = state.desk.delete_team(*path).await;
    agents_outcome(&admin, &state, outcome, "Team deleted.").await
}

#[derive(Deserialize)]
pub struct RuleForm {
    #[serde(default)]
    team: Option<TeamId>,
    #[serde(default)]
    inbox: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    category: String,
}

async fn add_rule(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
    form: web::Form<RuleForm>,
) -> Result<HttpResponse, PageError> {
    let inbox = form.inbox.parse().ok().map(InboxId::new);
    let outcome = match form.team {
        Some(team) => {
            state
                .desk
                .add_routing_rule(team, inbox, &form.language, &form.category)
                .await
        }
        None => Err(ServiceError::Invalid(ValidationError::new(
            "team",
            "choose the team the rule sends conversations to",
        ))),
    };
    agents_outcome(&admin, &state, outcome, "Rule added.").await
}

async fn delete_rule(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
    path: web::Path<RoutingRuleId>,
) -> Result<HttpResponse, PageError> {
    let outcome = state.desk.delete_routing_rule(*path).await;
    agents_outcome(&admin, &state, outcome, "Rule deleted.").await
}

// ---- canned responses ----

#[derive(Template)]
#[template(path = "admin/canned.html")]
struct CannedPage {
    layout: Layout,
    responses: Vec<crate::domain::CannedResponse>,
    form_shortcut: String,
    form_body: String,
    notice: Option<String>,
    error: Option<String>,
}

async fn canned_page(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
    query: web::Query<NoticeQuery>,
) -> Result<HttpResponse, PageError> {
    render_canned(
        &admin,
        &state,
        query.into_inner().saved,
        None,
        CannedForm::default(),
    )
    .await
}

async fn render_canned(
    admin: &AdminSignedIn,
    state: &AppState,
    notice: Option<String>,
    error: Option<(StatusCode, String)>,
    form: CannedForm,
) -> Result<HttpResponse, PageError> {
    let (status, error) = match error {
        Some((status, message)) => (status, Some(message)),
        None => (StatusCode::OK, None),
    };
    page_with_status(
        status,
        &CannedPage {
            layout: Layout::signed_in("Canned responses", "admin", &admin.0, &state.csrf_key),
            responses: state.desk.canned_responses().await?,
            form_shortcut: form.shortcut,
            form_body: form.body,
            notice,
            error,
        },
    )
}

#[derive(Deserialize, Default)]
pub struct CannedForm {
    #[serde(default)]
    shortcut: String,
    #[serde(default)]
    body: String,
}

async fn save_canned(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
    path: Option<web::Path<CannedResponseId>>,
    form: web::Form<CannedForm>,
) -> Result<HttpResponse, PageError> {
    let id = path.map(|p| p.into_inner());
    match state
        .desk
        .save_canned_response(id, &form.shortcut, &form.body)
        .await
    {
        Ok(()) => Ok(saved("/admin/canned", "Canned response saved.")),
        Err(error) => {
            let problem = rejected(error)?;
            render_canned(&admin, &state, None, Some(problem), form.into_inner()).await
        }
    }
}

async fn delete_canned(
    _admin: AdminSignedIn,
    state: web::Data<AppState>,
    path: web::Path<CannedResponseId>,
) -> Result<HttpResponse, PageError> {
    state.desk.delete_canned_response(*path).await?;
    Ok(saved("/admin/canned", "Canned response deleted."))
}
