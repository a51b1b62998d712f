//! The web layer: routes, extractors, middleware, and the HTML and JSON views.
//! Handlers are thin: extract, call one service, render.

mod api;
mod assets;
mod attachments;
mod auth;
mod csrf;
mod error;
mod health;
mod metrics;
mod pages;
mod request_info;
mod security_headers;
mod sse;
mod state;
mod uploads;
mod views;
mod widget;
mod widget_files;

pub use csrf::CsrfKey;
pub use metrics::Metrics;
pub use state::AppState;

pub use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, HttpServer, web};
use std::net::TcpListener;
use std::time::Duration;
use utoipa_actix_web::AppExt;

/// Largest form body kefu accepts (uploads get their own limits).
const FORM_LIMIT_BYTES: usize = 64 * 1024;

/// Builds the server on an already-bound listener; it runs when the returned future is polled.
pub fn server(
    state: AppState,
    listener: TcpListener,
    workers: Option<usize>,
) -> std::io::Result<Server> {
    let state = web::Data::new(state);
    let mut server = HttpServer::new(move || {
        let (app, document) = App::new()
            .into_utoipa_app()
            .openapi(api::document_base())
            .configure(api::v1)
            .split_for_parts();
        let document = api::OpenApiDocument(document.to_json().unwrap_or_default());
        app.app_data(web::Data::new(document))
            .app_data(state.clone())
            .app_data(web::FormConfig::default().limit(FORM_LIMIT_BYTES))
            .app_data(web::JsonConfig::default().limit(FORM_LIMIT_BYTES))
            .wrap(from_fn(csrf::protect))
            .wrap(from_fn(security_headers::add))
            .wrap(Compress::default())
            .wrap(from_fn(metrics::record))
            .configure(routes)
            .default_service(web::to(error::not_found))
    })
    .listen(listener)?
    // `App::run_until_stopped` handles SIGTERM/SIGINT: it ends the event streams first.
    .disable_signals()
    .shutdown_timeout(30)
    .client_request_timeout(Duration::from_secs(30));
    if let Some(workers) = workers {
        server = server.workers(workers);
    }
    Ok(server.run())
}

fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(metrics::scrape))
        .route("/static/{path:.*}", web::get().to(assets::serve))
        .configure(attachments::routes)
        .configure(widget::routes)
        .configure(widget_files::routes)
        .configure(pages::routes);
}
