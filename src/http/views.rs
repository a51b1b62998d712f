//! What every page shares: the layout (navigation, signed-in user, CSRF token) and rendering.

use super::assets;
use super::auth::SignedIn;
use super::csrf;
use super::error::PageError;
use crate::service::ServiceError;
use actix_web::HttpResponse;
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
