//! `/api/v1/tickets`: list (filters, full-text search, sorting, pages), create, read,
//! change, and the comments of a ticket.

use actix_web::{HttpResponse, get, patch, post, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::caller::ApiCaller;
use super::resources::{CommentResource, ErrorBody, Page, TicketResource};
use super::{invalid, per_page};
use crate::domain::{
    AssigneeFilter, CustomerId, TeamId, TicketFilter, TicketId, TicketInput, TicketPriority,
    TicketSort, TicketSource, TicketStatus, Timestamp, UserId,
};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::service::{NewTicket, Requester, TicketListRequest, TicketUpdate};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketListParams {
    /// Words to search for in subjects, descriptions and comments (zh or en).
    q: Option<String>,
    /// A status, `unsolved` (new, open, pending) or `all` (the default).
    status: Option<String>,
    priority: Option<String>,
    /// An agent's id, or `none` for unassigned tickets.
    assignee: Option<String>,
    team: Option<i64>,
    tag: Option<String>,
    requester: Option<i64>,
    /// `true`: only tickets that missed an SLA deadline.
    breached: Option<bool>,
    /// updated (default), created, due, priority or relevance (with `q`).
    sort: Option<String>,
    /// 1-based page number.
    page: Option<i64>,
    /// 1 to 100; 25 unless given.
    per_page: Option<i64>,
}

impl TicketListParams {
    fn request(self) -> Result<TicketListRequest, ApiError> {
        let statuses = match self.status.as_deref().map(str::trim) {
            None | Some("" | "all") => Vec::new(),
            Some("unsolved") => vec![TicketStatus::New, TicketStatus::Open, TicketStatus::Pending],
            Some(raw) => {
                vec![TicketStatus::parse(raw).map_err(crate::service::ServiceError::from)?]
            }
        };
        let priority = match self.priority.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => {
                Some(TicketPriority::parse(raw).map_err(crate::service::ServiceError::from)?)
            }
        };
        let assignee = match self.assignee.as_deref().map(str::trim) {
            None | Some("") => None,
            Some("none") => Some(AssigneeFilter::Nobody),
            Some(raw) => Some(AssigneeFilter::User(
                raw.parse::<UserId>()
                    .map_err(|_| invalid("assignee", "must be an agent's id or none"))?,
            )),
        };
        let search = self.q.unwrap_or_default();
        let sort = match self.sort.as_deref() {
            None | Some("") if !search.trim().is_empty() => TicketSort::Relevance,
            None => TicketSort::Updated,
            Some(raw) => TicketSort::parse(raw),
        };
        Ok(TicketListRequest {
            filter: TicketFilter {
                statuses,
                priority,
                assignee,
                team: self.team.map(TeamId::new),
                tag: self.tag.filter(|t| !t.trim().is_empty()),
                breached_only: self.breached.unwrap_or(false),
                requester: self.requester.map(CustomerId::new),
            },
            search,
            sort,
            page: self.page.unwrap_or(1).max(1),
            per_page: per_page(self.per_page)?,
        })
    }
}

/// Lists the tickets the caller may see.
#[utoipa::path(
    tag = "tickets",
    params(TicketListParams),
    responses(
        (status = 200, description = "One page of tickets", body = Page<TicketResource>),
        (status = 401, description = "No or a wrong API token", body = ErrorBody),
        (status = 422, description = "A parameter is wrong", body = ErrorBody)
    ),
    security(("token" = []))
)]
#[get("/tickets")]
pub async fn list_tickets(
    caller: ApiCaller,
    state: web::Data<AppState>,
    params: web::Query<TicketListParams>,
) -> Result<HttpResponse, ApiError> {
    let request = params.into_inner().request()?;
    let (page, per_page) = (request.page, request.per_page);
    let found = state.tickets.list(caller.scope, request).await?;
    Ok(HttpResponse::Ok().json(Page {
        data: found
            .rows
            .into_iter()
            .map(|row| TicketResource::from(row.ticket))
            .collect(),
        page,
        per_page,
        total: found.total,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketCreate {
    subject: String,
    #[serde(default)]
    description: String,
    /// low, normal (default), high or urgent.
    priority: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    /// A known customer's id; or give `requester_email`.
    requester_id: Option<i64>,
    /// Found, or added as a new customer.
    requester_email: Option<String>,
    requester_name: Option<String>,
    assignee_id: Option<i64>,
    team_id: Option<i64>,
    /// For tickets moved from another help desk: when it really began (Unix seconds, in
    /// the past). SLA deadlines count from then.
    created_at: Option<i64>,
}

/// Opens a ticket.
#[utoipa::path(
    tag = "tickets",
    request_body = TicketCreate,
    responses(
        (status = 201, description = "The new ticket", body = TicketResource),
        (status = 401, description = "No or a wrong API token", body = ErrorBody),
        (status = 403, description = "A read-only token", body = ErrorBody),
        (status = 422, description = "A field is wrong; nothing was created", body = ErrorBody)
    ),
    security(("token" = []))
)]
#[post("/tickets")]
pub async fn create_ticket(
    caller: ApiCaller,
    state: web::Data<AppState>,
    body: web::Json<TicketCreate>,
) -> Result<HttpResponse, ApiError> {
    caller.require_write()?;
    let body = body.into_inner();
    let requester = match (body.requester_id, body.requester_email) {
        (Some(id), _) => Some(Requester::Customer(CustomerId::new(id))),
        (None, Some(email)) => Some(Requester::Contact {
            email,
            name: body.requester_name,
        }),
        (None, None) => None,
    };
    let ticket = state
        .tickets
        .create(
            caller.scope,
            NewTicket {
                input: TicketInput {
                    subject: body.subject,
                    description: body.description,
                    priority: body.priority,
                    tags: body.tags,
                },
                requester,
                assignee: body.assignee_id.map(UserId::new),
                team: body.team_id.map(TeamId::new),
                created_at: body.created_at.map(Timestamp::from_unix_seconds),
            },
            TicketSource::Api,
        )
        .await?;
    Ok(HttpResponse::Created().json(TicketResource::from(ticket)))
}

/// One ticket.
#[utoipa::path(
    tag = "tickets",
    params(("id" = i64, Path, description = "The ticket's id")),
    responses(
        (status = 200, description = "The ticket", body = TicketResource),
        (status = 404, description = "No such ticket, or not visible to the caller", body = ErrorBody)
    ),
    security(("token" = []))
)]
#[get("/tickets/{id}")]
pub async fn get_ticket(
    caller: ApiCaller,
    state: web::Data<AppState>,
    path: web::Path<TicketId>,
) -> Result<HttpResponse, ApiError> {
    let ticket = state
        .tickets
        .ticket(caller.scope, path.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(TicketResource::from(ticket)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketPatch {
    subject: Option<String>,
    /// The status moves that are allowed: new → open, pending, solved; open ↔ pending;
    /// open, pending → solved; solved → open, closed.
    status: Option<String>,
    priority: Option<String>,
    /// An agent's id, or null to unassign.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    assignee_id: Option<Option<i64>>,
    /// A team's id, or null for no team.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    team_id: Option<Option<i64>>,
    tags: Option<Vec<String>>,
}

/// `"field": null` as `Some(None)`, a missing field as `None`.
fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(deserializer).map(Some)
}

/// Changes a ticket's fields; all of them or, when one is wrong, none.
#[utoipa::path(
    tag = "tickets",
    params(("id" = i64, Path, description = "The ticket's id")),
    request_body = TicketPatch,
    responses(
        (status = 200, description = "The changed ticket", body = TicketResource),
        (status = 403, description = "A read-only token", body = ErrorBody),
        (status = 404, description = "No such ticket", body = ErrorBody),
        (status = 409, description = "Someone else changed it meanwhile", body = ErrorBody),
        (status = 422, description = "A field is wrong, or the status move is not allowed", body = ErrorBody)
    ),
    security(("token" = []))
)]
#[patch("/tickets/{id}")]
pub async fn update_ticket(
    caller: ApiCaller,
    state: web::Data<AppState>,
    path: web::Path<TicketId>,
    body: web::Json<TicketPatch>,
) -> Result<HttpResponse, ApiError> {
    caller.require_write()?;
    let body = body.into_inner();
    let ticket = state
        .tickets
        .update(
            caller.scope,
            path.into_inner(),
            TicketUpdate {
                subject: body.subject,
                status: body.status,
                priority: body.priority,
                assignee: body.assignee_id.map(|id| id.map(UserId::new)),
                team: body.team_id.map(|id| id.map(TeamId::new)),
                tags: body.tags,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(TicketResource::from(ticket)))
}

/// A ticket's comments, oldest first, internal notes included.
#[utoipa::path(
    tag = "tickets",
    params(("id" = i64, Path, description = "The ticket's id")),
    responses(
        (status = 200, description = "Every comment", body = Vec<CommentResource>),
        (status = 404, description = "No such ticket", body = ErrorBody)
    ),
    security(("token" = []))
)]
#[get("/tickets/{id}/comments")]
pub async fn list_comments(
    caller: ApiCaller,
    state: web::Data<AppState>,
    path: web::Path<TicketId>,
) -> Result<HttpResponse, ApiError> {
    let comments = state
        .tickets
        .comments(caller.scope, path.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(
        comments
            .into_iter()
            .map(CommentResource::from)
            .collect::<Vec<_>>(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentCreate {
    body: String,
    /// true (default): a reply the customer sees in their chat; false: an internal note.
    #[serde(default = "yes")]
    public: bool,
    /// Also move the ticket, e.g. to pending (waiting for the customer).
    status: Option<String>,
}

fn yes() -> bool {
    true
}

/// Adds a public reply or an internal note, written as the token's admin.
#[utoipa::path(
    tag = "tickets",
    params(("id" = i64, Path, description = "The ticket's id")),
    request_body = CommentCreate,
    responses(
        (status = 201, description = "The new comment", body = CommentResource),
        (status = 403, description = "A read-only token", body = ErrorBody),
        (status = 404, description = "No such ticket", body = ErrorBody),
        (status = 422, description = "Empty or too long, or the ticket is closed", body = ErrorBody)
    ),
    security(("token" = []))
)]
#[post("/tickets/{id}/comments")]
pub async fn create_comment(
    caller: ApiCaller,
    state: web::Data<AppState>,
    path: web::Path<TicketId>,
    body: web::Json<CommentCreate>,
) -> Result<HttpResponse, ApiError> {
    caller.require_write()?;
    let body = body.into_inner();
    let comment = state
        .tickets
        .comment(
            caller.scope,
            path.into_inner(),
            &body.body,
            body.public,
            body.status,
            Vec::new(),
        )
        .await?;
    Ok(HttpResponse::Created().json(CommentResource::from(comment)))
}
