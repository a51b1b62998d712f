//! The one text analyzer of the index, `kefu_text`: jieba segmentation for Chinese, then
//! word-only, length, lower-case and English stemming filters. Documents and queries both go
//! through it, so a query term matches exactly the terms it would have been indexed as.

use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, Stemmer, TextAnalyzer, Token, TokenFilter, TokenStream,
    Tokenizer,
};
use tantivy_jieba::JiebaTokenizer;

/// The name the analyzer is registered under in each index's tokenizer manager.
pub(super) const ANALYZER_NAME: &str = "kefu_text";

/// Tokens longer than this (in bytes) are dropped: they are pasted URLs, hashes or base64,
/// never words a customer types, and tantivy refuses terms over 65 530 bytes anyway.
const MAX_TOKEN_BYTES: usize = 40;

pub(super) fn build() -> TextAnalyzer {
    // Search mode also emits the shorter words inside a long compound ("退货政策" gives
    // "退货" and "政策" too), so a customer's shorter phrasing still matches.
    TextAnalyzer::builder(JiebaTokenizer::new())
        .filter(WordsOnly)
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(Stemmer::new(Language::English))
        .build()
}

/// The same words as `build`, minus the ones that overlap a word already emitted, for cutting
/// snippets: tantivy's snippet generator expects tokens in text order without overlaps, and
/// jieba's search mode emits the words inside a compound next to the compound itself. The
/// query holds those inner words too, so they still get highlighted.
pub(super) fn build_for_snippets() -> TextAnalyzer {
    TextAnalyzer::builder(JiebaTokenizer::new())
        .filter(WordsOnly)
        .filter(InTextOrder)
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(Stemmer::new(Language::English))
        .build()
}

/// The distinct terms of `text` as the analyzer indexes them, in order of first appearance,
/// at most `max_terms` of them.
pub(super) fn terms(analyzer: &TextAnalyzer, text: &str, max_terms: usize) -> Vec<String> {
    let mut analyzer = analyzer.clone();
    let mut stream = analyzer.token_stream(text);
    let mut terms: Vec<String> = Vec::new();
    while terms.len() < max_terms && stream.advance() {
        let term = &stream.token().text;
        if !terms.contains(term) {
            terms.push(term.clone());
        }
    }
    terms
}

/// Drops the tokens jieba emits for whitespace and punctuation ("我的 order？" gives " " and
/// "？" as tokens of their own), and trims punctuation jieba keeps on an English word
/// ("arrive." and "e-mail" stay one token; the first becomes "arrive").
#[derive(Clone, Copy, Debug, Default)]
struct WordsOnly;

impl TokenFilter for WordsOnly {
    type Tokenizer<T: Tokenizer> = WordsOnlyFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> Self::Tokenizer<T> {
        WordsOnlyFilter { inner: tokenizer }
    }
}

#[derive(Clone)]
struct WordsOnlyFilter<T> {
    inner: T,
}

impl<T: Tokenizer> Tokenizer for WordsOnlyFilter<T> {
    type TokenStream<'a> = WordsOnlyStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        WordsOnlyStream {
            tail: self.inner.token_stream(text),
        }
    }
}

struct WordsOnlyStream<T> {
    tail: T,
}

impl<T: TokenStream> TokenStream for WordsOnlyStream<T> {
    fn advance(&mut self) -> bool {
        while self.tail.advance() {
            if trim_to_word(self.tail.token_mut()) {
                return true;
            }
        }
        false
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

/// Keeps only tokens that start at or after the end of the last token kept.
#[derive(Clone, Copy, Debug, Default)]
struct InTextOrder;

impl TokenFilter for InTextOrder {
    type Tokenizer<T: Tokenizer> = InTextOrderFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> Self::Tokenizer<T> {
        InTextOrderFilter { inner: tokenizer }
    }
}

#[derive(Clone)]
struct InTextOrderFilter<T> {
    inner: T,
}

impl<T: Tokenizer> Tokenizer for InTextOrderFilter<T> {
    type TokenStream<'a> = InTextOrderStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        InTextOrderStream {
            tail: self.inner.token_stream(text),
            end_of_last: 0,
        }
    }
}

struct InTextOrderStream<T> {
    tail: T,
    end_of_last: usize,
}

impl<T: TokenStream> TokenStream for InTextOrderStream<T> {
    fn advance(&mut self) -> bool {
        while self.tail.advance() {
            let token = self.tail.token();
            if token.offset_from >= self.end_of_last && token.offset_to > token.offset_from {
                self.end_of_last = token.offset_to;
                return true;
            }
        }
        false
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

/// Trims non-alphanumeric characters off both ends of the token, keeping its offsets on the
/// trimmed text so snippets highlight the word only; false when nothing is left.
fn trim_to_word(token: &mut Token) -> bool {
    let text = &token.text;
    let start = text.len()
        - text
            .trim_start_matches(|c: char| !c.is_alphanumeric())
            .len();
    let end = text.trim_end_matches(|c: char| !c.is_alphanumeric()).len();
    if start >= end {
        return false;
    }
    if start > 0 || end < text.len() {
        token.text = text[start..end].to_string();
        // jieba's offsets are byte offsets into the original text, of exactly this token.
        token.offset_to = token.offset_from + end;
        token.offset_from += start;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::{build, terms};

    fn analyzed(text: &str) -> Vec<String> {
        terms(&build(), text, 100)
    }

    #[test]
    fn english_is_lower_cased_and_stemmed_without_punctuation() {
        assert_eq!(
            analyzed("When will my Orders arrive?"),
            ["when", "will", "my", "order", "arriv"]
        );
        assert_eq!(analyzed("arriving... (soon)!"), ["arriv", "soon"]);
    }

    #[test]
    fn chinese_is_segmented_and_mixed_text_keeps_both() {
        let terms = analyzed("我的 order 还没到，怎么办？");
        assert!(terms.contains(&"order".to_string()), "{terms:?}");
        assert!(terms.contains(&"我".to_string()) || terms.contains(&"我的".to_string()));
        assert!(
            terms.iter().all(|t| t.chars().all(char::is_alphanumeric)),
            "{terms:?}"
        );
        assert!(analyzed("如何申请退货").contains(&"退货".to_string()));
    }

    #[test]
    fn snippet_tokens_are_in_text_order_without_overlaps() {
        let mut analyzer = super::build_for_snippets();
        let mut stream = analyzer.token_stream("中华人民共和国的退货政策 is simple");
        let mut end_of_last = 0;
        let mut count = 0;
        while let Some(token) = stream.next() {
            assert!(token.offset_from >= end_of_last, "{token:?}");
            end_of_last = token.offset_to;
            count += 1;
        }
        assert!(count >= 4);
    }

    #[test]
    fn whitespace_and_punctuation_give_no_terms() {
        assert!(analyzed("  \"(* :) AND? ，。！  ").contains(&"and".to_string()));
        assert!(analyzed(" \t\n\"(*:)，。！—… ").is_empty());
        assert!(analyzed(&"x".repeat(100)).is_empty());
    }
}
