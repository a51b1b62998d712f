//! Schema migrations: `migrations/NNNN_name.sql`, embedded, applied in order keyed by
//! `PRAGMA user_version`, all pending ones inside one exclusive transaction.

use super::StoreError;
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;

#[derive(rust_embed::RustEmbed)]
#[folder = "migrations/"]
struct MigrationFiles;

struct Migration {
    version: i64,
    name: String,
    sql: String,
}

/// Migrations sorted by number. File names are checked by a unit test, so a malformed
/// name is a build defect, never a user's problem.
fn embedded_migrations() -> Vec<Migration> {
    let mut migrations: Vec<Migration> = MigrationFiles::iter()
        .filter_map(|name| {
            let version = name.split('_').next()?.parse().ok()?;
            let file = MigrationFiles::get(&name)?;
            let sql = String::from_utf8_lossy(&file.data).into_owned();
            Some(Migration {
                version,
                name: name.into_owned(),
                sql,
            })
        })
        .collect();
    migrations.sort_by_key(|migration| migration.version);
    migrations
}

/// The schema version this build creates.
pub fn latest_schema_version() -> i64 {
    embedded_migrations()
        .last()
        .map_or(0, |migration| migration.version)
}

pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let migrations = embedded_migrations();
    let latest = migrations.last().map_or(0, |m| m.version);
    let transaction = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
    let current: i64 = transaction.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if current > latest {
        return Err(StoreError::SchemaTooNew {
            path: path.to_path_buf(),
            found: current,
            known: latest,
        });
    }
    for migration in migrations.iter().filter(|m| m.version > current) {
        transaction
            .execute_batch(&migration.sql)
            .map_err(|source| StoreError::Migration {
                name: migration.name.clone(),
                source,
            })?;
        tracing::info!(migration = %migration.name, "applied migration");
    }
    if latest > current {
        transaction.pragma_update(None, "user_version", latest)?;
    }
    transaction.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_files_are_numbered_without_gaps() {
        let names: Vec<String> = MigrationFiles::iter().map(|n| n.into_owned()).collect();
        let migrations = embedded_migrations();
        assert_eq!(
            names.len(),
            migrations.len(),
            "every file parses: {names:?}"
        );
        for (index, migration) in migrations.iter().enumerate() {
            let expected = i64::try_from(index).expect("few migrations") + 1;
            assert_eq!(migration.version, expected, "{}", migration.name);
            assert!(
                migration.name.len() > 5 && migration.name.as_bytes()[4] == b'_',
                "{} must be named NNNN_name.sql",
                migration.name
            );
        }
    }
}
