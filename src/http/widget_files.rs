//! Files in the customer's chat: sending one (multipart, from the widget's 📎 button) and
//! downloading files of their own chat or of public replies to their tickets.

use actix_web::{HttpRequest, HttpResponse, web};

use super::attachments::download_response;
use super::error::PageError;
use super::request_info::client_ip;
use super::uploads;
use super::widget::{after_post, current_visitor, form_error};
use crate::domain::AttachmentId;
use crate::http::AppState;

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/widget/{inbox}/attachments", web::post().to(upload))
        .route("/widget/{inbox}/attachments/{id}", web::get().to(download))
        .route(
            "/widget/{inbox}/attachments/{id}/thumbnail",
            web::get().to(thumbnail),
        );
}

async fn upload(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let visitor = current_visitor(&request, &state, &path).await?;
    let ip = client_ip(&request, state.trust_proxy);
    let form = match uploads::read(&request, payload).await {
        Ok(form) => form,
        Err(error) => return form_error(&request, error),
    };
    match state
        .conversations
        .post_customer_files(&visitor, Some(ip), form.files)
        .await
    {
        Ok(_) => Ok(after_post(&request, &path)),
        Err(error) => form_error(&request, error),
    }
}

async fn fetch(
    request: HttpRequest,
    state: web::Data<AppState>,
    inbox: &str,
    id: AttachmentId,
    thumbnail: bool,
) -> Result<HttpResponse, PageError> {
    let visitor = current_visitor(&request, &state, inbox).await?;
    let download = state
        .conversations
        .customer_attachment(&visitor, id, thumbnail)
        .await?;
    Ok(download_response(download, thumbnail))
}

async fn download(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, AttachmentId)>,
) -> Result<HttpResponse, PageError> {
    let (inbox, id) = path.into_inner();
    fetch(request, state, &inbox, id, false).await
}

async fn thumbnail(
    request: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, AttachmentId)>,
) -> Result<HttpResponse, PageError> {
    let (inbox, id) = path.into_inner();
    fetch(request, state, &inbox, id, true).await
}
