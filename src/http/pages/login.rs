//! Signing in and out, and the front door that sends people where they belong.

use crate::http::AppState;
use crate::http::auth::{SESSION_COOKIE, cleared_session_cookie, safe_next, session_cookie};
use crate::http::error::{PageError, classify};
use crate::http::request_info::{client_ip, user_agent};
use crate::http::views::{Layout, anonymous_page, redirect};
use crate::service::{LoginAttempt, ServiceError, SessionToken};
use actix_web::http::StatusCode;
use actix_web::http::header::RETRY_AFTER;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    email: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    next: Option<String>,
}

async fn current_session(request: &HttpRequest, state: &AppState) -> bool {
    let Some(cookie) = request.cookie(SESSION_COOKIE) else {
        return false;
    };
    matches!(
        state
            .accounts
            .session(&SessionToken::from_cookie(cookie.value()))
            .await,
        Ok(Some(_))
    )
}

/// `/`: setup on first run, the desk when signed in, else the login page.
pub async fn home(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    if state.accounts.needs_setup().await? {
        return Ok(redirect("/setup"));
    }
    if current_session(&request, &state).await {
        return Ok(redirect("/desk"));
    }
    Ok(redirect("/login"))
}

pub async fn form(
    request: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, PageError> {
    if state.accounts.needs_setup().await? {
        return Ok(redirect("/setup"));
    }
    let next = safe_next(query.next.as_deref());
    if current_session(&request, &state).await {
        return Ok(redirect(&next));
    }
    let page = LoginPage {
        layout: Layout::anonymous("Sign in", String::new()),
        email: String::new(),
        next,
        error: None,
    };
    render_login(&request, &state, page, StatusCode::OK)
}

fn render_login(
    request: &HttpRequest,
    state: &AppState,
    page: LoginPage,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    anonymous_page(request, &state.csrf_key, status, page, |page| {
        &mut page.layout
    })
}

pub async fn submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    let next = safe_next(form.next.as_deref());
    let attempt = LoginAttempt {
        email: form.email.clone(),
        password: form.password,
        client_ip: client_ip(&request, state.trust_proxy),
        user_agent: user_agent(&request),
    };
    match state.accounts.login(attempt).await {
        Ok(outcome) => {
            let mut response = redirect(&next);
            response
                .add_cookie(&session_cookie(&outcome.token, &request))
                .map_err(ServiceError::internal)?;
            Ok(response)
        }
        Err(error @ (ServiceError::BadCredentials | ServiceError::RateLimited { .. })) => {
            let (status, _, message) = classify(&error);
            let page = LoginPage {
                layout: Layout::anonymous("Sign in", String::new()),
                email: form.email,
                next,
                error: Some(message),
            };
            let mut response = render_login(&request, &state, page, status)?;
            if let ServiceError::RateLimited { retry_after } = error
                && let Ok(value) = retry_after.as_secs().max(1).to_string().parse()
            {
                response.headers_mut().insert(RETRY_AFTER, value);
            }
            Ok(response)
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn logout(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    if let Some(cookie) = request.cookie(SESSION_COOKIE) {
        state
            .accounts
            .logout(&SessionToken::from_cookie(cookie.value()))
            .await?;
    }
    let mut response = redirect("/login");
    response
        .add_cookie(&cleared_session_cookie(&request))
        .map_err(ServiceError::internal)?;
    Ok(response)
}
