//! `kefu bench kb`: measures CSV import and knowledge search on a synthetic knowledge base
//! of realistic size, with the real store and index in a temporary directory; `kefu bench
//! embed`: the embedding model's latency and throughput.

use crate::config::Config;
use crate::data_dir::DataDir;
use crate::domain::KnowledgeFilter;
use crate::service::KnowledgeService;
use crate::service::knowledge::import_into;
use crate::store::Store;
use anyhow::Context;
use std::time::{Duration, Instant};

pub(super) const DEMO_FAQ: &str = include_str!("../service/demo/faq.csv");
pub(super) const DEMO_QUERIES: &str = include_str!("../service/demo/queries.csv");
const PRODUCTS: [&str; 12] = [
    "desk lamp",
    "kettle",
    "duvet",
    "pillow",
    "frying pan",
    "teapot",
    "night light",
    "bath towel",
    "rice cooker",
    "blender",
    "台灯",
    "电水壶",
];

/// Builds a CSV of `entries` rows by varying the demo entries, so text lengths, languages
/// and vocabulary look like a real shop's FAQ.
pub(super) fn synthetic_csv(entries: usize) -> anyhow::Result<Vec<u8>> {
    let mut reader = csv::Reader::from_reader(DEMO_FAQ.as_bytes());
    let demo: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>()?;
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record([
        "external_id",
        "question",
        "variants",
        "answer",
        "category",
        "tags",
        "language",
        "status",
    ])?;
    for n in 0..entries {
        let row = &demo[n % demo.len()];
        let product = PRODUCTS[(n / demo.len()) % PRODUCTS.len()];
        let field = |i: usize| row.get(i).unwrap_or_default();
        writer.write_record([
            format!("bench-{n}"),
            format!("{} ({product}, model {n})", field(1)),
            field(2).to_string(),
            format!("{}\n\nApplies to the {product} range, model {n}.", field(3)),
            field(4).to_string(),
            field(5).to_string(),
            field(6).to_string(),
            "published".to_string(),
        ])?;
    }
    Ok(writer.into_inner()?)
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

pub async fn knowledge(_config: &Config, entries: usize, rounds: usize) -> anyhow::Result<()> {
    let scratch = super::scratch::ScratchDir::new("bench")?;
    let data_dir = DataDir::create(scratch.path())?;
    run(&data_dir, entries, rounds).await
}

async fn run(data_dir: &DataDir, entries: usize, rounds: usize) -> anyhow::Result<()> {
    let csv = synthetic_csv(entries)?;
    println!(
        "knowledge base: {entries} synthetic entries ({} KiB of CSV)",
        csv.len() / 1024
    );
    let store = Store::open(&data_dir.database(), 2).await?;

    let started = Instant::now();
    let summary = import_into(&store, &csv, false, None)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "import (parse, validate, render Markdown, one transaction): {} rows in {:.2?}",
        summary.created,
        started.elapsed()
    );

    let started = Instant::now();
    let knowledge = KnowledgeService::open(store.clone(), &data_dir.knowledge_index())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "index build: {} documents in {:.2?}",
        knowledge.indexed_entries(),
        started.elapsed()
    );

    let queries: Vec<String> = csv::Reader::from_reader(DEMO_QUERIES.as_bytes())
        .records()
        .filter_map(|record| record.ok()?.get(0).map(str::to_string))
        .collect();
    anyhow::ensure!(!queries.is_empty(), "no benchmark queries");
    let filter = KnowledgeFilter {
        published_only: true,
        ..KnowledgeFilter::default()
    };
    for query in queries.iter().take(20) {
        knowledge
            .search(query, filter.clone(), 10)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let mut latencies = Vec::with_capacity(rounds * queries.len());
    for _ in 0..rounds {
        for query in &queries {
            let started = Instant::now();
            knowledge
                .search(query, filter.clone(), 10)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))
                .context("search")?;
            latencies.push(started.elapsed());
        }
    }
    latencies.sort();
    println!(
        "search (top 10, with snippets and entries loaded), {} queries: p50 {:.2?}, p99 {:.2?}, max {:.2?}",
        latencies.len(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default()
    );
    store.close().await;
    Ok(())
}

/// Loads the configured model and times it on a fixed set of help-desk texts.
pub async fn embedding(config: &Config, runs: usize, texts: usize) -> anyhow::Result<()> {
    let embedder = crate::app::load_model(&config.model).await?;
    let report = tokio::task::spawn_blocking(move || {
        let owned = crate::ml::sample_texts(texts);
        let texts: Vec<&str> = owned.iter().map(String::as_str).collect();
        crate::ml::benchmark(
            &embedder,
            crate::ml::SAMPLE_QUERY,
            runs,
            &texts,
            &[1, 32, 128],
        )
    })
    .await??;
    println!(
        "inference threads: {}",
        std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "default".to_string())
    );
    print!("{report}");
    Ok(())
}

/// Builds a synthetic knowledge base of `entries`, lets the assistant embed and train on it,
/// then times `understand` on the demo queries: the bot's per-message cost at that size.
/// With `keep`, the knowledge base, its vectors and the trained model stay in that directory
/// and a later run with the same size reuses them, timing only the queries.
pub async fn understanding(
    config: &Config,
    entries: usize,
    rounds: usize,
    keep: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let embedder = crate::app::load_model(&config.model).await?;
    let scratch;
    let root = match keep {
        Some(dir) => dir,
        None => {
            scratch = super::scratch::ScratchDir::new("bench")?;
            scratch.path()
        }
    };
    let kept_size = root.join("bench-entries");
    let reused = match std::fs::read_to_string(&kept_size) {
        Ok(size) if size.trim() == entries.to_string() => true,
        Ok(size) => anyhow::bail!(
            "{} holds a benchmark knowledge base of {} entries, not {entries}: pass --entries {} \
             or another directory",
            root.display(),
            size.trim(),
            size.trim()
        ),
        Err(_) => false,
    };
    let data_dir = DataDir::create(root)?;
    let store = Store::open(&data_dir.database(), 2).await?;
    if !reused {
        import_into(&store, &synthetic_csv(entries)?, false, None)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if keep.is_some() {
            std::fs::write(&kept_size, entries.to_string())
                .with_context(|| format!("writing {}", kept_size.display()))?;
        }
    }
    let knowledge = KnowledgeService::open(store.clone(), &data_dir.knowledge_index())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let assistant = crate::service::AssistantService::new(
        store.clone(),
        knowledge,
        embedder,
        data_dir.assistant_model(),
        crate::service::ThresholdOverrides::default(),
        config.fine_tune_options(),
    );
    let started = Instant::now();
    assistant
        .refresh_and_fine_tune(crate::service::assistant::TuningSize::AsServed)
        .await?;
    let status = assistant.status();
    let report = status.report.context("the assistant did not train")?;
    println!(
        "knowledge base: {entries} synthetic entries{}; embedding + training took {:.1?} \
         ({} phrases, {} classes; the head itself trained in {} ms)",
        if reused {
            " (kept from an earlier run: vectors and model reused)"
        } else {
            ""
        },
        started.elapsed(),
        report.examples,
        report.classes,
        report.duration_ms
    );

    let queries: Vec<String> = csv::Reader::from_reader(DEMO_QUERIES.as_bytes())
        .records()
        .filter_map(|record| record.ok()?.get(0).map(str::to_string))
        .collect();
    anyhow::ensure!(!queries.is_empty(), "no benchmark queries");
    for query in queries.iter().take(20) {
        assistant.understand(query).await?;
    }
    let mut latencies = Vec::with_capacity(rounds * queries.len());
    for round in 0..rounds {
        for query in &queries {
            // A text not seen before, so the embedding cache does not answer for the model.
            let text = format!("{query}{}", "?".repeat(round + 1));
            let started = Instant::now();
            assistant.understand(&text).await?;
            latencies.push(started.elapsed());
        }
    }
    latencies.sort();
    println!(
        "understand one message (embed + classify + dense + keyword retrieval + decision), {} messages: \
         p50 {:.2?}, p99 {:.2?}, max {:.2?}",
        latencies.len(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default()
    );
    if let Some(bytes) = crate::ml::peak_rss_bytes() {
        println!("peak RSS: {} MiB", bytes >> 20);
    }
    store.close().await;
    Ok(())
}
