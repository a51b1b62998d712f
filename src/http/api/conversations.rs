//! `/api/v1/conversations` and `/api/v1/customers`: the chats (with their messages) and the
//! people who write in.

use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::caller::ApiCaller;
use super::resources::{ConversationResource, CustomerResource, ErrorBody, MessageResource, Page};
use super::{invalid, per_page};
use crate::domain::{ConversationId, ConversationStatus, CustomerId};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::service::ItemCard;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConversationListParams {
    /// bot, waiting, assigned, pending or resolved.
    status: Option<String>,
    customer: Option<i64>,
    page: Option<i64>,
    /// 1 to 100; 25 unless given.
    per_page: Option<i64>,
}

/// Lists conversations, newest activity first.
#[utoipa::path(
    tag = "conversations",
    params(ConversationListParams),
    responses(
        (status = 200, description = "One page of conversations", body = Page<ConversationResource>),
        (status = 401, description = "No or a wrong API token", body = ErrorBody),
        (status = 422, description = "A parameter is wrong", body = ErrorBody)
    ),
    security(("token" = []))
)]
#[get("/conversations")]
pub async fn list_conversations(
    caller: ApiCaller,
    state: web::Data<AppState>,
    params: web::Query<ConversationListParams>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let status = match params.status.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(ConversationStatus::from_stored(raw).ok_or_else(|| {
            invalid(
                "status",
                "must be bot, waiting, assigned, pending or resolved",
            )
        })?),
    };
    let page = params.page.unwrap_or(1).max(1);
    let per_page = per_page(params.per_page)?;
    let (conversations, total) = state
        .desk
        .list_conversations(
            caller.scope,
            status,
            params.customer.map(CustomerId::new),
            page,
            per_page,
        )
        .await?;
    Ok(HttpResponse::Ok().json(Page {
        data: conversations
            .into_iter()
            .map(ConversationResource::from)
            .collect(),
        page,
        per_page,
        total,
    }))
}

/// One conversation.
#[utoipa::path(
    tag = "conversations",
    params(("id" = i64, Path, description = "The conversation's id")),
    responses(
        (status = 200, description = "The conversation", body = ConversationResource),
        (status = 404, description = "No such conversation, or not visible to the caller", body = ErrorBody)
    ),
    security(("token" = []))
)]
#[get("/conversations/{id}")]
pub async fn get_conversation(
    caller: ApiCaller,
    state: web::Data<AppState>,
    path: web::Path<ConversationId>,
) -> Result<HttpResponse, ApiError> {
    let (conversation, _) = state
        .desk
        .transcript(caller.scope, path.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(ConversationResource::from(conversation)))
}

/// A conversation's messages, oldest first (agents' private notes included).
#[utoipa::path(
    tag = "conversations",
    params(("id" = i64, Path, description = "The conversation's id")),
    responses(
        (status = 200, description = "Every message", body = Vec<MessageResource>),
        (status = 404, description = "No such conversation", body = ErrorBody)
    ),
    security(("token" = []))
)]
#[get("/conversations/{id}/messages")]
pub async fn list_messages(
    caller: ApiCaller,
    state: web::Data<AppState>,
    path: web::Path<ConversationId>,
) -> Result<HttpResponse, ApiError> {
    let (_, messages) = state
        .desk
        .transcript(caller.scope, path.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(
        messages
            .into_iter()
            .map(MessageResource::from)
            .collect::<Vec<_>>(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageCreate {
    body: String,
    /// true: a private note for agents, never shown to the customer.
    #[serde(default)]
    private: bool,
}

/// Writes in a conversation as the token's admin: a reply the customer sees live (the
/// conversation becomes theirs if nobody had it), or a private note.
#[utoipa::path(
    tag = "conversations",
    params(("id" = i64, Path, description = "The conversation's id")),
    request_body = MessageCreate,
    responses(
        (status = 201, description = "The stored message", body = MessageResource),
        (status = 403, description = "A read-only token", body = ErrorBody),
        (status = 404, description = "No such conversation", body = ErrorBody),
        (status = 422, description = "Empty or too long, or the conversation is resolved", body = ErrorBody)
    ),
    security(("token" = []))
)]
#[post("/conversations/{id}/messages")]
pub async fn create_message(
    caller: ApiCaller,
    state: web::Data<AppState>,
    path: web::Path<ConversationId>,
    body: web::Json<MessageCreate>,
) -> Result<HttpResponse, ApiError> {
    caller.require_write()?;
    let body = body.into_inner();
    let message = state
        .desk
        .write_message(caller.scope, path.into_inner(), &body.body, body.private)
        .await?;
    Ok(HttpResponse::Created().json(MessageResource::from(message)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerListParams {
    /// Only the customer(s) with this e-mail address (case ignored).
    email: Option<String>,
    page: Option<i64>,
    /// 1 to 100; 25 unless given.
    per_page: Option<i64>,
}

/// Lists customers, newest first.
#[utoipa::path(
    tag = "customers",
    params(CustomerListParams),
    responses(
        (status = 200, description = "One page of customers", body = Page<CustomerResource>),
        (status = 401, description = "No or a wrong API token", body = ErrorBody)
    ),
    security(("token" = []))
)]
#[get("/customers")]
pub async fn list_customers(
    _caller: ApiCaller,
    state: web::Data<AppState>,
    params: web::Query<CustomerListParams>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let page = params.page.unwrap_or(1).max(1);
    let per_page = per_page(params.per_page)?;
    let email = params.email.filter(|e| !e.trim().is_empty());
    let (customers, total) = state.desk.customers(email, page, per_page).await?;
    Ok(HttpResponse::Ok().json(Page {
        data: customers.into_iter().map(CustomerResource::from).collect(),
        page,
        per_page,
        total,
    }))
}

/// One customer.
#[utoipa::path(
    tag = "customers",
    params(("id" = i64, Path, description = "The customer's id")),
    responses(
        (status = 200, description = "The customer", body = CustomerResource),
        (status = 404, description = "No such customer", body = ErrorBody)
    ),
    security(("token" = []))
)]
#[get("/customers/{id}")]
pub async fn get_customer(
    _caller: ApiCaller,
    state: web::Data<AppState>,
    path: web::Path<CustomerId>,
) -> Result<HttpResponse, ApiError> {
    let customer = state.desk.customer(path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(CustomerResource::from(customer)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecommendationParams {
    /// Text to match items against (a question, a page's topic); optional.
    context: Option<String>,
    /// 1 to 20; 5 unless given.
    limit: Option<usize>,
}

/// Items suggested for a customer, best first, each with the reason: similar to `context`,
/// bought together with their purchases or carts, their interests, or popular; never what
/// they already bought.
#[utoipa::path(
    tag = "customers",
    params(("id" = i64, Path, description = "The customer's id"), RecommendationParams),
    responses(
        (status = 200, description = "Suggested items", body = Vec<ItemCard>),
        (status = 404, description = "No such customer", body = ErrorBody),
        (status = 422, description = "A parameter is out of range", body = ErrorBody)
    ),
    security(("token" = []))
)]
#[get("/customers/{id}/recommendations")]
pub async fn customer_recommendations(
    _caller: ApiCaller,
    state: web::Data<AppState>,
    path: web::Path<CustomerId>,
    params: web::Query<RecommendationParams>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let limit = params.limit.unwrap_or(5);
    if !(1..=20).contains(&limit) {
        return Err(invalid("limit", "must be from 1 to 20"));
    }
    if params
        .context
        .as_ref()
        .is_some_and(|c| c.chars().count() > 2_000)
    {
        return Err(invalid("context", "must be at most 2,000 characters"));
    }
    state.desk.customer(id).await?;
    let cards = state
        .catalog
        .recommend(Some(id), params.context.as_deref(), limit)
        .await?;
    Ok(HttpResponse::Ok().json(cards))
}
