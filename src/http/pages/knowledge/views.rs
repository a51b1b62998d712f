//! What the knowledge templates show: entries as the pages present them, labels, times, and
//! the one way sanitised answer HTML reaches a template unescaped.

use crate::domain::{FaqEntry, FaqEntryId, SanitizedHtml};
use crate::http::error::PageError;
use crate::service::ServiceError;
use actix_web::cookie::time::OffsetDateTime;
use askama::filters::Safe;

/// An answer as the Markdown sanitiser produced it. Templates print `markup()`, which askama
/// leaves unescaped: the only unescaped HTML in the knowledge pages, and only because
/// `SanitizedHtml` cannot be built from anything but the sanitiser's output.
pub struct AnswerHtml(pub SanitizedHtml);

impl AnswerHtml {
    pub fn markup(&self) -> Safe<&str> {
        Safe(self.0.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.as_str().trim().is_empty()
    }
}

/// `/knowledge/{id}` with anything but a positive number is a page that does not exist.
pub fn parse_entry_id(raw: &str) -> Result<FaqEntryId, PageError> {
    match raw.parse::<i64>() {
        Ok(id) if id > 0 => Ok(FaqEntryId::new(id)),
        _ => Err(PageError(ServiceError::NotFound)),
    }
}

/// How a language code reads in the interface.
pub fn language_label(code: &str) -> String {
    match code {
        "zh" => "中文".to_string(),
        "en" => "English".to_string(),
        other => other.to_uppercase(),
    }
}

pub use crate::http::views::format_time;

/// Today's date as `YYYY-MM-DD` (UTC), for download file names.
pub fn today() -> String {
    let now = OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}",
        now.year(),
        u8::from(now.month()),
        now.day()
    )
}

/// The text of sanitised HTML without its tags, shortened to about `max_chars`; the template
/// escapes it again like any other text.
pub fn plain_excerpt(html: &SanitizedHtml, max_chars: usize) -> String {
    let mut text = String::new();
    // Inside a tag: its text so far, and whether an attribute's quotes are open.
    let mut tag: Option<(String, bool)> = None;
    for c in html.as_str().chars() {
        match (&mut tag, c) {
            (None, '<') => tag = Some((String::new(), false)),
            (None, _) => text.push(c),
            (Some((name, false)), '>') => {
                // Block elements separate words; inline ones (`<strong>`) sit inside them.
                if !is_inline_tag(name) {
                    text.push(' ');
                }
                tag = None;
            }
            (Some((name, quoted)), _) => {
                if c == '"' {
                    *quoted = !*quoted;
                }
                name.push(c);
            }
        }
    }
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= max_chars {
        return collapsed;
    }
    let mut short: String = collapsed.chars().take(max_chars).collect();
    short.truncate(short.trim_end().len());
    short.push('…');
    short
}

fn is_inline_tag(tag: &str) -> bool {
    let name = tag
        .trim_start_matches('/')
        .split(|c: char| c.is_whitespace() || c == '/')
        .next()
        .unwrap_or_default();
    matches!(
        name,
        "a" | "strong" | "em" | "b" | "i" | "code" | "del" | "s" | "span" | "sub" | "sup" | "u"
    )
}

/// One entry with everything its page shows.
pub struct EntryView {
    pub id: FaqEntryId,
    pub question: String,
    pub variants: Vec<String>,
    pub answer: AnswerHtml,
    pub category: String,
    pub tags: Vec<String>,
    pub language: String,
    pub language_label: String,
    pub status: &'static str,
    pub external_id: Option<String>,
    pub revision: i64,
    pub created: String,
    pub updated: String,
}

impl EntryView {
    pub fn new(entry: FaqEntry) -> EntryView {
        let content = entry.content;
        EntryView {
            id: entry.id,
            language_label: language_label(content.language.as_str()),
            language: content.language.as_str().to_string(),
            question: content.question,
            variants: content.variants,
            answer: AnswerHtml(entry.answer_html),
            category: content.category,
            tags: content.tags,
            status: content.status.as_str(),
            external_id: content.external_id,
            revision: entry.revision,
            created: format_time(entry.created_at),
            updated: format_time(entry.updated_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Timestamp;

    #[test]
    fn excerpts_drop_tags_and_keep_text() {
        let html = SanitizedHtml::from_sanitizer(
            "<p>Free <strong>shipping</strong>, <a href=\"/r\" title=\"a>b\">returns</a> &amp; more &lt;30 days&gt;</p><ul><li>fast</li><li>tracked</li></ul>"
                .to_string(),
        );
        assert_eq!(
            plain_excerpt(&html, 100),
            "Free shipping, returns & more <30 days> fast tracked"
        );
        assert_eq!(plain_excerpt(&html, 4), "Free…");
    }

    #[test]
    fn only_positive_numbers_are_entry_ids() {
        assert!(parse_entry_id("12").is_ok());
        for raw in ["0", "-3", "new", "99999999999999999999999"] {
            assert!(parse_entry_id(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn times_are_shown_in_utc() {
        assert_eq!(
            format_time(Timestamp::from_unix_seconds(1_700_000_000)),
            "2023-11-14 22:13 UTC"
        );
    }
}
