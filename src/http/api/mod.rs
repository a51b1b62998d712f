//! The JSON API under `/api/v1`: same services as the pages, JSON in and out.

mod assistant;

pub use assistant::MAX_MESSAGE_CHARS;
mod knowledge;

use actix_web::web;

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/api/v1/kb/search", web::get().to(knowledge::search))
        .route(
            "/api/v1/assistant/understand",
            web::get().to(assistant::understand),
        );
}
