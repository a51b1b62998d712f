//! Tickets in the browser: the list with filters, search, sorting, pages and bulk actions;
//! a new ticket; the ticket page with its properties, SLA deadlines, linked chats and the
//! thread of public replies and internal notes.

mod views;

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::{
    AssigneeFilter, DeskScope, TeamId, TicketFilter, TicketId, TicketInput, TicketPriority,
    TicketSort, TicketStatus, UserId, ValidationError,
};
use crate::http::AppState;
use crate::http::auth::SignedIn;
use crate::http::error::{PageError, classify};
use crate::http::request_info::is_htmx;
use crate::http::uploads;
use crate::http::views::{Choice, Layout, format_time, page, page_with_status, redirect};
use crate::service::{
    BulkAction, NewTicket, Requester, ServiceError, TicketListRequest, TicketUpdate,
};
use views::{
    CommentView, RowView, assignee_choices, priority_choices, requester_label, sla_lines,
    status_choices,
};

pub const PAGE_SIZE: i64 = 25;
/// A reply without files is a small form.
const FORM_LIMIT_BYTES: usize = 64 * 1024;

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/tickets", web::get().to(list))
        .route("/tickets", web::post().to(create))
        .route("/tickets/new", web::get().to(new_form))
        .route("/tickets/bulk", web::post().to(bulk))
        .route("/tickets/{id}", web::get().to(show))
        .route("/tickets/{id}", web::post().to(update))
        .route("/tickets/{id}/comments", web::post().to(comment));
}

fn scope(who: &SignedIn) -> DeskScope {
    DeskScope {
        user: who.session.user.id,
        is_admin: who.session.user.is_admin(),
    }
}

fn invalid(field: &'static str, message: &str) -> ServiceError {
    ServiceError::Invalid(ValidationError::new(field, message))
}

async fn agent_names(state: &AppState) -> Result<Vec<(UserId, String)>, ServiceError> {
    Ok(state
        .desk
        .agents()
        .await?
        .into_iter()
        .map(|agent| (agent.id, agent.name))
        .collect())
}

// ---- the list ----

#[derive(Deserialize, Default, Clone)]
pub struct ListParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    assignee: String,
    #[serde(default)]
    team: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    breached: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    page: String,
}

impl ListParams {
    /// The request these parameters describe, or what is wrong with them.
    fn request(&self, me: UserId) -> Result<TicketListRequest, ServiceError> {
        let statuses = match self.status.trim() {
            "" | "unsolved" => vec![TicketStatus::New, TicketStatus::Open, TicketStatus::Pending],
            "all" => Vec::new(),
            raw => vec![TicketStatus::parse(raw)?],
        };
        let priority = match self.priority.trim() {
            "" => None,
            raw => Some(TicketPriority::parse(raw)?),
        };
        let assignee = match self.assignee.trim() {
            "" => None,
            "me" => Some(AssigneeFilter::User(me)),
            "none" => Some(AssigneeFilter::Nobody),
            raw => {
                Some(AssigneeFilter::User(raw.parse().map_err(|_| {
                    invalid("assignee", "must be me, none or an agent")
                })?))
            }
        };
        let team = match self.team.trim() {
            "" => None,
            raw => Some(
                raw.parse::<TeamId>()
                    .map_err(|_| invalid("team", "must be a team"))?,
            ),
        };
        let page = match self.page.trim() {
            "" => 1,
            raw => raw
                .parse::<i64>()
                .ok()
                .filter(|page| (1..=100_000).contains(page))
                .ok_or_else(|| invalid("page", "must be a page number such as 2"))?,
        };
        let searching = !self.q.trim().is_empty();
        let sort = match self.sort.trim() {
            "" if searching => TicketSort::Relevance,
            raw => TicketSort::parse(raw),
        };
        Ok(TicketListRequest {
            filter: TicketFilter {
                statuses,
                priority,
                assignee,
                team,
                tag: Some(self.tag.trim().to_lowercase()).filter(|t| !t.is_empty()),
                breached_only: !self.breached.trim().is_empty(),
                requester: None,
            },
            search: self.q.trim().to_string(),
            sort,
            page,
            per_page: PAGE_SIZE,
        })
    }

    /// This list's URL on another page.
    fn url_for_page(&self, page: i64) -> String {
        let mut pairs: Vec<(&str, String)> = [
            ("q", &self.q),
            ("status", &self.status),
            ("priority", &self.priority),
            ("assignee", &self.assignee),
            ("team", &self.team),
            ("tag", &self.tag),
            ("breached", &self.breached),
            ("sort", &self.sort),
        ]
        .into_iter()
        .filter(|(_, value)| !value.trim().is_empty())
        .map(|(name, value)| (name, value.trim().to_string()))
        .collect();
        if page > 1 {
            pairs.push(("page", page.to_string()));
        }
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        if query.is_empty() {
            "/tickets".to_string()
        } else {
            format!("/tickets?{query}")
        }
    }
}

#[derive(Template)]
#[template(path = "tickets/results.html")]
struct ResultsFragment {
    rows: Vec<RowView>,
    total: i64,
    first: i64,
    last: i64,
    searching: bool,
    query: String,
    previous_url: Option<String>,
    next_url: Option<String>,
    csrf_token: String,
    assign_to: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "tickets/list.html")]
struct ListPage {
    layout: Layout,
    results: ResultsFragment,
    query: String,
    statuses: Vec<Choice>,
    priorities: Vec<Choice>,
    assignees: Vec<Choice>,
    teams: Vec<Choice>,
    sorts: Vec<Choice>,
    tag: String,
    breached: bool,
    notice: Option<String>,
}

impl ListPage {
    fn results_html(&self) -> askama::filters::Safe<String> {
        // Rendered by askama with escaping; only the finished fragment is marked safe.
        askama::filters::Safe(self.results.render().unwrap_or_default())
    }
}

#[derive(Deserialize, Default)]
pub struct NoticeParam {
    #[serde(default)]
    done: Option<String>,
}

async fn list(
    request: HttpRequest,
    who: SignedIn,
    state: web::Data<AppState>,
    params: web::Query<ListParams>,
    notice: web::Query<NoticeParam>,
) -> Result<HttpResponse, PageError> {
    let me = scope(&who);
    let params = params.into_inner();
    let listing = params.request(me.user)?;
    let searching = !listing.search.is_empty();
    let page_number = listing.page;
    let found = state.tickets.list(me, listing).await?;
    let agents = agent_names(&state).await?;
    let first = (page_number - 1) * PAGE_SIZE + 1;
    let shown = i64::try_from(found.rows.len()).unwrap_or(0);
    let layout = Layout::signed_in("Tickets", "tickets", &who, &state.csrf_key);
    let results = ResultsFragment {
        rows: found.rows.into_iter().map(RowView::new).collect(),
        total: found.total,
        first,
        last: first + shown - 1,
        searching,
        query: params.q.trim().to_string(),
        previous_url: (page_number > 1).then(|| params.url_for_page(page_number - 1)),
        next_url: (first + shown - 1 < found.total).then(|| params.url_for_page(page_number + 1)),
        csrf_token: layout.csrf_token.clone(),
        assign_to: std::iter::once(Choice::new("me", "Me", ""))
            .chain(std::iter::once(Choice::new("none", "Nobody", "")))
            .chain(
                agents
                    .iter()
                    .map(|(id, name)| Choice::new(id.to_string(), name.clone(), "")),
            )
            .collect(),
    };
    if is_htmx(&request) {
        return page(&results);
    }
    let status_now = params.status.trim();
    let statuses = std::iter::once(Choice::new("", "Unsolved", status_now))
        .chain(std::iter::once(Choice::new(
            "all",
            "Any status",
            status_now,
        )))
        .chain(
            TicketStatus::ALL
                .into_iter()
                .map(|s| Choice::new(s.as_str(), s.as_str(), status_now)),
        )
        .collect();
    let priorities = std::iter::once(Choice::new("", "Any priority", params.priority.trim()))
        .chain(priority_choices(params.priority.trim()))
        .collect();
    let assignee_now = params.assignee.trim();
    let assignees = [
        Choice::new("", "Anyone", assignee_now),
        Choice::new("me", "Me", assignee_now),
        Choice::new("none", "Unassigned", assignee_now),
    ]
    .into_iter()
    .chain(
        agents
            .iter()
            .map(|(id, name)| Choice::new(id.to_string(), name.clone(), assignee_now)),
    )
    .collect();
    let team_now = params.team.trim();
    let teams = std::iter::once(Choice::new("", "Any team", team_now))
        .chain(
            state
                .desk
                .teams()
                .await?
                .into_iter()
                .map(|team| Choice::new(team.id.to_string(), team.name, team_now)),
        )
        .collect();
    let sort_now = if params.sort.trim().is_empty() && searching {
        "relevance"
    } else {
        params.sort.trim()
    };
    let sorts = [
        ("updated", "Last changed"),
        ("created", "Newest"),
        ("due", "Deadline"),
        ("priority", "Priority"),
        ("relevance", "Best match"),
    ]
    .into_iter()
    .map(|(value, label)| {
        Choice::new(
            value,
            label,
            if sort_now.is_empty() {
                "updated"
            } else {
                sort_now
            },
        )
    })
    .collect();
    page(&ListPage {
        layout,
        results,
        query: params.q.trim().to_string(),
        statuses,
        priorities,
        assignees,
        teams,
        sorts,
        tag: params.tag.trim().to_string(),
        breached: !params.breached.trim().is_empty(),
        notice: notice.into_inner().done,
    })
}

/// Repeated `ticket` fields (the checked rows) and the chosen action.
fn bulk_request(
    body: &web::Bytes,
    me: UserId,
) -> Result<(Vec<TicketId>, BulkAction), ServiceError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| invalid("form", "could not be read; reload the page"))?;
    let ids: Vec<TicketId> = pairs
        .iter()
        .filter(|(name, _)| name == "ticket")
        .filter_map(|(_, value)| value.parse().ok())
        .collect();
    let action = pairs
        .iter()
        .find(|(name, _)| name == "action")
        .map(|(_, value)| value.as_str())
        .unwrap_or_default();
    let action = match action.split_once(':') {
        Some(("assign", "none")) => BulkAction::Assign(None),
        Some(("assign", "me")) => BulkAction::Assign(Some(me)),
        Some(("assign", id)) => BulkAction::Assign(Some(
            id.parse()
                .map_err(|_| invalid("action", "choose whom to assign to"))?,
        )),
        Some(("status", status)) => BulkAction::SetStatus(TicketStatus::parse(status)?),
        _ => {
            return Err(invalid(
                "action",
                "choose what to do with the selected tickets",
            ));
        }
    };
    Ok((ids, action))
}

async fn bulk(
    request: HttpRequest,
    who: SignedIn,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let me = scope(&who);
    let (ids, action) = bulk_request(&body, me.user)?;
    let changed = state.tickets.bulk(me, &ids, action).await?;
    let back = request
        .headers()
        .get(actix_web::http::header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|referer| referer.find("/tickets").map(|at| referer[at..].to_string()))
        .filter(|path| !path.contains("done="))
        .unwrap_or_else(|| "/tickets".to_string());
    let separator = if back.contains('?') { '&' } else { '?' };
    let notice = serde_urlencoded::to_string([(
        "done",
        format!(
            "{changed} ticket{} updated.",
            if changed == 1 { "" } else { "s" }
        ),
    )])
    .unwrap_or_default();
    Ok(redirect(&format!("{back}{separator}{notice}")))
}

// ---- a new ticket ----

#[derive(Deserialize, Default)]
pub struct NewTicketForm {
    #[serde(default)]
    requester_email: String,
    #[serde(default)]
    requester_name: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    team: String,
    #[serde(default)]
    assignee: String,
}

#[derive(Template)]
#[template(path = "tickets/new.html")]
struct NewPage {
    layout: Layout,
    form: NewTicketForm,
    priorities: Vec<Choice>,
    teams: Vec<Choice>,
    assignees: Vec<Choice>,
    errors: Vec<String>,
}

async fn render_new(
    who: &SignedIn,
    state: &AppState,
    form: NewTicketForm,
    errors: Vec<String>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let agents = agent_names(state).await?;
    let priority = if form.priority.is_empty() {
        "normal".to_string()
    } else {
        form.priority.clone()
    };
    let teams = std::iter::once(Choice::new("", "No team", &form.team))
        .chain(
            state
                .desk
                .teams()
                .await?
                .into_iter()
                .map(|team| Choice::new(team.id.to_string(), team.name, &form.team)),
        )
        .collect();
    let assignee = if form.assignee.is_empty() && errors.is_empty() {
        who.session.user.id.to_string()
    } else {
        form.assignee.clone()
    };
    page_with_status(
        status,
        &NewPage {
            layout: Layout::signed_in("New ticket", "tickets", who, &state.csrf_key),
            priorities: priority_choices(&priority),
            teams,
            assignees: std::iter::once(Choice::new("", "Nobody", &assignee))
                .chain(
                    agents
                        .iter()
                        .map(|(id, name)| Choice::new(id.to_string(), name.clone(), &assignee)),
                )
                .collect(),
            form,
            errors,
        },
    )
}

async fn new_form(who: SignedIn, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    render_new(
        &who,
        &state,
        NewTicketForm::default(),
        Vec::new(),
        StatusCode::OK,
    )
    .await
}

fn optional_id<T: std::str::FromStr>(
    raw: &str,
    field: &'static str,
) -> Result<Option<T>, ServiceError> {
    match raw.trim() {
        "" => Ok(None),
        raw => raw
            .parse()
            .map(Some)
            .map_err(|_| invalid(field, "choose one from the list")),
    }
}

/// The problems a refused form shows above it; anything else is an error page.
fn form_problems(error: ServiceError) -> Result<(StatusCode, Vec<String>), PageError> {
    match &error {
        ServiceError::Invalid(_) | ServiceError::InvalidFields(_) | ServiceError::Conflict(_) => {
            let (status, _, message) = classify(&error);
            Ok((status, message.lines().map(str::to_string).collect()))
        }
        _ => Err(error.into()),
    }
}

async fn create(
    who: SignedIn,
    state: web::Data<AppState>,
    form: web::Form<NewTicketForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    let outcome = async {
        let new = NewTicket {
            input: TicketInput {
                subject: form.subject.clone(),
                description: form.description.clone(),
                priority: Some(form.priority.clone()),
                tags: vec![form.tags.clone()],
            },
            requester: Some(Requester::Contact {
                email: form.requester_email.clone(),
                name: Some(form.requester_name.clone()),
            }),
            team: optional_id(&form.team, "team")?,
            assignee: optional_id(&form.assignee, "assignee")?,
            created_at: None,
        };
        state
            .tickets
            .create(scope(&who), new, crate::domain::TicketSource::Agent)
            .await
    }
    .await;
    match outcome {
        Ok(ticket) => Ok(redirect(&format!("/tickets/{}", ticket.id))),
        Err(error) => {
            let (status, problems) = form_problems(error)?;
            render_new(&who, &state, form, problems, status).await
        }
    }
}

// ---- one ticket ----

#[derive(Template)]
#[template(path = "tickets/show.html")]
struct ShowPage {
    layout: Layout,
    id: i64,
    subject: String,
    description: String,
    status: &'static str,
    priority: &'static str,
    source: &'static str,
    created: String,
    requester: String,
    requester_email: Option<String>,
    requester_verified: bool,
    tags: String,
    sla: Vec<views::SlaLine>,
    conversations: Vec<i64>,
    comments: Vec<CommentView>,
    statuses: Vec<Choice>,
    priorities: Vec<Choice>,
    assignees: Vec<Choice>,
    teams: Vec<Choice>,
    closed: bool,
    reply_has_chat: bool,
    errors: Vec<String>,
    draft: String,
}

async fn render_ticket(
    who: &SignedIn,
    state: &AppState,
    id: TicketId,
    errors: Vec<String>,
    draft: String,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let detail = state.tickets.detail(scope(who), id).await?;
    let agents = agent_names(state).await?;
    let names: HashMap<UserId, String> = agents.iter().cloned().collect();
    let ticket = &detail.ticket;
    let requester = requester_label(
        detail.requester.name.as_deref(),
        detail.requester.email.as_deref(),
        detail.requester.id.get(),
    );
    let breached: Vec<_> = detail.breaches.iter().map(|(target, _)| *target).collect();
    let team_now = ticket.team_id.map(|t| t.to_string()).unwrap_or_default();
    let teams = std::iter::once(Choice::new("", "No team", &team_now))
        .chain(
            state
                .desk
                .teams()
                .await?
                .into_iter()
                .map(|team| Choice::new(team.id.to_string(), team.name, &team_now)),
        )
        .collect();
    page_with_status(
        status,
        &ShowPage {
            layout: Layout::signed_in(
                format!("#{} {}", ticket.id, ticket.subject),
                "tickets",
                who,
                &state.csrf_key,
            ),
            id: ticket.id.get(),
            subject: ticket.subject.clone(),
            description: ticket.description.clone(),
            status: ticket.status.as_str(),
            priority: ticket.priority.as_str(),
            source: ticket.source.as_str(),
            created: format_time(ticket.created_at),
            requester_email: detail.requester.email.clone(),
            requester_verified: detail.requester.external_id.is_some(),
            tags: ticket.tags.join(", "),
            sla: sla_lines(ticket, &breached),
            conversations: ticket.conversation_ids.iter().map(|c| c.get()).collect(),
            comments: detail
                .comments
                .iter()
                .map(|comment| {
                    CommentView::new(
                        comment,
                        comment
                            .author_user_id
                            .and_then(|id| names.get(&id).cloned()),
                        &requester,
                        &detail.attachments,
                    )
                })
                .collect(),
            statuses: status_choices(ticket.status),
            priorities: priority_choices(ticket.priority.as_str()),
            assignees: assignee_choices(&agents, ticket.assignee_id),
            teams,
            closed: ticket.status == TicketStatus::Closed,
            reply_has_chat: !ticket.conversation_ids.is_empty(),
            requester,
            errors,
            draft,
        },
    )
}

async fn show(
    who: SignedIn,
    state: web::Data<AppState>,
    path: web::Path<TicketId>,
) -> Result<HttpResponse, PageError> {
    render_ticket(
        &who,
        &state,
        path.into_inner(),
        Vec::new(),
        String::new(),
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize, Default)]
pub struct UpdateForm {
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    priority: Option<String>,
    #[serde(default)]
    assignee: Option<String>,
    #[serde(default)]
    team: Option<String>,
    #[serde(default)]
    tags: Option<String>,
}

async fn update(
    who: SignedIn,
    state: web::Data<AppState>,
    path: web::Path<TicketId>,
    form: web::Form<UpdateForm>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let form = form.into_inner();
    let outcome = async {
        let update = TicketUpdate {
            subject: form.subject,
            status: form.status,
            priority: form.priority,
            assignee: form
                .assignee
                .map(|raw| optional_id(&raw, "assignee"))
                .transpose()?,
            team: form.team.map(|raw| optional_id(&raw, "team")).transpose()?,
            tags: form.tags.map(|raw| vec![raw]),
        };
        state.tickets.update(scope(&who), id, update).await
    }
    .await;
    match outcome {
        Ok(_) => Ok(redirect(&format!("/tickets/{id}"))),
        Err(error) => {
            let (status, problems) = form_problems(error)?;
            render_ticket(&who, &state, id, problems, String::new(), status).await
        }
    }
}

/// A reply or note, with files when the form was sent as multipart (the page's form is;
/// a plain form works too, without files).
async fn comment(
    request: HttpRequest,
    who: SignedIn,
    state: web::Data<AppState>,
    path: web::Path<TicketId>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let form = if uploads::is_multipart(&request) {
        uploads::read(&request, payload).await?
    } else {
        let body = payload
            .to_bytes_limited(FORM_LIMIT_BYTES)
            .await
            .map_err(|_| invalid("body", "is too long"))?
            .map_err(|_| invalid("form", "could not be read; reload the page"))?;
        uploads::MultipartForm {
            fields: serde_urlencoded::from_bytes(&body)
                .map_err(|_| invalid("form", "could not be read; reload the page"))?,
            files: Vec::new(),
        }
    };
    let body = form.field("body");
    let public = form.field("kind") != "note";
    match state
        .tickets
        .comment(
            scope(&who),
            id,
            &body,
            public,
            Some(form.field("status")),
            form.files,
        )
        .await
    {
        Ok(comment) => Ok(redirect(&format!("/tickets/{id}#c-{}", comment.id))),
        Err(error) => {
            let (status, problems) = form_problems(error)?;
            render_ticket(&who, &state, id, problems, body, status).await
        }
    }
}
