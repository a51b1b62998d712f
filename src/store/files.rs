//! The bytes of attachments under the data dir's `attachments/`, each under a random name
//! (never the uploader's), written to a temporary file, synced and renamed into place, so a
//! crash leaves no half-written file behind a row.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::StoreError;

#[derive(Debug, Clone)]
pub struct AttachmentFiles {
    dir: PathBuf,
}

/// A random storage name: 32 hex characters, in a subfolder named by the first two.
fn random_name() -> String {
    let bytes: [u8; 16] = rand::random();
    hex::encode(bytes)
}

impl AttachmentFiles {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    fn path_of(&self, storage_name: &str) -> Result<PathBuf, StoreError> {
        // Only names this module made: 32 hex characters, optionally ".thumb.png".
        let stem = storage_name
            .strip_suffix(".thumb.png")
            .unwrap_or(storage_name);
        if stem.len() != 32 || !stem.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(StoreError::NotFound);
        }
        Ok(self.dir.join(&stem[..2]).join(storage_name))
    }

    /// Stores `bytes` (and `thumbnail`, beside it); returns their storage names. Blocking:
    /// call it off the async threads.
    pub fn write(
        &self,
        bytes: &[u8],
        thumbnail: Option<&[u8]>,
    ) -> Result<(String, Option<String>), StoreError> {
        let name = random_name();
        self.write_file(&name, bytes)?;
        let thumbnail_name = match thumbnail {
            Some(png) => {
                let thumbnail_name = format!("{name}.thumb.png");
                self.write_file(&thumbnail_name, png)?;
                Some(thumbnail_name)
            }
            None => None,
        };
        Ok((name, thumbnail_name))
    }

    fn write_file(&self, storage_name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.path_of(storage_name)?;
        let folder = path.parent().unwrap_or(&self.dir);
        let io = |context: &str, path: &Path| {
            let context = format!("{context} {}", path.display());
            move |source| StoreError::Io { context, source }
        };
        std::fs::create_dir_all(folder).map_err(io("creating", folder))?;
        let temporary = folder.join(format!("{storage_name}.partial"));
        let mut file = std::fs::File::create(&temporary).map_err(io("creating", &temporary))?;
        file.write_all(bytes).map_err(io("writing", &temporary))?;
        file.sync_all().map_err(io("syncing", &temporary))?;
        std::fs::rename(&temporary, &path).map_err(io("renaming", &path))?;
        Ok(())
    }

    /// The stored bytes. Blocking.
    pub fn read(&self, storage_name: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.path_of(storage_name)?;
        std::fs::read(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => StoreError::NotFound,
            _ => StoreError::Io {
                context: format!("reading {}", path.display()),
                source,
            },
        })
    }

    /// Removes files whose rows were never written (a failed save). Blocking.
    pub fn remove(&self, storage_names: &[String]) {
        for name in storage_names {
            if let Ok(path) = self.path_of(name) {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}
