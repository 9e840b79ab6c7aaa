//! The data directory: its layout, its format version, and the lock that keeps a second weir
//! process out of it.
//!
//! ```text
//! <data-dir>/WEIR_VERSION   format version of everything below
//! <data-dir>/LOCK           held (flock) while a weir process uses the directory
//! <data-dir>/metadata.redb  streams, shards, tags, settings
//! <data-dir>/streams/       segment logs, one directory per stream incarnation and shard
//! ```

use anyhow::{bail, Context, Result};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const FORMAT_VERSION: &str = "1";

pub struct DataDir {
    pub root: PathBuf,
    _lock: File,
}

impl DataDir {
    pub fn open(root: &Path) -> Result<Self> {
        std::fs::create_dir_all(root)
            .with_context(|| format!("cannot create data directory {}", root.display()))?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(root.join("LOCK"))
            .with_context(|| format!("cannot open {}", root.join("LOCK").display()))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => bail!(
                "data directory {} is in use by another weir process (its LOCK is held)",
                root.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", root.display()))
            }
        }
        let version_path = root.join("WEIR_VERSION");
        match std::fs::read_to_string(&version_path) {
            Ok(v) if v.trim() == FORMAT_VERSION => {}
            Ok(v) => bail!(
                "data directory {} has format version {} but this weir reads version {FORMAT_VERSION}",
                root.display(),
                v.trim()
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut f = File::create(&version_path)?;
                writeln!(f, "{FORMAT_VERSION}")?;
                f.sync_all()?;
            }
            Err(e) => return Err(e).context("cannot read WEIR_VERSION"),
        }
        Ok(Self {
            root: root.to_path_buf(),
            _lock: lock,
        })
    }

    /// The data directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn metadata_path(&self) -> PathBuf {
        self.root.join("metadata.redb")
    }

    pub fn streams_dir(&self) -> PathBuf {
        self.root.join("streams")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_opener_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDir::open(dir.path()).unwrap();
        let second = DataDir::open(dir.path());
        assert!(second.is_err());
        assert!(format!("{:#}", second.err().unwrap()).contains("in use"));
        drop(first);
        assert!(DataDir::open(dir.path()).is_ok());
    }

    #[test]
    fn an_incompatible_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("WEIR_VERSION"), "99\n").unwrap();
        let err = DataDir::open(dir.path()).err().unwrap();
        assert!(format!("{err:#}").contains("format version 99"));
    }
}
