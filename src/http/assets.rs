//! `static/` served from the binary, with ETags and long caching for versioned URLs.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

#[derive(rust_embed::RustEmbed)]
#[folder = "static/"]
struct StaticFiles;

fn content_hash(name: &str) -> Option<String> {
    StaticFiles::get(name).map(|file| hex::encode(&file.metadata.sha256_hash()[..8]))
}

/// The URL to put in a page: `/static/NAME?v=HASH`, which may be cached forever because the
/// hash changes whenever the file does.
pub fn url(name: &str) -> String {
    match content_hash(name) {
        Some(hash) => format!("/static/{name}?v={hash}"),
        None => format!("/static/{name}"),
    }
}

pub async fn serve(request: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let cache_control = if request.query_string().starts_with("v=") {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=0, must-revalidate"
    };
    serve_file(&request, &path.into_inner(), cache_control)
}

/// One embedded file under a fixed URL (`/widget.js`, which shops link without a version).
pub fn serve_file(request: &HttpRequest, name: &str, cache_control: &'static str) -> HttpResponse {
    let Some(file) = StaticFiles::get(name) else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("No such file.");
    };
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let not_modified = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|tag| tag.trim() == etag));
    if not_modified {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header((header::CACHE_CONTROL, cache_control))
            .finish();
    }
    HttpResponse::Ok()
        .content_type(file.metadata.mimetype())
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache_control))
        .body(file.data.into_owned())
}
