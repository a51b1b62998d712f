//! `kefu train`: trains the bot on the data directory's knowledge base now — fine-tuning the
//! encoder whatever the knowledge base's size — and saves the result where `kefu serve`
//! finds it.

use std::time::Instant;

use anyhow::Context;

use crate::config::Config;
use crate::data_dir::DataDir;
use crate::service::KnowledgeService;
use crate::service::assistant::TuningSize;
use crate::store::Store;

pub async fn train(config: &Config) -> anyhow::Result<()> {
    let data_dir = DataDir::create(&config.data_dir)?;
    // `kefu serve` trains by itself; two trainers on one data directory would only compete.
    let _lock = data_dir.lock()?;
    let store = Store::open(&data_dir.database(), 2)
        .await
        .with_context(|| format!("opening {}", data_dir.database().display()))?;
    let knowledge = KnowledgeService::open(store.clone(), &data_dir.knowledge_index())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let embedder = crate::app::load_model(&config.model).await?;
    let assistant =
        crate::app::assistant_service(config, &data_dir, store.clone(), knowledge, embedder);
    let started = Instant::now();
    let trained = assistant.refresh_and_fine_tune(TuningSize::AnySize).await;
    let status = assistant.status();
    store.close().await;
    trained.map_err(|e| anyhow::anyhow!("{e}"))?;

    let share = |value: Option<f32>| {
        value.map_or_else(|| "-".to_string(), |v| format!("{:.1}%", v * 100.0))
    };
    let report = status.report.context("the assistant did not train")?;
    println!(
        "trained on {} phrases ({} classes) in {:.1} s",
        report.examples,
        report.classes,
        started.elapsed().as_secs_f64()
    );
    match &status.fine_tuning {
        None => println!("encoder: frozen (fine_tune_layers is 0)"),
        Some(tuning) => println!(
            "encoder: top {} layers fine-tuned for {} epochs in {:.1} s; held-out accuracy frozen {} \
             / tuned {}: {}",
            tuning.report.layers,
            tuning.report.epochs.len(),
            tuning.report.duration_ms as f64 / 1_000.0,
            share(tuning.frozen_holdout_accuracy),
            share(tuning.tuned_holdout_accuracy),
            if tuning.kept {
                "the bot uses the tuned encoder"
            } else {
                "the bot keeps the frozen encoder"
            }
        ),
    }
    println!(
        "saved in {}; `kefu serve` uses it until the knowledge base changes",
        data_dir.assistant_model().display()
    );
    Ok(())
}
