//! The English stemmer of the search analyzer: Martin Porter's 1980 algorithm as a token filter.
//!
//! tantivy ships a Snowball stemmer, but only behind its `stemmer` feature, which kefu's
//! build leaves off; the classic Porter algorithm is short, has no tables to load, and is
//! what makes "orders arriving" find "my order arrives". Only tokens made entirely of ASCII
//! lower-case letters are stemmed, so Chinese words, numbers and codes pass through as they are.
//! Changing this stemmer changes the indexed terms: bump `SCHEMA_VERSION` when you do.

use tantivy::tokenizer::{Token, TokenFilter, TokenStream, Tokenizer};

/// Token filter that replaces each English word with its Porter stem.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct PorterStemmer;

impl TokenFilter for PorterStemmer {
    type Tokenizer<T: Tokenizer> = PorterStemmerFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> Self::Tokenizer<T> {
        PorterStemmerFilter { inner: tokenizer }
    }
}

#[derive(Clone)]
pub(super) struct PorterStemmerFilter<T> {
    inner: T,
}

impl<T: Tokenizer> Tokenizer for PorterStemmerFilter<T> {
    type TokenStream<'a> = PorterStemmerStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        PorterStemmerStream {
            tail: self.inner.token_stream(text),
        }
    }
}

pub(super) struct PorterStemmerStream<T> {
    tail: T,
}

impl<T: TokenStream> TokenStream for PorterStemmerStream<T> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        if let Some(stem) = stem(&token.text) {
            token.text = stem;
        }
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

/// The Porter stem of a lower-case ASCII word, or `None` when the word is left as it is
/// (not lower-case ASCII letters, too short, or already a stem).
pub(super) fn stem(word: &str) -> Option<String> {
    // Porter leaves words of one or two letters alone.
    if word.len() <= 2 || !word.bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    let mut w = word.as_bytes().to_vec();
    step1a(&mut w);
    step1b(&mut w);
    step1c(&mut w);
    replace_suffix(&mut w, STEP2, 0);
    replace_suffix(&mut w, STEP3, 0);
    step4(&mut w);
    step5(&mut w);
    if w == word.as_bytes() {
        return None;
    }
    // Only ASCII letters were ever removed or appended, so the bytes are still UTF-8.
    String::from_utf8(w).ok()
}

/// Whether `w[i]` is a consonant: not a vowel, and `y` only when it follows a vowel.
fn is_consonant(w: &[u8], i: usize) -> bool {
    match w[i] {
        b'a' | b'e' | b'i' | b'o' | b'u' => false,
        b'y' => i == 0 || !is_consonant(w, i - 1),
        _ => true,
    }
}

/// Porter's m: the number of vowel-consonant sequences in `[C](VC)^m[V]`.
fn measure(w: &[u8]) -> usize {
    let mut m = 0;
    let mut previous_was_vowel = false;
    for i in 0..w.len() {
        let vowel = !is_consonant(w, i);
        if previous_was_vowel && !vowel {
            m += 1;
        }
        previous_was_vowel = vowel;
    }
    m
}

fn has_vowel(w: &[u8]) -> bool {
    (0..w.len()).any(|i| !is_consonant(w, i))
}

fn ends_with_double_consonant(w: &[u8]) -> bool {
    let n = w.len();
    n >= 2 && w[n - 1] == w[n - 2] && is_consonant(w, n - 1)
}

/// consonant-vowel-consonant at the end, the last not w, x or y ("hop", not "snow").
fn ends_with_cvc(w: &[u8]) -> bool {
    let n = w.len();
    n >= 3
        && is_consonant(w, n - 1)
        && !is_consonant(w, n - 2)
        && is_consonant(w, n - 3)
        && !matches!(w[n - 1], b'w' | b'x' | b'y')
}

/// Plurals: caresses → caress, ponies → poni, cats → cat.
fn step1a(w: &mut Vec<u8>) {
    if w.ends_with(b"sses") || w.ends_with(b"ies") {
        w.truncate(w.len() - 2);
    } else if w.ends_with(b"s") && !w.ends_with(b"ss") {
        w.pop();
    }
}

/// Past tense and gerunds: agreed → agree, plastered → plaster, hopping → hop, filing → file.
fn step1b(w: &mut Vec<u8>) {
    if w.ends_with(b"eed") {
        if measure(&w[..w.len() - 3]) > 0 {
            w.pop();
        }
        return;
    }
    let suffix_len = if w.ends_with(b"ed") {
        2
    } else if w.ends_with(b"ing") {
        3
    } else {
        return;
    };
    if !has_vowel(&w[..w.len() - suffix_len]) {
        return;
    }
    w.truncate(w.len() - suffix_len);
    if w.ends_with(b"at") || w.ends_with(b"bl") || w.ends_with(b"iz") {
        w.push(b'e');
    } else if ends_with_double_consonant(w) && !matches!(w.last(), Some(b'l' | b's' | b'z')) {
        w.pop();
    } else if measure(w) == 1 && ends_with_cvc(w) {
        w.push(b'e');
    }
}

/// happy → happi, so that it meets "happiness" later; sky stays.
fn step1c(w: &mut [u8]) {
    let n = w.len();
    if w.ends_with(b"y") && has_vowel(&w[..n - 1]) {
        w[n - 1] = b'i';
    }
}

/// Double suffixes to single ones, when the stem has m > 0.
const STEP2: &[(&[u8], &[u8])] = &[
    (b"ational", b"ate"),
    (b"tional", b"tion"),
    (b"enci", b"ence"),
    (b"anci", b"ance"),
    (b"izer", b"ize"),
    (b"bli", b"ble"),
    (b"alli", b"al"),
    (b"entli", b"ent"),
    (b"eli", b"e"),
    (b"ousli", b"ous"),
    (b"ization", b"ize"),
    (b"ation", b"ate"),
    (b"ator", b"ate"),
    (b"alism", b"al"),
    (b"iveness", b"ive"),
    (b"fulness", b"ful"),
    (b"ousness", b"ous"),
    (b"aliti", b"al"),
    (b"iviti", b"ive"),
    (b"biliti", b"ble"),
    (b"logi", b"log"),
];

/// -ic-, -full, -ness and friends, when the stem has m > 0.
const STEP3: &[(&[u8], &[u8])] = &[
    (b"icate", b"ic"),
    (b"ative", b""),
    (b"alize", b"al"),
    (b"iciti", b"ic"),
    (b"ical", b"ic"),
    (b"ful", b""),
    (b"ness", b""),
];

/// Replaces the first suffix of `table` that `w` ends with, if the stem's measure is above
/// `min_measure`. As in Porter's reference code, only the first matching suffix is tried.
fn replace_suffix(w: &mut Vec<u8>, table: &[(&[u8], &[u8])], min_measure: usize) {
    let Some((suffix, replacement)) = table.iter().find(|(suffix, _)| w.ends_with(suffix)) else {
        return;
    };
    let stem_len = w.len() - suffix.len();
    if measure(&w[..stem_len]) > min_measure {
        w.truncate(stem_len);
        w.extend_from_slice(replacement);
    }
}

/// Suffixes removed when the stem has m > 1.
const STEP4: &[&[u8]] = &[
    b"al", b"ance", b"ence", b"er", b"ic", b"able", b"ible", b"ant", b"ement", b"ment", b"ent",
    b"ion", b"ou", b"ism", b"ate", b"iti", b"ous", b"ive", b"ize",
];

fn step4(w: &mut Vec<u8>) {
    let Some(suffix) = STEP4.iter().find(|suffix| w.ends_with(suffix)) else {
        return;
    };
    let stem_len = w.len() - suffix.len();
    // -ion only goes after s or t: "adoption" → "adopt", but "onion" keeps it.
    let ion_allowed = stem_len > 0 && matches!(w[stem_len - 1], b's' | b't');
    if (*suffix != b"ion" || ion_allowed) && measure(&w[..stem_len]) > 1 {
        w.truncate(stem_len);
    }
}

/// A final -e and a double l: probate → probat, controll → control.
fn step5(w: &mut Vec<u8>) {
    if w.ends_with(b"e") {
        let stem = &w[..w.len() - 1];
        let m = measure(stem);
        if m > 1 || (m == 1 && !ends_with_cvc(stem)) {
            w.pop();
        }
    }
    if w.ends_with(b"ll") && measure(w) > 1 {
        w.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::stem;

    fn stemmed(word: &str) -> String {
        stem(word).unwrap_or_else(|| word.to_string())
    }

    #[test]
    fn words_reduce_to_porters_published_stems() {
        let cases = [
            ("caresses", "caress"),
            ("ponies", "poni"),
            ("cats", "cat"),
            ("feed", "feed"),
            ("agreed", "agre"),
            ("plastered", "plaster"),
            ("motoring", "motor"),
            ("sing", "sing"),
            ("conflated", "conflat"),
            ("hopping", "hop"),
            ("falling", "fall"),
            ("filing", "file"),
            ("happy", "happi"),
            ("sky", "sky"),
            ("relational", "relat"),
            ("generalizations", "gener"),
            ("connections", "connect"),
            ("adoption", "adopt"),
            ("controlling", "control"),
            ("arriving", "arriv"),
            ("arrive", "arriv"),
            ("orders", "order"),
            ("refunds", "refund"),
        ];
        for (word, expected) in cases {
            assert_eq!(stemmed(word), expected, "stem of {word}");
        }
    }

    #[test]
    fn non_english_tokens_are_left_alone() {
        assert_eq!(stem("退货"), None);
        assert_eq!(stem("sku123"), None);
        assert_eq!(stem("Orders"), None);
        assert_eq!(stem("is"), None);
    }
}
