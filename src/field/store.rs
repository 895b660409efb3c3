//! Where field capture writes: the [`Store`] trait and the disk implementation.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Durable storage for clips and log lines; implement it to redirect or to
/// simulate failures in tests.
pub trait Store: Send {
    /// Appends `line` to the file at `path` (created if absent) and makes it
    /// durable (flush + fsync). On error nothing of `line` may remain.
    fn append(&mut self, path: &Path, line: &[u8]) -> io::Result<()>;
    /// Writes a complete 16 kHz mono WAV clip.
    fn write_clip(&mut self, path: &Path, samples: &[f32]) -> Result<()>;
    /// Current size of the file at `path` (0 when absent).
    fn size(&mut self, path: &Path) -> u64 {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    }
}

/// [`Store`] on the local file system; keeps the current log file open.
#[derive(Debug, Default)]
pub struct DiskStore {
    open: Option<(PathBuf, File)>,
}

impl DiskStore {
    /// A store with no file open yet.
    pub fn new() -> Self {
        DiskStore::default()
    }
}

/// Appends one line to an open file and forces it to disk; on failure the
/// file is truncated back to its previous length so no partial line remains.
pub fn append_durably(f: &mut File, line: &[u8]) -> io::Result<()> {
    let before = f.metadata()?.len();
    let r = f
        .write_all(line)
        .and_then(|_| f.flush())
        .and_then(|_| f.sync_data());
    if r.is_err() {
        let _ = f.set_len(before);
    }
    r
}

impl Store for DiskStore {
    fn append(&mut self, path: &Path, line: &[u8]) -> io::Result<()> {
        if self.open.as_ref().is_none_or(|(p, _)| p != path) {
            self.open = None;
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let f = OpenOptions::new().create(true).append(true).open(path)?;
            self.open = Some((path.to_path_buf(), f));
        }
        let (_, f) = self.open.as_mut().expect("opened above");
        let r = append_durably(f, line);
        if r.is_err() {
            self.open = None; // re-open next time (the card may come back)
        }
        r
    }

    fn write_clip(&mut self, path: &Path, samples: &[f32]) -> Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let r = crate::audio::write_wav(path, samples).and_then(|_| {
            File::open(path)
                .and_then(|f| f.sync_all())
                .map_err(|e| Error::io(path, e))
        });
        if r.is_err() {
            let _ = std::fs::remove_file(path); // no truncated clips left behind
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_store_appends_lines_in_order() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("l.jsonl");
        let mut store = DiskStore::new();
        store.append(&p, b"one\n").unwrap();
        store.append(&p, b"two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "one\ntwo\n");
        assert_eq!(store.size(&p), 8);
    }
}
