//! The detection log: which file a record goes to (rotation by size or
//! day, never renaming), the record format, RFC 3339 time stamps.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::Store;
use crate::pipeline::Event;
use crate::{Error, Result};

/// How the detection log is split into files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotate {
    /// One file, the path given.
    Never,
    /// A new file when the current one would exceed this many bytes:
    /// `STEM.0001.EXT`, `STEM.0002.EXT`, ...
    Size(u64),
    /// One file per UTC day of the detection: `STEM.YYYY-MM-DD.EXT`.
    Daily,
}

impl FromStr for Rotate {
    type Err = Error;
    /// Parses `never`, `daily` or `size:MB` (megabytes, may be fractional).
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "never" => Ok(Rotate::Never),
            "daily" => Ok(Rotate::Daily),
            _ => {
                let mb = s
                    .strip_prefix("size:")
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|v| v.is_finite() && *v > 0.0)
                    .ok_or_else(|| {
                        Error::invalid(format!(
                            "log rotation '{s}': expected never, daily or size:MB (e.g. size:10)"
                        ))
                    })?;
                Ok(Rotate::Size(((mb * 1e6) as u64).max(1)))
            }
        }
    }
}

/// Decides which file each log record goes to.
#[derive(Debug, Clone)]
pub struct LogFiles {
    base: PathBuf,
    rotate: Rotate,
    index: u32,
    size: u64,
}

impl LogFiles {
    /// Log files derived from `base` (see [`Rotate`]); size rotation resumes
    /// after the highest numbered file already there.
    pub fn new(base: &Path, rotate: Rotate, store: &mut dyn Store) -> Self {
        let mut lf = LogFiles {
            base: base.to_path_buf(),
            rotate,
            index: 1,
            size: 0,
        };
        if let Rotate::Size(_) = rotate {
            lf.index = lf.highest_index().unwrap_or(1);
            lf.size = store.size(&lf.numbered(lf.index));
        }
        lf
    }

    fn stem_ext(&self) -> (String, String) {
        let stem = self
            .base
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "detections".into());
        let ext = self
            .base
            .extension()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "jsonl".into());
        (stem, ext)
    }

    fn numbered(&self, i: u32) -> PathBuf {
        let (stem, ext) = self.stem_ext();
        self.base.with_file_name(format!("{stem}.{i:04}.{ext}"))
    }

    fn highest_index(&self) -> Option<u32> {
        let (stem, ext) = self.stem_ext();
        let dir = match self.base.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::read_dir(dir)
            .ok()?
            .filter_map(|e| {
                let name = e.ok()?.file_name().to_string_lossy().into_owned();
                let mid = name
                    .strip_prefix(&format!("{stem}."))?
                    .strip_suffix(&format!(".{ext}"))?;
                (mid.len() == 4).then(|| mid.parse::<u32>().ok())?
            })
            .max()
    }

    /// The file for a record of `len` bytes decided at `wall`.
    pub fn path_for(&mut self, wall: SystemTime, len: u64) -> PathBuf {
        match self.rotate {
            Rotate::Never => self.base.clone(),
            Rotate::Daily => {
                let (stem, ext) = self.stem_ext();
                let day = &rfc3339(wall)[..10];
                self.base.with_file_name(format!("{stem}.{day}.{ext}"))
            }
            Rotate::Size(max) => {
                if self.size > 0 && self.size + len > max {
                    self.index += 1;
                    self.size = 0;
                }
                self.numbered(self.index)
            }
        }
    }

    /// Records that `len` bytes were appended to the current file.
    pub fn wrote(&mut self, len: u64) {
        self.size += len;
    }

    /// Every file this log may have written, for readers (sorted).
    pub fn all_files(&self) -> Vec<PathBuf> {
        let (stem, ext) = self.stem_ext();
        let dir = match self.base.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut v: Vec<PathBuf> = match self.rotate {
            Rotate::Never => vec![self.base.clone()],
            _ => std::fs::read_dir(&dir)
                .map(|rd| {
                    rd.filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| {
                            p.file_name().is_some_and(|n| {
                                let n = n.to_string_lossy();
                                n.starts_with(&format!("{stem}."))
                                    && n.ends_with(&format!(".{ext}"))
                                    && n.len() > stem.len() + ext.len() + 2
                            })
                        })
                        .collect()
                })
                .unwrap_or_default(),
        };
        v.retain(|p| p.exists());
        v.sort();
        v
    }
}

/// One line of the detection log.
#[derive(Debug, Serialize)]
pub struct LogRecord<'a> {
    /// Detection number in this run, from 1.
    pub seq: u64,
    /// Wall-clock time the detection was decided (RFC 3339, UTC).
    pub time: String,
    /// The event (keyword, stream `start`/`end` seconds, distance, template).
    #[serde(flatten)]
    pub event: &'a Event,
    /// Stream time (s) the detection was decided.
    pub decided: f64,
    /// Clip file name (inside the clips folder), when clips are saved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip: Option<&'a str>,
}

/// Formats `t` as RFC 3339 UTC with milliseconds: `2026-11-23T18:50:54.123Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::DiskStore;
    use std::time::Duration;

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(951_782_400_250); // 2000-02-29
        assert_eq!(rfc3339(t), "2000-02-29T00:00:00.250Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_459_854);
        assert_eq!(rfc3339(t), "2026-11-23T18:50:54.000Z");
    }

    #[test]
    fn rotate_parses() {
        assert_eq!("daily".parse::<Rotate>().unwrap(), Rotate::Daily);
        assert_eq!(
            "size:1.5".parse::<Rotate>().unwrap(),
            Rotate::Size(1_500_000)
        );
        assert!("size:-1".parse::<Rotate>().is_err());
        assert!("weekly".parse::<Rotate>().is_err());
    }

    #[test]
    fn size_rotation_resumes_after_highest_file() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path().join("det.jsonl");
        std::fs::write(d.path().join("det.0003.jsonl"), b"0123456789\n").unwrap();
        let mut store = DiskStore::new();
        let mut f = LogFiles::new(&base, Rotate::Size(20), &mut store);
        let t = SystemTime::now();
        assert_eq!(f.path_for(t, 5), d.path().join("det.0003.jsonl"));
        f.wrote(5);
        assert_eq!(f.path_for(t, 5), d.path().join("det.0004.jsonl"));
        let mut f = LogFiles::new(&base, Rotate::Daily, &mut store);
        assert_eq!(
            f.path_for(UNIX_EPOCH, 5),
            d.path().join("det.1970-01-01.jsonl")
        );
    }
}
