//! Admin → SLA: first-reply and solve targets per priority, and the business calendar
//! (weekly hours, UTC offset, holidays) the SLA clock runs on.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::TicketPriority;
use crate::http::AppState;
use crate::http::auth::AdminSignedIn;
use crate::http::error::{PageError, classify};
use crate::http::views::{Layout, page_with_status, redirect};
use crate::service::{ServiceError, SlaForm};

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/admin/sla", web::get().to(show))
        .route("/admin/sla", web::post().to(save));
}

/// One priority's row of the form.
struct TargetRow {
    priority: &'static str,
    first_response: String,
    resolution: String,
}

#[derive(Template)]
#[template(path = "admin/sla.html")]
struct SlaPage {
    layout: Layout,
    rows: Vec<TargetRow>,
    business_hours: String,
    utc_offset_minutes: String,
    holidays: String,
    saved: bool,
    errors: Vec<String>,
}

/// Minutes as the form shows them: whole hours as `4h`, else minutes.
fn target_text(minutes: Option<u32>) -> String {
    match minutes {
        None => String::new(),
        Some(m) if m % 60 == 0 => format!("{}h", m / 60),
        Some(m) => m.to_string(),
    }
}

#[derive(Deserialize, Default)]
pub struct SavedQuery {
    #[serde(default)]
    saved: Option<String>,
}

async fn show(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
    query: web::Query<SavedQuery>,
) -> Result<HttpResponse, PageError> {
    let settings = state.tickets.sla_settings().await?;
    let rows = TicketPriority::ALL
        .into_iter()
        .map(|priority| {
            let targets = settings.policy.targets(priority);
            TargetRow {
                priority: priority.as_str(),
                first_response: target_text(targets.first_response_minutes),
                resolution: target_text(targets.resolution_minutes),
            }
        })
        .collect();
    page_with_status(
        StatusCode::OK,
        &SlaPage {
            layout: Layout::signed_in("SLA", "admin", &admin.0, &state.csrf_key),
            rows,
            business_hours: settings.business_hours,
            utc_offset_minutes: settings.utc_offset_minutes.to_string(),
            holidays: settings.holidays,
            saved: query.saved.is_some(),
            errors: Vec::new(),
        },
    )
}

/// The form's fields by name: `first_response_low`, `resolution_urgent`, ….
async fn save(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
    form: web::Form<std::collections::HashMap<String, String>>,
) -> Result<HttpResponse, PageError> {
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    let mut sla = SlaForm {
        business_hours: field("business_hours"),
        utc_offset_minutes: field("utc_offset_minutes"),
        holidays: field("holidays"),
        ..SlaForm::default()
    };
    for (index, priority) in TicketPriority::ALL.into_iter().enumerate() {
        sla.first_response[index] = field(&format!("first_response_{}", priority.as_str()));
        sla.resolution[index] = field(&format!("resolution_{}", priority.as_str()));
    }
    match state.tickets.save_sla_settings(sla.clone()).await {
        Ok(()) => Ok(redirect("/admin/sla?saved=1")),
        Err(error @ (ServiceError::Invalid(_) | ServiceError::InvalidFields(_))) => {
            let (status, _, message) = classify(&error);
            let rows = TicketPriority::ALL
                .into_iter()
                .enumerate()
                .map(|(index, priority)| TargetRow {
                    priority: priority.as_str(),
                    first_response: sla.first_response[index].clone(),
                    resolution: sla.resolution[index].clone(),
                })
                .collect();
            page_with_status(
                status,
                &SlaPage {
                    layout: Layout::signed_in("SLA", "admin", &admin.0, &state.csrf_key),
                    rows,
                    business_hours: sla.business_hours,
                    utc_offset_minutes: sla.utc_offset_minutes,
                    holidays: sla.holidays,
                    saved: false,
                    errors: message.lines().map(str::to_string).collect(),
                },
            )
        }
        Err(error) => Err(error.into()),
    }
}
