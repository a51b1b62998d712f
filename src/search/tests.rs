//! Tests of the knowledge index through its public API, on real indexes in temporary dirs.

use super::{IndexState, KnowledgeIndex, SearchError, storage};
use crate::domain::{
    FaqContent, FaqEntry, FaqEntryId, FaqStatus, KnowledgeChange, KnowledgeFilter, KnowledgeHit,
    Language, SanitizedHtml, Timestamp,
};
use std::path::Path;
use tempfile::TempDir;

const ORDER_EN: i64 = 1;
const RETURN_EN: i64 = 2;
const ORDER_ZH: i64 = 3;
const RETURN_ZH: i64 = 4;
const GIFT_DRAFT: i64 = 5;
const PASSWORD_EN: i64 = 6;

struct EntrySpec<'a> {
    id: i64,
    question: &'a str,
    variants: &'a [&'a str],
    answer: &'a str,
    category: &'a str,
    tags: &'a [&'a str],
    language: Language,
    status: FaqStatus,
}

fn entry(spec: EntrySpec<'_>) -> FaqEntry {
    FaqEntry {
        id: FaqEntryId::new(spec.id),
        content: FaqContent {
            question: spec.question.into(),
            variants: spec.variants.iter().map(|v| v.to_string()).collect(),
            answer_markdown: spec.answer.into(),
            category: spec.category.into(),
            tags: spec.tags.iter().map(|t| t.to_string()).collect(),
            language: spec.language,
            status: spec.status,
            external_id: None,
        },
        answer_html: SanitizedHtml::from_sanitizer(format!("<p>{}</p>", spec.answer)),
        revision: 1,
        created_at: Timestamp::from_unix_seconds(1_700_000_000),
        updated_at: Timestamp::from_unix_seconds(1_700_000_000),
    }
}

fn knowledge_base() -> Vec<FaqEntry> {
    let published = FaqStatus::Published;
    vec![
        entry(EntrySpec {
            id: ORDER_EN,
            question: "When will my order arrive?",
            variants: &["Where is my package"],
            answer: "Most orders **arrive** within 3 to 5 business days. Track it in \
                     [your account](https://shop.test/account).",
            category: "Shipping",
            tags: &["delivery"],
            language: Language::en(),
            status: published,
        }),
        entry(EntrySpec {
            id: RETURN_EN,
            question: "How do I return an item?",
            variants: &["Can I send something back"],
            answer: "You can return any item within 30 days for a full refund.",
            category: "Returns",
            tags: &["refund"],
            language: Language::en(),
            status: published,
        }),
        entry(EntrySpec {
            id: ORDER_ZH,
            question: "我的订单还没到怎么办？",
            variants: &["订单什么时候到"],
            answer: "订单通常在3到5个工作日内送达。您可以在账户中查看物流信息。",
            category: "配送",
            tags: &["物流"],
            language: Language::zh(),
            status: published,
        }),
        entry(EntrySpec {
            id: RETURN_ZH,
            question: "如何申请退货？",
            variants: &[],
            answer: "收到商品30天内可以申请退货，请在订单页面点击“申请退货”。",
            category: "售后",
            tags: &["退款"],
            language: Language::zh(),
            status: published,
        }),
        entry(EntrySpec {
            id: GIFT_DRAFT,
            question: "Do you offer gift wrapping?",
            variants: &[],
            answer: "Gift wrapping is coming soon.",
            category: "Orders",
            tags: &[],
            language: Language::en(),
            status: FaqStatus::Draft,
        }),
        entry(EntrySpec {
            id: PASSWORD_EN,
            question: "How do I reset my password?",
            variants: &[],
            answer: "Click *Forgot password* on the sign-in page and follow the e-mail.",
            category: "Account",
            tags: &["login"],
            language: Language::en(),
            status: published,
        }),
    ]
}

fn built_index(dir: &Path) -> KnowledgeIndex {
    let (index, state) = KnowledgeIndex::open(dir).expect("open");
    assert_eq!(state, IndexState::Fresh);
    index.rebuild(&knowledge_base(), 7).expect("rebuild");
    index
}

fn ids(hits: &[KnowledgeHit]) -> Vec<i64> {
    hits.iter().map(|hit| hit.entry_id.get()).collect()
}

fn search(index: &KnowledgeIndex, text: &str, filter: &KnowledgeFilter) -> Vec<i64> {
    ids(&index.search(text, filter, 10).expect("search"))
}

fn any() -> KnowledgeFilter {
    KnowledgeFilter::default()
}

fn published() -> KnowledgeFilter {
    KnowledgeFilter {
        published_only: true,
        ..KnowledgeFilter::default()
    }
}

#[test]
fn english_queries_match_other_forms_of_the_words() {
    let dir = TempDir::new().expect("tempdir");
    let index = built_index(dir.path());
    assert_eq!(index.num_docs(), 6);
    let hits = search(&index, "orders arriving", &published());
    assert_eq!(hits.first(), Some(&ORDER_EN), "{hits:?}");
    assert_eq!(search(&index, "RETURNS", &any()).first(), Some(&RETURN_EN));
}

#[test]
fn the_bare_id_search_ranks_as_the_full_search_does() {
    let dir = TempDir::new().expect("tempdir");
    let index = built_index(dir.path());
    for (text, filter) in [
        ("我的 order 还没到", published()),
        ("return an item", any()),
        ("password", published()),
        ("!!!", any()),
    ] {
        let bare: Vec<i64> = index
            .search_ids(text, &filter, 10)
            .expect("search ids")
            .iter()
            .map(|id| id.get())
            .collect();
        assert_eq!(bare, search(&index, text, &filter), "{text}");
    }
    assert!(!search(&index, "我的 order 还没到", &published()).is_empty());
}

#[test]
fn chinese_and_mixed_queries_find_the_chinese_entries() {
    let dir = TempDir::new().expect("tempdir");
    let index = built_index(dir.path());
    assert_eq!(search(&index, "退货", &published()), [RETURN_ZH]);
    let hits = search(&index, "我的 order 还没到", &published());
    assert_eq!(hits.first(), Some(&ORDER_ZH), "{hits:?}");
    assert!(hits.contains(&ORDER_EN), "shares the word order: {hits:?}");
}

#[test]
fn snippets_mark_the_matched_words_in_the_answer() {
    let dir = TempDir::new().expect("tempdir");
    let index = built_index(dir.path());
    let hits = index.search("arriving", &published(), 5).expect("search");
    let snippet = &hits.first().expect("a hit").snippet;
    let marked: Vec<&str> = snippet
        .iter()
        .filter(|part| part.highlighted)
        .map(|part| part.text.as_str())
        .collect();
    assert_eq!(marked, ["arrive"], "{snippet:?}");
    let whole: String = snippet.iter().map(|part| part.text.as_str()).collect();
    assert!(whole.starts_with("Most orders arrive within"), "{whole}");
    assert!(
        !whole.contains("**") && !whole.contains("https"),
        "plain text: {whole}"
    );

    let hits = index.search("退货", &published(), 5).expect("search");
    let snippet = &hits.first().expect("a hit").snippet;
    assert!(snippet.iter().any(|part| part.highlighted), "{snippet:?}");
    for part in snippet.iter().filter(|part| part.highlighted) {
        assert_eq!(part.text, "退货", "{snippet:?}");
    }
}

#[test]
fn a_hit_matched_only_outside_the_texts_gets_the_answers_start() {
    let dir = TempDir::new().expect("tempdir");
    let index = built_index(dir.path());
    let hits = index.search("login", &published(), 5).expect("search");
    assert_eq!(ids(&hits), [PASSWORD_EN]);
    assert_eq!(hits[0].snippet.len(), 1);
    assert!(!hits[0].snippet[0].highlighted);
    assert!(hits[0].snippet[0].text.starts_with("Click Forgot password"));
}

#[test]
fn filters_limit_status_language_and_category() {
    let dir = TempDir::new().expect("tempdir");
    let index = built_index(dir.path());
    assert_eq!(search(&index, "gift wrapping", &any()), [GIFT_DRAFT]);
    assert!(search(&index, "gift wrapping", &published()).is_empty());

    let chinese = KnowledgeFilter {
        language: Some(Language::zh()),
        ..published()
    };
    assert_eq!(search(&index, "我的 order 还没到", &chinese), [ORDER_ZH]);
    let english = KnowledgeFilter {
        language: Some(Language::en()),
        ..published()
    };
    assert_eq!(search(&index, "我的 order 还没到", &english), [ORDER_EN]);

    let shipping = KnowledgeFilter {
        category: Some(" SHIPPING ".into()),
        ..any()
    };
    assert_eq!(search(&index, "order return", &shipping), [ORDER_EN]);
    let blank_category = KnowledgeFilter {
        category: Some(String::new()),
        ..any()
    };
    assert_eq!(search(&index, "return", &blank_category), [RETURN_EN]);
}

#[test]
fn applied_changes_are_visible_at_once() {
    let dir = TempDir::new().expect("tempdir");
    let index = built_index(dir.path());
    let deleted = KnowledgeChange {
        sequence: 10,
        entry_id: FaqEntryId::new(RETURN_EN),
        entry: None,
    };
    index.apply(&[deleted]).expect("apply delete");
    assert_eq!(index.num_docs(), 5);
    assert!(search(&index, "refund", &any()).is_empty());
    assert_eq!(index.applied_sequence(), 10);

    let mut edited = knowledge_base().remove(0);
    edited.content.question = "Where is my parcel?".into();
    let updated = KnowledgeChange {
        sequence: 11,
        entry_id: edited.id,
        entry: Some(edited.clone()),
    };
    // The same entry twice in one batch: the last version wins, once.
    let again = KnowledgeChange {
        sequence: 12,
        ..updated.clone()
    };
    index.apply(&[updated, again]).expect("apply update");
    assert_eq!(index.num_docs(), 5);
    assert_eq!(search(&index, "parcel", &any()), [ORDER_EN]);
    assert!(search(&index, "when", &any()).is_empty());
    assert_eq!(index.applied_sequence(), 12);

    index.apply(&[]).expect("nothing to apply");
    assert_eq!(index.applied_sequence(), 12);
}

#[test]
fn the_applied_sequence_survives_reopening() {
    let dir = TempDir::new().expect("tempdir");
    drop(built_index(dir.path()));
    let (index, state) = KnowledgeIndex::open(dir.path()).expect("reopen");
    assert_eq!(
        state,
        IndexState::UpToDate {
            applied_sequence: 7
        }
    );
    assert_eq!(index.applied_sequence(), 7);
    assert_eq!(index.num_docs(), 6);
    // The analyzer is registered again on reopening, so Chinese still works.
    assert_eq!(search(&index, "退货", &any()), [RETURN_ZH]);
}

#[test]
fn an_index_never_built_is_fresh_again() {
    let dir = TempDir::new().expect("tempdir");
    let (index, state) = KnowledgeIndex::open(dir.path()).expect("open");
    assert_eq!(state, IndexState::Fresh);
    assert_eq!(index.applied_sequence(), 0);
    assert!(search(&index, "order", &any()).is_empty());
    drop(index);
    let (_, state) = KnowledgeIndex::open(dir.path()).expect("reopen");
    assert_eq!(state, IndexState::Fresh);
}

#[test]
fn another_schema_version_is_rebuilt() {
    let dir = TempDir::new().expect("tempdir");
    drop(built_index(dir.path()));
    std::fs::write(dir.path().join(storage::VERSION_FILE), "0\n").expect("write");
    let (index, state) = KnowledgeIndex::open(dir.path()).expect("reopen");
    assert_eq!(state, IndexState::Fresh);
    assert_eq!(index.num_docs(), 0);
    assert_eq!(index.applied_sequence(), 0);
}

#[test]
fn garbage_in_the_directory_is_replaced() {
    let dir = TempDir::new().expect("tempdir");
    std::fs::write(dir.path().join("meta.json"), "{ not json").expect("write");
    std::fs::write(dir.path().join("notes.txt"), [0xff, 0x00, 0x13]).expect("write");
    std::fs::create_dir(dir.path().join("stray")).expect("mkdir");
    let (_, state) = KnowledgeIndex::open(dir.path()).expect("open");
    assert_eq!(state, IndexState::Fresh);
    assert!(!dir.path().join("notes.txt").exists());

    // The right version file, but tantivy's own files are garbage.
    let dir = TempDir::new().expect("tempdir");
    drop(built_index(dir.path()));
    std::fs::write(dir.path().join("meta.json"), "[]").expect("write");
    let (index, state) = KnowledgeIndex::open(dir.path()).expect("open");
    assert_eq!(state, IndexState::Fresh);
    index.rebuild(&knowledge_base(), 8).expect("rebuild");
    assert_eq!(index.num_docs(), 6);
}

#[test]
fn damaged_segment_files_are_replaced_without_a_panic() {
    // Seven bytes make tantivy panic reading the footer; a longer file fails its checksum.
    for garbage in [b"garbage".to_vec(), vec![0x5a; 4096]] {
        let dir = TempDir::new().expect("tempdir");
        drop(built_index(dir.path()));
        for file in std::fs::read_dir(dir.path()).expect("read dir") {
            let path = file.expect("entry").path();
            let extension = path
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or_default();
            if ["idx", "term", "store", "pos", "fieldnorm", "fast"].contains(&extension) {
                std::fs::write(&path, &garbage).expect("overwrite");
            }
        }
        let (index, state) = KnowledgeIndex::open(dir.path()).expect("open");
        assert_eq!(state, IndexState::Fresh);
        assert_eq!(index.num_docs(), 0);
    }
}

#[test]
fn a_second_opener_is_refused_and_does_not_wipe_the_index() {
    let dir = TempDir::new().expect("tempdir");
    let index = built_index(dir.path());
    let second = KnowledgeIndex::open(dir.path());
    assert!(
        matches!(second, Err(SearchError::Locked { .. })),
        "{second:?}"
    );
    assert_eq!(index.num_docs(), 6);
    assert_eq!(search(&index, "退货", &any()), [RETURN_ZH]);
}

#[test]
fn any_text_is_a_valid_query() {
    let dir = TempDir::new().expect("tempdir");
    let index = built_index(dir.path());
    let long = "order ".repeat(20_000);
    let hostile = [
        "\"unbalanced",
        "AND OR (",
        "*",
        ":",
        "question:order",
        "-order +return ~2 ^3 [a TO b] {x}",
        "\\",
        "\0",
        "🙂 order",
        long.as_str(),
    ];
    for text in hostile {
        index.search(text, &any(), 10).expect("any text searches");
    }
    for text in ["", "   \t\n", "?!，。", "*"] {
        assert!(
            index.search(text, &any(), 10).expect("search").is_empty(),
            "{text:?}"
        );
    }
    assert_eq!(
        search(&index, "question:order", &any()).first(),
        Some(&ORDER_EN)
    );
}

#[test]
fn the_limit_is_clamped() {
    let dir = TempDir::new().expect("tempdir");
    let index = built_index(dir.path());
    assert_eq!(
        index
            .search("order return", &any(), 0)
            .expect("search")
            .len(),
        1
    );
    assert_eq!(
        index
            .search("order", &any(), usize::MAX)
            .expect("search")
            .len(),
        2
    );
}

#[test]
fn the_index_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<KnowledgeIndex>();
}
