//! `ScratchDir`: a private temporary data directory for benchmarks and evaluations, removed
//! when dropped.

use std::path::{Path, PathBuf};

pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    pub fn new(purpose: &str) -> std::io::Result<ScratchDir> {
        let path = std::env::temp_dir().join(format!("kefu-{purpose}-{}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path)?;
        }
        std::fs::create_dir_all(&path)?;
        Ok(ScratchDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
