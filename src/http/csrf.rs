//! CSRF protection for every state-changing request: a same-origin check (Fetch Metadata,
//! then Origin), plus a token bound to the browser — its session cookie when signed in,
//! else an anonymous cookie — signed with a server key (HMAC-SHA256).
//!
//! The token travels in the `X-CSRF-Token` header (htmx sends it on every request) or in
//! a `csrf_token` form field, so plain HTML forms work without JavaScript too.

use super::auth::SESSION_COOKIE;
use super::error::{json_error, render_error_page};
use super::request_info::{is_https, wants_json};
use actix_web::body::MessageBody;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use hmac::{KeyInit, Mac};
use std::sync::Arc;

pub const ANONYMOUS_COOKIE: &str = "kefu_csrf";
pub const FORM_FIELD: &str = "csrf_token";
pub const HEADER: &str = "X-CSRF-Token";

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The server's signing key, kept in the database so tokens survive restarts.
#[derive(Clone)]
pub struct CsrfKey(Arc<Vec<u8>>);

impl CsrfKey {
    pub fn new(key: Vec<u8>) -> Self {
        Self(Arc::new(key))
    }

    fn token_for(&self, binding: &str) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC accepts keys of any length");
        mac.update(b"csrf:");
        mac.update(binding.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn verify(&self, binding: &str, offered: &str) -> bool {
        crate::service::constant_time_eq(&self.token_for(binding), offered)
    }
}

/// Session first, then the chat widget's visitor cookie, then the anonymous cookie.
fn binding_of(request: &HttpRequest) -> Option<String> {
    request
        .cookie(SESSION_COOKIE)
        .or_else(|| request.cookie(super::widget::VISITOR_COOKIE))
        .or_else(|| request.cookie(ANONYMOUS_COOKIE))
        .map(|cookie| cookie.value().to_string())
}

/// The token for the chat widget: bound like every other page, except that a visitor
/// created by this very response (`fresh_visitor`) binds it before the cookie exists.
pub fn token_for_widget(
    request: &HttpRequest,
    key: &CsrfKey,
    fresh_visitor: Option<&str>,
) -> String {
    let binding = request
        .cookie(SESSION_COOKIE)
        .map(|cookie| cookie.value().to_string())
        .or_else(|| fresh_visitor.map(str::to_string))
        .or_else(|| binding_of(request))
        .unwrap_or_default();
    key.token_for(&binding)
}

/// The token to embed in pages answering `request`, plus the anonymous cookie to set when
/// the browser has no cookie to bind the token to yet.
pub fn token_for_page(request: &HttpRequest, key: &CsrfKey) -> (String, Option<Cookie<'static>>) {
    if let Some(binding) = binding_of(request) {
        return (key.token_for(&binding), None);
    }
    let binding = crate::service::random_hex_token();
    let cookie = Cookie::build(ANONYMOUS_COOKIE, binding.clone())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(is_https(request))
        .finish();
    (key.token_for(&binding), Some(cookie))
}

/// The token for a signed-in page (the session cookie is the binding).
pub fn token_for_session(key: &CsrfKey, session_token: &str) -> String {
    key.token_for(session_token)
}

fn is_state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn is_cross_site(request: &HttpRequest) -> bool {
    let headers = request.headers();
    if let Some(site) = headers.get("Sec-Fetch-Site").and_then(|v| v.to_str().ok()) {
        return !matches!(site, "same-origin" | "none");
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => false,
        Some(origin) => {
            let origin_host = origin.split_once("://").map(|(_, rest)| rest);
            origin_host != Some(request.connection_info().host())
        }
    }
}

async fn offered_token(request: &mut ServiceRequest) -> Result<Option<String>, actix_web::Error> {
    if let Some(value) = request.headers().get(HEADER).and_then(|v| v.to_str().ok()) {
        return Ok(Some(value.to_string()));
    }
    let content_type = request.content_type().to_ascii_lowercase();
    if content_type == "application/x-www-form-urlencoded" {
        let body = request.extract::<web::Bytes>().await?;
        let token = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
            .ok()
            .and_then(|fields| {
                fields
                    .into_iter()
                    .find(|(name, _)| name == FORM_FIELD)
                    .map(|(_, value)| value)
            });
        // Hand the body back so the handler can read the form as usual.
        request.set_payload(Payload::from(body));
        return Ok(token);
    }
    if content_type == "multipart/form-data" {
        let token = web::Query::<Vec<(String, String)>>::from_query(request.query_string())
            .ok()
            .and_then(|query| {
                query
                    .into_inner()
                    .into_iter()
                    .find(|(name, _)| name == FORM_FIELD)
                    .map(|(_, value)| value)
            });
        return Ok(token);
    }
    Ok(None)
}

/// An API call with a token: the token is the proof, not an ambient cookie, and a browser
/// can't send another site's `Authorization` header (it needs a CORS preflight kefu never
/// grants). The API judges such a request by its token alone.
fn is_api_token_request(request: &HttpRequest) -> bool {
    request.path().starts_with("/api/") && super::api::caller::bearer_token(request).is_some()
}

/// Middleware: refuses state-changing requests that are cross-site or lack a valid token.
pub async fn protect(
    mut request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if !is_state_changing(request.method()) || is_api_token_request(request.request()) {
        return Ok(next.call(request).await?.map_into_left_body());
    }
    let key = request
        .app_data::<web::Data<super::AppState>>()
        .map(|state| state.csrf_key.clone());
    let refusal = if is_cross_site(request.request()) {
        Some("This request came from another site and was refused.")
    } else {
        let offered = offered_token(&mut request).await?;
        let binding = binding_of(request.request());
        match (key, binding, offered) {
            (Some(key), Some(binding), Some(offered)) if key.verify(&binding, &offered) => None,
            _ => Some("This form has expired. Reload the page and try again."),
        }
    };
    let Some(message) = refusal else {
        return Ok(next.call(request).await?.map_into_left_body());
    };
    tracing::info!(
        path = request.path(),
        "refused a request without a valid CSRF token"
    );
    let response = if wants_json(request.path()) {
        json_error(StatusCode::FORBIDDEN, "csrf_failed", message)
    } else {
        render_error_page(HttpResponse::Forbidden(), StatusCode::FORBIDDEN, message)
    };
    Ok(request.into_response(response).map_into_right_body())
}
