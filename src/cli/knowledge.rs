//! `kefu import faq|catalog`, `kefu export faq` and `kefu reindex`.

use crate::config::Config;
use crate::data_dir::DataDir;
use crate::service::knowledge::{export_from, import_into};
use crate::service::knowledge_csv::MAX_FILE_BYTES;
use crate::service::{CatalogService, KnowledgeService, ServiceError};
use crate::store::Store;
use anyhow::{Context, bail};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let data_dir = DataDir::create(&config.data_dir)?;
    Store::open(&data_dir.database(), 1)
        .await
        .with_context(|| format!("opening {}", data_dir.database().display()))
}

/// Imports a CSV into the database. Works while `kefu serve` runs: the server's index
/// follows the database's change log and picks the new entries up within a second.
pub async fn import_faq(config: &Config, file: &Path, dry_run: bool) -> anyhow::Result<()> {
    let size = std::fs::metadata(file)
        .with_context(|| format!("reading {}", file.display()))?
        .len();
    if size > MAX_FILE_BYTES as u64 {
        bail!(
            "{} is {size} bytes; at most {MAX_FILE_BYTES} bytes (10 MiB) — split it",
            file.display()
        );
    }
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let store = open_store(config).await?;

    let written = Arc::new(AtomicUsize::new(0));
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message("rows checked and written");
    let ticker = {
        let (bar, written) = (bar.clone(), Arc::clone(&written));
        tokio::spawn(async move {
            loop {
                bar.set_position(written.load(Ordering::Relaxed) as u64);
                bar.tick();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let outcome = import_into(&store, &bytes, dry_run, Some(written)).await;
    ticker.abort();
    bar.finish_and_clear();
    store.close().await;

    match outcome {
        Ok(summary) => {
            let verb = if dry_run { "would be" } else { "were" };
            println!(
                "{}: {} created, {} updated, {} unchanged ({} rows {verb} imported{})",
                file.display(),
                summary.created,
                summary.updated,
                summary.unchanged,
                summary.rows.len(),
                if dry_run {
                    "; dry run, nothing written"
                } else {
                    ""
                }
            );
            if dry_run {
                for row in &summary.rows {
                    println!(
                        "line {}\t{}\t{}",
                        row.line,
                        row.action.as_str(),
                        row.question
                    );
                }
            }
            Ok(())
        }
        Err(error) => Err(refusal(file, error)),
    }
}

/// Imports catalog items, then embeds them with the configured model (a running server
/// would otherwise embed them on its next recommendation).
pub async fn import_catalog(config: &Config, file: &Path, dry_run: bool) -> anyhow::Result<()> {
    let size = std::fs::metadata(file)
        .with_context(|| format!("reading {}", file.display()))?
        .len();
    if size > MAX_FILE_BYTES as u64 {
        bail!(
            "{} is {size} bytes; at most {MAX_FILE_BYTES} bytes (10 MiB) — split it",
            file.display()
        );
    }
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let embedder = crate::app::load_model(&config.model).await?;
    let store = open_store(config).await?;
    let catalog = CatalogService::new(store.clone(), embedder);
    let outcome = catalog.import_csv(&bytes, dry_run).await;
    store.close().await;
    match outcome {
        Ok(summary) => {
            println!(
                "{}: {} created, {} updated, {} unchanged{}",
                file.display(),
                summary.created,
                summary.updated,
                summary.unchanged,
                if dry_run {
                    " (dry run, nothing written)"
                } else {
                    "; embedded"
                }
            );
            Ok(())
        }
        Err(error) => Err(refusal(file, error)),
    }
}

/// Every bad line on stderr, and the news that nothing was imported.
fn refusal(file: &Path, error: ServiceError) -> anyhow::Error {
    match error {
        ServiceError::InvalidRows(errors) => {
            for error in &errors {
                eprintln!("{}: {error}", file.display());
            }
            anyhow::anyhow!(
                "{} problem(s) in {}; nothing was imported",
                errors.len(),
                file.display()
            )
        }
        other => anyhow::anyhow!("{other}"),
    }
}

pub async fn export_faq(config: &Config, file: &Path) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let csv = export_from(&store).await;
    store.close().await;
    let csv = csv.map_err(|e| anyhow::anyhow!("{e}"))?;
    let partial = file.with_extension("csv.partial");
    std::fs::write(&partial, &csv).with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, file).with_context(|| format!("writing {}", file.display()))?;
    println!("exported the knowledge base to {}", file.display());
    Ok(())
}

/// Rebuilds the search index from the database. A running server keeps its own index up
/// to date, so this needs the data directory to itself.
pub async fn reindex(config: &Config) -> anyhow::Result<()> {
    let data_dir = DataDir::create(&config.data_dir)?;
    let _lock = data_dir.lock()?;
    let store = Store::open(&data_dir.database(), 1)
        .await
        .with_context(|| format!("opening {}", data_dir.database().display()))?;
    let index_dir = data_dir.knowledge_index();
    if index_dir.exists() {
        std::fs::remove_dir_all(&index_dir)
            .with_context(|| format!("removing {}", index_dir.display()))?;
    }
    let knowledge = KnowledgeService::open(store.clone(), &index_dir)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"));
    let entries = knowledge.map(|k| k.indexed_entries());
    store.close().await;
    println!("indexed {} entries into {}", entries?, index_dir.display());
    Ok(())
}
