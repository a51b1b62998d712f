//! Admin → API & webhooks: REST API tokens (the secret shown once), and outgoing webhooks
//! with their signing secret and recent deliveries.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::{ApiTokenId, WebhookEvent, WebhookId};
use crate::http::AppState;
use crate::http::auth::AdminSignedIn;
use crate::http::error::{PageError, classify};
use crate::http::views::{Layout, format_time, page_with_status, redirect};
use crate::service::ServiceError;

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/admin/api", web::get().to(show))
        .route("/admin/api/tokens", web::post().to(create_token))
        .route(
            "/admin/api/tokens/{id}/revoke",
            web::post().to(revoke_token),
        )
        .route("/admin/api/webhooks", web::post().to(create_webhook))
        .route(
            "/admin/api/webhooks/{id}/delete",
            web::post().to(delete_webhook),
        );
}

struct TokenRow {
    id: i64,
    name: String,
    prefix: String,
    scope: &'static str,
    created: String,
    last_used: Option<String>,
    revoked: Option<String>,
}

struct DeliveryRow {
    event: String,
    created: String,
    outcome: String,
    ok: bool,
}

struct WebhookRow {
    id: i64,
    url: String,
    events: Vec<&'static str>,
    allow_private: bool,
    secret: String,
    deliveries: Vec<DeliveryRow>,
}

#[derive(Template)]
#[template(path = "admin/api.html")]
struct ApiPage {
    layout: Layout,
    tokens: Vec<TokenRow>,
    webhooks: Vec<WebhookRow>,
    events: Vec<&'static str>,
    /// A token just created: its secret, shown this once.
    new_secret: Option<String>,
    notice: Option<String>,
    errors: Vec<String>,
}

async fn render(
    admin: &AdminSignedIn,
    state: &AppState,
    new_secret: Option<String>,
    notice: Option<String>,
    errors: Vec<String>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let tokens = state
        .api_tokens
        .list()
        .await?
        .into_iter()
        .map(|token| TokenRow {
            id: token.id.get(),
            name: token.name,
            prefix: token.prefix,
            scope: token.scope.as_str(),
            created: format_time(token.created_at),
            last_used: token.last_used_at.map(format_time),
            revoked: token.revoked_at.map(format_time),
        })
        .collect();
    let mut webhooks = Vec::new();
    for webhook in state.webhooks.webhooks() {
        let deliveries = state
            .webhooks
            .deliveries(webhook.id)
            .await?
            .into_iter()
            .map(|delivery| {
                let outcome = match (&delivery.delivered_at, &delivery.next_attempt_at) {
                    (Some(at), _) => format!(
                        "delivered {} (HTTP {})",
                        format_time(*at),
                        delivery.last_status.unwrap_or(200)
                    ),
                    (None, Some(next)) => format!(
                        "{} failed attempt(s){}; next try {}",
                        delivery.attempts,
                        delivery
                            .last_error
                            .as_deref()
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default(),
                        format_time(*next)
                    ),
                    (None, None) => format!(
                        "gave up after {} attempts: {}",
                        delivery.attempts,
                        delivery.last_error.as_deref().unwrap_or("no answer")
                    ),
                };
                DeliveryRow {
                    event: delivery.event,
                    created: format_time(delivery.created_at),
                    ok: delivery.delivered_at.is_some(),
                    outcome,
                }
            })
            .collect();
        webhooks.push(WebhookRow {
            id: webhook.id.get(),
            url: webhook.url.as_str().to_string(),
            events: webhook.events.iter().map(|e| e.as_str()).collect(),
            allow_private: webhook.allow_private,
            secret: webhook.secret.clone(),
            deliveries,
        });
    }
    page_with_status(
        status,
        &ApiPage {
            layout: Layout::signed_in("API & webhooks", "admin", &admin.0, &state.csrf_key),
            tokens,
            webhooks,
            events: WebhookEvent::ALL.iter().map(|e| e.as_str()).collect(),
            new_secret,
            notice,
            errors,
        },
    )
}

#[derive(Deserialize, Default)]
pub struct NoticeQuery {
    #[serde(default)]
    done: Option<String>,
}

async fn show(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
    query: web::Query<NoticeQuery>,
) -> Result<HttpResponse, PageError> {
    render(
        &admin,
        &state,
        None,
        query.into_inner().done,
        Vec::new(),
        StatusCode::OK,
    )
    .await
}

/// The page again with what was wrong, or an error page for anything else.
async fn refused(
    admin: &AdminSignedIn,
    state: &AppState,
    error: ServiceError,
) -> Result<HttpResponse, PageError> {
    match &error {
        ServiceError::Invalid(_) | ServiceError::InvalidFields(_) => {
            let (status, _, message) = classify(&error);
            let errors = message.lines().map(str::to_string).collect();
            render(admin, state, None, None, errors, status).await
        }
        _ => Err(error.into()),
    }
}

fn done(what: &str) -> HttpResponse {
    let query = serde_urlencoded::to_string([("done", what)]).unwrap_or_default();
    redirect(&format!("/admin/api?{query}"))
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    scope: String,
}

async fn create_token(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, PageError> {
    match state
        .api_tokens
        .create(&form.name, &form.scope, admin.0.session.user.id)
        .await
    {
        // Shown on this response only: no redirect, so the secret is in no URL or history.
        Ok((token, secret)) => {
            let notice = format!(
                "Token “{}” created. Copy it now: it is not shown again.",
                token.name
            );
            render(
                &admin,
                &state,
                Some(secret),
                Some(notice),
                Vec::new(),
                StatusCode::OK,
            )
            .await
        }
        Err(error) => refused(&admin, &state, error).await,
    }
}

async fn revoke_token(
    _admin: AdminSignedIn,
    state: web::Data<AppState>,
    path: web::Path<ApiTokenId>,
) -> Result<HttpResponse, PageError> {
    state.api_tokens.revoke(path.into_inner()).await?;
    Ok(done(
        "Token revoked: programs using it are refused from now on.",
    ))
}

async fn create_webhook(
    admin: AdminSignedIn,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    // Repeated `event` checkboxes: serde_urlencoded can't collect repeats into a struct.
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .unwrap_or_default()
    };
    let events: Vec<String> = pairs
        .iter()
        .filter(|(key, _)| key == "event")
        .map(|(_, value)| value.clone())
        .collect();
    match state
        .webhooks
        .create(&field("url"), &events, field("allow_private") == "1")
        .await
    {
        Ok(_) => Ok(done("Webhook added.")),
        Err(error) => refused(&admin, &state, error).await,
    }
}

async fn delete_webhook(
    _admin: AdminSignedIn,
    state: web::Data<AppState>,
    path: web::Path<WebhookId>,
) -> Result<HttpResponse, PageError> {
    state.webhooks.delete(path.into_inner()).await?;
    Ok(done("Webhook deleted."))
}
