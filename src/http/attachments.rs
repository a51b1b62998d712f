//! Downloads of attachments: only to those who may see the ticket or chat, always as a
//! download (`Content-Disposition: attachment`) with a sandboxing CSP, never rendered from
//! kefu's origin. Image thumbnails (re-encoded PNGs) are what pages show inline.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::domain::{AttachmentId, DeskScope};
use crate::http::AppState;
use crate::http::auth::SignedIn;
use crate::http::error::PageError;
use crate::service::Download;

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/attachments/{id}", web::get().to(download))
        .route("/attachments/{id}/thumbnail", web::get().to(thumbnail));
}

/// `filename*=` needs the name percent-encoded (RFC 5987); the plain `filename=` gets an
/// ASCII stand-in for old clients.
fn disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_ ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b".-_".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// The bytes as a download that no browser runs or renders as a page of ours.
pub fn download_response(download: Download, thumbnail: bool) -> HttpResponse {
    let attachment = &download.attachment;
    let (content_type, name) = if thumbnail {
        (
            "image/png".to_string(),
            format!("{}.thumbnail.png", attachment.file_name),
        )
    } else {
        (
            attachment.content_type.clone(),
            attachment.file_name.clone(),
        )
    };
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_DISPOSITION, disposition(&name)))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "private, max-age=300"))
        .insert_header(("Cross-Origin-Resource-Policy", "same-origin"))
        .body(download.bytes)
}

fn scope(who: &SignedIn) -> DeskScope {
    DeskScope {
        user: who.session.user.id,
        is_admin: who.session.user.is_admin(),
    }
}

async fn download(
    who: SignedIn,
    state: web::Data<AppState>,
    path: web::Path<AttachmentId>,
) -> Result<HttpResponse, PageError> {
    let download = state
        .attachments
        .download_for_agent(scope(&who), path.into_inner(), false)
        .await?;
    Ok(download_response(download, false))
}

async fn thumbnail(
    who: SignedIn,
    state: web::Data<AppState>,
    path: web::Path<AttachmentId>,
) -> Result<HttpResponse, PageError> {
    let download = state
        .attachments
        .download_for_agent(scope(&who), path.into_inner(), true)
        .await?;
    Ok(download_response(download, true))
}
