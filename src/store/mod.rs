//! SQLite, the single source of truth: connections, the writer thread, the reader pool.
//!
//! Every query runs off the async threads: writes on one dedicated writer thread (SQLite
//! allows one writer at a time anyway), reads on a small pool of read-only connections
//! inside `spawn_blocking`.

mod accounts;
mod assistant;
mod attachments;
mod backup;
mod catalog;
mod conversations;
mod customers;
mod desk;
mod files;
mod integrations;
mod knowledge;
mod migrations;
mod proactive;
mod settings;
mod tickets;

pub use accounts::{NewSessionRecord, NewUserRecord};
pub use assistant::{EmbeddingRecord, ModelKey};
pub use attachments::StoredFile;
pub use backup::{BackupSummary, RestoreSummary, restore_database};
pub use catalog::CatalogVector;
pub use conversations::CustomerIdentity;
pub use customers::{AuditEntry, CustomerFacts, CustomerQuery, CustomerSummary, Erasure};
pub use desk::{AgentSummary, DeskRow, Team};
pub use files::AttachmentFiles;
pub use integrations::{DeliveryRecord, DueDelivery};
pub use knowledge::{FaqListQuery, FaqPage, FaqRecord, ImportRecord};
pub use migrations::latest_schema_version;
pub use tickets::{ImportedTicket, NewComment, TicketPage, TicketQuery, TicketRow};

use rusqlite::{Connection, OpenFlags};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;
use tokio::sync::Semaphore;

/// SQLite 3.51.3 fixed a bug that could corrupt a WAL database when the WAL is reset.
const MIN_SQLITE_VERSION: i32 = 3_051_003;
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// `PRAGMA application_id` of every kefu database ('kefu' as a big-endian u32).
const APPLICATION_ID: i64 = 0x6B65_6675;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("not found")]
    NotFound,
    #[error("line {line}: {message}")]
    RowConflict { line: u64, message: String },
    #[error("the database is closed")]
    Closed,
    #[error(
        "SQLite {found} is too old: kefu needs 3.51.3 or newer (older versions can corrupt WAL databases)"
    )]
    SqliteTooOld { found: String },
    #[error(
        "{path} was written by a newer kefu (schema version {found}, this kefu knows up to {known}); upgrade kefu"
    )]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("{path} is not a kefu database: {why}")]
    NotKefuDatabase { path: PathBuf, why: String },
    #[error("migration {name} failed: {source}")]
    Migration {
        name: String,
        source: rusqlite::Error,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("a database task panicked")]
    Panicked,
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

impl StoreError {
    fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        StoreError::Io {
            context: context.into(),
            source,
        }
    }
}

type WriteJob = Box<dyn FnOnce(&mut Connection) + Send>;

/// A cheap, cloneable handle to the database.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Option<mpsc::Sender<WriteJob>>>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    writes_queued: AtomicUsize,
    idle_readers: Mutex<Vec<Connection>>,
    reader_permits: Arc<Semaphore>,
    reader_count: usize,
}

/// Connection-pool figures for `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct PoolStats {
    pub readers_total: usize,
    pub readers_idle: usize,
    pub writes_queued: usize,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub async fn open(path: &Path, reader_count: usize) -> Result<Store, StoreError> {
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || Store::open_blocking(path, reader_count))
            .await
            .map_err(|_| StoreError::Panicked)?
    }

    fn open_blocking(path: PathBuf, reader_count: usize) -> Result<Store, StoreError> {
        check_sqlite_version()?;
        let mut writer = Connection::open(&path)?;
        configure(&writer)?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        migrations::migrate(&mut writer, &path)?;
        // Query-planner statistics for every table that needs them (cheap: SQLite limits
        // how much it reads). Without them a big ticket list sorts instead of using its index.
        writer.execute_batch("PRAGMA optimize=0x10002;")?;

        let reader_count = reader_count.max(1);
        let mut readers = Vec::with_capacity(reader_count);
        for _ in 0..reader_count {
            let reader = Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            configure(&reader)?;
            readers.push(reader);
        }

        let (sender, receiver) = mpsc::channel::<WriteJob>();
        let inner = Arc::new(Inner {
            path,
            writer: Mutex::new(Some(sender)),
            writer_thread: Mutex::new(None),
            writes_queued: AtomicUsize::new(0),
            idle_readers: Mutex::new(readers),
            reader_permits: Arc::new(Semaphore::new(reader_count)),
            reader_count,
        });
        let thread_inner = Arc::clone(&inner);
        let handle = std::thread::Builder::new()
            .name("kefu-db-writer".into())
            .spawn(move || run_writer(writer, receiver, &thread_inner))
            .map_err(|e| StoreError::io("starting the database writer thread", e))?;
        *lock(&inner.writer_thread) = Some(handle);
        Ok(Store { inner })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `job` on the writer connection. Jobs run one at a time, in order.
    async fn write<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let boxed: WriteJob = Box::new(move |conn| {
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| job(conn)))
                .unwrap_or(Err(StoreError::Panicked));
            let _ = reply.send(outcome);
        });
        {
            let sender = lock(&self.inner.writer);
            let sender = sender.as_ref().ok_or(StoreError::Closed)?;
            self.inner.writes_queued.fetch_add(1, Ordering::Relaxed);
            sender.send(boxed).map_err(|_| StoreError::Closed)?;
        }
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `job` on a read-only connection from the pool.
    async fn read<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let permit = Arc::clone(&self.inner.reader_permits)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Closed)?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let conn = lock(&inner.idle_readers).pop().ok_or(StoreError::Closed)?;
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| job(&conn)))
                .unwrap_or(Err(StoreError::Panicked));
            lock(&inner.idle_readers).push(conn);
            outcome
        })
        .await
        .map_err(|_| StoreError::Panicked)?
    }

    /// True while the database answers a trivial query.
    pub async fn is_ready(&self) -> bool {
        self.read(|conn| Ok(conn.query_row("SELECT 1", [], |row| row.get::<_, i64>(0))?))
            .await
            .is_ok()
    }

    pub fn pool_stats(&self) -> PoolStats {
        PoolStats {
            readers_total: self.inner.reader_count,
            readers_idle: self.inner.reader_permits.available_permits(),
            writes_queued: self.inner.writes_queued.load(Ordering::Relaxed),
        }
    }

    /// Each table's `CREATE` statement, in name order: the schema as SQLite sees it.
    pub async fn schema(&self) -> Result<Vec<String>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare(
                "SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY type, name",
            )?;
            let rows = statement.query_map([], |row| row.get::<_, String>(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        self.read(|conn| Ok(conn.pragma_query_value(None, "user_version", |row| row.get(0))?))
            .await
    }

    /// Lets queued writes finish, then closes every connection (which checkpoints the WAL).
    /// Refreshes the query planner's statistics where the data changed a lot (SQLite's
    /// `PRAGMA optimize`): run after bulk imports and every few hours.
    pub async fn optimize(&self) -> Result<(), StoreError> {
        self.write(|conn| Ok(conn.execute_batch("PRAGMA optimize;")?))
            .await
    }

    pub async fn close(&self) {
        let inner = Arc::clone(&self.inner);
        let joined = tokio::task::spawn_blocking(move || {
            drop(lock(&inner.writer).take());
            if let Some(handle) = lock(&inner.writer_thread).take() {
                let _ = handle.join();
            }
            lock(&inner.idle_readers).clear();
        })
        .await;
        if joined.is_err() {
            tracing::error!("closing the database panicked");
        }
    }
}

fn run_writer(mut conn: Connection, jobs: mpsc::Receiver<WriteJob>, inner: &Inner) {
    for job in jobs {
        inner.writes_queued.fetch_sub(1, Ordering::Relaxed);
        job(&mut conn);
    }
    if let Err(error) = conn.execute_batch("PRAGMA optimize;") {
        tracing::warn!(%error, "refreshing the query planner's statistics failed");
    }
    if let Err(error) = conn.pragma_update(None, "wal_checkpoint", "TRUNCATE") {
        tracing::warn!(%error, "final WAL checkpoint failed");
    }
    if let Err((_, error)) = conn.close() {
        tracing::error!(%error, "closing the writer connection failed");
    }
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // FULL: a commit is on disk (WAL fsynced) before we acknowledge it, so power loss keeps it.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

fn check_sqlite_version() -> Result<(), StoreError> {
    if rusqlite::version_number() < MIN_SQLITE_VERSION {
        return Err(StoreError::SqliteTooOld {
            found: rusqlite::version().to_string(),
        });
    }
    Ok(())
}

/// A poisoned lock only means another thread panicked mid-job; the data it guards
/// (a sender, a list of connections) is still consistent.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Maps SQLite's unique-constraint failure to a conflict on `what`.
fn conflict_on_unique(error: rusqlite::Error, what: &'static str) -> StoreError {
    match error.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::Conflict(what),
        _ => StoreError::Sqlite(error),
    }
}
