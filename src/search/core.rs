//! What every kefu index shares: opening or recreating its directory, the one writer behind
//! a mutex, commits that record the store's last applied change sequence, and the reader
//! reloaded after each commit. The knowledge and ticket indexes wrap it with their schema.

use super::{IndexState, SearchError, analyzer, describe, storage};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard};
use tantivy::schema::Schema;
use tantivy::{DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyError};

/// Why an index on disk was not reopened.
enum Reopen {
    Locked(SearchError),
    Unusable(String),
}

pub(super) struct IndexCore {
    dir: PathBuf,
    reader: IndexReader,
    /// tantivy allows one writer per index; the mutex makes `apply` and `rebuild` take turns.
    writer: Mutex<IndexWriter>,
    /// The sequence in the last commit's payload, kept here so reading it needs no IO.
    applied_sequence: AtomicI64,
}

impl IndexCore {
    /// Opens the index in `dir`, creating the directory. An index that cannot be reused as
    /// it is (missing, another schema version, never fully built, unreadable) is wiped and
    /// recreated empty, and `IndexState::Fresh` says it needs a rebuild.
    pub(super) fn open(
        dir: &Path,
        schema: Schema,
        version: u32,
        writer_memory_bytes: usize,
    ) -> Result<(IndexCore, IndexState), SearchError> {
        std::fs::create_dir_all(dir).map_err(|source| SearchError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        if let Some((core, applied_sequence)) =
            Self::reopen(dir, &schema, version, writer_memory_bytes)?
        {
            return Ok((core, IndexState::UpToDate { applied_sequence }));
        }
        let index = storage::recreate(dir, schema, version)?;
        let core = Self::assemble(dir, index, 0, writer_memory_bytes)?;
        Ok((core, IndexState::Fresh))
    }

    /// The index already in `dir` with its applied sequence, or `None` (logged) when it
    /// cannot be reused and should be recreated.
    fn reopen(
        dir: &Path,
        schema: &Schema,
        version: u32,
        writer_memory_bytes: usize,
    ) -> Result<Option<(IndexCore, i64)>, SearchError> {
        // tantivy panics on some damaged files (a segment file of 4 to 7 bytes underflows
        // reading its footer). Here that is one more kind of corrupt index, rebuilt from the
        // store; everything touched inside is dropped after a panic, hence AssertUnwindSafe.
        let attempt = panic::catch_unwind(AssertUnwindSafe(|| {
            let found = storage::probe(dir, schema, version).map_err(Reopen::Unusable)?;
            let sequence = found.applied_sequence;
            match Self::assemble(dir, found.index, sequence, writer_memory_bytes) {
                Ok(core) => Ok((core, sequence)),
                Err(error @ SearchError::Locked { .. }) => Err(Reopen::Locked(error)),
                Err(error) => Err(Reopen::Unusable(describe(&error))),
            }
        }));
        match attempt {
            Ok(Ok(reopened)) => return Ok(Some(reopened)),
            // Someone else is using it: wiping it would pull the files from under them.
            Ok(Err(Reopen::Locked(error))) => return Err(error),
            Ok(Err(Reopen::Unusable(reason))) => {
                tracing::info!(dir = %dir.display(), %reason, "recreating the search index");
            }
            Err(_panic) => tracing::warn!(
                dir = %dir.display(),
                "reading the search index panicked; recreating it"
            ),
        }
        Ok(None)
    }

    fn assemble(
        dir: &Path,
        index: Index,
        applied_sequence: i64,
        writer_memory_bytes: usize,
    ) -> Result<IndexCore, SearchError> {
        index
            .tokenizers()
            .register(analyzer::ANALYZER_NAME, analyzer::build());
        // One indexing thread: documents are small, and the server has other work to do.
        let writer = index
            .writer_with_num_threads(1, writer_memory_bytes)
            .map_err(|error| match error {
                TantivyError::LockFailure(..) => SearchError::Locked {
                    dir: dir.to_path_buf(),
                },
                other => SearchError::Index(other),
            })?;
        // Reloaded by hand right after each commit, so a search that follows `apply` sees it.
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(IndexCore {
            dir: dir.to_path_buf(),
            reader,
            writer: Mutex::new(writer),
            applied_sequence: AtomicI64::new(applied_sequence),
        })
    }

    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The last store sequence the index reflects; 0 before the first build.
    pub(super) fn applied_sequence(&self) -> i64 {
        self.applied_sequence.load(Ordering::SeqCst)
    }

    pub(super) fn searcher(&self) -> Searcher {
        self.reader.searcher()
    }

    /// How many documents are indexed (as of the last commit).
    pub(super) fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Runs `stage` on the writer, then commits with `sequence` as the payload and makes the
    /// result visible. On failure nothing staged is kept, so it cannot leak into a later commit.
    pub(super) fn commit_with(
        &self,
        sequence: i64,
        stage: impl FnOnce(&mut IndexWriter) -> tantivy::Result<()>,
    ) -> Result<(), SearchError> {
        let mut writer = self.lock_writer();
        let committed = stage(&mut writer).and_then(|()| {
            let mut prepared = writer.prepare_commit()?;
            prepared.set_payload(&storage::payload(sequence));
            prepared.commit()
        });
        if let Err(error) = committed {
            if let Err(rollback_error) = writer.rollback() {
                tracing::error!(
                    error = &rollback_error as &dyn std::error::Error,
                    "rolling back the search index writer failed"
                );
            }
            return Err(error.into());
        }
        self.applied_sequence.store(sequence, Ordering::SeqCst);
        drop(writer);
        self.reader.reload()?;
        Ok(())
    }

    /// A panic while staging (a bug) poisons the lock; the staged work is rolled back and
    /// the writer used again, since the index on disk is only ever changed by commits.
    fn lock_writer(&self) -> MutexGuard<'_, IndexWriter> {
        match self.writer.lock() {
            Ok(writer) => writer,
            Err(poisoned) => {
                let mut writer = poisoned.into_inner();
                if let Err(error) = writer.rollback() {
                    tracing::error!(
                        error = &error as &dyn std::error::Error,
                        "rolling back the search index writer failed"
                    );
                }
                self.writer.clear_poison();
                writer
            }
        }
    }
}

/// Each found document's score and `id` (an i64 fast field, which every kefu index has),
/// read without decompressing the stored documents; a document without one is skipped.
pub(super) fn fast_ids(
    searcher: &Searcher,
    top: Vec<(f32, DocAddress)>,
) -> Result<Vec<(f32, i64)>, TantivyError> {
    let id_columns = searcher
        .segment_readers()
        .iter()
        .map(|segment| segment.fast_fields().i64("id"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(top
        .into_iter()
        .filter_map(|(score, address)| {
            let id = id_columns
                .get(address.segment_ord as usize)?
                .first(address.doc_id)?;
            Some((score, id))
        })
        .collect())
}
