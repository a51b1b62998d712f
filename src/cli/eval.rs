//! `kefu eval intents|retrieval`: accuracy of the production intent model and of the bot's
//! hybrid retrieval on labelled CSV files, as a table or JSON.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use serde::Serialize;

use crate::config::Config;
use crate::data_dir::DataDir;
use crate::domain::intent::OUT_OF_SCOPE_PHRASES;
use crate::domain::knowledge::normalize_question;
use crate::ml::{Embedder, FineTuneOptions, TrainingOptions, TunedEncoder};
use crate::service::assistant::{Decision, FineTuning, IntentModel, ThresholdOverrides};
use crate::service::knowledge::import_into;
use crate::service::{AssistantService, KnowledgeService};
use crate::store::Store;

/// The label that marks an out-of-scope row.
const OUT_OF_SCOPE: &str = "oos";
/// Test queries timed one at a time, as a customer's message arrives.
const LATENCY_SAMPLE: usize = 300;

pub async fn intents(config: &Config, train: &Path, test: &Path, json: bool) -> anyhow::Result<()> {
    let fine_tune = config.fine_tune_options();
    let train_rows = read_labelled(train, &["label", "category", "intent"])?;
    let test_rows = read_labelled(test, &["label", "category", "intent"])?;
    let embedder = load_embedder(config).await?;
    let report = tokio::task::spawn_blocking(move || {
        evaluate_intents(&embedder, &train_rows, &test_rows, fine_tune.as_ref())
    })
    .await??;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_intents(&report);
    }
    Ok(())
}

pub async fn retrieval(
    config: &Config,
    faq: &Path,
    queries: &Path,
    json: bool,
) -> anyhow::Result<()> {
    let faq_bytes = std::fs::read(faq).with_context(|| format!("reading {}", faq.display()))?;
    let query_rows = read_labelled(queries, &["expected_question"])?;
    let embedder = load_embedder(config).await?;
    let report = evaluate_retrieval(
        embedder,
        config.fine_tune_options(),
        &faq_bytes,
        &query_rows,
    )
    .await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_retrieval(&report);
    }
    Ok(())
}

async fn load_embedder(config: &Config) -> anyhow::Result<Arc<Embedder>> {
    crate::app::load_model(&config.model).await
}

/// `(line, text, label)` rows of a CSV whose first column (or `text` column) is the text
/// and whose label is in one of `label_columns` (or the second column).
fn read_labelled(
    path: &Path,
    label_columns: &[&str],
) -> anyhow::Result<Vec<(u64, String, String)>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let headers = reader.headers()?.clone();
    let find = |names: &[&str]| headers.iter().position(|h| names.contains(&h.trim()));
    let text_column = find(&["text"]).unwrap_or(0);
    let label_column = find(label_columns).unwrap_or(1);
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.with_context(|| format!("{}", path.display()))?;
        let line = record.position().map_or(0, csv::Position::line);
        let (Some(text), Some(label)) = (record.get(text_column), record.get(label_column)) else {
            bail!("{} line {line}: needs a text and a label", path.display());
        };
        if text.trim().is_empty() || label.trim().is_empty() {
            bail!("{} line {line}: empty text or label", path.display());
        }
        rows.push((line, text.trim().to_string(), label.trim().to_string()));
    }
    if rows.is_empty() {
        bail!("{} has no rows", path.display());
    }
    Ok(rows)
}

#[derive(Debug, Serialize)]
struct IntentReport {
    model: String,
    train_examples: usize,
    test_examples: usize,
    classes: usize,
    /// In-scope test rows classified right (a rejected in-scope row counts as wrong when
    /// the test set has out-of-scope rows; otherwise nothing is rejected).
    accuracy: f64,
    macro_f1: f64,
    out_of_scope_precision: Option<f64>,
    out_of_scope_recall: Option<f64>,
    unknown_threshold: f32,
    holdout_accuracy: Option<f32>,
    /// With fine-tuning on: what tuning the encoder's top layers did, both models' test
    /// figures, and which one production would use.
    fine_tuning: Option<FineTuningSummary>,
    most_confused: Vec<Confusion>,
    embedding_seconds: f64,
    training_seconds: f64,
    latency_p50_ms: f64,
    latency_p99_ms: f64,
}

#[derive(Debug, Serialize)]
struct FineTuningSummary {
    frozen_accuracy: f64,
    tuned_accuracy: f64,
    frozen_out_of_scope_recall: Option<f64>,
    tuned_out_of_scope_recall: Option<f64>,
    #[serde(flatten)]
    judged: FineTuning,
}

#[derive(Debug, Serialize)]
struct Confusion {
    expected: String,
    predicted: String,
    count: usize,
}

fn evaluate_intents(
    embedder: &Embedder,
    train: &[(u64, String, String)],
    test: &[(u64, String, String)],
    fine_tune: Option<&FineTuneOptions>,
) -> anyhow::Result<IntentReport> {
    let embed_started = Instant::now();
    // Out-of-scope training rows: two thirds become the background class, the rest (or,
    // without any, the built-in phrases) calibrate the threshold unseen — as in production.
    let (in_scope, oos): (Vec<_>, Vec<_>) = train.iter().partition(|(_, _, l)| l != OUT_OF_SCOPE);
    let (background, calibration): (Vec<_>, Vec<_>) =
        oos.iter().enumerate().partition(|(i, _)| i % 3 != 2);
    let mut trained_rows: Vec<&(u64, String, String)> = in_scope;
    trained_rows.extend(background.into_iter().map(|(_, row)| *row));
    let calibration_texts: Vec<&str> = if calibration.is_empty() {
        OUT_OF_SCOPE_PHRASES.to_vec()
    } else {
        calibration
            .iter()
            .map(|(_, (_, text, _))| text.as_str())
            .collect()
    };
    let test_refs: Vec<_> = test.iter().collect();

    let labels: Vec<String> = trained_rows.iter().map(|(_, _, l)| l.clone()).collect();
    let background_label = labels
        .iter()
        .any(|l| l == OUT_OF_SCOPE)
        .then(|| OUT_OF_SCOPE.to_string());
    let train_head = |vectors: &[Vec<f32>], oos_vectors: &[Vec<f32>]| {
        IntentModel::train(
            vectors,
            &labels,
            background_label.clone(),
            oos_vectors,
            &TrainingOptions::default(),
        )
    };
    let test_has_oos = test.iter().any(|(_, _, l)| l == OUT_OF_SCOPE);
    let expected: Vec<&str> = test.iter().map(|(_, _, l)| l.as_str()).collect();
    let score = |model: &IntentModel<String>, vectors: &[Vec<f32>]| -> anyhow::Result<Scores> {
        let predictions = predict_all(model, vectors, test_has_oos)?;
        Ok(classification_scores(&expected, &predictions))
    };

    // As in production: the head on the frozen encoder first.
    let frozen_vectors = embedder.embed_queries(&texts(&trained_rows))?;
    let frozen_oos = embedder.embed_queries(&calibration_texts)?;
    let frozen_test = embedder.embed_queries(&texts(&test_refs))?;
    let mut embedding_seconds = embed_started.elapsed().as_secs_f64();
    let train_started = Instant::now();
    let frozen_model = train_head(&frozen_vectors, &frozen_oos)?;
    let mut training_seconds = train_started.elapsed().as_secs_f64();
    let frozen_scores = score(&frozen_model, &frozen_test)?;

    // Then, with fine-tuning on, the head on the tuned encoder, kept only when it does better
    // on the held-out split (never on the test set).
    let mut fine_tuning = None;
    let mut chosen = (frozen_model, frozen_scores, None);
    if let Some(options) = fine_tune {
        let tuning_started = Instant::now();
        let mut classes: Vec<&str> = labels.iter().map(String::as_str).collect();
        classes.sort_unstable();
        classes.dedup();
        let targets: Vec<usize> = labels
            .iter()
            .map(|l| classes.binary_search(&l.as_str()).unwrap_or(0))
            .collect();
        let tuned =
            embedder.fine_tune_queries(&texts(&trained_rows), &targets, classes.len(), options)?;
        let tuned_oos = embedder.embed_queries_tuned(&tuned.encoder, &calibration_texts)?;
        let tuned_model = train_head(&tuned.vectors, &tuned_oos)?;
        training_seconds += tuning_started.elapsed().as_secs_f64();
        let embed_test_started = Instant::now();
        let tuned_test = embedder.embed_queries_tuned(&tuned.encoder, &texts(&test_refs))?;
        embedding_seconds += embed_test_started.elapsed().as_secs_f64();
        let tuned_scores = score(&tuned_model, &tuned_test)?;
        let judged = FineTuning::judge(tuned.report, chosen.0.report(), tuned_model.report());
        fine_tuning = Some(FineTuningSummary {
            frozen_accuracy: chosen.1.accuracy,
            tuned_accuracy: tuned_scores.accuracy,
            frozen_out_of_scope_recall: chosen.1.oos_recall,
            tuned_out_of_scope_recall: tuned_scores.oos_recall,
            judged: judged.clone(),
        });
        if judged.kept {
            chosen = (tuned_model, tuned_scores, Some(tuned.encoder));
        }
    }
    let (model, scores, encoder) = chosen;
    let encoder = encoder.as_ref();
    let threshold = model.thresholds().unknown;

    let mut latencies = Vec::new();
    let step = (test.len() / LATENCY_SAMPLE).max(1);
    for (_, text, _) in test.iter().step_by(step).take(LATENCY_SAMPLE) {
        let started = Instant::now();
        let vector = embed_uncached(embedder, encoder, text)?;
        model.rank(vector.first().context("no vector")?)?;
        latencies.push(started.elapsed().as_secs_f64() * 1_000.0);
    }
    latencies.sort_by(f64::total_cmp);

    Ok(IntentReport {
        model: embedder.model_id().to_string(),
        train_examples: train.len(),
        test_examples: test.len(),
        classes: model.labels().len(),
        accuracy: scores.accuracy,
        macro_f1: scores.macro_f1,
        out_of_scope_precision: scores.oos_precision,
        out_of_scope_recall: scores.oos_recall,
        unknown_threshold: threshold,
        holdout_accuracy: model.report().holdout_accuracy,
        fine_tuning,
        most_confused: scores.confused,
        embedding_seconds,
        training_seconds,
        latency_p50_ms: percentile(&latencies, 0.50),
        latency_p99_ms: percentile(&latencies, 0.99),
    })
}

/// Each test vector's predicted label (`oos` when rejected).
fn predict_all(
    model: &IntentModel<String>,
    vectors: &[Vec<f32>],
    reject: bool,
) -> anyhow::Result<Vec<String>> {
    let mut predictions = Vec::with_capacity(vectors.len());
    for vector in vectors {
        let predicted = if reject {
            model.predict(vector)?.map(|best| best.label)
        } else {
            // Nothing to reject in the test set: score the classifier's best in-scope guess.
            model
                .rank(vector)?
                .into_iter()
                .find(|scored| scored.label != OUT_OF_SCOPE)
                .map(|best| best.label)
        };
        predictions.push(predicted.unwrap_or_else(|| OUT_OF_SCOPE.to_string()));
    }
    Ok(predictions)
}

fn texts<'a>(rows: &[&'a (u64, String, String)]) -> Vec<&'a str> {
    rows.iter().map(|(_, text, _)| text.as_str()).collect()
}

/// One query embedded as a customer's message is (no cache), by the tuned encoder if any.
fn embed_uncached(
    embedder: &Embedder,
    tuned: Option<&TunedEncoder>,
    text: &str,
) -> anyhow::Result<Vec<Vec<f32>>> {
    Ok(match tuned {
        None => embedder.embed_queries_uncached(&[text])?,
        Some(tuned) => embedder.embed_queries_tuned(tuned, &[text])?,
    })
}

struct Scores {
    accuracy: f64,
    macro_f1: f64,
    oos_precision: Option<f64>,
    oos_recall: Option<f64>,
    confused: Vec<Confusion>,
}

#[allow(clippy::cast_precision_loss)]
fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn classification_scores(expected: &[&str], predicted: &[String]) -> Scores {
    let pairs: Vec<(&str, &str)> = expected
        .iter()
        .copied()
        .zip(predicted.iter().map(String::as_str))
        .collect();
    let in_scope: Vec<&(&str, &str)> = pairs.iter().filter(|(e, _)| *e != OUT_OF_SCOPE).collect();
    let accuracy = ratio(
        in_scope.iter().filter(|(e, p)| e == p).count(),
        in_scope.len(),
    );

    let mut labels: Vec<&str> = in_scope.iter().map(|(e, _)| *e).collect();
    labels.sort_unstable();
    labels.dedup();
    let f1 = |label: &str| {
        let true_positive = pairs
            .iter()
            .filter(|(e, p)| *e == label && *p == label)
            .count();
        let predicted = pairs.iter().filter(|(_, p)| *p == label).count();
        let actual = pairs.iter().filter(|(e, _)| *e == label).count();
        let precision = ratio(true_positive, predicted);
        let recall = ratio(true_positive, actual);
        if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        }
    };
    #[allow(clippy::cast_precision_loss)]
    let macro_f1 = labels.iter().map(|l| f1(l)).sum::<f64>() / labels.len().max(1) as f64;

    let has_oos = pairs.iter().any(|(e, _)| *e == OUT_OF_SCOPE);
    let oos_hits = pairs
        .iter()
        .filter(|(e, p)| *e == OUT_OF_SCOPE && *p == OUT_OF_SCOPE)
        .count();
    let oos_predicted = pairs.iter().filter(|(_, p)| *p == OUT_OF_SCOPE).count();
    let oos_actual = pairs.iter().filter(|(e, _)| *e == OUT_OF_SCOPE).count();

    let mut confusion: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (e, p) in pairs.iter().filter(|(e, p)| e != p) {
        *confusion.entry((e, p)).or_default() += 1;
    }
    let mut confused: Vec<Confusion> = confusion
        .into_iter()
        .map(|((expected, predicted), count)| Confusion {
            expected: expected.to_string(),
            predicted: predicted.to_string(),
            count,
        })
        .collect();
    confused.sort_by_key(|c| std::cmp::Reverse(c.count));
    confused.truncate(10);
    Scores {
        accuracy,
        macro_f1,
        oos_precision: has_oos.then(|| ratio(oos_hits, oos_predicted)),
        oos_recall: has_oos.then(|| ratio(oos_hits, oos_actual)),
        confused,
    }
}

fn percentile(sorted: &[f64], quantile: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let index = ((sorted.len() - 1) as f64 * quantile).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn print_intents(report: &IntentReport) {
    let percent = |value: f64| format!("{:.2}%", value * 100.0);
    println!("model                {}", report.model);
    println!(
        "train / test         {} / {} rows, {} classes",
        report.train_examples, report.test_examples, report.classes
    );
    println!("accuracy             {}", percent(report.accuracy));
    println!("macro-F1             {}", percent(report.macro_f1));
    if let (Some(precision), Some(recall)) =
        (report.out_of_scope_precision, report.out_of_scope_recall)
    {
        println!(
            "out-of-scope         precision {}  recall {}  (threshold {:.2})",
            percent(precision),
            percent(recall),
            report.unknown_threshold
        );
    }
    if let Some(summary) = &report.fine_tuning {
        let tuning = &summary.judged.report;
        let share = |value: Option<f32>| {
            value.map_or_else(|| "-".to_string(), |v| format!("{:.2}%", v * 100.0))
        };
        println!(
            "fine-tuning          top {} layers in {:.1} s, best epoch {} of {}",
            tuning.layers,
            tuning.duration_ms as f64 / 1_000.0,
            tuning.best_epoch,
            tuning.epochs.len()
        );
        for (index, epoch) in tuning.epochs.iter().enumerate() {
            println!(
                "  epoch {}            loss {:.3}, held-out {}",
                index + 1,
                epoch.mean_loss,
                share(epoch.holdout_accuracy)
            );
        }
        println!(
            "  held-out           frozen {}  tuned {}  -> {}",
            share(summary.judged.frozen_holdout_accuracy),
            share(summary.judged.tuned_holdout_accuracy),
            if summary.judged.kept {
                "the tuned encoder is used"
            } else {
                "the frozen encoder is kept"
            }
        );
        println!(
            "  test accuracy      frozen {}  tuned {}",
            percent(summary.frozen_accuracy),
            percent(summary.tuned_accuracy)
        );
        if let (Some(frozen), Some(tuned)) = (
            summary.frozen_out_of_scope_recall,
            summary.tuned_out_of_scope_recall,
        ) {
            println!(
                "  out-of-scope recall frozen {}  tuned {}",
                percent(frozen),
                percent(tuned)
            );
        }
    }
    println!(
        "training             {:.1} s (embedding all rows: {:.1} s)",
        report.training_seconds, report.embedding_seconds
    );
    println!(
        "latency per query    p50 {:.1} ms  p99 {:.1} ms (embed + classify, one at a time)",
        report.latency_p50_ms, report.latency_p99_ms
    );
    if !report.most_confused.is_empty() {
        println!("most confused (expected -> predicted):");
        for confusion in &report.most_confused {
            println!(
                "  {:>4}  {} -> {}",
                confusion.count, confusion.expected, confusion.predicted
            );
        }
    }
}

#[derive(Debug, Serialize)]
struct RetrievalReport {
    model: String,
    entries: usize,
    queries: usize,
    /// The bot's fused ranking.
    hybrid: RankScores,
    /// Each retriever alone, for comparison.
    classifier: RankScores,
    semantic: RankScores,
    keyword: RankScores,
    /// What the bot would do with the queries at its thresholds.
    answered_right: f64,
    answered_wrong: f64,
    suggested_with_right_answer: f64,
    suggested_without_right_answer: f64,
    said_unknown: f64,
    /// Built-in out-of-scope phrases the bot declined to answer.
    out_of_scope_rejected: f64,
    answer_threshold: f32,
    unknown_threshold: f32,
    latency_p50_ms: f64,
    latency_p99_ms: f64,
}

#[derive(Debug, Default, Serialize)]
struct RankScores {
    top1: f64,
    top3: f64,
    mrr: f64,
}

impl RankScores {
    fn from_ranks(ranks: &[Option<usize>]) -> RankScores {
        let count = ranks.len();
        #[allow(clippy::cast_precision_loss)]
        let mrr = ranks
            .iter()
            .map(|rank| rank.map_or(0.0, |r| 1.0 / r as f64))
            .sum::<f64>()
            / count.max(1) as f64;
        RankScores {
            top1: ratio(ranks.iter().filter(|r| **r == Some(1)).count(), count),
            top3: ratio(
                ranks.iter().filter(|r| r.is_some_and(|r| r <= 3)).count(),
                count,
            ),
            mrr,
        }
    }
}

async fn evaluate_retrieval(
    embedder: Arc<Embedder>,
    fine_tune: Option<FineTuneOptions>,
    faq_csv: &[u8],
    queries: &[(u64, String, String)],
) -> anyhow::Result<RetrievalReport> {
    let scratch = super::scratch::ScratchDir::new("eval")?;
    let data_dir = DataDir::create(scratch.path())?;
    let store = Store::open(&data_dir.database(), 2).await?;
    let summary = import_into(&store, faq_csv, false, None).await?;
    let knowledge = KnowledgeService::open(store.clone(), &data_dir.knowledge_index()).await?;
    let assistant = AssistantService::new(
        store.clone(),
        Arc::clone(&knowledge),
        Arc::clone(&embedder),
        data_dir.assistant_model(),
        ThresholdOverrides::default(),
        fine_tune,
    );
    assistant
        .refresh_and_fine_tune(crate::service::assistant::TuningSize::AsServed)
        .await?;
    let status = assistant.status();
    let thresholds = status.thresholds.context("the assistant did not train")?;

    let (entries, _) = store.knowledge_snapshot().await?;
    let by_question: HashMap<String, crate::domain::FaqEntryId> = entries
        .iter()
        .map(|e| (normalize_question(&e.content.question), e.id))
        .collect();
    let mut hybrid = Vec::new();
    let mut classifier = Vec::new();
    let mut semantic = Vec::new();
    let mut keyword = Vec::new();
    let mut outcomes: HashMap<&str, usize> = HashMap::new();
    let mut latencies = Vec::new();
    for (line, text, expected_question) in queries {
        let expected = by_question
            .get(&normalize_question(expected_question))
            .with_context(|| format!("line {line}: no FAQ question {expected_question:?}"))?;
        let started = Instant::now();
        let understanding = assistant.understand_deep(text, usize::MAX).await?;
        latencies.push(started.elapsed().as_secs_f64() * 1_000.0);
        let found = understanding
            .answers
            .iter()
            .position(|a| a.entry.id == *expected);
        let candidate = found.map(|i| &understanding.answers[i]);
        hybrid.push(found.map(|i| i + 1));
        classifier.push(candidate.and_then(|c| c.classifier_rank));
        semantic.push(candidate.and_then(|c| c.semantic_rank));
        keyword.push(candidate.and_then(|c| c.keyword_rank));
        let outcome = match understanding.decision {
            Decision::Answer if found == Some(0) => "answered_right",
            Decision::Answer => "answered_wrong",
            Decision::Suggest if found.is_some_and(|i| i < 3) => "suggested_right",
            Decision::Suggest => "suggested_wrong",
            Decision::Unknown | Decision::Intent(_) => "unknown",
        };
        *outcomes.entry(outcome).or_default() += 1;
    }
    let mut rejected = 0;
    for phrase in OUT_OF_SCOPE_PHRASES {
        let understanding = assistant.understand(phrase).await?;
        if understanding.decision == Decision::Unknown {
            rejected += 1;
        }
    }
    latencies.sort_by(f64::total_cmp);
    let share = |key: &str| ratio(outcomes.get(key).copied().unwrap_or(0), queries.len());
    store.close().await;
    Ok(RetrievalReport {
        model: embedder.model_id().to_string(),
        entries: summary.created + summary.updated + summary.unchanged,
        queries: queries.len(),
        hybrid: RankScores::from_ranks(&hybrid),
        classifier: RankScores::from_ranks(&classifier),
        semantic: RankScores::from_ranks(&semantic),
        keyword: RankScores::from_ranks(&keyword),
        answered_right: share("answered_right"),
        answered_wrong: share("answered_wrong"),
        suggested_with_right_answer: share("suggested_right"),
        suggested_without_right_answer: share("suggested_wrong"),
        said_unknown: share("unknown"),
        out_of_scope_rejected: ratio(rejected, OUT_OF_SCOPE_PHRASES.len()),
        answer_threshold: thresholds.answer,
        unknown_threshold: thresholds.unknown,
        latency_p50_ms: percentile(&latencies, 0.50),
        latency_p99_ms: percentile(&latencies, 0.99),
    })
}

fn print_retrieval(report: &RetrievalReport) {
    let percent = |value: f64| format!("{:>6.1}%", value * 100.0);
    println!("model        {}", report.model);
    println!(
        "entries      {}   queries {}",
        report.entries, report.queries
    );
    println!("ranking          top-1    top-3    MRR");
    for (name, scores) in [
        ("hybrid (bot)", &report.hybrid),
        ("classifier", &report.classifier),
        ("semantic", &report.semantic),
        ("keyword", &report.keyword),
    ] {
        println!(
            "{name:<14} {} {} {:>7.3}",
            percent(scores.top1),
            percent(scores.top3),
            scores.mrr
        );
    }
    println!(
        "decisions at answer >= {:.2}, unknown < {:.2}:",
        report.answer_threshold, report.unknown_threshold
    );
    println!(
        "  answered, right          {}",
        percent(report.answered_right)
    );
    println!(
        "  answered, wrong          {}",
        percent(report.answered_wrong)
    );
    println!(
        "  did-you-mean with answer {}",
        percent(report.suggested_with_right_answer)
    );
    println!(
        "  did-you-mean without     {}",
        percent(report.suggested_without_right_answer)
    );
    println!(
        "  said \"don't know\"        {}",
        percent(report.said_unknown)
    );
    println!(
        "out-of-scope phrases rejected {}",
        percent(report.out_of_scope_rejected)
    );
    println!(
        "latency per message p50 {:.1} ms  p99 {:.1} ms (embed + classify + retrieve)",
        report.latency_p50_ms, report.latency_p99_ms
    );
}
