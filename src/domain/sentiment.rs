//! Lexicon sentiment: a local, explainable score for a customer's chat message (Chinese, English or both), used to hand angry or distressed customers to a human.

use serde::Serialize;
use std::sync::LazyLock;

/// One word or signal that moved the score, for the agent to see why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentimentCue {
    /// The lexicon term as written in the lexicon, or a signal: `"!!!"`, `"???"`, `"ALLCAPS:WORD"`.
    pub term: String,
    /// What it added to the raw sum, after negation and intensifiers.
    pub weight: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LexiconSentiment {
    /// -1.0 (very negative: angry, distressed) ..= 1.0 (very positive); 0.0 neutral/unknown.
    pub score: f32,
    /// The cues that produced the score, strongest first.
    pub cues: Vec<SentimentCue>,
}

/// English terms are matched case-insensitively on word boundaries, so they are written in lower case.
/// Phrases that already contain a negator ("not happy") are listed because flipping the bare word would
/// be weaker than what customers mean.
const NEGATIVE_TERMS_EN: &[(&str, f32)] = &[
    ("worst", -0.9),
    ("terrible", -0.8),
    ("awful", -0.8),
    ("horrible", -0.8),
    ("useless", -0.8),
    ("pathetic", -0.8),
    ("ridiculous", -0.7),
    ("unacceptable", -0.8),
    ("disgusting", -0.9),
    ("garbage", -0.8),
    ("trash", -0.7),
    ("crap", -0.7),
    ("junk", -0.6),
    ("lousy", -0.7),
    ("bad", -0.5),
    ("poor", -0.4),
    ("slow", -0.3),
    ("rude", -0.7),
    ("incompetent", -0.8),
    ("nonsense", -0.6),
    ("stupid", -0.7),
    ("idiot", -0.9),
    ("idiots", -0.9),
    ("scam", -0.9),
    ("scammed", -0.9),
    ("scammers", -0.9),
    ("fraud", -0.9),
    ("ripoff", -0.9),
    ("rip-off", -0.9),
    ("rip off", -0.9),
    ("cheated", -0.8),
    ("liars", -0.9),
    ("lied", -0.8),
    ("angry", -0.7),
    ("furious", -0.9),
    ("mad", -0.6),
    ("frustrated", -0.7),
    ("frustrating", -0.7),
    ("annoyed", -0.6),
    ("annoying", -0.6),
    ("upset", -0.6),
    ("disappointed", -0.6),
    ("disappointing", -0.6),
    ("unhappy", -0.6),
    ("dissatisfied", -0.7),
    ("hate", -0.8),
    ("sucks", -0.8),
    ("fed up", -0.8),
    ("sick of", -0.8),
    ("had enough", -0.7),
    ("worried", -0.4),
    ("stressed", -0.5),
    ("desperate", -0.7),
    ("nightmare", -0.8),
    ("disaster", -0.8),
    ("broken", -0.5),
    ("waste", -0.6),
    ("wasted", -0.6),
    ("waste of time", -0.8),
    ("waste of money", -0.8),
    ("refund now", -0.7),
    ("chargeback", -0.8),
    ("complaint", -0.5),
    ("lawyer", -0.7),
    ("lawsuit", -0.8),
    ("never again", -0.8),
    ("still not", -0.4),
    ("still waiting", -0.5),
    ("still not working", -0.8),
    ("still not fixed", -0.8),
    ("yet again", -0.5),
    ("again and again", -0.6),
    ("how many times", -0.6),
    ("not happy", -0.6),
    ("not good", -0.5),
    ("not working", -0.6),
    ("not satisfied", -0.6),
    ("doesn't work", -0.6),
    ("doesnt work", -0.6),
    ("does not work", -0.6),
    ("didn't work", -0.5),
    ("stopped working", -0.5),
    ("unhelpful", -0.7),
    ("joke", -0.3),
    ("a joke", -0.6),
    ("seriously", -0.3),
    ("ugh", -0.5),
    ("what the hell", -0.9),
    ("wtf", -0.9),
    ("damn", -0.7),
    ("dammit", -0.8),
    ("shit", -0.9),
    ("bullshit", -1.0),
    ("fuck", -1.0),
    ("fucking", -1.0),
    ("asap", -0.3),
    ("urgent", -0.3),
];

const POSITIVE_TERMS_EN: &[(&str, f32)] = &[
    ("thanks", 0.6),
    ("thank you", 0.7),
    ("thanks again", 0.7),
    ("thx", 0.5),
    ("cheers", 0.4),
    ("appreciate", 0.6),
    ("appreciated", 0.6),
    ("great", 0.6),
    ("great job", 0.8),
    ("perfect", 0.7),
    ("awesome", 0.8),
    ("excellent", 0.8),
    ("fantastic", 0.8),
    ("amazing", 0.8),
    ("wonderful", 0.8),
    ("brilliant", 0.7),
    ("love", 0.5),
    ("helpful", 0.6),
    ("good", 0.4),
    ("nice", 0.4),
    ("best", 0.5),
    ("happy", 0.6),
    ("glad", 0.5),
    ("pleased", 0.6),
    ("satisfied", 0.6),
    ("solved", 0.5),
    ("resolved", 0.5),
    ("fixed now", 0.5),
    ("is fixed", 0.5),
    ("it's fixed", 0.5),
    ("works now", 0.5),
    ("working now", 0.5),
    ("well done", 0.6),
    ("lifesaver", 0.8),
    ("no problem", 0.3),
    ("no worries", 0.3),
];

/// Chinese has no word boundaries, so these match as substrings; compounds that start with a negator
/// ("不满意", "没用") are listed so the longest match beats the positive word inside them.
const NEGATIVE_TERMS_ZH: &[(&str, f32)] = &[
    ("垃圾", -0.9),
    ("废物", -0.9),
    ("太差", -0.8),
    ("差劲", -0.8),
    ("态度差", -0.8),
    ("差", -0.5),
    ("烂", -0.6),
    ("糟糕", -0.7),
    ("糟透", -0.9),
    ("恶心", -0.8),
    ("讨厌", -0.7),
    ("骗子", -1.0),
    ("骗人", -0.9),
    ("骗钱", -0.9),
    ("诈骗", -0.9),
    ("欺骗", -0.9),
    ("骗", -0.7),
    ("黑心", -0.9),
    ("忽悠", -0.7),
    ("坑人", -0.8),
    ("坑爹", -0.8),
    ("坑", -0.6),
    ("投诉", -0.7),
    ("举报", -0.7),
    ("曝光", -0.7),
    ("差评", -0.8),
    ("报警", -0.8),
    ("起诉", -0.8),
    ("律师", -0.6),
    ("12315", -0.8),
    ("消协", -0.8),
    ("退钱", -0.7),
    ("赔钱", -0.7),
    ("赔偿", -0.5),
    ("生气", -0.7),
    ("愤怒", -0.9),
    ("气死", -0.9),
    ("气人", -0.7),
    ("火大", -0.7),
    ("恼火", -0.7),
    ("失望", -0.7),
    ("不满", -0.6),
    ("不满意", -0.7),
    ("不好", -0.5),
    ("不太好", -0.5),
    ("不好用", -0.6),
    ("不行", -0.5),
    ("没用", -0.6),
    ("不管用", -0.6),
    ("不能用", -0.5),
    ("用不了", -0.5),
    ("不靠谱", -0.7),
    ("不专业", -0.6),
    ("不及时", -0.5),
    ("无语", -0.6),
    ("无奈", -0.5),
    ("郁闷", -0.5),
    ("崩溃", -0.7),
    ("绝望", -0.8),
    ("担心", -0.4),
    ("离谱", -0.7),
    ("过分", -0.7),
    ("受够", -0.9),
    ("忍无可忍", -1.0),
    ("再也不", -0.8),
    ("敷衍", -0.7),
    ("踢皮球", -0.7),
    ("没人管", -0.7),
    ("没人理", -0.7),
    ("不理", -0.5),
    ("没人回复", -0.6),
    ("等了半天", -0.5),
    ("太慢", -0.6),
    ("慢死", -0.8),
    ("太麻烦", -0.5),
    ("烦", -0.5),
    ("烦人", -0.7),
    ("烦死", -0.8),
    ("着急", -0.5),
    ("急死", -0.8),
    ("急", -0.3),
    ("还没", -0.3),
    ("还没解决", -0.6),
    ("没解决", -0.6),
    ("未解决", -0.5),
    ("解决不了", -0.6),
    ("怎么回事", -0.4),
    ("到底", -0.3),
    ("什么破", -0.8),
    ("破玩意", -0.8),
    ("搞什么", -0.7),
    ("什么鬼", -0.7),
    ("有病", -0.7),
    ("滚", -0.9),
    ("滚蛋", -1.0),
    ("妈的", -1.0),
    ("尼玛", -0.9),
    ("卧槽", -0.7),
    ("傻逼", -1.0),
    ("脑残", -1.0),
    ("白痴", -0.9),
    ("智障", -0.9),
];

const POSITIVE_TERMS_ZH: &[(&str, f32)] = &[
    ("谢谢", 0.6),
    ("感谢", 0.6),
    ("多谢", 0.6),
    ("谢了", 0.5),
    ("感激", 0.7),
    ("太好了", 0.8),
    ("好的", 0.2),
    ("满意", 0.6),
    ("不错", 0.5),
    ("棒", 0.6),
    ("赞", 0.5),
    ("喜欢", 0.5),
    ("给力", 0.7),
    ("解决了", 0.6),
    ("搞定", 0.5),
    ("可以了", 0.3),
    ("没问题", 0.3),
    ("辛苦了", 0.5),
    ("辛苦", 0.4),
    ("好评", 0.7),
    ("靠谱", 0.5),
    ("专业", 0.3),
    ("耐心", 0.4),
    ("及时", 0.3),
    ("好用", 0.5),
    ("开心", 0.6),
    ("高兴", 0.6),
    ("完美", 0.8),
    ("厉害", 0.5),
    ("优秀", 0.6),
    ("贴心", 0.6),
    ("周到", 0.5),
    ("热情", 0.4),
    ("放心", 0.4),
    ("明白了", 0.2),
];

/// Everyday phrases that contain a scored term but carry no feeling ("不好意思" is "excuse me", "滚动"
/// is "scroll"). Matching them as the longer span keeps the term inside from being scored.
const NEUTRAL_PHRASES: &[&str] = &[
    "good morning",
    "good afternoon",
    "good evening",
    "good night",
    "best regards",
    "kind regards",
    "no thanks",
    "no thank you",
    "不好意思",
    "不理解",
    "不错过",
    "满意度",
    "耐心等待",
    "麻烦",
    "滚动",
    "滚轮",
    "滚屏",
    "滚筒",
    "灿烂",
    "赞助",
    "棒球",
    "没用过",
    "急诊",
    "不谢",
    "差不多",
    "差价",
    "差额",
    "出差",
    "差异",
    "差距",
    "差别",
    "误差",
    "偏差",
    "时差",
    "差点",
];

const NEGATORS_EN: &[&str] = &[
    "not", "no", "never", "don't", "dont", "doesn't", "doesnt", "didn't", "didnt", "isn't", "isnt",
    "wasn't", "wasnt", "aren't", "weren't", "can't", "cant", "cannot", "won't", "wont", "wouldn't",
    "couldn't", "hardly",
];

const NEGATORS_ZH: &[char] = &['不', '没', '别', '未'];

/// Words that contain a negator character without negating what follows ("特别满意" is "very satisfied").
const NON_NEGATING_WORDS_ZH: &[&str] = &[
    "特别", "区别", "分别", "别人", "别的", "级别", "类别", "识别", "告别", "不过", "不仅", "不断",
    "不少", "未来",
];

const INTENSIFIERS_EN: &[&str] = &[
    "very",
    "so",
    "really",
    "extremely",
    "totally",
    "absolutely",
    "super",
    "incredibly",
    "completely",
    "too",
];

const INTENSIFIERS_ZH: &[&str] = &[
    "很", "非常", "太", "特别", "超级", "超", "真", "真的", "极其", "十分", "实在", "简直", "最",
];

/// Negation turns the term around but weaker: "not bad" is mildly good, not as good as "good".
const NEGATION_FACTOR: f32 = -0.6;
const INTENSIFIER_FACTOR: f32 = 1.5;
const NEGATION_WINDOW_WORDS_EN: usize = 3;
const NEGATION_WINDOW_CHARS_ZH: usize = 2;

const EXCLAMATION_SIGNAL: &str = "!!!";
const QUESTION_SIGNAL: &str = "???";
const PUNCTUATION_SIGNAL_WEIGHT: f32 = -0.3;
const MIN_EXCLAMATIONS_IN_A_ROW: usize = 2;
const MIN_QUESTIONS_IN_A_ROW: usize = 3;
const ALL_CAPS_WEIGHT: f32 = -0.2;
const ALL_CAPS_MIN_LETTERS: usize = 4;
const ALL_CAPS_MAX_CUES: usize = 2;

/// Upper-case words customers type without shouting.
const COMMON_ACRONYMS: &[&str] = &[
    "HTTP", "HTTPS", "HTML", "JSON", "HDMI", "IMEI", "SMTP", "IMAP", "VISA", "IBAN", "WIFI", "ASAP",
];

struct LexiconEntry {
    term: &'static str,
    chars: Vec<char>,
    weight: f32,
    /// Latin terms need word boundaries; Han terms match anywhere.
    latin: bool,
}

static LEXICON: LazyLock<Vec<LexiconEntry>> = LazyLock::new(|| {
    let scored = NEGATIVE_TERMS_EN
        .iter()
        .chain(POSITIVE_TERMS_EN)
        .chain(NEGATIVE_TERMS_ZH)
        .chain(POSITIVE_TERMS_ZH)
        .copied();
    let neutral = NEUTRAL_PHRASES.iter().map(|&term| (term, 0.0));
    scored
        .chain(neutral)
        .map(|(term, weight)| LexiconEntry {
            term,
            chars: term.chars().collect(),
            weight,
            latin: term.is_ascii(),
        })
        .collect()
});

struct TermMatch {
    start: usize,
    end: usize,
    entry: &'static LexiconEntry,
}

#[derive(Debug, Default, Clone, Copy)]
struct Modifiers {
    negated: bool,
    intensified: bool,
}

pub fn lexicon_sentiment(text: &str) -> LexiconSentiment {
    let original: Vec<char> = text.chars().collect();
    let folded: Vec<char> = original.iter().map(|&c| fold_char(c)).collect();
    let (matches, covered) = longest_matches(&folded);

    let mut cues: Vec<SentimentCue> = matches
        .iter()
        .filter(|found| found.entry.weight != 0.0)
        .map(|found| {
            let modifiers = if found.entry.latin {
                latin_modifiers(&folded, &covered, found.start)
            } else {
                han_modifiers(&folded, &covered, found.start)
            };
            SentimentCue {
                term: found.entry.term.to_string(),
                weight: modified_weight(found.entry.weight, modifiers),
            }
        })
        .collect();

    // Shouting after "thanks!!" is joy; only count it when nothing says the customer is pleased.
    let has_negative = cues.iter().any(|cue| cue.weight < 0.0);
    let has_positive = cues.iter().any(|cue| cue.weight > 0.0);
    if has_negative || !has_positive {
        cues.extend(punctuation_cues(&original));
        cues.extend(all_caps_cues(&original));
    }

    let total = cues.iter().fold(0.0_f32, |sum, cue| sum + cue.weight);
    cues.sort_by(|a, b| b.weight.abs().total_cmp(&a.weight.abs()));
    LexiconSentiment {
        score: if cues.is_empty() { 0.0 } else { total.tanh() },
        cues,
    }
}

/// Keeps one char per input char so positions stay shared between the original and folded text.
fn fold_char(c: char) -> char {
    match c {
        '\u{2018}' | '\u{2019}' | '`' => '\'',
        _ => c.to_ascii_lowercase(),
    }
}

fn is_latin_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// All lexicon hits, longest first, each char claimed by at most one hit; returned in text order with
/// the mask of claimed chars.
fn longest_matches(folded: &[char]) -> (Vec<TermMatch>, Vec<bool>) {
    let lexicon: &'static [LexiconEntry] = LEXICON.as_slice();
    let mut candidates = Vec::new();
    for start in 0..folded.len() {
        let at_word_start = start == 0
            || !folded
                .get(start - 1)
                .is_some_and(|&c| is_latin_word_char(c));
        for entry in lexicon {
            if entry.latin && !at_word_start {
                continue;
            }
            let end = start + entry.chars.len();
            if folded.get(start..end) != Some(entry.chars.as_slice()) {
                continue;
            }
            if entry.latin && folded.get(end).is_some_and(|&c| is_latin_word_char(c)) {
                continue;
            }
            candidates.push(TermMatch { start, end, entry });
        }
    }
    candidates.sort_by(|a, b| {
        (b.end - b.start)
            .cmp(&(a.end - a.start))
            .then(a.start.cmp(&b.start))
    });

    let mut covered = vec![false; folded.len()];
    let mut accepted = Vec::new();
    for candidate in candidates {
        let Some(span) = covered.get_mut(candidate.start..candidate.end) else {
            continue;
        };
        if span.iter().any(|&taken| taken) {
            continue;
        }
        span.fill(true);
        accepted.push(candidate);
    }
    accepted.sort_by_key(|found| found.start);
    (accepted, covered)
}

fn modified_weight(weight: f32, modifiers: Modifiers) -> f32 {
    // "not very good" is milder than "not good", so a negated term ignores its intensifier.
    if modifiers.negated {
        weight * NEGATION_FACTOR
    } else if modifiers.intensified {
        weight * INTENSIFIER_FACTOR
    } else {
        weight
    }
}

fn is_covered(covered: &[bool], range: std::ops::Range<usize>) -> bool {
    covered
        .get(range)
        .is_none_or(|span| span.iter().any(|&taken| taken))
}

fn latin_modifiers(folded: &[char], covered: &[bool], term_start: usize) -> Modifiers {
    let words = preceding_latin_words(folded, term_start, NEGATION_WINDOW_WORDS_EN);
    // A word that belongs to another lexicon hit ("never again") already spoke for itself.
    let free_words: Vec<Option<String>> = words
        .into_iter()
        .map(|range| {
            if is_covered(covered, range.clone()) {
                None
            } else {
                folded.get(range).map(|chars| chars.iter().collect())
            }
        })
        .collect();
    let negated = free_words
        .iter()
        .flatten()
        .any(|word| NEGATORS_EN.contains(&word.as_str()));
    let intensified = free_words
        .first()
        .and_then(Option::as_ref)
        .is_some_and(|word| INTENSIFIERS_EN.contains(&word.as_str()));
    Modifiers {
        negated,
        intensified,
    }
}

/// Up to `limit` words before `term_start`, nearest first, stopping at punctuation so "No, this is
/// terrible" keeps "terrible" negative.
fn preceding_latin_words(
    folded: &[char],
    term_start: usize,
    limit: usize,
) -> Vec<std::ops::Range<usize>> {
    let is_word_part = |c: char| is_latin_word_char(c) || c == '\'';
    let mut words = Vec::new();
    let mut cursor = term_start.min(folded.len());
    while words.len() < limit && cursor > 0 {
        let Some(&previous) = folded.get(cursor - 1) else {
            break;
        };
        if previous.is_whitespace() || previous == '-' {
            cursor -= 1;
            continue;
        }
        if !is_word_part(previous) {
            break;
        }
        let end = cursor;
        while cursor > 0 && folded.get(cursor - 1).is_some_and(|&c| is_word_part(c)) {
            cursor -= 1;
        }
        words.push(cursor..end);
    }
    words
}

fn han_modifiers(folded: &[char], covered: &[bool], term_start: usize) -> Modifiers {
    let ends_at = |word: &str, end: usize| -> Option<usize> {
        let length = word.chars().count();
        let start = end.checked_sub(length)?;
        let window = folded.get(start..end)?;
        (window.iter().copied().eq(word.chars()) && !is_covered(covered, start..end))
            .then_some(length)
    };
    let mut cursor = term_start;
    let intensifier_length = INTENSIFIERS_ZH
        .iter()
        .filter_map(|word| ends_at(word, cursor))
        .max();
    if let Some(length) = intensifier_length {
        cursor -= length;
    }

    let mut negated = false;
    for distance in 1..=NEGATION_WINDOW_CHARS_ZH {
        let Some(index) = cursor.checked_sub(distance) else {
            break;
        };
        let Some(&c) = folded.get(index) else {
            break;
        };
        if !c.is_alphanumeric() || is_covered(covered, index..index + 1) {
            break;
        }
        if NEGATORS_ZH.contains(&c) && !inside_non_negating_word(folded, index) {
            negated = true;
            break;
        }
    }
    Modifiers {
        negated,
        intensified: intensifier_length.is_some(),
    }
}

fn inside_non_negating_word(folded: &[char], index: usize) -> bool {
    NON_NEGATING_WORDS_ZH.iter().any(|word| {
        let length = word.chars().count();
        (0..length).any(|offset| {
            index
                .checked_sub(offset)
                .and_then(|start| folded.get(start..start + length))
                .is_some_and(|window| window.iter().copied().eq(word.chars()))
        })
    })
}

/// One cue per kind: repeated "!!" across a message is still one signal of shouting.
fn punctuation_cues(original: &[char]) -> Vec<SentimentCue> {
    let mut shouted = false;
    let mut pressed = false;
    for run in original.split(|&c| !matches!(c, '!' | '！' | '?' | '？')) {
        let exclamations = run.iter().filter(|&&c| matches!(c, '!' | '！')).count();
        let questions = run.len() - exclamations;
        // "?!" reads as exasperation, like "!!".
        shouted |= exclamations >= MIN_EXCLAMATIONS_IN_A_ROW || (exclamations > 0 && questions > 0);
        pressed |= questions >= MIN_QUESTIONS_IN_A_ROW;
    }
    [(shouted, EXCLAMATION_SIGNAL), (pressed, QUESTION_SIGNAL)]
        .into_iter()
        .filter(|&(present, _)| present)
        .map(|(_, signal)| SentimentCue {
            term: signal.to_string(),
            weight: PUNCTUATION_SIGNAL_WEIGHT,
        })
        .collect()
}

fn all_caps_cues(original: &[char]) -> Vec<SentimentCue> {
    // Apostrophes stay inside the word so "DON'T" is one shouted word, not "DON" and "T".
    let is_word_part = |c: char| c.is_ascii_alphanumeric() || matches!(c, '\'' | '\u{2019}');
    original
        .split(|&c| !is_word_part(c))
        .filter(|word| {
            let letters = word.iter().filter(|c| c.is_ascii_alphabetic()).count();
            // Digits mean an order number or model code, not shouting.
            letters >= ALL_CAPS_MIN_LETTERS
                && word
                    .iter()
                    .all(|&c| c.is_ascii_uppercase() || !c.is_ascii_alphanumeric())
        })
        .map(|word| word.iter().collect::<String>())
        .filter(|word| !COMMON_ACRONYMS.contains(&word.as_str()))
        .take(ALL_CAPS_MAX_CUES)
        .map(|word| SentimentCue {
            term: format!("ALLCAPS:{word}"),
            weight: ALL_CAPS_WEIGHT,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has_cue(result: &LexiconSentiment, term: &str) -> bool {
        result.cues.iter().any(|cue| cue.term == term)
    }

    fn assert_sorted_by_strength(result: &LexiconSentiment) {
        for pair in result.cues.windows(2) {
            assert!(
                pair[0].weight.abs() >= pair[1].weight.abs(),
                "cues out of order: {:?}",
                result.cues
            );
        }
    }

    #[test]
    fn angry_english_with_shouting_is_strongly_negative() {
        let result = lexicon_sentiment("This is the worst service ever, I want a refund NOW!!!");
        assert!(result.score < -0.6, "{result:?}");
        assert!(has_cue(&result, "worst"), "{result:?}");
        assert!(has_cue(&result, "refund now"), "{result:?}");
        assert!(has_cue(&result, "!!!"), "{result:?}");
    }

    #[test]
    fn angry_chinese_is_strongly_negative() {
        let result = lexicon_sentiment("你们这是什么破服务，太差了，我要投诉！！");
        assert!(result.score < -0.6, "{result:?}");
        assert!(has_cue(&result, "什么破"), "{result:?}");
        assert!(has_cue(&result, "太差"), "{result:?}");
        assert!(has_cue(&result, "投诉"), "{result:?}");
        assert!(
            !has_cue(&result, "差"),
            "太差 already covers 差: {result:?}"
        );
    }

    #[test]
    fn grateful_messages_are_positive() {
        let chinese = lexicon_sentiment("谢谢，问题解决了");
        assert!(chinese.score > 0.3, "{chinese:?}");
        assert!(has_cue(&chinese, "谢谢") && has_cue(&chinese, "解决了"));

        let english = lexicon_sentiment("thanks, that was really helpful");
        assert!(english.score > 0.3, "{english:?}");
        let helpful = english.cues.iter().find(|cue| cue.term == "helpful");
        assert_eq!(
            helpful.map(|cue| cue.weight),
            Some(0.6 * INTENSIFIER_FACTOR)
        );
    }

    #[test]
    fn plain_question_is_neutral() {
        let result = lexicon_sentiment("where is my order?");
        assert_eq!(result.score, 0.0);
        assert!(result.cues.is_empty(), "{result:?}");
    }

    #[test]
    fn empty_and_whitespace_are_neutral() {
        for text in ["", "   ", "\n\t", "😀", "订单号 A123456"] {
            let result = lexicon_sentiment(text);
            assert_eq!(result.score, 0.0, "{text:?}: {result:?}");
            assert!(result.cues.is_empty(), "{text:?}: {result:?}");
        }
    }

    #[test]
    fn longest_match_keeps_negative_compound_from_reading_as_positive() {
        let result = lexicon_sentiment("我不满意");
        assert!(result.score < 0.0, "{result:?}");
        assert!(has_cue(&result, "不满意"), "{result:?}");
        assert!(!has_cue(&result, "满意"), "{result:?}");
        assert!(result.cues.iter().all(|cue| cue.weight < 0.0), "{result:?}");
    }

    #[test]
    fn english_negative_compound_is_negative() {
        let result = lexicon_sentiment("not happy with this");
        assert!(result.score < 0.0, "{result:?}");
        assert!(has_cue(&result, "not happy"), "{result:?}");
        assert!(!has_cue(&result, "happy"), "{result:?}");
    }

    #[test]
    fn negating_a_negative_word_is_mild_not_angry() {
        let not_bad = lexicon_sentiment("not bad");
        assert!(not_bad.score > -0.1, "{not_bad:?}");
        assert!(
            not_bad.score < lexicon_sentiment("good").score,
            "{not_bad:?}"
        );

        let not_angry = lexicon_sentiment("I'm not angry, just asking");
        assert!(not_angry.score >= -0.2, "{not_angry:?}");
    }

    #[test]
    fn negation_does_not_cross_punctuation() {
        let result = lexicon_sentiment("No, this is terrible");
        assert!(result.score < -0.5, "{result:?}");
    }

    #[test]
    fn negation_reaches_three_words_back_but_not_four() {
        let within = lexicon_sentiment("it was not really that helpful");
        assert!(within.score < 0.0, "{within:?}");
        let beyond = lexicon_sentiment("not sure why but it was helpful");
        assert!(beyond.score > 0.0, "{beyond:?}");
    }

    #[test]
    fn chinese_negator_before_positive_word_flips_it() {
        let negated = lexicon_sentiment("我不是很满意");
        assert!(negated.score < 0.0, "{negated:?}");
        let not_very = lexicon_sentiment("不太满意");
        assert!(not_very.score < 0.0, "{not_very:?}");
        let very = lexicon_sentiment("特别满意");
        assert!(very.score > lexicon_sentiment("满意").score, "{very:?}");
    }

    #[test]
    fn chinese_negator_before_negative_word_calms_it() {
        let result = lexicon_sentiment("不着急，慢慢来");
        assert!(result.score >= 0.0, "{result:?}");
    }

    #[test]
    fn mixed_language_complaint_is_negative() {
        let result = lexicon_sentiment("我的 order 还没到, this is ridiculous");
        assert!(result.score < -0.3, "{result:?}");
        assert!(has_cue(&result, "还没") && has_cue(&result, "ridiculous"));
    }

    #[test]
    fn intensifiers_strengthen_terms() {
        let bad = lexicon_sentiment("bad");
        let very_bad = lexicon_sentiment("very bad");
        assert!(very_bad.score < bad.score, "{very_bad:?} vs {bad:?}");
        let chinese = lexicon_sentiment("非常失望");
        assert!(
            chinese.score < lexicon_sentiment("失望").score,
            "{chinese:?}"
        );
    }

    #[test]
    fn neutral_phrases_hide_the_terms_inside_them() {
        for text in [
            "不好意思，请问怎么退款",
            "页面滚动不了",
            "good morning, where is my parcel",
            "差不多了吗",
        ] {
            let result = lexicon_sentiment(text);
            assert_eq!(result.score, 0.0, "{text:?}: {result:?}");
        }
    }

    #[test]
    fn english_terms_need_word_boundaries() {
        // "mad" inside "made", "bad" inside "badge", "good" inside "goodbye".
        let result = lexicon_sentiment("I made a badge, goodbye");
        assert!(result.cues.is_empty(), "{result:?}");
        let next_to_han = lexicon_sentiment("这个terrible了");
        assert!(has_cue(&next_to_han, "terrible"), "{next_to_han:?}");
    }

    #[test]
    fn matching_ignores_case_and_curly_apostrophes() {
        let result = lexicon_sentiment("It DOESN\u{2019}T WORK");
        assert!(has_cue(&result, "doesn't work"), "{result:?}");
        assert!(has_cue(&result, "ALLCAPS:DOESN\u{2019}T"), "{result:?}");
    }

    #[test]
    fn shouting_punctuation_needs_no_pleased_words() {
        let happy = lexicon_sentiment("thanks!!");
        assert!(!has_cue(&happy, EXCLAMATION_SIGNAL), "{happy:?}");
        assert!(happy.score > 0.0);

        let impatient = lexicon_sentiment("where is my order???");
        assert!(has_cue(&impatient, QUESTION_SIGNAL), "{impatient:?}");
        assert!(impatient.score < 0.0);

        let exasperated = lexicon_sentiment("what?!");
        assert!(has_cue(&exasperated, EXCLAMATION_SIGNAL), "{exasperated:?}");

        let single = lexicon_sentiment("hello! where is it?");
        assert!(single.cues.is_empty(), "{single:?}");
    }

    #[test]
    fn all_caps_words_count_at_most_twice_and_skip_acronyms() {
        let result = lexicon_sentiment("WHERE THE HELL IS MY ORDER");
        let caps: Vec<_> = result
            .cues
            .iter()
            .filter(|cue| cue.term.starts_with("ALLCAPS:"))
            .collect();
        assert_eq!(caps.len(), ALL_CAPS_MAX_CUES, "{result:?}");
        assert!(has_cue(&result, "ALLCAPS:WHERE"), "{result:?}");

        let acronym = lexicon_sentiment("my HDMI port, IMEI 12345");
        assert!(acronym.cues.is_empty(), "{acronym:?}");
        let order_code = lexicon_sentiment("order ABCD1234");
        assert!(order_code.cues.is_empty(), "{order_code:?}");
    }

    #[test]
    fn several_strong_words_approach_minus_one() {
        let one = lexicon_sentiment("terrible");
        assert!((-0.75..=-0.6).contains(&one.score), "{one:?}");
        let many = lexicon_sentiment("terrible, useless, a total scam, I'm furious");
        assert!(many.score < -0.95, "{many:?}");
    }

    #[test]
    fn cues_are_sorted_by_strength() {
        let result = lexicon_sentiment("谢谢, but this is slow and the worst, 太差了!!");
        assert!(result.cues.len() >= 4, "{result:?}");
        assert_sorted_by_strength(&result);
    }

    #[test]
    fn never_panics_on_odd_or_long_input() {
        // A fixed-seed xorshift keeps the test repeatable without a dependency.
        let mut state: u32 = 0x9E37_79B9;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        let pieces = [
            "不", "满意", "not ", "very ", "!", "？", "😡", "e\u{301}", "WTF", " ", "太",
        ];
        for _ in 0..20 {
            let mut text = String::new();
            while text.chars().count() < 2000 {
                let roll = next();
                if roll % 3 == 0 {
                    text.push_str(pieces[(roll as usize / 3) % pieces.len()]);
                } else if let Some(c) = char::from_u32(roll % 0x3_0000) {
                    text.push(c);
                }
            }
            let result = lexicon_sentiment(&text);
            assert!(result.score.is_finite() && (-1.0..=1.0).contains(&result.score));
            assert_sorted_by_strength(&result);
        }

        let emoji = lexicon_sentiment("😡😡😡🔥👍🏽👨‍👩‍👧");
        assert_eq!(emoji.score, 0.0);
        let long = "terrible 垃圾 ".repeat(2000);
        assert!(lexicon_sentiment(&long).score < -0.99);
    }

    #[test]
    fn lexicon_is_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for (term, weight) in NEGATIVE_TERMS_EN.iter().chain(NEGATIVE_TERMS_ZH) {
            assert!((-1.0..0.0).contains(weight), "{term}: {weight}");
        }
        for (term, weight) in POSITIVE_TERMS_EN.iter().chain(POSITIVE_TERMS_ZH) {
            assert!(*weight > 0.0 && *weight <= 1.0, "{term}: {weight}");
        }
        for entry in LEXICON.iter() {
            assert!(seen.insert(entry.term), "duplicate term {}", entry.term);
            assert_eq!(
                entry.term,
                entry.term.trim(),
                "stray space in {:?}",
                entry.term
            );
            assert!(!entry.term.is_empty());
            if entry.latin {
                assert_eq!(
                    entry.term,
                    entry.term.to_ascii_lowercase(),
                    "{}",
                    entry.term
                );
            }
        }
    }
}
