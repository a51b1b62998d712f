//! The one mapping from service errors to HTTP: status, stable code, and a message that
//! tells the user what to do without revealing internals.

use super::request_info::wants_json;
use super::views::{ErrorPage, render};
use crate::service::ServiceError;
use actix_web::http::StatusCode;
use actix_web::http::header::RETRY_AFTER;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;

/// Status, machine-readable code and human message for an error.
pub fn classify(error: &ServiceError) -> (StatusCode, &'static str, String) {
    match error {
        ServiceError::Invalid(_)
        | ServiceError::InvalidFields(_)
        | ServiceError::InvalidRows(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            error.to_string(),
        ),
        ServiceError::BadCredentials => (
            StatusCode::UNAUTHORIZED,
            "bad_credentials",
            error.to_string(),
        ),
        ServiceError::BadSetupToken => {
            (StatusCode::FORBIDDEN, "bad_setup_token", error.to_string())
        }
        ServiceError::NotFound => (StatusCode::NOT_FOUND, "not_found", error.to_string()),
        ServiceError::Conflict(message) => (StatusCode::CONFLICT, "conflict", message.clone()),
        ServiceError::Forbidden(message) => (StatusCode::FORBIDDEN, "forbidden", message.clone()),
        ServiceError::Unauthenticated(message) => {
            (StatusCode::UNAUTHORIZED, "unauthenticated", message.clone())
        }
        ServiceError::RateLimited { .. } => (
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            error.to_string(),
        ),
        ServiceError::Unavailable(message) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            message.clone(),
        ),
        ServiceError::Internal(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Something went wrong on our side. It has been logged; please try again.".into(),
        ),
    }
}

fn log_if_internal(error: &ServiceError) {
    if let ServiceError::Internal(source) = error {
        tracing::error!(error = format!("{source:#}"), "internal error");
    }
}

fn retry_after(error: &ServiceError) -> Option<String> {
    match error {
        ServiceError::RateLimited { retry_after } => Some(retry_after.as_secs().max(1).to_string()),
        ServiceError::Unavailable(_) => Some("2".to_string()),
        _ => None,
    }
}

/// An error from a page handler, shown as an HTML page.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct PageError(#[from] pub ServiceError);

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        classify(&self.0).0
    }

    fn error_response(&self) -> HttpResponse {
        log_if_internal(&self.0);
        let (status, _, message) = classify(&self.0);
        let mut response = HttpResponse::build(status);
        if let Some(seconds) = retry_after(&self.0) {
            response.insert_header((RETRY_AFTER, seconds));
        }
        render_error_page(response, status, &message)
    }
}

#[derive(Serialize)]
struct ApiErrorBody<'a> {
    error: ApiErrorDetail<'a>,
}

#[derive(Serialize)]
struct ApiErrorDetail<'a> {
    code: &'a str,
    message: &'a str,
}

/// A JSON error: `{"error": {"code": ..., "message": ...}}`.
pub fn json_error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(ApiErrorBody {
        error: ApiErrorDetail { code, message },
    })
}

/// An error from a JSON endpoint: `{"error": {"code": ..., "message": ...}}`.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ApiError(#[from] pub ServiceError);

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        classify(&self.0).0
    }

    fn error_response(&self) -> HttpResponse {
        log_if_internal(&self.0);
        let (status, code, message) = classify(&self.0);
        let mut response = json_error(status, code, &message);
        if let Some(seconds) = retry_after(&self.0)
            && let Ok(value) = seconds.parse()
        {
            response.headers_mut().insert(RETRY_AFTER, value);
        }
        response
    }
}

pub fn render_error_page(
    mut response: actix_web::HttpResponseBuilder,
    status: StatusCode,
    message: &str,
) -> HttpResponse {
    let page = ErrorPage::new(status, message);
    match render(&page) {
        Ok(html) => response.content_type("text/html; charset=utf-8").body(html),
        Err(_) => response
            .content_type("text/plain; charset=utf-8")
            .body(message.to_string()),
    }
}

/// Every path no route matched.
pub async fn not_found(request: HttpRequest) -> HttpResponse {
    if wants_json(request.path()) {
        return json_error(StatusCode::NOT_FOUND, "not_found", "No such endpoint.");
    }
    render_error_page(
        HttpResponse::NotFound(),
        StatusCode::NOT_FOUND,
        "There is no page at this address.",
    )
}
