//! The index directory on disk: deciding whether what is there can be reused, and otherwise
//! wiping it and starting an empty index. The index is derived from SQLite, so anything
//! doubtful is thrown away and rebuilt rather than repaired.

use super::SearchError;
use std::path::Path;
use tantivy::Index;
use tantivy::schema::Schema;

/// Holds the index's schema version as decimal text (each index kind has its own: see
/// `KNOWLEDGE_SCHEMA_VERSION`, `TICKET_SCHEMA_VERSION`). tantivy ignores files it does not manage, so the
/// file lives next to the index's own.
pub(super) const VERSION_FILE: &str = "kefu-index-version";

/// An index found on disk that this build can keep using.
pub(super) struct Reusable {
    pub index: Index,
    pub applied_sequence: i64,
}

/// Why an index on disk cannot be reused; logged before it is wiped.
pub(super) type Unusable = String;

/// Opens the index in `dir` if it was written by schema `version` and has been built
/// (committed with a sequence) at least once.
pub(super) fn probe(dir: &Path, schema: &Schema, version: u32) -> Result<Reusable, Unusable> {
    let version_path = dir.join(VERSION_FILE);
    let found_version = match std::fs::read_to_string(&version_path) {
        Ok(found) => found,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err("no index yet".into());
        }
        Err(error) => return Err(format!("cannot read {}: {error}", version_path.display())),
    };
    if found_version.trim() != version.to_string() {
        return Err(format!(
            "written with schema version {:?}, this build uses {version}",
            found_version.trim()
        ));
    }
    let index = Index::open_in_dir(dir).map_err(|error| format!("cannot open: {error}"))?;
    if index.schema() != *schema {
        // The version was not bumped with a schema change; do not trust the files.
        return Err("its schema differs from this build's".into());
    }
    // Catches files damaged on disk before tantivy reads them: it trusts its own files.
    match index.validate_checksum() {
        Ok(damaged) if damaged.is_empty() => {}
        Ok(damaged) => return Err(format!("damaged files: {damaged:?}")),
        Err(error) => return Err(format!("cannot check its files: {error}")),
    }
    let metas = index
        .load_metas()
        .map_err(|error| format!("cannot read its metadata: {error}"))?;
    let Some(applied_sequence) = metas.payload.as_deref().and_then(parse_payload) else {
        // Created, but the first build never committed: it may be incomplete.
        return Err("it was never fully built".into());
    };
    Ok(Reusable {
        index,
        applied_sequence,
    })
}

/// Removes everything in `dir` (but not `dir` itself, which may be a mount point), then
/// creates an empty index there and marks it with schema `version`.
pub(super) fn recreate(dir: &Path, schema: Schema, version: u32) -> Result<Index, SearchError> {
    let io_error = |source| SearchError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io_error)? {
        let entry = entry.map_err(io_error)?;
        // `file_type` does not follow symlinks, so a link is removed, never its target.
        let removed = if entry.file_type().map_err(io_error)?.is_dir() {
            std::fs::remove_dir_all(entry.path())
        } else {
            std::fs::remove_file(entry.path())
        };
        removed.map_err(io_error)?;
    }
    let index = Index::create_in_dir(dir, schema)?;
    write_version_file(dir, version)?;
    Ok(index)
}

/// Written after the index is created, through a rename, so a crash leaves either no
/// version file (and a rebuild) or a complete one.
fn write_version_file(dir: &Path, version: u32) -> Result<(), SearchError> {
    let final_path = dir.join(VERSION_FILE);
    let temporary_path = dir.join(format!("{VERSION_FILE}.tmp"));
    std::fs::write(&temporary_path, format!("{version}\n"))
        .and_then(|()| std::fs::rename(&temporary_path, &final_path))
        .map_err(|source| SearchError::Io {
            path: final_path,
            source,
        })
}

/// The commit payload records the last change sequence of the store the index reflects.
pub(super) fn payload(sequence: i64) -> String {
    sequence.to_string()
}

pub(super) fn parse_payload(payload: &str) -> Option<i64> {
    payload.trim().parse().ok()
}
