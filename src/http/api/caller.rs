//! Who calls the JSON API: a program with an API token (`Authorization: Bearer kefu_…`,
//! read or write scope, acting with an admin's view), or a signed-in browser (the agent's own
//! view). A request that carries a token is judged by the token alone.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};

use crate::domain::DeskScope;
use crate::http::AppState;
use crate::http::auth::SignedIn;
use crate::http::error::ApiError;
use crate::service::ServiceError;

pub struct ApiCaller {
    /// Whose view the API sees, and whose name its writes are recorded under.
    pub scope: DeskScope,
    can_write: bool,
}

impl ApiCaller {
    /// Writes need a write token (a signed-in browser may always write: CSRF guards it).
    pub fn require_write(&self) -> Result<(), ApiError> {
        if self.can_write {
            Ok(())
        } else {
            Err(ApiError(ServiceError::Forbidden(
                "This API token may only read; an admin can create a write token under Admin → API & webhooks.".into(),
            )))
        }
    }
}

/// The token of an `Authorization: Bearer …` header; `Some("")` for a malformed header.
pub fn bearer_token(request: &HttpRequest) -> Option<String> {
    let value = request.headers().get(header::AUTHORIZATION)?;
    let value = value.to_str().unwrap_or_default();
    Some(
        value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .unwrap_or_default()
            .trim()
            .to_string(),
    )
}

impl FromRequest for ApiCaller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<ApiCaller, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let request = request.clone();
        let signed_in = match bearer_token(&request) {
            Some(_) => None,
            None => Some(SignedIn::from_request(&request, payload)),
        };
        Box::pin(async move {
            let state = request
                .app_data::<web::Data<AppState>>()
                .cloned()
                .ok_or_else(|| ApiError(ServiceError::internal(anyhow::anyhow!("no app state"))))?;
            if let Some(signed_in) = signed_in {
                let who = signed_in.await.map_err(|_| {
                    ApiError(ServiceError::Unauthenticated(
                        "Send an API token (Authorization: Bearer kefu_…) or sign in first.".into(),
                    ))
                })?;
                let user = who.session.user.id;
                return Ok(ApiCaller {
                    scope: DeskScope {
                        user,
                        is_admin: who.session.user.is_admin(),
                    },
                    can_write: true,
                });
            }
            let secret = bearer_token(&request).unwrap_or_default();
            let token =
                state
                    .api_tokens
                    .authenticate(&secret)
                    .await
                    .map_err(|error| match error {
                        ServiceError::BadCredentials => ApiError(ServiceError::Unauthenticated(
                            "This API token is wrong or was revoked.".into(),
                        )),
                        other => ApiError(other),
                    })?;
            let user = token.created_by.ok_or_else(|| {
                ApiError(ServiceError::Unauthenticated(
                    "This API token's admin account no longer exists; create a new token.".into(),
                ))
            })?;
            Ok(ApiCaller {
                scope: DeskScope {
                    user,
                    is_admin: true,
                },
                can_write: token.scope.allows_writes(),
            })
        })
    }
}
