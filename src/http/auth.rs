//! Who is asking: the session cookie, the signed-in user, and the role checks — all here.

use super::AppState;
use super::error::{json_error, render_error_page};
use super::request_info::{is_htmx, is_https, wants_json};
use crate::domain::Session;
use crate::service::{SessionToken, accounts::SESSION_LIFETIME};
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use std::future::Future;
use std::pin::Pin;

pub const SESSION_COOKIE: &str = "kefu_session";

/// A signed-in agent or admin.
pub struct SignedIn {
    pub session: Session,
    pub token: SessionToken,
}

/// A signed-in admin; agents get 403.
pub struct AdminSignedIn(pub SignedIn);

#[derive(Debug, thiserror::Error)]
pub enum AuthRejection {
    #[error("sign in first")]
    SignInRequired {
        json: bool,
        htmx: bool,
        next: String,
    },
    #[error("admins only")]
    AdminOnly { json: bool },
    #[error("checking the session failed")]
    Failed { json: bool },
}

impl ResponseError for AuthRejection {
    fn status_code(&self) -> StatusCode {
        match self {
            AuthRejection::SignInRequired { .. } => StatusCode::UNAUTHORIZED,
            AuthRejection::AdminOnly { .. } => StatusCode::FORBIDDEN,
            AuthRejection::Failed { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            AuthRejection::SignInRequired { json: true, .. } => json_error(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Sign in first, or send an API token.",
            ),
            AuthRejection::SignInRequired { htmx: true, .. } => HttpResponse::Unauthorized()
                .insert_header(("HX-Redirect", "/login"))
                .finish(),
            AuthRejection::SignInRequired { next, .. } => {
                let location = format!("/login?next={}", encode_query_value(next));
                HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, location))
                    .finish()
            }
            AuthRejection::AdminOnly { json: true } => json_error(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Only admins can do this.",
            ),
            AuthRejection::AdminOnly { json: false } => render_error_page(
                HttpResponse::Forbidden(),
                StatusCode::FORBIDDEN,
                "Only admins can open this page. Ask an admin if you need access.",
            ),
            AuthRejection::Failed { json } => {
                let message = "Something went wrong on our side. Please try again.";
                if *json {
                    json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
                } else {
                    render_error_page(
                        HttpResponse::InternalServerError(),
                        StatusCode::INTERNAL_SERVER_ERROR,
                        message,
                    )
                }
            }
        }
    }
}

fn encode_query_value(value: &str) -> String {
    serde_urlencoded::to_string([("", value)])
        .map(|encoded| encoded.trim_start_matches('=').to_string())
        .unwrap_or_default()
}

async fn signed_in(request: HttpRequest) -> Result<SignedIn, AuthRejection> {
    let json = wants_json(request.path());
    let sign_in_required = || AuthRejection::SignInRequired {
        json,
        htmx: is_htmx(&request),
        next: request
            .uri()
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .to_string(),
    };
    let Some(state) = request.app_data::<web::Data<AppState>>() else {
        return Err(AuthRejection::Failed { json });
    };
    let Some(cookie) = request.cookie(SESSION_COOKIE) else {
        return Err(sign_in_required());
    };
    let token = SessionToken::from_cookie(cookie.value());
    match state.accounts.session(&token).await {
        Ok(Some(session)) => Ok(SignedIn { session, token }),
        Ok(None) => Err(sign_in_required()),
        Err(error) => {
            tracing::error!(%error, "session lookup failed");
            Err(AuthRejection::Failed { json })
        }
    }
}

impl FromRequest for SignedIn {
    type Error = AuthRejection;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(signed_in(request.clone()))
    }
}

impl FromRequest for AdminSignedIn {
    type Error = AuthRejection;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let request = request.clone();
        Box::pin(async move {
            let signed_in = signed_in(request.clone()).await?;
            if signed_in.session.user.is_admin() {
                Ok(AdminSignedIn(signed_in))
            } else {
                Err(AuthRejection::AdminOnly {
                    json: wants_json(request.path()),
                })
            }
        })
    }
}

pub fn session_cookie(token: &SessionToken, request: &HttpRequest) -> Cookie<'static> {
    let lifetime = i64::try_from(SESSION_LIFETIME.as_secs()).unwrap_or(i64::MAX);
    Cookie::build(SESSION_COOKIE, token.expose().to_string())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(is_https(request))
        .max_age(CookieDuration::seconds(lifetime))
        .finish()
}

pub fn cleared_session_cookie(request: &HttpRequest) -> Cookie<'static> {
    let mut cookie = Cookie::build(SESSION_COOKIE, "")
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(is_https(request))
        .finish();
    cookie.make_removal();
    cookie
}

/// Where to go after signing in: only a local path, never another site.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.starts_with("/login")
                && !path.starts_with("/setup") =>
        {
            path.to_string()
        }
        _ => "/desk".to_string(),
    }
}
