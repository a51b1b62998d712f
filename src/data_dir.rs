//! The data directory's layout and the lock that lets only one `kefu serve` use it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("cannot create data directory {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot use lock file {path}: {source}")]
    LockFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "data directory {path} is in use by another kefu process{holder}; stop it first, or pass a different --data-dir"
    )]
    InUse { path: PathBuf, holder: String },
}

/// Held while a process owns the data directory; released when dropped (or when the
/// process dies, since the OS drops the lock with the file descriptor).
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

impl DataDir {
    /// Creates the directory if needed.
    pub fn create(root: &Path) -> Result<DataDir, DataDirError> {
        std::fs::create_dir_all(root).map_err(|source| DataDirError::Create {
            path: root.to_path_buf(),
            source,
        })?;
        Ok(DataDir {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn database(&self) -> PathBuf {
        self.root.join("kefu.db")
    }

    /// Derived search state; safe to delete (it is rebuilt from the database).
    pub fn index_root(&self) -> PathBuf {
        self.root.join("index")
    }

    pub fn knowledge_index(&self) -> PathBuf {
        self.index_root().join("knowledge")
    }

    pub fn ticket_index(&self) -> PathBuf {
        self.index_root().join("tickets")
    }

    /// Files attached to tickets and chat messages, under random names.
    pub fn attachments(&self) -> PathBuf {
        self.root.join("attachments")
    }

    /// The trained intent model; derived too (retrained when missing).
    pub fn assistant_model(&self) -> PathBuf {
        self.root.join("assistant")
    }

    pub fn lock_file(&self) -> PathBuf {
        self.root.join("kefu.lock")
    }

    /// Takes the exclusive lock, or says which process holds it.
    pub fn lock(&self) -> Result<DataDirLock, DataDirError> {
        let path = self.lock_file();
        let lock_error = |source| DataDirError::LockFile {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(lock_error)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let pid = pid.trim();
                let holder = if pid.is_empty() {
                    String::new()
                } else {
                    format!(" (pid {pid})")
                };
                return Err(DataDirError::InUse {
                    path: self.root.clone(),
                    holder,
                });
            }
            Err(std::fs::TryLockError::Error(source)) => return Err(lock_error(source)),
        }
        file.set_len(0).map_err(lock_error)?;
        file.seek(SeekFrom::Start(0)).map_err(lock_error)?;
        write!(file, "{}", std::process::id()).map_err(lock_error)?;
        file.flush().map_err(lock_error)?;
        Ok(DataDirLock { _file: file })
    }
}
