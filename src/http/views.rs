//! What every page shares: the layout (navigation, signed-in user, CSRF token) and rendering.

use super::assets;
use super::auth::SignedIn;
use super::csrf;
use super::error::PageError;
use crate::domain::Timestamp;
use crate::service::ServiceError;
use actix_web::HttpResponse;
use actix_web::cookie::time::OffsetDateTime;
use actix_web::http::StatusCode;
use askama::Template;

/// The signed-in user as the navigation shows them.
pub struct UserView {
    pub display_name: String,
    pub email: String,
    pub is_admin: bool,
}

/// Fields of the base layout; every page template has one, named `layout`.
pub struct Layout {
    pub title: String,
    /// Which navigation item is current: "desk", "tickets", "knowledge", "admin", "account".
    pub section: &'static str,
    pub user: Option<UserView>,
    pub csrf_token: String,
}

impl Layout {
    pub fn signed_in(
        title: impl Into<String>,
        section: &'static str,
        who: &SignedIn,
        key: &csrf::CsrfKey,
    ) -> Layout {
        let user = &who.session.user;
        Layout {
            title: title.into(),
            section,
            user: Some(UserView {
                display_name: user.display_name.as_str().to_string(),
                email: user.email.as_str().to_string(),
                is_admin: user.is_admin(),
            }),
            csrf_token: csrf::token_for_session(key, who.token.expose()),
        }
    }

    pub fn anonymous(title: impl Into<String>, csrf_token: String) -> Layout {
        Layout {
            title: title.into(),
            section: "",
            user: None,
            csrf_token,
        }
    }

    /// A cache-busting URL for a file in `static/`.
    pub fn asset(&self, name: &str) -> String {
        assets::url(name)
    }

    pub fn nav_current(&self, section: &str) -> &'static str {
        if self.section == section {
            "page"
        } else {
            "false"
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub layout: Layout,
    pub status: u16,
    pub reason: String,
    pub message: String,
}

impl ErrorPage {
    pub fn new(status: StatusCode, message: &str) -> ErrorPage {
        ErrorPage {
            layout: Layout::anonymous(status.canonical_reason().unwrap_or("Error"), String::new()),
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("Error").to_string(),
            message: message.to_string(),
        }
    }
}

pub fn render(template: &impl Template) -> Result<String, askama::Error> {
    template.render()
}

/// Renders a full page with status 200.
pub fn page(template: &impl Template) -> Result<HttpResponse, PageError> {
    page_with_status(StatusCode::OK, template)
}

pub fn page_with_status(
    status: StatusCode,
    template: &impl Template,
) -> Result<HttpResponse, PageError> {
    let html = render(template).map_err(|e| PageError(ServiceError::internal(e)))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(html))
}

/// A page for someone not signed in (login, setup): its layout gets a CSRF token bound to an
/// anonymous cookie, which is set here if the browser has none yet.
pub fn anonymous_page<T: Template>(
    request: &actix_web::HttpRequest,
    key: &csrf::CsrfKey,
    status: StatusCode,
    mut page: T,
    layout: impl FnOnce(&mut T) -> &mut Layout,
) -> Result<HttpResponse, PageError> {
    let (csrf_token, cookie) = csrf::token_for_page(request, key);
    layout(&mut page).csrf_token = csrf_token;
    let mut response = page_with_status(status, &page)?;
    if let Some(cookie) = cookie {
        response
            .add_cookie(&cookie)
            .map_err(|e| PageError(ServiceError::internal(e)))?;
    }
    Ok(response)
}

pub fn redirect(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, location.to_string()))
        .finish()
}

/// `2025-03-04 09:15 UTC`: the server does not know the reader's time zone, so it says which
/// one it uses.
pub fn format_time(at: Timestamp) -> String {
    match OffsetDateTime::from_unix_timestamp(at.unix_seconds()) {
        Ok(time) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02} UTC",
            time.year(),
            u8::from(time.month()),
            time.day(),
            time.hour(),
            time.minute()
        ),
        Err(_) => "unknown".to_string(),
    }
}

/// A span of time in a few words: "45 min", "3 h 20 min", "2 d 4 h".
pub fn duration_words(seconds: i64) -> String {
    let minutes = seconds.abs() / 60;
    match minutes {
        0 => "under a minute".to_string(),
        1..60 => format!("{minutes} min"),
        60..1440 if minutes % 60 == 0 => format!("{} h", minutes / 60),
        60..1440 => format!("{} h {} min", minutes / 60, minutes % 60),
        _ if (minutes / 60) % 24 == 0 => format!("{} d", minutes / 1440),
        _ => format!("{} d {} h", minutes / 1440, (minutes / 60) % 24),
    }
}

/// One option of a `<select>`.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

impl Choice {
    pub fn new(value: impl Into<String>, label: impl Into<String>, current: &str) -> Choice {
        let value = value.into();
        Choice {
            selected: value == current,
            label: label.into(),
            value,
        }
    }
}
