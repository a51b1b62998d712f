//! The signed-in user's own account: who they are, and changing their password.

use crate::http::AppState;
use crate::http::auth::{SignedIn, cleared_session_cookie};
use crate::http::error::{PageError, classify};
use crate::http::views::{Layout, page_with_status, redirect};
use crate::service::ServiceError;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    layout: Layout,
    role: &'static str,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
}

pub async fn show(who: SignedIn, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    page_with_status(
        StatusCode::OK,
        &AccountPage {
            role: who.session.user.role.as_str(),
            layout: Layout::signed_in("Your account", "account", &who, &state.csrf_key),
            error: None,
        },
    )
}

/// Changing the password ends every session, this one included, so the user signs in again.
pub async fn change_password(
    request: HttpRequest,
    who: SignedIn,
    state: web::Data<AppState>,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    match state
        .accounts
        .change_own_password(&who.session.user, form.current_password, &form.new_password)
        .await
    {
        Ok(()) => {
            let mut response = redirect("/login");
            response
                .add_cookie(&cleared_session_cookie(&request))
                .map_err(ServiceError::internal)?;
            Ok(response)
        }
        Err(error @ ServiceError::Invalid(_)) => {
            let (status, _, message) = classify(&error);
            page_with_status(
                status,
                &AccountPage {
                    role: who.session.user.role.as_str(),
                    layout: Layout::signed_in("Your account", "account", &who, &state.csrf_key),
                    error: Some(message),
                },
            )
        }
        Err(other) => Err(other.into()),
    }
}
