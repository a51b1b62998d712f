//! The shop's catalog: an item's fields and the rules its CSV row and admin form must meet.

use serde::Serialize;

use super::{Language, Timestamp, ValidationError};

const MAX_ID_CHARS: usize = 100;
const MAX_TITLE_CHARS: usize = 300;
const MAX_DESCRIPTION_CHARS: usize = 5_000;
const MAX_CATEGORY_CHARS: usize = 100;
const MAX_TAGS: usize = 20;
const MAX_TAG_CHARS: usize = 50;
const MAX_URL_CHARS: usize = 2_000;
/// A hundred million in the shop's currency: anything above is a typo.
const MAX_PRICE_CENTS: i64 = 10_000_000_000;

/// A catalog row as typed, before validation.
#[derive(Debug, Clone, Default)]
pub struct CatalogInput {
    pub id: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub tags: Vec<String>,
    pub price: String,
    pub url: String,
    pub image_url: String,
    pub language: String,
}

/// An item that passed validation; `id` is the shop's own item id.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogItem {
    pub id: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub tags: Vec<String>,
    /// In hundredths of the shop's currency, so sums stay exact.
    pub price_cents: Option<i64>,
    pub url: String,
    pub image_url: String,
    pub language: Language,
}

/// A stored item with its bookkeeping.
#[derive(Debug, Clone, Serialize)]
pub struct StoredCatalogItem {
    #[serde(flatten)]
    pub item: CatalogItem,
    pub updated_at: Timestamp,
}

impl CatalogItem {
    /// Checks every field, returning all problems at once.
    pub fn parse(input: CatalogInput) -> Result<CatalogItem, Vec<ValidationError>> {
        let mut problems = Vec::new();
        let id = input.id.trim().to_string();
        if id.is_empty() {
            problems.push(ValidationError::new(
                "id",
                "is empty; every item needs the shop's id",
            ));
        } else if id.chars().count() > MAX_ID_CHARS || id.chars().any(char::is_control) {
            problems.push(ValidationError::new(
                "id",
                format!("must be at most {MAX_ID_CHARS} characters without control characters"),
            ));
        }
        let title = input.title.trim().to_string();
        if title.is_empty() {
            problems.push(ValidationError::new("title", "is empty"));
        }
        check_length(&mut problems, "title", &title, MAX_TITLE_CHARS);
        let description = input.description.trim().to_string();
        check_length(
            &mut problems,
            "description",
            &description,
            MAX_DESCRIPTION_CHARS,
        );
        let category = input.category.trim().to_string();
        check_length(&mut problems, "category", &category, MAX_CATEGORY_CHARS);
        let mut tags: Vec<String> = Vec::new();
        for tag in input
            .tags
            .iter()
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
        {
            if tag.chars().count() > MAX_TAG_CHARS {
                problems.push(ValidationError::new(
                    "tags",
                    format!("{tag:?} is longer than {MAX_TAG_CHARS} characters"),
                ));
            } else if !tags.iter().any(|known| known == tag) {
                tags.push(tag.to_string());
            }
        }
        if tags.len() > MAX_TAGS {
            problems.push(ValidationError::new(
                "tags",
                format!("at most {MAX_TAGS} tags"),
            ));
        }
        let price_cents = match parse_price(&input.price) {
            Ok(price) => price,
            Err(problem) => {
                problems.push(problem);
                None
            }
        };
        let url = check_url(&mut problems, "url", &input.url);
        let image_url = check_url(&mut problems, "image_url", &input.image_url);
        let language = if input.language.trim().is_empty() {
            Language::detect(&format!("{title} {description}"))
        } else {
            match Language::parse(&input.language) {
                Ok(language) => language,
                Err(problem) => {
                    problems.push(problem);
                    Language::en()
                }
            }
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(CatalogItem {
            id,
            title,
            description,
            category,
            tags,
            price_cents,
            url,
            image_url,
            language,
        })
    }

    /// What the model embeds for content similarity.
    pub fn embedding_text(&self) -> String {
        let mut text = self.title.clone();
        if !self.category.is_empty() {
            text.push_str(" · ");
            text.push_str(&self.category);
        }
        if !self.tags.is_empty() {
            text.push_str(" · ");
            text.push_str(&self.tags.join(", "));
        }
        if !self.description.is_empty() {
            text.push_str(". ");
            text.extend(self.description.chars().take(400));
        }
        text
    }

    /// "129.00" style, for cards and exports.
    pub fn price_text(&self) -> Option<String> {
        self.price_cents
            .map(|cents| format!("{}.{:02}", cents / 100, cents % 100))
    }
}

/// Title words shared by more than this share of the catalog (a brand name) name no item.
const MAX_TERM_SHARE: f64 = 0.2;
const MIN_TITLE_WORD_CHARS: usize = 4;

/// The words that name each item when a customer writes them: its tags and category (as
/// the shop wrote them) and its distinctive title words; lower case.
pub fn naming_terms(items: &[&CatalogItem]) -> Vec<Vec<String>> {
    let title_words = |item: &CatalogItem| -> Vec<String> {
        let mut words: Vec<String> = item
            .title
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.chars().count() >= MIN_TITLE_WORD_CHARS && w.is_ascii())
            .map(str::to_lowercase)
            .collect();
        words.sort();
        words.dedup();
        words
    };
    let mut document_frequency: std::collections::HashMap<String, usize> = Default::default();
    for item in items {
        for word in title_words(item) {
            *document_frequency.entry(word).or_default() += 1;
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let limit = ((items.len() as f64) * MAX_TERM_SHARE).max(2.0);
    items
        .iter()
        .map(|item| {
            let mut terms: Vec<String> = item
                .tags
                .iter()
                .chain(std::iter::once(&item.category))
                .map(|t| t.trim().to_lowercase())
                .filter(|t| t.chars().count() >= 2)
                .collect();
            #[allow(clippy::cast_precision_loss)]
            terms.extend(
                title_words(item)
                    .into_iter()
                    .filter(|w| (document_frequency.get(w).copied().unwrap_or(0) as f64) <= limit),
            );
            terms.sort();
            terms.dedup();
            terms
        })
        .collect()
}

/// Whether `text` names one of `terms`: Latin words as whole words, Chinese as substrings.
pub fn mentions(text: &str, terms: &[String]) -> bool {
    let lower = text.to_lowercase();
    terms.iter().any(|term| {
        if term.is_ascii() {
            lower
                .split(|c: char| !c.is_alphanumeric() && c != '-')
                .any(|word| word == term || word.strip_suffix('s') == Some(term.as_str()))
        } else {
            lower.contains(term.as_str())
        }
    })
}

fn check_length(problems: &mut Vec<ValidationError>, field: &'static str, text: &str, max: usize) {
    if text.chars().count() > max {
        problems.push(ValidationError::new(
            field,
            format!("is longer than {max} characters"),
        ));
    }
}

/// Only web links: a card's link and image must never run script or read local files.
fn check_url(problems: &mut Vec<ValidationError>, field: &'static str, raw: &str) -> String {
    let url = raw.trim();
    if url.is_empty() {
        return String::new();
    }
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://") || url.starts_with('/')) {
        problems.push(ValidationError::new(
            field,
            format!("{url:?} must start with https://, http:// or /"),
        ));
    } else if url.starts_with("//") || url.chars().count() > MAX_URL_CHARS {
        problems.push(ValidationError::new(
            field,
            format!("must be a full https:// address of at most {MAX_URL_CHARS} characters"),
        ));
    } else if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        problems.push(ValidationError::new(
            field,
            format!("{url:?} contains spaces; encode them as %20"),
        ));
    }
    url.to_string()
}

/// "129", "129.9", "129.99", "¥129", "$1,299.00" → cents; empty → no price.
fn parse_price(raw: &str) -> Result<Option<i64>, ValidationError> {
    let cleaned: String = raw
        .trim()
        .trim_start_matches(['¥', '$', '€', '£', '￥'])
        .chars()
        .filter(|c| *c != ',')
        .collect();
    if cleaned.is_empty() {
        return Ok(None);
    }
    let invalid = || {
        ValidationError::new(
            "price",
            format!("{raw:?} is not a price; write e.g. 129 or 129.90"),
        )
    };
    let (whole, fraction) = cleaned.split_once('.').unwrap_or((&cleaned, ""));
    if whole.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || fraction.len() > 2
        || !fraction.chars().all(|c| c.is_ascii_digit())
    {
        return Err(invalid());
    }
    let whole: i64 = whole.parse().map_err(|_| invalid())?;
    let fraction: i64 = format!("{fraction:0<2}").parse().map_err(|_| invalid())?;
    let cents = whole
        .checked_mul(100)
        .and_then(|c| c.checked_add(fraction))
        .filter(|c| *c <= MAX_PRICE_CENTS)
        .ok_or_else(invalid)?;
    Ok(Some(cents))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> CatalogInput {
        CatalogInput {
            id: "SKU-1".into(),
            title: "Phone case".into(),
            price: "129.9".into(),
            ..CatalogInput::default()
        }
    }

    #[test]
    fn items_are_named_by_tags_category_and_distinctive_title_words() {
        let lamp = CatalogItem::parse(CatalogInput {
            id: "L1".into(),
            title: "Lumen Smart Desk Lamp".into(),
            tags: vec!["lighting".into(), "台灯".into()],
            ..CatalogInput::default()
        })
        .expect("valid");
        let kettle = CatalogItem::parse(CatalogInput {
            id: "K1".into(),
            title: "Lumen Glass Kettle".into(),
            category: "kitchen".into(),
            ..CatalogInput::default()
        })
        .expect("valid");
        let bulb = CatalogItem::parse(CatalogInput {
            id: "B1".into(),
            title: "Lumen Bulb".into(),
            ..CatalogInput::default()
        })
        .expect("valid");
        let terms = naming_terms(&[&lamp, &kettle, &bulb]);
        // "lumen" is in every title: it names no item in particular.
        assert_eq!(terms[0], ["desk", "lamp", "lighting", "smart", "台灯"]);
        assert!(mentions("Can I return the kettle?", &terms[1]));
        assert!(mentions("my lamps flicker", &terms[0]));
        assert!(mentions("我的台灯不亮了", &terms[0]));
        assert!(!mentions("How do I reset my password?", &terms[0]));
        assert!(!mentions("lumen support", &terms[2]));
    }

    #[test]
    fn prices_are_read_exactly() {
        for (raw, cents) in [
            ("129", Some(12_900)),
            ("129.9", Some(12_990)),
            ("¥1,299.05", Some(129_905)),
            ("", None),
        ] {
            assert_eq!(parse_price(raw).expect(raw), cents, "{raw}");
        }
        for raw in ["12.345", "abc", "-3", "1e5", ".5"] {
            assert!(parse_price(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn links_must_be_web_links() {
        let mut bad = input();
        bad.url = "javascript:alert(1)".into();
        bad.image_url = "file:///etc/passwd".into();
        let problems = CatalogItem::parse(bad).expect_err("refused");
        let fields: Vec<&str> = problems.iter().map(|p| p.field).collect();
        assert_eq!(fields, ["url", "image_url"]);
    }

    #[test]
    fn every_problem_is_reported_and_the_language_is_detected() {
        let problems = CatalogItem::parse(CatalogInput {
            price: "free".into(),
            ..CatalogInput::default()
        })
        .expect_err("refused");
        let fields: Vec<&str> = problems.iter().map(|p| p.field).collect();
        assert_eq!(fields, ["id", "title", "price"]);

        let mut chinese = input();
        chinese.title = "手机壳 防摔".into();
        let item = CatalogItem::parse(chinese).expect("valid");
        assert_eq!(item.language, Language::zh());
        assert_eq!(item.price_text().as_deref(), Some("129.90"));
    }
}
