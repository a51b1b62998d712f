//! The knowledge base: FAQ entries, their languages and statuses, the rules a valid entry
//! follows, and what a search returns.

use super::{FaqEntryId, Timestamp, ValidationError};
use serde::Serialize;

pub const QUESTION_MAX_CHARS: usize = 500;
pub const VARIANT_MAX_CHARS: usize = 500;
pub const MAX_VARIANTS: usize = 50;
pub const ANSWER_MAX_CHARS: usize = 20_000;
pub const CATEGORY_MAX_CHARS: usize = 100;
pub const TAG_MAX_CHARS: usize = 50;
pub const MAX_TAGS: usize = 20;
pub const EXTERNAL_ID_MAX_CHARS: usize = 200;

/// A language code such as `zh` or `en`: the primary subtag, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Language(String);

impl Language {
    pub fn zh() -> Self {
        Self("zh".into())
    }

    pub fn en() -> Self {
        Self("en".into())
    }

    /// Accepts `zh`, `zh-CN`, `EN`, `en_US`…; keeps the primary subtag.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let primary = raw
            .trim()
            .split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !(2..=3).contains(&primary.len()) || !primary.chars().all(|c| c.is_ascii_lowercase()) {
            return Err(ValidationError::new(
                "language",
                format!("{raw:?} is not a language code; use e.g. zh or en, or leave it empty"),
            ));
        }
        Ok(Self(primary))
    }

    /// Chinese when at least a fifth of the letters are Han characters, else English.
    /// Mixed text such as "我的 order 还没到" counts as Chinese.
    pub fn detect(text: &str) -> Self {
        let mut han = 0usize;
        let mut letters = 0usize;
        for c in text.chars() {
            if is_han(c) {
                han += 1;
                letters += 1;
            } else if c.is_alphabetic() {
                letters += 1;
            }
        }
        if han > 0 && han * 5 >= letters {
            Self::zh()
        } else {
            Self::en()
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_trusted(stored: String) -> Self {
        Self(stored)
    }
}

pub fn is_han(c: char) -> bool {
    matches!(c as u32,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// Only published entries are used by the bot; drafts wait for an admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FaqStatus {
    Draft,
    Published,
}

impl FaqStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            FaqStatus::Draft => "draft",
            FaqStatus::Published => "published",
        }
    }

    /// Empty means published: an imported FAQ is usually meant to be live.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "" | "published" => Ok(FaqStatus::Published),
            "draft" => Ok(FaqStatus::Draft),
            other => Err(ValidationError::new(
                "status",
                format!("{other:?} is not a status; use published or draft"),
            )),
        }
    }
}

/// HTML that came out of the Markdown renderer's allow-list sanitiser, and nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct SanitizedHtml(String);

impl SanitizedHtml {
    /// Only the sanitiser (and the store, reading back what it wrote) may call this.
    pub fn from_sanitizer(html: String) -> Self {
        Self(html)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The fields of an entry as typed by an admin or read from a CSV row, before checking.
#[derive(Debug, Clone, Default)]
pub struct FaqInput {
    pub question: String,
    pub variants: Vec<String>,
    pub answer: String,
    pub category: String,
    pub tags: Vec<String>,
    pub language: String,
    pub status: String,
    pub external_id: String,
}

/// A checked entry: what the store keeps (plus the rendered answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FaqContent {
    pub question: String,
    pub variants: Vec<String>,
    pub answer_markdown: String,
    pub category: String,
    pub tags: Vec<String>,
    pub language: Language,
    pub status: FaqStatus,
    pub external_id: Option<String>,
}

impl FaqContent {
    /// Checks every field and reports every problem, not just the first.
    pub fn parse(input: FaqInput) -> Result<FaqContent, Vec<ValidationError>> {
        let mut errors = Vec::new();
        let question = clean_line(&input.question);
        if question.is_empty() {
            errors.push(ValidationError::new("question", "is missing"));
        }
        check_length(&mut errors, "question", &question, QUESTION_MAX_CHARS);
        let answer = input.answer.trim().replace("\r\n", "\n");
        if answer.is_empty() {
            errors.push(ValidationError::new("answer", "is missing"));
        }
        check_length(&mut errors, "answer", &answer, ANSWER_MAX_CHARS);

        let question_key = normalize_question(&question);
        let mut variants: Vec<String> = Vec::new();
        for variant in input.variants.iter().map(|v| clean_line(v)) {
            let key = normalize_question(&variant);
            let duplicate =
                key == question_key || variants.iter().any(|v| normalize_question(v) == key);
            if !variant.is_empty() && !duplicate {
                check_length(&mut errors, "variants", &variant, VARIANT_MAX_CHARS);
                variants.push(variant);
            }
        }
        if variants.len() > MAX_VARIANTS {
            errors.push(ValidationError::new(
                "variants",
                format!("has {} phrasings; at most {MAX_VARIANTS}", variants.len()),
            ));
        }

        let category = clean_line(&input.category);
        check_length(&mut errors, "category", &category, CATEGORY_MAX_CHARS);
        let mut tags: Vec<String> = Vec::new();
        for tag in input.tags.iter().map(|t| clean_line(t).to_lowercase()) {
            if !tag.is_empty() && !tags.contains(&tag) {
                check_length(&mut errors, "tags", &tag, TAG_MAX_CHARS);
                tags.push(tag);
            }
        }
        if tags.len() > MAX_TAGS {
            errors.push(ValidationError::new(
                "tags",
                format!("has {} tags; at most {MAX_TAGS}", tags.len()),
            ));
        }

        let language = if input.language.trim().is_empty() {
            Ok(Language::detect(&format!("{question} {answer}")))
        } else {
            Language::parse(&input.language)
        };
        let status = FaqStatus::parse(&input.status);
        let external_id = clean_line(&input.external_id);
        check_length(
            &mut errors,
            "external_id",
            &external_id,
            EXTERNAL_ID_MAX_CHARS,
        );

        let language = language.map_err(|e| errors.push(e)).ok();
        let status = status.map_err(|e| errors.push(e)).ok();
        match (language, status) {
            (Some(language), Some(status)) if errors.is_empty() => Ok(FaqContent {
                question,
                variants,
                answer_markdown: answer,
                category,
                tags,
                language,
                status,
                external_id: (!external_id.is_empty()).then_some(external_id),
            }),
            _ => Err(errors),
        }
    }

    /// The key entries without an external id are matched by on re-import.
    pub fn question_key(&self) -> String {
        normalize_question(&self.question)
    }
}

fn clean_line(raw: &str) -> String {
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn check_length(errors: &mut Vec<ValidationError>, field: &'static str, value: &str, max: usize) {
    let chars = value.chars().count();
    if chars > max {
        errors.push(ValidationError::new(
            field,
            format!("is {chars} characters long; at most {max}"),
        ));
    }
}

/// Lower-cased, whitespace collapsed, trailing punctuation dropped: "Where is my order?"
/// and "where is my order" are the same question.
pub fn normalize_question(question: &str) -> String {
    let collapsed = clean_line(&question.to_lowercase());
    collapsed
        .trim_end_matches(|c: char| c.is_ascii_punctuation() || "？！。，、；：…".contains(c))
        .trim()
        .to_string()
}

/// A stored FAQ entry.
#[derive(Debug, Clone, Serialize)]
pub struct FaqEntry {
    pub id: FaqEntryId,
    #[serde(flatten)]
    pub content: FaqContent,
    pub answer_html: SanitizedHtml,
    pub revision: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One change to the knowledge base, in commit order; `entry` is `None` once deleted.
#[derive(Debug, Clone)]
pub struct KnowledgeChange {
    pub sequence: i64,
    pub entry_id: FaqEntryId,
    pub entry: Option<FaqEntry>,
}

/// Which entries a search may return.
#[derive(Debug, Clone, Default)]
pub struct KnowledgeFilter {
    /// The bot only ever sees published entries.
    pub published_only: bool,
    pub language: Option<Language>,
    pub category: Option<String>,
}

/// A piece of a search snippet; highlighted pieces matched the query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnippetPart {
    pub text: String,
    pub highlighted: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct KnowledgeHit {
    pub entry_id: FaqEntryId,
    pub score: f32,
    pub snippet: Vec<SnippetPart>,
}

/// What an import did (or, in a dry run, would do) with one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportAction {
    Created,
    Updated,
    Unchanged,
}

impl ImportAction {
    pub const fn as_str(self) -> &'static str {
        match self {
            ImportAction::Created => "created",
            ImportAction::Updated => "updated",
            ImportAction::Unchanged => "unchanged",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportedRow {
    pub line: u64,
    pub action: ImportAction,
    pub question: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportSummary {
    pub dry_run: bool,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub rows: Vec<ImportedRow>,
}

impl ImportSummary {
    pub fn record(&mut self, line: u64, action: ImportAction, question: &str) {
        match action {
            ImportAction::Created => self.created += 1,
            ImportAction::Updated => self.updated += 1,
            ImportAction::Unchanged => self.unchanged += 1,
        }
        self.rows.push(ImportedRow {
            line,
            action,
            question: question.to_string(),
        });
    }
}

/// A problem with one line of an imported file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    pub line: u64,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(question: &str, answer: &str) -> FaqInput {
        FaqInput {
            question: question.into(),
            answer: answer.into(),
            ..FaqInput::default()
        }
    }

    #[test]
    fn language_is_detected_from_the_text() {
        assert_eq!(Language::detect("Where is my order?"), Language::en());
        assert_eq!(Language::detect("我的订单到哪了"), Language::zh());
        assert_eq!(Language::detect("我的 order 还没到"), Language::zh());
        assert_eq!(
            Language::detect("Do you sell 龙井 tea in big tins?"),
            Language::en()
        );
        assert_eq!(Language::parse("zh-CN"), Ok(Language::zh()));
        assert!(Language::parse("chinese").is_err());
    }

    #[test]
    fn every_problem_is_reported() {
        let errors = FaqContent::parse(FaqInput {
            status: "live".into(),
            question: "x".repeat(QUESTION_MAX_CHARS + 1),
            ..FaqInput::default()
        })
        .expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["question", "answer", "status"]);
    }

    #[test]
    fn variants_and_tags_are_cleaned_and_deduplicated() {
        let content = FaqContent::parse(FaqInput {
            variants: vec![
                " where is my  parcel ".into(),
                "Where is my order".into(),
                "".into(),
                "where is my parcel?".into(),
            ],
            tags: vec!["Shipping".into(), "shipping".into()],
            ..input("Where is my order?", "See **Orders**.")
        })
        .expect("valid");
        assert_eq!(content.variants, ["where is my parcel"]);
        assert_eq!(content.tags, ["shipping"]);
        assert_eq!(content.language, Language::en());
        assert_eq!(content.status, FaqStatus::Published);
        assert_eq!(content.question_key(), "where is my order");
    }
}
