//! Tests of the embedder: parity with the PyTorch reference fixture, loading errors, batching
//! and ordering, agreement of the fast encoder with candle-transformers, and that similar
//! meanings land closer.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use super::source::ModelSettings;
use super::*;

/// all-MiniLM-L6-v2 is not shipped in the repository; CI and developers have it in shared/.
fn minilm_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/models/all-MiniLM-L6-v2")
}

/// Loading takes a second or more in a debug build: each model is loaded once per test binary.
pub(super) fn e5() -> &'static Embedder {
    static MODEL: OnceLock<Embedder> = OnceLock::new();
    MODEL.get_or_init(|| {
        Embedder::load(&ModelSource::Embedded(DEFAULT_MODEL.to_string()))
            .expect("the embedded default model loads")
    })
}

fn minilm() -> Option<&'static Embedder> {
    static MODEL: OnceLock<Option<Embedder>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let dir = minilm_dir();
            if !dir.is_dir() {
                eprintln!("note: {} is missing; skipping MiniLM checks", dir.display());
                return None;
            }
            Some(Embedder::load(&ModelSource::Directory(dir)).expect("MiniLM loads"))
        })
        .as_ref()
}

fn cosine(left: &[f32], right: &[f32]) -> f32 {
    let dot: f32 = left.iter().zip(right).map(|(a, b)| a * b).sum();
    let norm = |vector: &[f32]| vector.iter().map(|value| value * value).sum::<f32>().sqrt();
    dot / (norm(left) * norm(right))
}

#[derive(serde::Deserialize)]
struct Reference {
    entries: Vec<ReferenceEntry>,
}

#[derive(serde::Deserialize)]
struct ReferenceEntry {
    model: String,
    kind: String,
    sentences: Vec<String>,
    vectors: Vec<Vec<f32>>,
}

fn reference_entries(model: &str) -> Vec<ReferenceEntry> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/embedding_reference.json");
    let text = std::fs::read_to_string(&path).expect("the reference fixture exists");
    let reference: Reference = serde_json::from_str(&text).expect("the fixture parses");
    reference
        .entries
        .into_iter()
        .filter(|entry| entry.model == model)
        .collect()
}

fn assert_matches_reference(embedder: &Embedder) {
    let entries = reference_entries(embedder.model_id());
    assert!(
        !entries.is_empty(),
        "no reference for {}",
        embedder.model_id()
    );
    for entry in entries {
        let texts: Vec<&str> = entry.sentences.iter().map(String::as_str).collect();
        let vectors = match entry.kind.as_str() {
            "query" => embedder.embed_queries(&texts),
            "passage" => embedder.embed_passages(&texts),
            other => panic!("unknown kind {other}"),
        }
        .expect("embedding works");
        assert_eq!(vectors.len(), entry.vectors.len());
        let mut lowest = f32::INFINITY;
        for ((text, ours), theirs) in texts.iter().zip(&vectors).zip(&entry.vectors) {
            assert_eq!(ours.len(), embedder.dimension());
            let similarity = cosine(ours, theirs);
            lowest = lowest.min(similarity);
            assert!(
                similarity >= 0.999,
                "{} {}: cosine {similarity} for {text:?}",
                embedder.model_id(),
                entry.kind
            );
        }
        eprintln!(
            "{} {}: lowest cosine {lowest}",
            embedder.model_id(),
            entry.kind
        );
    }
}

#[test]
fn the_default_model_matches_the_pytorch_reference() {
    assert_matches_reference(e5());
}

#[test]
fn minilm_matches_the_pytorch_reference() {
    match minilm() {
        Some(embedder) => assert_matches_reference(embedder),
        None => eprintln!("note: MiniLM parity skipped"),
    }
}

/// kefu's fused forward pass and candle-transformers' BERT agree on the same weights, with
/// mixed lengths in one batch: the reference pads them and masks the padding, kefu packs them
/// end to end and keeps each text's attention to its own tokens.
#[test]
fn the_fast_encoder_agrees_with_candle_transformers_bert() {
    let reference = Embedder::load_reference(&ModelSource::Embedded(DEFAULT_MODEL.to_string()))
        .expect("the reference loads");
    let texts = [
        "hi",
        "Where is my parcel? It should have arrived last Monday.",
        "我的快递三天了还没到，能帮我查一下物流吗？",
        "Can I return a lamp I bought 20 days ago if the box is opened? 已经拆封了",
    ];
    // The layers as stored: this compares the forward pass, not the coding of the weights.
    let as_stored = Embedder::load_as_stored(&ModelSource::Embedded(DEFAULT_MODEL.to_string()))
        .expect("the model loads");
    let ours = as_stored.embed_passages(&texts).expect("fast path");
    let theirs = reference.embed_passages(&texts).expect("reference path");
    for ((text, ours), theirs) in texts.iter().zip(&ours).zip(&theirs) {
        let similarity = cosine(ours, theirs);
        assert!(similarity >= 0.99999, "cosine {similarity} for {text:?}");
    }
}

#[test]
fn the_default_model_describes_itself() {
    let embedder = e5();
    assert_eq!(embedder.model_id(), DEFAULT_MODEL);
    assert_eq!(embedder.dimension(), 384);
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(DEFAULT_MODEL)
        .join("model.safetensors");
    let bytes = std::fs::read(file).expect("the shipped weights exist");
    // Its layers run coded (its kefu-model.toml says so), which the checksum records.
    assert_eq!(
        embedder.checksum(),
        format!("{}+i8-rows", hex::encode(Sha256::digest(&bytes)))
    );
    assert_eq!(embedded_model_names(), vec![DEFAULT_MODEL.to_string()]);
}

#[test]
fn an_embedder_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Embedder>();
}

#[test]
fn an_unknown_model_name_lists_the_known_ones() {
    let error = Embedder::load(&ModelSource::Embedded("no-such-model".to_string()))
        .expect_err("an unknown name fails");
    let message = error.to_string();
    assert!(matches!(error, MlError::UnknownModel { .. }), "{error:?}");
    assert!(message.contains("no-such-model"), "{message}");
    assert!(message.contains(DEFAULT_MODEL), "{message}");
}

#[test]
fn a_directory_without_a_tokenizer_names_the_missing_file() {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("config.json"), "{}").expect("write");
    std::fs::write(dir.path().join("model.safetensors"), b"").expect("write");
    let error = Embedder::load(&ModelSource::Directory(dir.path().to_path_buf()))
        .expect_err("a missing tokenizer fails");
    assert!(
        matches!(
            error,
            MlError::MissingFile {
                file: "tokenizer.json",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("tokenizer.json"), "{error}");
}

#[test]
fn a_broken_config_is_reported_as_such() {
    let dir = tempfile::tempdir().expect("a temp dir");
    for file in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::write(dir.path().join(file), "not json").expect("write");
    }
    let error = Embedder::load(&ModelSource::Directory(dir.path().to_path_buf()))
        .expect_err("a broken config fails");
    assert!(matches!(error, MlError::BadConfig { .. }), "{error:?}");
    assert!(error.to_string().contains("config.json"), "{error}");
}

#[test]
fn parse_tells_directories_from_names() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().to_string_lossy().into_owned();
    assert_eq!(
        ModelSource::parse(&path),
        ModelSource::Directory(dir.path().to_path_buf())
    );
    assert_eq!(
        ModelSource::parse(DEFAULT_MODEL),
        ModelSource::Embedded(DEFAULT_MODEL.to_string())
    );
}

#[test]
fn prefixes_are_guessed_from_the_folder_name() {
    let e5 = ModelSettings::guess_from_name("multilingual-e5-small");
    assert_eq!(
        (e5.query_prefix.as_str(), e5.passage_prefix.as_str()),
        ("query: ", "passage: ")
    );
    for name in ["all-MiniLM-L6-v2", "fine5-model", "bge-small"] {
        let settings = ModelSettings::guess_from_name(name);
        assert_eq!(settings.query_prefix, "", "{name}");
        assert_eq!(settings.passage_prefix, "", "{name}");
    }
}

#[test]
fn a_batch_equals_one_by_one_in_input_order() {
    // Mixed lengths, longest first, over more than one internal batch: sorting must not
    // reorder the results and packing texts together must not mix them.
    let mut owned = sample_texts(40);
    owned.sort_by_key(|text| std::cmp::Reverse(text.len()));
    owned.push(String::new());
    let texts: Vec<&str> = owned.iter().map(String::as_str).collect();
    let batched = e5().embed_passages(&texts).expect("batch");
    assert_eq!(batched.len(), texts.len());
    for (index, text) in texts.iter().enumerate() {
        let alone = e5().embed_passages(&[text]).expect("single");
        let similarity = cosine(&batched[index], &alone[0]);
        assert!(
            similarity >= 0.9999,
            "text {index} {text:?}: cosine {similarity}"
        );
    }
}

#[test]
fn order_is_preserved_for_distinct_texts() {
    let texts = [
        "A very long message about a parcel that was lost somewhere between the warehouse and my house, twice",
        "Hi",
        "How do I reset my password?",
        "退款",
    ];
    let batched = e5().embed_queries(&texts).expect("batch");
    for (index, text) in texts.iter().enumerate() {
        let alone = e5().embed_queries(&[text]).expect("single");
        let best = batched
            .iter()
            .map(|vector| cosine(vector, &alone[0]))
            .enumerate()
            .max_by(|left, right| left.1.total_cmp(&right.1))
            .map(|(best, _)| best);
        assert_eq!(best, Some(index), "{text:?}");
    }
}

#[test]
fn empty_input_gives_a_unit_vector() {
    let vectors = e5().embed_queries(&[""]).expect("empty text embeds");
    let norm: f32 = vectors[0]
        .iter()
        .map(|value| value * value)
        .sum::<f32>()
        .sqrt();
    assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
    assert!(e5().embed_queries(&[]).expect("no texts").is_empty());
}

fn assert_paraphrase_is_closer(embedder: &Embedder, [question, paraphrase, unrelated]: [&str; 3]) {
    let vectors = embedder
        .embed_queries(&[question, paraphrase, unrelated])
        .expect("embedding works");
    let close = cosine(&vectors[0], &vectors[1]);
    let far = cosine(&vectors[0], &vectors[2]);
    assert!(
        close > far,
        "{}: {close} <= {far} for {question:?}",
        embedder.model_id()
    );
}

#[test]
fn paraphrases_are_closer_than_unrelated_questions() {
    let english = [
        "Where is my parcel?",
        "My package hasn't arrived",
        "How do I reset my password?",
    ];
    let chinese = ["我的包裹在哪里？", "我的快递还没到", "如何重置我的密码？"];
    assert_paraphrase_is_closer(e5(), english);
    assert_paraphrase_is_closer(e5(), chinese);
    // MiniLM is English-only: its Chinese neighbours are noise.
    if let Some(embedder) = minilm() {
        assert_paraphrase_is_closer(embedder, english);
    }
}
