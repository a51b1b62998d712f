//! `kefu backup` and `kefu restore`.

use crate::config::Config;
use crate::data_dir::DataDir;
use crate::store::{Store, restore_database};
use anyhow::{Context, bail};
use std::path::Path;

/// Copies the live database with SQLite's online backup API; a running server keeps serving.
pub async fn backup(config: &Config, file: &Path) -> anyhow::Result<()> {
    let data_dir = DataDir::create(&config.data_dir)?;
    if !data_dir.database().exists() {
        bail!(
            "there is no database in {} yet; nothing to back up",
            data_dir.root().display()
        );
    }
    let store = Store::open(&data_dir.database(), 1)
        .await
        .with_context(|| format!("opening {}", data_dir.database().display()))?;
    let summary = store.backup_to(file).await;
    store.close().await;
    let summary = summary.with_context(|| format!("writing the backup to {}", file.display()))?;
    println!(
        "backup written to {} ({} bytes, schema version {})",
        summary.path.display(),
        summary.bytes,
        summary.schema_version
    );
    Ok(())
}

/// Replaces the database; refuses while a `kefu serve` holds the data directory.
pub fn restore(config: &Config, file: &Path) -> anyhow::Result<()> {
    let data_dir = DataDir::create(&config.data_dir)?;
    let _lock = data_dir.lock()?;
    let summary = restore_database(
        file,
        &data_dir.database(),
        crate::service::now().unix_seconds(),
    )
    .with_context(|| format!("restoring from {}", file.display()))?;
    // The index reflects the old database; it is rebuilt from the restored one on start.
    let index_root = data_dir.index_root();
    if index_root.exists() {
        std::fs::remove_dir_all(&index_root)
            .with_context(|| format!("removing the old index {}", index_root.display()))?;
    }
    println!(
        "restored {} (schema version {}) into {}",
        file.display(),
        summary.schema_version,
        data_dir.database().display()
    );
    if let Some(previous) = summary.previous_database {
        println!("the replaced database was kept as {}", previous.display());
    }
    Ok(())
}
