//! First run: create the first admin with the one-time token from kefu's log.

use crate::http::AppState;
use crate::http::auth::session_cookie;
use crate::http::error::{PageError, classify};
use crate::http::request_info::{client_ip, user_agent};
use crate::http::views::{Layout, anonymous_page, redirect};
use crate::service::{ServiceError, SetupRequest};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    layout: Layout,
    token: String,
    email: String,
    display_name: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct SetupQuery {
    token: Option<String>,
}

#[derive(Deserialize)]
pub struct SetupForm {
    token: String,
    email: String,
    display_name: String,
    password: String,
}

pub async fn form(
    request: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<SetupQuery>,
) -> Result<HttpResponse, PageError> {
    if !state.accounts.needs_setup().await? {
        return Ok(redirect("/login"));
    }
    let page = SetupPage {
        layout: Layout::anonymous("Set up kefu", String::new()),
        token: query.into_inner().token.unwrap_or_default(),
        email: String::new(),
        display_name: String::new(),
        error: None,
    };
    render_setup(&request, &state, page, StatusCode::OK)
}

fn render_setup(
    request: &HttpRequest,
    state: &AppState,
    page: SetupPage,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    anonymous_page(request, &state.csrf_key, status, page, |page| {
        &mut page.layout
    })
}

pub async fn submit(
    request: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<SetupForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    let outcome = state
        .accounts
        .complete_setup(
            SetupRequest {
                token: form.token.clone(),
                email: form.email.clone(),
                display_name: form.display_name.clone(),
                password: form.password,
            },
            user_agent(&request),
            client_ip(&request, state.trust_proxy),
        )
        .await;
    match outcome {
        Ok(outcome) => {
            let mut response = redirect("/desk");
            response
                .add_cookie(&session_cookie(&outcome.token, &request))
                .map_err(ServiceError::internal)?;
            Ok(response)
        }
        Err(error @ (ServiceError::Invalid(_) | ServiceError::BadSetupToken)) => {
            let (status, _, message) = classify(&error);
            let page = SetupPage {
                layout: Layout::anonymous("Set up kefu", String::new()),
                token: form.token,
                email: form.email,
                display_name: form.display_name,
                error: Some(message),
            };
            render_setup(&request, &state, page, status)
        }
        Err(other) => Err(other.into()),
    }
}
