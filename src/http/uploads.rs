//! Reading `multipart/form-data` bodies (files and text fields) with limits, for the forms
//! that attach files. The checks that matter to users (count, size, type) are the service's;
//! these limits only stop oversized bodies early.

use actix_web::http::header;
use actix_web::{HttpRequest, web};

use crate::domain::ValidationError;
use crate::domain::attachment::{MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS};
use crate::service::{ServiceError, Upload};

/// A whole upload: every file at its limit, plus room for the text fields.
const MAX_BODY_BYTES: u64 = (MAX_ATTACHMENTS as u64 + 1) * MAX_ATTACHMENT_BYTES as u64;
const MAX_TEXT_FIELD_BYTES: usize = 64 * 1024;
/// More file fields than this are not even read (the service refuses more than the limit).
const MAX_FILE_FIELDS: usize = MAX_ATTACHMENTS + 1;

/// The text fields and files of a form.
#[derive(Debug, Default)]
pub struct MultipartForm {
    pub fields: Vec<(String, String)>,
    pub files: Vec<Upload>,
}

impl MultipartForm {
    pub fn field(&self, name: &str) -> String {
        self.fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .unwrap_or_default()
    }
}

fn too_large() -> ServiceError {
    ServiceError::Invalid(ValidationError::new(
        "file",
        format!(
            "the upload is too large: at most {MAX_ATTACHMENTS} files of {} MB each",
            MAX_ATTACHMENT_BYTES / 1_048_576
        ),
    ))
}

/// Whether the request carries a multipart body.
pub fn is_multipart(request: &HttpRequest) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"))
}

/// Reads the whole form. Empty file inputs (no file chosen) are skipped.
pub async fn read(
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<MultipartForm, ServiceError> {
    let malformed = || {
        ServiceError::Invalid(ValidationError::new(
            "form",
            "could not be read; reload the page and try again",
        ))
    };
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = multer::parse_boundary(content_type).map_err(|_| malformed())?;
    let constraints = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(MAX_BODY_BYTES)
            .per_field(MAX_ATTACHMENT_BYTES as u64 + 1),
    );
    // The body is read whole (bounded) first: multer wants a stream it can send between
    // threads, and actix's payload stays on its worker.
    let body = payload
        .to_bytes_limited(usize::try_from(MAX_BODY_BYTES).unwrap_or(usize::MAX))
        .await
        .map_err(|_| too_large())?
        .map_err(|_| malformed())?;
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut multipart = multer::Multipart::with_constraints(stream, boundary, constraints);
    let mut form = MultipartForm::default();
    let mut file_fields = 0;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(
                multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. },
            ) => {
                return Err(too_large());
            }
            Err(_) => return Err(malformed()),
        };
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let bytes = match field.bytes().await {
            Ok(bytes) => bytes,
            Err(
                multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. },
            ) => {
                return Err(too_large());
            }
            Err(_) => return Err(malformed()),
        };
        match file_name {
            Some(file_name) => {
                if file_name.is_empty() && bytes.is_empty() {
                    continue;
                }
                file_fields += 1;
                if file_fields > MAX_FILE_FIELDS {
                    return Err(ServiceError::Invalid(ValidationError::new(
                        "file",
                        format!("attach at most {MAX_ATTACHMENTS} files at once"),
                    )));
                }
                form.files.push(Upload {
                    file_name,
                    bytes: bytes.to_vec(),
                });
            }
            None => {
                if bytes.len() > MAX_TEXT_FIELD_BYTES {
                    return Err(too_large());
                }
                form.fields
                    .push((name, String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
    }
    Ok(form)
}
