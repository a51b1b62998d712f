//! HTML pages, one module per area; each handler extracts, calls one service, renders.

mod account;
mod api_admin;
mod catalog_admin;
mod customers;
mod desk;
mod inboxes;
mod intents;
pub(crate) mod knowledge;
mod login;
mod proactive_admin;
mod routing_admin;
mod setup;
mod sla_admin;
mod tickets;
mod users;

use actix_web::web;

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/", web::get().to(login::home))
        .route("/setup", web::get().to(setup::form))
        .route("/setup", web::post().to(setup::submit))
        .route("/login", web::get().to(login::form))
        .route("/login", web::post().to(login::submit))
        .route("/logout", web::post().to(login::logout))
        .configure(desk::routes)
        .configure(customers::routes)
        .configure(catalog_admin::routes)
        .configure(proactive_admin::routes)
        .configure(routing_admin::routes)
        .configure(tickets::routes)
        .configure(sla_admin::routes)
        .configure(api_admin::routes)
        .configure(knowledge::routes)
        .route("/admin", web::get().to(users::admin_home))
        .route("/admin/users", web::get().to(users::list))
        .route("/admin/users", web::post().to(users::create))
        .route(
            "/admin/users/{id}/status",
            web::post().to(users::set_status),
        )
        .route("/admin/intents", web::get().to(intents::show))
        .route(
            "/admin/intents/phrases",
            web::post().to(intents::add_phrase),
        )
        .route(
            "/admin/intents/phrases/{id}/delete",
            web::post().to(intents::delete_phrase),
        )
        .route("/admin/inboxes", web::get().to(inboxes::list))
        .route("/admin/inboxes", web::post().to(inboxes::create))
        .route("/admin/inboxes/{id}", web::post().to(inboxes::update))
        .route(
            "/admin/inboxes/{id}/preview",
            web::get().to(inboxes::preview),
        )
        .route("/account", web::get().to(account::show))
        .route(
            "/account/password",
            web::post().to(account::change_password),
        );
}
