//! Turning what a customer or agent typed, and a filter, into a tantivy query. The text is
//! words, never query syntax: it goes through the index's own analyzer and every term becomes
//! an optional, boosted clause, so no input can fail to parse and any shared word can match.

use super::analyzer;
use super::document::{Fields, boosted_fields, category_key};
use crate::domain::{FaqStatus, KnowledgeFilter};
use tantivy::Term;
use tantivy::query::{BooleanQuery, BoostQuery, ConstScoreQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TextAnalyzer;

/// Only the start of a very long text is searched: a pasted e-mail or log should not cost
/// more than a question does.
const MAX_QUERY_BYTES: usize = 4_096;

/// At most this many distinct terms (each becomes one clause per searchable field).
const MAX_QUERY_TERMS: usize = 64;

/// A query ready to run, and the analyzed terms it looks for (to highlight them).
pub(super) struct PreparedQuery {
    pub query: Box<dyn Query>,
    pub terms: Vec<String>,
}

/// `None` when the text has no words at all (empty, whitespace, punctuation): such a search
/// finds nothing rather than everything.
pub(super) fn prepare(
    analyzer: &TextAnalyzer,
    fields: &Fields,
    text: &str,
    filter: &KnowledgeFilter,
) -> Option<PreparedQuery> {
    let PreparedQuery {
        query: text_query,
        terms,
    } = any_term(analyzer, &boosted_fields(fields), text)?;
    let filters = filter_clauses(fields, filter);
    let query: Box<dyn Query> = if filters.is_empty() {
        text_query
    } else {
        let mut all = vec![(Occur::Must, text_query)];
        all.extend(filters.into_iter().map(|filter| (Occur::Must, filter)));
        Box::new(BooleanQuery::new(all))
    };
    Some(PreparedQuery { query, terms })
}

/// Every analyzed term of `text` as an optional clause on each of `fields`, boosted by the
/// field's weight: any shared word matches, more and rarer shared words rank higher. `None`
/// when the text has no words.
pub(super) fn any_term(
    analyzer: &TextAnalyzer,
    fields: &[(Field, f32)],
    text: &str,
) -> Option<PreparedQuery> {
    let terms = analyzer::terms(
        analyzer,
        leading_bytes(text, MAX_QUERY_BYTES),
        MAX_QUERY_TERMS,
    );
    if terms.is_empty() {
        return None;
    }
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for term in &terms {
        for &(field, boost) in fields {
            let term_query = TermQuery::new(
                Term::from_field_text(field, term),
                IndexRecordOption::WithFreqs,
            );
            clauses.push((
                Occur::Should,
                Box::new(BoostQuery::new(Box::new(term_query), boost)),
            ));
        }
    }
    Some(PreparedQuery {
        query: Box::new(BooleanQuery::new(clauses)),
        terms,
    })
}

/// The filter as required clauses that match exactly and add nothing to the score, so the
/// ranking is the text's alone. An empty category means "any category".
fn filter_clauses(fields: &Fields, filter: &KnowledgeFilter) -> Vec<Box<dyn Query>> {
    let mut clauses = Vec::new();
    if filter.published_only {
        clauses.push(exact(fields.status, FaqStatus::Published.as_str()));
    }
    if let Some(language) = &filter.language {
        clauses.push(exact(fields.language, language.as_str()));
    }
    if let Some(category) = &filter.category {
        let key = category_key(category);
        if !key.is_empty() {
            clauses.push(exact(fields.category_key, &key));
        }
    }
    clauses
}

fn exact(field: Field, value: &str) -> Box<dyn Query> {
    let term_query = TermQuery::new(
        Term::from_field_text(field, value),
        IndexRecordOption::Basic,
    );
    Box::new(ConstScoreQuery::new(Box::new(term_query), 0.0))
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn leading_bytes(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::leading_bytes;

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        assert_eq!(leading_bytes("退货退货", 4), "退");
        assert_eq!(leading_bytes("abc", 10), "abc");
    }
}
