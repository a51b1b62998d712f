//! Attachments: uploads checked (count, size, type by content) and stored under random
//! names, thumbnails of images re-encoded as small PNGs, and downloads only for those who
//! may see the ticket or chat they belong to.

use std::io::Cursor;

use sha2::{Digest, Sha256};

use super::{ServiceError, blocking};
use crate::domain::attachment::{
    Attachment, AttachmentOwner, FileKind, MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS, download_name,
};
use crate::domain::{AttachmentId, CustomerId, DeskScope, ValidationError};
use crate::store::{AttachmentFiles, Store, StoredFile};

/// Thumbnails fit in this square.
const THUMBNAIL_PIXELS: u32 = 320;
/// Images larger than this are refused rather than decoded (a decompression bomb).
const MAX_IMAGE_SIDE: u32 = 10_000;
const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;

/// A file as the browser sent it.
#[derive(Debug, Clone)]
pub struct Upload {
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// The bytes to send for a download, and how to name them.
pub struct Download {
    pub attachment: Attachment,
    pub bytes: Vec<u8>,
}

pub struct AttachmentService {
    store: Store,
    files: AttachmentFiles,
}

/// A small PNG of an image, decoded and encoded again so no byte of the upload survives.
fn thumbnail(bytes: &[u8]) -> Result<Vec<u8>, ValidationError> {
    let unreadable = || ValidationError::new("file", "is an image that can't be read");
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| unreadable())?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let image = reader.decode().map_err(|_| unreadable())?;
    let small = image.thumbnail(THUMBNAIL_PIXELS, THUMBNAIL_PIXELS);
    let mut png = Vec::new();
    small
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|_| unreadable())?;
    Ok(png)
}

/// One upload checked and prepared: kind, name, hash and thumbnail.
struct Checked {
    upload: Upload,
    kind: FileKind,
    thumbnail: Option<Vec<u8>>,
}

fn check(upload: Upload) -> Result<Checked, ValidationError> {
    let name = upload.file_name.clone();
    let in_file =
        |error: ValidationError| ValidationError::new("file", format!("{name}: {}", error.message));
    if upload.bytes.len() > MAX_ATTACHMENT_BYTES {
        return Err(ValidationError::new(
            "file",
            format!(
                "{name} is {:.1} MB; the limit is {} MB",
                upload.bytes.len() as f64 / 1_048_576.0,
                MAX_ATTACHMENT_BYTES / 1_048_576
            ),
        ));
    }
    let kind = FileKind::sniff(&upload.bytes).map_err(in_file)?;
    let thumbnail = if kind.is_image() {
        Some(thumbnail(&upload.bytes).map_err(in_file)?)
    } else {
        None
    };
    Ok(Checked {
        upload,
        kind,
        thumbnail,
    })
}

impl AttachmentService {
    pub fn new(store: Store, files: AttachmentFiles) -> Self {
        Self { store, files }
    }

    /// Checks every upload (every problem reported at once) and writes the files. The rows
    /// are written by the caller with the comment or message; on failure it calls `discard`.
    pub async fn store_uploads(
        &self,
        uploads: Vec<Upload>,
    ) -> Result<Vec<StoredFile>, ServiceError> {
        if uploads.len() > MAX_ATTACHMENTS {
            return Err(ServiceError::Invalid(ValidationError::new(
                "file",
                format!(
                    "{} files; attach at most {MAX_ATTACHMENTS} at once",
                    uploads.len()
                ),
            )));
        }
        if uploads.is_empty() {
            return Ok(Vec::new());
        }
        let files = self.files.clone();
        blocking(move || {
            let mut errors = Vec::new();
            let mut checked = Vec::new();
            for upload in uploads {
                match check(upload) {
                    Ok(ok) => checked.push(ok),
                    Err(error) => errors.push(error),
                }
            }
            if !errors.is_empty() {
                return Err(ServiceError::InvalidFields(errors));
            }
            let mut stored = Vec::with_capacity(checked.len());
            for item in checked {
                let written = files.write(&item.upload.bytes, item.thumbnail.as_deref());
                let (storage_name, thumbnail_name) = match written {
                    Ok(names) => names,
                    Err(error) => {
                        let names: Vec<String> = stored
                            .iter()
                            .flat_map(|file: &StoredFile| {
                                std::iter::once(file.storage_name.clone())
                                    .chain(file.thumbnail_name.clone())
                            })
                            .collect();
                        files.remove(&names);
                        return Err(ServiceError::from(error));
                    }
                };
                stored.push(StoredFile {
                    file_name: download_name(&item.upload.file_name, item.kind),
                    content_type: item.kind.content_type().to_string(),
                    size_bytes: item.upload.bytes.len() as u64,
                    sha256: hex::encode(Sha256::digest(&item.upload.bytes)),
                    storage_name,
                    thumbnail_name,
                });
            }
            Ok(stored)
        })
        .await?
    }

    /// Removes files whose rows were not written after all.
    pub async fn discard(&self, stored: Vec<StoredFile>) {
        let files = self.files.clone();
        let names: Vec<String> = stored
            .into_iter()
            .flat_map(|file| std::iter::once(file.storage_name).chain(file.thumbnail_name))
            .collect();
        let _ = blocking(move || files.remove(&names)).await;
    }

    /// An attachment an agent may see: of a ticket or a chat in their scope; else 404.
    async fn visible_to_agent(
        &self,
        scope: DeskScope,
        id: AttachmentId,
    ) -> Result<Attachment, ServiceError> {
        let attachment = self.store.attachment(id).await?;
        match attachment.owner {
            AttachmentOwner::Comment { ticket, .. } => {
                self.store.ticket(scope, ticket).await?;
            }
            AttachmentOwner::Message { conversation, .. } => {
                self.store.desk_conversation(scope, conversation).await?;
            }
        }
        Ok(attachment)
    }

    /// An attachment the customer may see: on their own chat's public messages, or on a
    /// public reply to their ticket; else 404.
    async fn visible_to_customer(
        &self,
        customer: CustomerId,
        id: AttachmentId,
    ) -> Result<Attachment, ServiceError> {
        let attachment = self.store.attachment(id).await?;
        let allowed = match attachment.owner {
            AttachmentOwner::Message {
                conversation,
                message,
            } => {
                let conversation = self.store.conversation(conversation).await?;
                conversation.customer_id == customer
                    && self
                        .store
                        .messages_after(conversation.id, None, false)
                        .await?
                        .iter()
                        .any(|m| m.id == message)
            }
            AttachmentOwner::Comment { ticket, comment } => {
                let ticket = self.store.ticket_unscoped(ticket).await?;
                ticket.requester_id == customer
                    && self
                        .store
                        .ticket_comments(ticket.id, false)
                        .await?
                        .iter()
                        .any(|c| c.id == comment)
            }
        };
        if allowed {
            Ok(attachment)
        } else {
            Err(ServiceError::NotFound)
        }
    }

    async fn load(
        &self,
        attachment: Attachment,
        thumbnail: bool,
    ) -> Result<Download, ServiceError> {
        let name = if thumbnail {
            attachment
                .thumbnail_name
                .clone()
                .ok_or(ServiceError::NotFound)?
        } else {
            attachment.storage_name.clone()
        };
        let files = self.files.clone();
        let bytes = blocking(move || files.read(&name)).await??;
        Ok(Download { attachment, bytes })
    }

    pub async fn download_for_agent(
        &self,
        scope: DeskScope,
        id: AttachmentId,
        thumbnail: bool,
    ) -> Result<Download, ServiceError> {
        let attachment = self.visible_to_agent(scope, id).await?;
        self.load(attachment, thumbnail).await
    }

    pub async fn download_for_customer(
        &self,
        customer: CustomerId,
        id: AttachmentId,
        thumbnail: bool,
    ) -> Result<Download, ServiceError> {
        let attachment = self.visible_to_customer(customer, id).await?;
        self.load(attachment, thumbnail).await
    }
}
