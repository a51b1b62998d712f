//! Customers: the list (search, filter by derived tag), one customer's profile with tags,
//! sentiment and timeline, and the admin's data-rights actions (export, erase).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::profile::ProfileTag;
use crate::domain::{CustomerId, DeskScope};
use crate::http::AppState;
use crate::http::auth::{AdminSignedIn, SignedIn};
use crate::http::error::PageError;
use crate::http::views::{Layout, format_time, page, redirect};
use crate::service::{
    CustomerProfile, CustomerQuery, CustomerSummary, ServiceError, TimelineEntry,
};

const PER_PAGE: i64 = 50;
/// What the admin types to confirm an erasure.
const ERASE_CONFIRMATION: &str = "ERASE";

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/customers", web::get().to(list))
        .route("/customers/{id}", web::get().to(show))
        .route("/customers/{id}/export", web::post().to(export))
        .route("/customers/{id}/erase", web::post().to(erase));
}

fn scope(who: &SignedIn) -> DeskScope {
    DeskScope {
        user: who.session.user.id,
        is_admin: who.session.user.is_admin(),
    }
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    page: Option<i64>,
}

struct Row {
    id: i64,
    name: String,
    email: String,
    external_id: String,
    last_seen: String,
    conversations: i64,
    tags: Vec<String>,
    erased: bool,
}

impl From<CustomerSummary> for Row {
    fn from(summary: CustomerSummary) -> Row {
        Row {
            id: summary.id.get(),
            name: summary
                .name
                .unwrap_or_else(|| format!("Visitor #{}", summary.id)),
            email: summary.email.unwrap_or_default(),
            external_id: summary.external_id.unwrap_or_default(),
            last_seen: format_time(summary.last_seen),
            conversations: summary.conversations,
            tags: summary.tags,
            erased: summary.erased,
        }
    }
}

#[derive(Template)]
#[template(path = "customers/list.html")]
struct ListPage {
    layout: Layout,
    q: String,
    tag: String,
    rows: Vec<Row>,
    total: i64,
    page: i64,
    pages: i64,
    tag_counts: Vec<(String, i64)>,
    /// Exports and erasures, newest first (admins only).
    audit: Vec<AuditRow>,
}

struct AuditRow {
    at: String,
    actor: String,
    action: String,
    subject: String,
}

impl ListPage {
    /// The link to another page of the same list.
    fn page_link(&self, page: i64) -> String {
        let query = serde_urlencoded::to_string([
            ("q", self.q.as_str()),
            ("tag", self.tag.as_str()),
            ("page", &page.to_string()),
        ])
        .unwrap_or_default();
        format!("/customers?{query}")
    }

    fn tag_link(&self, tag: &str) -> String {
        let query = serde_urlencoded::to_string([("tag", tag)]).unwrap_or_default();
        format!("/customers?{query}")
    }
}

async fn list(
    who: SignedIn,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    let query = query.into_inner();
    let page_number = query.page.unwrap_or(1).max(1);
    let (rows, total) = state
        .customers
        .list(
            scope(&who),
            CustomerQuery {
                text: Some(query.q.clone()),
                tag: Some(query.tag.clone()),
                page: page_number,
                per_page: PER_PAGE,
            },
        )
        .await?;
    let tag_counts = state.customers.tag_counts(scope(&who)).await?;
    let audit = if who.session.user.is_admin() {
        state
            .customers
            .audit_log()
            .await?
            .into_iter()
            .map(|entry| AuditRow {
                at: format_time(entry.at),
                actor: entry.actor.unwrap_or_else(|| "a deleted user".into()),
                action: entry.action,
                subject: entry.subject,
            })
            .collect()
    } else {
        Vec::new()
    };
    page(&ListPage {
        layout: Layout::signed_in("Customers", "customers", &who, &state.csrf_key),
        q: query.q,
        tag: query.tag,
        rows: rows.into_iter().map(Row::from).collect(),
        total,
        page: page_number,
        pages: (total + PER_PAGE - 1) / PER_PAGE,
        tag_counts,
        audit,
    })
}

#[derive(Template)]
#[template(path = "customers/show.html")]
struct ProfilePage {
    layout: Layout,
    id: i64,
    name: String,
    email: String,
    phone: String,
    external_id: String,
    language: String,
    first_seen: String,
    last_seen: String,
    erased: Option<String>,
    attributes: Vec<(String, String)>,
    tags: Vec<ProfileTag>,
    /// FAQ categories of the questions the bot answered them, most asked first.
    topics: Vec<(String, usize)>,
    timeline: Vec<TimelineRow>,
    /// The sentiment chart's polyline points, in a 500×100 box.
    sentiment_points: String,
    sentiment_count: usize,
    is_admin: bool,
    confirmation: &'static str,
}

struct TimelineRow {
    at: String,
    kind: &'static str,
    title: String,
    detail: String,
    link: Option<String>,
}

impl From<TimelineEntry> for TimelineRow {
    fn from(entry: TimelineEntry) -> TimelineRow {
        TimelineRow {
            at: format_time(entry.at),
            kind: entry.kind,
            title: entry.title,
            detail: entry.detail,
            link: entry.link,
        }
    }
}

fn sentiment_points(series: &[(crate::domain::Timestamp, f32)]) -> String {
    match series {
        [] => return String::new(),
        // One day of chat: a level line across the chart.
        [(_, score)] => {
            let y = 50.0 - score.clamp(-1.0, 1.0) * 45.0;
            return format!("0,{y:.1} 500,{y:.1}");
        }
        _ => {}
    }
    let last = series.len().saturating_sub(1).max(1);
    series
        .iter()
        .enumerate()
        .map(|(index, (_, score))| {
            #[allow(clippy::cast_precision_loss)]
            let x = index as f32 * 500.0 / last as f32;
            let y = 50.0 - score.clamp(-1.0, 1.0) * 45.0;
            format!("{x:.1},{y:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn asked_topics(categories: &[String]) -> Vec<(String, usize)> {
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for category in categories {
        *counts.entry(category.to_lowercase()).or_default() += 1;
    }
    let mut topics: Vec<(String, usize)> = counts.into_iter().collect();
    topics.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    topics
}

fn profile_page(who: &SignedIn, state: &AppState, profile: CustomerProfile) -> ProfilePage {
    let timeline = profile
        .timeline()
        .into_iter()
        .map(TimelineRow::from)
        .collect();
    let series = profile.sentiment_by_day();
    let customer = &profile.customer;
    ProfilePage {
        layout: Layout::signed_in("Customer", "customers", who, &state.csrf_key),
        id: customer.id.get(),
        name: customer
            .name
            .clone()
            .unwrap_or_else(|| format!("Visitor #{}", customer.id)),
        email: customer.email.clone().unwrap_or_default(),
        phone: profile.facts.phone.clone().unwrap_or_default(),
        external_id: customer.external_id.clone().unwrap_or_default(),
        language: profile.facts.language.clone().unwrap_or_default(),
        first_seen: format_time(profile.facts.first_seen),
        last_seen: format_time(profile.facts.last_seen),
        erased: profile.facts.erased_at.map(format_time),
        attributes: customer
            .attributes
            .as_object()
            .map(|object| {
                object
                    .iter()
                    .map(|(key, value)| {
                        let text = match value {
                            serde_json::Value::String(text) => text.clone(),
                            other => other.to_string(),
                        };
                        (key.clone(), text)
                    })
                    .collect()
            })
            .unwrap_or_default(),
        tags: profile.tags.clone(),
        topics: asked_topics(&profile.facts.asked_categories),
        timeline,
        sentiment_points: sentiment_points(&series),
        sentiment_count: series.len(),
        is_admin: who.session.user.is_admin(),
        confirmation: ERASE_CONFIRMATION,
    }
}

async fn show(
    who: SignedIn,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    let profile = state
        .customers
        .profile(scope(&who), CustomerId::new(*path))
        .await?;
    page(&profile_page(&who, &state, profile))
}

/// The customer's data as a JSON download; the export is logged.
async fn export(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, PageError> {
    let id = CustomerId::new(*path);
    let document = state.customers.export(admin.0.session.user.id, id).await?;
    let body = serde_json::to_vec_pretty(&document).map_err(ServiceError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"customer-{id}.json\""),
        ))
        .body(body))
}

#[derive(Deserialize)]
pub struct EraseForm {
    #[serde(default)]
    confirm: String,
}

async fn erase(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<EraseForm>,
) -> Result<HttpResponse, PageError> {
    if form.confirm.trim() != ERASE_CONFIRMATION {
        return Err(ServiceError::Invalid(crate::domain::ValidationError::new(
            "confirm",
            format!("type {ERASE_CONFIRMATION} to confirm; nothing was erased"),
        ))
        .into());
    }
    let id = CustomerId::new(*path);
    state.customers.erase(admin.0.session.user.id, id).await?;
    Ok(redirect(&format!("/customers/{id}")))
}
