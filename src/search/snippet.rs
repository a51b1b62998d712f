//! Snippets: the short piece of an entry shown under a hit, with the query's words marked.
//! Plain text parts, never HTML; the web layer escapes and styles them.

use super::analyzer;
use super::document::Fields;
use crate::domain::SnippetPart;
use std::collections::BTreeMap;
use std::ops::Range;
use tantivy::schema::{Field, Value};
use tantivy::snippet::{SnippetGenerator, collapse_overlapped_ranges};
use tantivy::{Score, Searcher, TantivyDocument, Term};

/// About how many characters a snippet shows.
const SNIPPET_CHARS: usize = 160;

const ELLIPSIS: &str = "…";

/// Cuts snippets for the hits of one search.
pub(super) struct Snippets {
    answer: SnippetGenerator,
    question: SnippetGenerator,
    fields: Fields,
}

impl Snippets {
    /// `terms` are the analyzed terms of the query.
    pub fn new(searcher: &Searcher, fields: &Fields, terms: &[String]) -> tantivy::Result<Self> {
        let snippet_analyzer = analyzer::build_for_snippets();
        let generator = |field: Field| -> tantivy::Result<SnippetGenerator> {
            Ok(SnippetGenerator::new(
                term_weights(searcher, field, terms)?,
                snippet_analyzer.clone(),
                field,
                SNIPPET_CHARS,
            ))
        };
        Ok(Self {
            answer: generator(fields.answer)?,
            question: generator(fields.question)?,
            fields: *fields,
        })
    }

    /// The answer's best matching passage, else the question's, else the answer's start.
    pub fn for_document(&mut self, document: &TantivyDocument) -> Vec<SnippetPart> {
        let answer = stored_text(document, self.fields.answer);
        let question = stored_text(document, self.fields.question);
        highlighted(&mut self.answer, answer)
            .or_else(|| highlighted(&mut self.question, question))
            .unwrap_or_else(|| beginning(answer))
    }
}

/// Like tantivy's `SnippetGenerator::create`: rarer terms weigh more when picking the passage.
/// Computed here because the generator must use the snippet analyzer, not the field's own.
fn term_weights(
    searcher: &Searcher,
    field: Field,
    terms: &[String],
) -> tantivy::Result<BTreeMap<String, Score>> {
    let mut weights = BTreeMap::new();
    for term in terms {
        let doc_freq = searcher.doc_freq(&Term::from_field_text(field, term))?;
        if doc_freq > 0 {
            weights.insert(term.clone(), 1.0 / (1.0 + doc_freq as Score));
        }
    }
    Ok(weights)
}

fn stored_text(document: &TantivyDocument, field: Field) -> &str {
    document
        .get_first(field)
        .and_then(|value| value.as_str())
        .unwrap_or_default()
}

/// The best passage of `text` with the query's words marked; `None` when none of them occur.
fn highlighted(generator: &mut SnippetGenerator, text: &str) -> Option<Vec<SnippetPart>> {
    if text.is_empty() {
        return None;
    }
    // tantivy measures the passage in bytes; scale so that Chinese text (three bytes a
    // character) gets about as many characters as English.
    let bytes_per_char = text.len().div_ceil(text.chars().count().max(1));
    generator.set_max_num_chars(SNIPPET_CHARS * bytes_per_char);
    let snippet = generator.snippet(text);
    // The fragment is `text[passage]`; the marked ranges are relative to its start.
    let passage = snippet.fragment_range();
    let mut parts = Vec::new();
    if passage.start > 0 {
        push(&mut parts, ELLIPSIS, false);
    }
    let mut unmarked_from = passage.start;
    for marked in collapse_overlapped_ranges(snippet.highlighted()) {
        let Range { start, end } = passage.start + marked.start..passage.start + marked.end;
        // Ranges come from token offsets, so they are on character boundaries; `get` keeps a
        // surprise from becoming a panic.
        let (Some(before), Some(word)) = (text.get(unmarked_from..start), text.get(start..end))
        else {
            continue;
        };
        push(&mut parts, before, false);
        push(&mut parts, word, true);
        unmarked_from = end;
    }
    if !parts.iter().any(|part| part.highlighted) {
        return None;
    }
    let end = passage_end(text, passage);
    push(
        &mut parts,
        text.get(unmarked_from..end).unwrap_or_default(),
        false,
    );
    if end < text.len() {
        push(&mut parts, ELLIPSIS, false);
    }
    Some(parts)
}

/// tantivy ends the passage after its last word; show the rest of the text too when that is
/// only punctuation, or when the whole of it fits, rather than end on "…".
fn passage_end(text: &str, passage: Range<usize>) -> usize {
    let rest = text.get(passage.end..).unwrap_or_default();
    let from_start = text.get(passage.start..).unwrap_or_default();
    if from_start.chars().count() <= SNIPPET_CHARS || !rest.chars().any(char::is_alphanumeric) {
        text.len()
    } else {
        passage.end
    }
}

/// The first characters of `text`, unmarked: the snippet of a hit whose match is elsewhere.
fn beginning(text: &str) -> Vec<SnippetPart> {
    let mut parts = Vec::new();
    match text.char_indices().nth(SNIPPET_CHARS) {
        Some((cut, _)) => {
            push(&mut parts, text[..cut].trim_end(), false);
            push(&mut parts, ELLIPSIS, false);
        }
        None => push(&mut parts, text, false),
    }
    parts
}

/// Appends `text`, merged into the last part when that one is marked the same way.
fn push(parts: &mut Vec<SnippetPart>, text: &str, highlighted: bool) {
    if text.is_empty() {
        return;
    }
    match parts.last_mut() {
        Some(last) if last.highlighted == highlighted => last.text.push_str(text),
        _ => parts.push(SnippetPart {
            text: text.to_string(),
            highlighted,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::{SNIPPET_CHARS, beginning, passage_end, push};
    use crate::domain::SnippetPart;

    #[test]
    fn parts_marked_alike_are_merged() {
        let mut parts = Vec::new();
        push(&mut parts, "a", false);
        push(&mut parts, "b", false);
        push(&mut parts, "", true);
        push(&mut parts, "c", true);
        let expected = [
            SnippetPart {
                text: "ab".into(),
                highlighted: false,
            },
            SnippetPart {
                text: "c".into(),
                highlighted: true,
            },
        ];
        assert_eq!(parts, expected);
    }

    #[test]
    fn the_fallback_is_the_start_of_the_text() {
        let long = "退".repeat(SNIPPET_CHARS * 2);
        let parts = beginning(&long);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].text.chars().count(), SNIPPET_CHARS + 1);
        assert!(parts[0].text.ends_with('…'));
        assert_eq!(beginning("short")[0].text, "short");
    }

    #[test]
    fn a_passage_runs_to_the_end_when_only_punctuation_or_little_text_is_left() {
        let short = "Track it in your account.";
        assert_eq!(passage_end(short, 0..24), short.len());
        let long = format!("{} tail words", "word ".repeat(SNIPPET_CHARS));
        assert_eq!(passage_end(&long, 0..20), 20);
        let ends_in_punctuation = format!("{}!?", "word ".repeat(SNIPPET_CHARS));
        let last_word_end = ends_in_punctuation.len() - 3;
        assert_eq!(
            passage_end(&ends_in_punctuation, 0..last_word_end),
            ends_in_punctuation.len()
        );
    }
}
