//! Admin → Users: list accounts, add agents and admins, deactivate and reactivate them.

use crate::domain::{UserId, UserStatus, ValidationError};
use crate::http::AppState;
use crate::http::auth::AdminSignedIn;
use crate::http::error::{PageError, classify};
use crate::http::views::{Layout, page_with_status, redirect};
use crate::service::{NewUserRequest, ServiceError};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

struct UserRow {
    id: UserId,
    display_name: String,
    email: String,
    role: &'static str,
    active: bool,
    is_me: bool,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    layout: Layout,
    users: Vec<UserRow>,
    form: NewUserForm,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct NewUserForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

#[derive(Deserialize)]
pub struct StatusForm {
    status: String,
}

#[derive(Deserialize)]
pub struct Notice {
    created: Option<String>,
}

pub async fn admin_home(_admin: AdminSignedIn) -> HttpResponse {
    redirect("/admin/users")
}

async fn render(
    admin: &AdminSignedIn,
    state: &AppState,
    form: NewUserForm,
    error: Option<String>,
    notice: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let me = admin.0.session.user.id;
    let users = state
        .accounts
        .list_users()
        .await?
        .into_iter()
        .map(|user| UserRow {
            id: user.id,
            display_name: user.display_name.as_str().to_string(),
            email: user.email.as_str().to_string(),
            role: user.role.as_str(),
            active: user.is_active(),
            is_me: user.id == me,
        })
        .collect();
    page_with_status(
        status,
        &UsersPage {
            layout: Layout::signed_in("Users", "admin", &admin.0, &state.csrf_key),
            users,
            form: NewUserForm {
                password: String::new(),
                ..form
            },
            error,
            notice,
        },
    )
}

pub async fn list(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
    notice: web::Query<Notice>,
) -> Result<HttpResponse, PageError> {
    let notice = notice
        .into_inner()
        .created
        .map(|email| format!("Account {email} created. Share the password with them privately."));
    let form = NewUserForm {
        role: "agent".into(),
        ..NewUserForm::default()
    };
    render(&admin, &state, form, None, notice, StatusCode::OK).await
}

pub async fn create(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
    form: web::Form<NewUserForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    let request = NewUserRequest {
        email: form.email.clone(),
        display_name: form.display_name.clone(),
        role: form.role.clone(),
        password: form.password.clone(),
    };
    match state.accounts.create_user(request).await {
        Ok(user) => {
            let query = serde_urlencoded::to_string([("created", user.email.as_str())])
                .map_err(ServiceError::internal)?;
            Ok(redirect(&format!("/admin/users?{query}")))
        }
        Err(error @ (ServiceError::Invalid(_) | ServiceError::Conflict(_))) => {
            let (status, _, message) = classify(&error);
            render(&admin, &state, form, Some(message), None, status).await
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn set_status(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: web::Form<StatusForm>,
) -> Result<HttpResponse, PageError> {
    let status = UserStatus::parse(&form.status).ok_or_else(|| {
        ServiceError::from(ValidationError::new(
            "status",
            "must be \"active\" or \"deactivated\"",
        ))
    })?;
    let target = UserId::new(id.into_inner());
    match state
        .accounts
        .set_status(&admin.0.session.user, target, status)
        .await
    {
        Ok(_) => Ok(redirect("/admin/users")),
        Err(error @ ServiceError::Forbidden(_)) => {
            let (status, _, message) = classify(&error);
            render(
                &admin,
                &state,
                NewUserForm::default(),
                Some(message),
                None,
                status,
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}
