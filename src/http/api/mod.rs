//! The JSON API under `/api/v1`: same services as the pages, JSON in and out. Every route is
//! registered through utoipa-actix-web, so the OpenAPI document served at
//! `/api/v1/openapi.json` is built from the very handlers that answer.

mod assistant;
pub mod caller;
mod conversations;
mod knowledge;
mod resources;
mod tickets;

pub use assistant::MAX_MESSAGE_CHARS;

use actix_web::{HttpResponse, get, web};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::domain::ValidationError;
use crate::http::error::ApiError;
use crate::service::ServiceError;

/// The most items one page of a list returns.
const MAX_PER_PAGE: i64 = 100;
const DEFAULT_PER_PAGE: i64 = 25;

fn invalid(field: &'static str, message: &str) -> ApiError {
    ApiError(ServiceError::Invalid(ValidationError::new(field, message)))
}

fn per_page(raw: Option<i64>) -> Result<i64, ApiError> {
    match raw {
        None => Ok(DEFAULT_PER_PAGE),
        Some(n) if (1..=MAX_PER_PAGE).contains(&n) => Ok(n),
        Some(_) => Err(invalid(
            "per_page",
            &format!("must be between 1 and {MAX_PER_PAGE}"),
        )),
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "kefu",
        description = "The REST API of a kefu help desk: tickets and their comments, conversations and their messages, customers, the knowledge base and the bot. Authenticate with an API token (Admin → API & webhooks) as `Authorization: Bearer kefu_…`; read tokens may only GET. Errors are `{\"error\": {\"code\", \"message\"}}`.",
    ),
    modifiers(&TokenScheme)
)]
struct ApiDoc;

struct TokenScheme;

impl utoipa::Modify for TokenScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("kefu_…")
                    .build(),
            ),
        );
    }
}

/// The finished OpenAPI document, as JSON.
pub struct OpenApiDocument(pub String);

/// The document's title, description and security scheme; the paths come from `v1`.
pub fn document_base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// Every `/api/v1` route, each also described in the OpenAPI document.
pub fn v1(config: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    config.service(
        utoipa_actix_web::scope("/api/v1")
            .service(openapi_json)
            .service(knowledge::search)
            .service(assistant::understand)
            .service(tickets::list_tickets)
            .service(tickets::create_ticket)
            .service(tickets::get_ticket)
            .service(tickets::update_ticket)
            .service(tickets::list_comments)
            .service(tickets::create_comment)
            .service(conversations::list_conversations)
            .service(conversations::get_conversation)
            .service(conversations::list_messages)
            .service(conversations::create_message)
            .service(conversations::list_customers)
            .service(conversations::get_customer)
            .service(conversations::customer_recommendations),
    );
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(
    tag = "meta",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json"))
)]
#[get("/openapi.json")]
pub async fn openapi_json(document: web::Data<OpenApiDocument>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document.0.clone())
}
