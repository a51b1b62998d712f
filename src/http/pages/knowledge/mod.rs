//! Knowledge pages: agents browse and search the FAQ; admins edit, import and export it.

mod editor;
mod entry;
mod list;
pub(crate) mod transfer;
mod views;

use actix_web::web;

/// Editor forms carry up to 20,000 answer characters plus variants; percent-encoded Chinese
/// takes nine bytes a character, so the site-wide 64 KiB form limit is too small here. This
/// matches the 256 KiB the CSRF middleware reads when the token comes in the form body.
const EDITOR_FORM_LIMIT_BYTES: usize = 256 * 1024;

fn editor_form() -> web::FormConfig {
    web::FormConfig::default().limit(EDITOR_FORM_LIMIT_BYTES)
}

/// Fixed paths come before `/knowledge/{id}`, which would otherwise swallow them.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(
            web::resource("/knowledge")
                .app_data(editor_form())
                .route(web::get().to(list::show))
                .route(web::post().to(editor::create)),
        )
        .route("/knowledge/new", web::get().to(editor::new_entry))
        .service(
            web::resource("/knowledge/preview")
                .app_data(editor_form())
                .route(web::post().to(editor::preview)),
        )
        .service(
            web::resource("/knowledge/import")
                .route(web::get().to(transfer::import_page))
                .route(web::post().to(transfer::import_upload)),
        )
        .route("/knowledge/export.csv", web::get().to(transfer::export))
        .service(
            web::resource("/knowledge/{id}")
                .app_data(editor_form())
                .route(web::get().to(entry::show))
                .route(web::post().to(editor::update)),
        )
        .route("/knowledge/{id}/edit", web::get().to(editor::edit_entry))
        .service(
            web::resource("/knowledge/{id}/delete")
                .route(web::get().to(entry::confirm_delete))
                .route(web::post().to(entry::delete)),
        );
}
