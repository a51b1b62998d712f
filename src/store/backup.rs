//! Online backup (SQLite's backup API, safe while kefu serves) and restore into a data dir.

use super::{APPLICATION_ID, Store, StoreError, check_sqlite_version, migrations};
use rusqlite::backup::NO_PROGRESS;
use rusqlite::{Connection, MAIN_DB, OpenFlags};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct BackupSummary {
    pub path: PathBuf,
    pub bytes: u64,
    pub schema_version: i64,
}

#[derive(Debug, Clone)]
pub struct RestoreSummary {
    pub schema_version: i64,
    /// Where the database that was replaced now lives, if there was one.
    pub previous_database: Option<PathBuf>,
}

impl Store {
    /// Writes a consistent copy of the database to `destination`. The copy is made next to
    /// the destination and renamed into place, so a crash never leaves a half-written backup.
    pub async fn backup_to(&self, destination: &Path) -> Result<BackupSummary, StoreError> {
        let destination = destination.to_path_buf();
        self.read(move |conn| {
            let partial = sibling(&destination, ".partial");
            let _ = std::fs::remove_file(&partial);
            conn.backup(MAIN_DB, &partial, NO_PROGRESS)?;
            let schema_version = verify_kefu_database(&partial)?;
            std::fs::rename(&partial, &destination).map_err(|e| {
                StoreError::io(format!("moving the backup to {}", destination.display()), e)
            })?;
            let bytes = std::fs::metadata(&destination)
                .map_err(|e| StoreError::io("reading the backup's size", e))?
                .len();
            Ok(BackupSummary {
                path: destination,
                bytes,
                schema_version,
            })
        })
        .await
    }
}

/// Replaces the database at `database` with the backup at `backup`. The caller must hold
/// the data directory's lock, so no kefu is serving from it. The replaced database is kept
/// beside it as `kefu.db.before-restore-<unix time>`.
pub fn restore_database(
    backup: &Path,
    database: &Path,
    unix_now: i64,
) -> Result<RestoreSummary, StoreError> {
    check_sqlite_version()?;
    let schema_version = verify_kefu_database(backup)?;

    let incoming = sibling(database, ".restoring");
    let _ = std::fs::remove_file(&incoming);
    let source = Connection::open_with_flags(backup, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    source.backup(MAIN_DB, &incoming, NO_PROGRESS)?;
    drop(source);

    let previous_database = if database.exists() {
        // Fold the WAL into the file first, so the kept copy is complete on its own.
        let old = Connection::open(database)?;
        old.pragma_update(None, "wal_checkpoint", "TRUNCATE")?;
        old.close().map_err(|(_, e)| StoreError::Sqlite(e))?;
        let kept = sibling(database, &format!(".before-restore-{unix_now}"));
        std::fs::rename(database, &kept).map_err(|e| {
            StoreError::io(format!("keeping the old database as {}", kept.display()), e)
        })?;
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(sibling(database, suffix));
        }
        Some(kept)
    } else {
        None
    };
    std::fs::rename(&incoming, database).map_err(|e| {
        StoreError::io(
            format!("moving the restored database to {}", database.display()),
            e,
        )
    })?;
    Ok(RestoreSummary {
        schema_version,
        previous_database,
    })
}

/// Checks that `path` is an intact kefu database this build can open; returns its schema version.
fn verify_kefu_database(path: &Path) -> Result<i64, StoreError> {
    let not_kefu = |why: String| StoreError::NotKefuDatabase {
        path: path.to_path_buf(),
        why,
    };
    if !path.is_file() {
        return Err(not_kefu("no such file".into()));
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| not_kefu(e.to_string()))?;
    let application_id: i64 = conn
        .pragma_query_value(None, "application_id", |row| row.get(0))
        .map_err(|e| not_kefu(e.to_string()))?;
    if application_id != APPLICATION_ID {
        return Err(not_kefu("it is not a database written by kefu".into()));
    }
    let check: String = conn.query_row("PRAGMA quick_check", [], |row| row.get(0))?;
    if check != "ok" {
        return Err(not_kefu(format!("it is damaged ({check})")));
    }
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let known = migrations::latest_schema_version();
    if version > known {
        return Err(StoreError::SchemaTooNew {
            path: path.to_path_buf(),
            found: version,
            known,
        });
    }
    Ok(version)
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
