//! The index's schema and how an FAQ entry becomes a tantivy document. Change either and
//! bump `KNOWLEDGE_SCHEMA_VERSION`, so that existing indexes are rebuilt instead of misread.

use super::analyzer::ANALYZER_NAME;
use crate::domain::FaqEntry;
use pulldown_cmark::{Event, Parser, TagEnd};
use tantivy::TantivyDocument;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};

/// The fields of the index. Only `id`, `question` and `answer` are stored: the id to name the
/// hit, the two texts to cut snippets from. Everything else about an entry comes from SQLite.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fields {
    pub id: Field,
    pub question: Field,
    pub variants: Field,
    /// The answer as plain text: Markdown syntax and link targets are not words to match.
    pub answer: Field,
    pub tags: Field,
    pub category: Field,
    /// The category as one untokenized, normalized term, for filtering.
    pub category_key: Field,
    pub language: Field,
    pub status: Field,
}

/// How much a match in each searchable field counts: a customer's question is most like an
/// entry's question or one of its phrasings, less like the answer's wording.
pub(super) fn boosted_fields(fields: &Fields) -> [(Field, f32); 5] {
    [
        (fields.question, 3.0),
        (fields.variants, 2.5),
        (fields.tags, 1.5),
        (fields.category, 1.0),
        (fields.answer, 1.0),
    ]
}

pub(super) fn schema() -> (Schema, Fields) {
    // Positions are kept (they are cheap at FAQ scale) so phrase boosting can come later
    // without a schema change; frequencies are needed for BM25.
    let indexing = TextFieldIndexing::default()
        .set_tokenizer(ANALYZER_NAME)
        .set_index_option(IndexRecordOption::WithFreqsAndPositions);
    let text = TextOptions::default().set_indexing_options(indexing);
    let stored_text = text.clone().set_stored();

    let mut builder = Schema::builder();
    let fields = Fields {
        id: builder.add_i64_field("id", INDEXED | STORED | FAST),
        question: builder.add_text_field("question", stored_text.clone()),
        variants: builder.add_text_field("variants", text.clone()),
        answer: builder.add_text_field("answer", stored_text),
        tags: builder.add_text_field("tags", text.clone()),
        category: builder.add_text_field("category", text),
        category_key: builder.add_text_field("category_key", STRING),
        language: builder.add_text_field("language", STRING),
        status: builder.add_text_field("status", STRING),
    };
    (builder.build(), fields)
}

pub(super) fn document(fields: &Fields, entry: &FaqEntry) -> TantivyDocument {
    let content = &entry.content;
    let mut doc = TantivyDocument::default();
    doc.add_i64(fields.id, entry.id.get());
    doc.add_text(fields.question, &content.question);
    for variant in &content.variants {
        doc.add_text(fields.variants, variant);
    }
    doc.add_text(fields.answer, markdown_to_text(&content.answer_markdown));
    for tag in &content.tags {
        doc.add_text(fields.tags, tag);
    }
    let category_key = category_key(&content.category);
    if !category_key.is_empty() {
        doc.add_text(fields.category, &content.category);
        doc.add_text(fields.category_key, category_key);
    }
    doc.add_text(fields.language, content.language.as_str());
    doc.add_text(fields.status, content.status.as_str());
    doc
}

/// The form a category is filtered by: "Shipping " and "shipping" are the same category.
pub(super) fn category_key(category: &str) -> String {
    category
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The words of a Markdown answer, without its syntax: what a reader sees, in one line.
pub(super) fn markdown_to_text(markdown: &str) -> String {
    let mut text = String::with_capacity(markdown.len());
    for event in Parser::new(markdown) {
        match event {
            Event::Text(words) | Event::Code(words) => text.push_str(&words),
            Event::SoftBreak | Event::HardBreak | Event::Rule => text.push(' '),
            // A block's end separates its words from the next block's.
            Event::End(
                TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::Item
                | TagEnd::CodeBlock
                | TagEnd::TableCell
                | TagEnd::BlockQuote(_),
            ) => text.push(' '),
            // Raw HTML, footnote marks and the like are markup, not words.
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::{category_key, markdown_to_text};

    #[test]
    fn markdown_syntax_and_link_targets_are_dropped() {
        let text = markdown_to_text(
            "# Returns\n\nSee **our** [policy](https://x.test/p).\n\n- one\n- `two`\n\n<b>x</b>",
        );
        assert_eq!(text, "Returns See our policy. one two x");
    }

    #[test]
    fn categories_compare_without_case_or_extra_spaces() {
        assert_eq!(
            category_key("  Shipping   And Delivery "),
            "shipping and delivery"
        );
    }
}
