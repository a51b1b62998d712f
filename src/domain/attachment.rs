//! Files attached to ticket comments and chat messages: which kinds are accepted — judged by
//! their bytes, never their name — how large and how many, and the name a download gets.

use serde::Serialize;

use super::ValidationError;
use super::{AttachmentId, ConversationId, MessageId, TicketCommentId, TicketId, Timestamp};

/// The largest file accepted.
pub const MAX_ATTACHMENT_BYTES: usize = 10 * 1024 * 1024;
/// The most files on one comment or message.
pub const MAX_ATTACHMENTS: usize = 5;
const FILE_NAME_MAX_CHARS: usize = 120;

/// A kind of file kefu accepts, as its bytes show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FileKind {
    Png,
    Jpeg,
    Gif,
    Webp,
    Pdf,
    /// UTF-8 text without control characters (notes, CSV, logs).
    Text,
    Zip,
    Docx,
    Xlsx,
}

impl FileKind {
    /// The kind of `bytes`, or why they are refused.
    pub fn sniff(bytes: &[u8]) -> Result<FileKind, ValidationError> {
        let refused = |what: &str| {
            ValidationError::new(
                "file",
                format!(
                    "{what} can't be attached; send images (PNG, JPEG, GIF, WebP), PDF, plain text, Word or Excel files, or ZIP"
                ),
            )
        };
        if bytes.is_empty() {
            return Err(ValidationError::new("file", "is empty"));
        }
        if let Some(found) = infer::get(bytes) {
            return match found.mime_type() {
                "image/png" => Ok(FileKind::Png),
                "image/jpeg" => Ok(FileKind::Jpeg),
                "image/gif" => Ok(FileKind::Gif),
                "image/webp" => Ok(FileKind::Webp),
                "application/pdf" => Ok(FileKind::Pdf),
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => {
                    Ok(FileKind::Docx)
                }
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => {
                    Ok(FileKind::Xlsx)
                }
                "application/zip" => Ok(FileKind::Zip),
                markup
                    if markup.contains("html")
                        || markup.contains("xml")
                        || markup.contains("svg") =>
                {
                    Err(refused("HTML, XML or SVG"))
                }
                _ if found.matcher_type() == infer::MatcherType::App => Err(refused("A program")),
                other => Err(refused(&format!("A file of type {other}"))),
            };
        }
        let text = std::str::from_utf8(bytes).map_err(|_| refused("This kind of file"))?;
        let looks_like_markup = text
            .trim_start_matches('\u{feff}')
            .trim_start()
            .get(..1)
            .is_some_and(|first| first == "<");
        if looks_like_markup {
            // HTML and SVG are text that a browser would run.
            return Err(refused("HTML, XML or SVG"));
        }
        if text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(refused("This kind of file"));
        }
        Ok(FileKind::Text)
    }

    /// The Content-Type a download is sent with.
    pub const fn content_type(self) -> &'static str {
        match self {
            FileKind::Png => "image/png",
            FileKind::Jpeg => "image/jpeg",
            FileKind::Gif => "image/gif",
            FileKind::Webp => "image/webp",
            FileKind::Pdf => "application/pdf",
            FileKind::Text => "text/plain; charset=utf-8",
            FileKind::Zip => "application/zip",
            FileKind::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            FileKind::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }

    pub const fn is_image(self) -> bool {
        matches!(
            self,
            FileKind::Png | FileKind::Jpeg | FileKind::Gif | FileKind::Webp
        )
    }

    const fn extension(self) -> &'static str {
        match self {
            FileKind::Png => "png",
            FileKind::Jpeg => "jpg",
            FileKind::Gif => "gif",
            FileKind::Webp => "webp",
            FileKind::Pdf => "pdf",
            FileKind::Text => "txt",
            FileKind::Zip => "zip",
            FileKind::Docx => "docx",
            FileKind::Xlsx => "xlsx",
        }
    }
}

/// The name a download is offered under: the uploaded name without any path, control
/// characters or quotes, shortened, ending in the extension of what the file really is.
pub fn download_name(uploaded: &str, kind: FileKind) -> String {
    let base = uploaded
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '<' | '>' | ':' | '*' | '?' | '|'))
        .collect::<String>();
    let base = base.trim().trim_start_matches('.');
    let stem = match base.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ if !base.is_empty() => base,
        _ => "attachment",
    };
    let stem: String = stem.chars().take(FILE_NAME_MAX_CHARS).collect();
    format!("{}.{}", stem.trim(), kind.extension())
}

/// Where an attachment belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AttachmentOwner {
    Comment {
        ticket: TicketId,
        comment: TicketCommentId,
    },
    Message {
        conversation: ConversationId,
        message: MessageId,
    },
}

/// A stored attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attachment {
    pub id: AttachmentId,
    pub owner: AttachmentOwner,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub sha256: String,
    /// The random name of the bytes under the data dir's `attachments/`.
    #[serde(skip)]
    pub storage_name: String,
    /// A re-encoded small PNG beside it, for images.
    #[serde(skip)]
    pub thumbnail_name: Option<String>,
    pub created_at: Timestamp,
}

impl Attachment {
    pub fn has_thumbnail(&self) -> bool {
        self.thumbnail_name.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = &[
        0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d,
    ];

    #[test]
    fn kinds_come_from_the_bytes_not_the_name() {
        assert_eq!(FileKind::sniff(PNG), Ok(FileKind::Png));
        assert_eq!(FileKind::sniff(b"%PDF-1.7\n..."), Ok(FileKind::Pdf));
        assert_eq!(
            FileKind::sniff("订单 1234, 退货\n".as_bytes()),
            Ok(FileKind::Text)
        );
        for refused in [
            b"<html><script>alert(1)</script>".as_slice(),
            b"  <svg onload=alert(1)>",
            b"MZ\x90\x00\x03\x00\x00\x00\x04\x00",
            b"\x7fELF\x02\x01\x01",
            b"text with a \x00 NUL",
            b"",
        ] {
            assert!(FileKind::sniff(refused).is_err(), "{refused:?}");
        }
    }

    #[test]
    fn download_names_lose_paths_and_tell_the_truth_about_the_type() {
        assert_eq!(
            download_name("../../etc/passwd", FileKind::Text),
            "passwd.txt"
        );
        assert_eq!(
            download_name("C:\\Users\\me\\photo.JPG", FileKind::Jpeg),
            "photo.jpg"
        );
        assert_eq!(
            download_name("invoice.pdf.exe", FileKind::Pdf),
            "invoice.pdf.pdf"
        );
        assert_eq!(download_name("\"evil\r\n.png", FileKind::Png), "evil.png");
        assert_eq!(download_name("", FileKind::Zip), "attachment.zip");
        assert_eq!(download_name("截图.png", FileKind::Png), "截图.png");
    }
}
