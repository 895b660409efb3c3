//! Always-on field capture: WAV clips around detections, a durable rotating
//! JSONL detection log, and health statistics.
//!
//! [`start`] returns a [`FieldTap`] (give it to
//! [`crate::pipeline::spawn_with_tap`]) and a [`FieldHandle`] (statistics,
//! join). The tap runs on the processing thread: it keeps the last seconds of
//! audio in a preallocated [`History`] ring and hands finished clips and log
//! records to a writer thread, so slow or failing storage never stalls
//! detection. Storage goes through the [`Store`] trait ([`DiskStore`] on a
//! real disk) so tests can inject failures.
//!
//! Failure policy (disk full, SD card errors): clips are dropped first (a
//! failed or queued-too-long clip is counted in `clips_dropped`); log records
//! are kept in memory and retried until written, in order, each exactly once
//! (a partly written line is truncated away before the retry).

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{unbounded, Receiver, RecvTimeoutError, Sender};
use serde::Serialize;

use crate::pipeline::{Event, Summary, Tap};
use crate::{Error, Result, SAMPLE_RATE};

/// The last `capacity` samples of a stream, in a ring allocated once.
#[derive(Debug, Clone)]
pub struct History {
    buf: Vec<f32>,
    total: u64,
}

impl History {
    /// A ring holding the last `capacity` samples (at least 1).
    pub fn new(capacity: usize) -> Self {
        History {
            buf: vec![0.0; capacity.max(1)],
            total: 0,
        }
    }

    /// Samples pushed since the start.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Absolute index of the oldest sample still held.
    pub fn oldest(&self) -> u64 {
        self.total.saturating_sub(self.buf.len() as u64)
    }

    /// Appends samples (allocation-free).
    pub fn push(&mut self, mut x: &[f32]) {
        let cap = self.buf.len();
        if x.len() > cap {
            self.total += (x.len() - cap) as u64;
            x = &x[x.len() - cap..];
        }
        let pos = (self.total % cap as u64) as usize;
        let first = x.len().min(cap - pos);
        self.buf[pos..pos + first].copy_from_slice(&x[..first]);
        self.buf[..x.len() - first].copy_from_slice(&x[first..]);
        self.total += x.len() as u64;
    }

    /// Appends samples `[start, end)` (absolute indices, clamped to what is
    /// held) to `out`; returns the absolute start actually copied.
    pub fn copy_range(&self, start: u64, end: u64, out: &mut Vec<f32>) -> u64 {
        let cap = self.buf.len() as u64;
        let start = start.max(self.oldest());
        let end = end.min(self.total);
        for i in start..end {
            out.push(self.buf[(i % cap) as usize]);
        }
        start
    }
}

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

/// Clip saving settings.
#[derive(Debug, Clone)]
pub struct ClipConfig {
    /// Folder for the WAV clips.
    pub dir: PathBuf,
    /// Seconds kept before the detection's start.
    pub pre_roll: f64,
    /// Seconds kept after the detection's end.
    pub post_roll: f64,
    /// Longest match expected (sizes the history ring), seconds.
    pub max_word: f64,
}

impl ClipConfig {
    /// Clips in `dir` with 2 s pre-roll, 1 s post-roll, words up to 4 s.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ClipConfig {
            dir: dir.into(),
            pre_roll: 2.0,
            post_roll: 1.0,
            max_word: 4.0,
        }
    }
}

/// Field capture settings.
#[derive(Debug, Clone, Default)]
pub struct FieldConfig {
    /// Save clips around detections.
    pub clips: Option<ClipConfig>,
    /// Durable detection log: base path and rotation.
    pub log: Option<(PathBuf, Rotate)>,
    /// Clips waiting for the writer before new ones are dropped (default 8).
    pub max_queued_clips: usize,
}

/// Live counters of field capture (shared with the writer thread).
#[derive(Debug, Default)]
pub struct FieldStats {
    /// Detections seen.
    pub events: AtomicU64,
    /// Log records written durably.
    pub logged: AtomicU64,
    /// Failed log write attempts (each record is retried until written).
    pub log_errors: AtomicU64,
    /// Log records never written (still failing when the stream ended, or
    /// dropped because too many were waiting).
    pub log_lost: AtomicU64,
    /// Clips written.
    pub clips_saved: AtomicU64,
    /// Clips dropped (write failed, writer too far behind, or too many pending).
    pub clips_dropped: AtomicU64,
    /// The last storage error message.
    pub last_error: Mutex<Option<String>>,
    /// Bumped on every new error (so a reporter can tell "new since last look").
    pub error_count: AtomicU64,
}

/// A snapshot of [`FieldStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FieldSummary {
    /// Detections seen.
    pub events: u64,
    /// Log records written.
    pub logged: u64,
    /// Failed log write attempts.
    pub log_errors: u64,
    /// Log records lost.
    pub log_lost: u64,
    /// Clips written.
    pub clips_saved: u64,
    /// Clips dropped.
    pub clips_dropped: u64,
}

impl FieldStats {
    /// A snapshot.
    pub fn summary(&self) -> FieldSummary {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        FieldSummary {
            events: l(&self.events),
            logged: l(&self.logged),
            log_errors: l(&self.log_errors),
            log_lost: l(&self.log_lost),
            clips_saved: l(&self.clips_saved),
            clips_dropped: l(&self.clips_dropped),
        }
    }

    /// The last storage error, if any.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .map(|g| g.clone())
            .unwrap_or_default()
    }

    fn error(&self, msg: String) {
        if let Ok(mut g) = self.last_error.lock() {
            *g = Some(msg);
        }
        self.error_count.fetch_add(1, Ordering::Relaxed);
    }
}

enum Job {
    Log { line: Vec<u8>, wall: SystemTime },
    Clip { path: PathBuf, samples: Vec<f32> },
}

struct PendingClip {
    start: u64,
    end: u64,
    path: PathBuf,
}

/// Most log records kept in memory while storage fails.
const MAX_PENDING_LOG: usize = 100_000;
/// Most clips waiting for their post-roll at once.
const MAX_PENDING_CLIPS: usize = 16;

/// The pipeline side of field capture (a [`Tap`]).
pub struct FieldTap {
    history: Option<History>,
    clips: Option<ClipConfig>,
    pending: Vec<PendingClip>,
    log: bool,
    seq: u64,
    jobs: Option<Sender<Job>>,
    queued_clips: Arc<AtomicUsize>,
    max_queued: usize,
    stats: Arc<FieldStats>,
}

/// The caller side of field capture: statistics and the writer thread.
pub struct FieldHandle {
    /// Live counters.
    pub stats: Arc<FieldStats>,
    writer: Option<JoinHandle<()>>,
}

impl FieldHandle {
    /// Waits until the writer has written (or given up on) everything; call
    /// after the pipeline has been joined.
    pub fn join(mut self) -> FieldSummary {
        if let Some(h) = self.writer.take() {
            let _ = h.join();
        }
        self.stats.summary()
    }
}

/// Starts field capture with `store`; fails if the clip folder cannot be created.
pub fn start(cfg: FieldConfig, mut store: Box<dyn Store>) -> Result<(FieldTap, FieldHandle)> {
    if let Some(c) = &cfg.clips {
        for (v, what) in [(c.pre_roll, "pre-roll"), (c.post_roll, "post-roll")] {
            if !v.is_finite() || !(0.0..=60.0).contains(&v) {
                return Err(Error::invalid(format!(
                    "{what} must be between 0 and 60 seconds, got {v}"
                )));
            }
        }
        std::fs::create_dir_all(&c.dir).map_err(|e| Error::io(&c.dir, e))?;
    }
    let stats = Arc::new(FieldStats::default());
    let (tx, rx) = unbounded::<Job>();
    let queued = Arc::new(AtomicUsize::new(0));
    let files = cfg
        .log
        .as_ref()
        .map(|(p, r)| LogFiles::new(p, *r, &mut *store));
    let writer = {
        let stats = stats.clone();
        let queued = queued.clone();
        std::thread::Builder::new()
            .name("wordspot-field-writer".into())
            .spawn(move || write_loop(rx, &mut *store, files, &stats, &queued))
            .map_err(|e| Error::invalid(format!("cannot start the field writer thread: {e}")))?
    };
    let history = cfg.clips.as_ref().map(|c| {
        let secs = c.pre_roll + c.post_roll + c.max_word + 2.0;
        History::new((secs * SAMPLE_RATE as f64) as usize)
    });
    let tap = FieldTap {
        history,
        clips: cfg.clips,
        pending: Vec::with_capacity(MAX_PENDING_CLIPS),
        log: cfg.log.is_some(),
        seq: 0,
        jobs: Some(tx),
        queued_clips: queued,
        max_queued: if cfg.max_queued_clips == 0 {
            8
        } else {
            cfg.max_queued_clips
        },
        stats: stats.clone(),
    };
    Ok((
        tap,
        FieldHandle {
            stats,
            writer: Some(writer),
        },
    ))
}

impl FieldTap {
    fn finish_clips(&mut self, force: bool) {
        let Some(h) = &self.history else { return };
        let total = h.total();
        let mut i = 0;
        while i < self.pending.len() {
            if !force && self.pending[i].end > total {
                i += 1;
                continue;
            }
            let c = self.pending.swap_remove(i);
            if self.queued_clips.load(Ordering::Relaxed) >= self.max_queued {
                self.stats.clips_dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let mut samples = Vec::with_capacity((c.end - c.start) as usize);
            h.copy_range(c.start, c.end, &mut samples);
            if let Some(tx) = &self.jobs {
                self.queued_clips.fetch_add(1, Ordering::Relaxed);
                let _ = tx.send(Job::Clip {
                    path: c.path,
                    samples,
                });
            }
        }
    }
}

impl Tap for FieldTap {
    fn on_audio(&mut self, samples: &[f32]) {
        if let Some(h) = &mut self.history {
            h.push(samples);
            if !self.pending.is_empty() {
                self.finish_clips(false);
            }
        }
    }

    fn on_event(&mut self, e: &Event) {
        self.seq += 1;
        self.stats.events.fetch_add(1, Ordering::Relaxed);
        let wall = SystemTime::now();
        let time = rfc3339(wall);
        let mut clip_name = None;
        if let Some(c) = &self.clips {
            let sr = SAMPLE_RATE as f64;
            let name = format!(
                "{}_{}_{:06}.wav",
                time[..19].replace([':', '-'], ""),
                e.keyword,
                self.seq
            );
            if self.pending.len() < MAX_PENDING_CLIPS {
                self.pending.push(PendingClip {
                    start: ((e.start - c.pre_roll).max(0.0) * sr) as u64,
                    end: ((e.end + c.post_roll).max(0.0) * sr) as u64,
                    path: c.dir.join(&name),
                });
                clip_name = Some(name);
            } else {
                self.stats.clips_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        if self.log {
            let rec = LogRecord {
                seq: self.seq,
                time,
                event: e,
                decided: e.decided,
                clip: clip_name.as_deref(),
            };
            if let (Ok(mut line), Some(tx)) = (serde_json::to_vec(&rec), &self.jobs) {
                line.push(b'\n');
                let _ = tx.send(Job::Log { line, wall });
            }
        }
    }

    fn on_end(&mut self) {
        self.finish_clips(true); // the stream ended: save what post-roll there is
        self.jobs = None; // the writer drains its queue and stops
    }
}

impl Drop for FieldTap {
    fn drop(&mut self) {
        self.jobs = None;
    }
}

fn write_loop(
    rx: Receiver<Job>,
    store: &mut dyn Store,
    mut files: Option<LogFiles>,
    stats: &FieldStats,
    queued: &AtomicUsize,
) {
    let mut pending: VecDeque<(Vec<u8>, SystemTime)> = VecDeque::new();
    loop {
        let job = rx.recv_timeout(Duration::from_secs(1));
        let done = matches!(job, Err(RecvTimeoutError::Disconnected));
        match job {
            Ok(Job::Log { line, wall }) => {
                if pending.len() >= MAX_PENDING_LOG {
                    pending.pop_front();
                    stats.log_lost.fetch_add(1, Ordering::Relaxed);
                }
                pending.push_back((line, wall));
            }
            Ok(Job::Clip { path, samples }) => {
                queued.fetch_sub(1, Ordering::Relaxed);
                match store.write_clip(&path, &samples) {
                    Ok(()) => {
                        stats.clips_saved.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        stats.clips_dropped.fetch_add(1, Ordering::Relaxed);
                        stats.error(format!("clip dropped: {e}"));
                    }
                }
            }
            Err(_) => {}
        }
        if let Some(files) = &mut files {
            while let Some((line, wall)) = pending.front() {
                let path = files.path_for(*wall, line.len() as u64);
                match store.append(&path, line) {
                    Ok(()) => {
                        files.wrote(line.len() as u64);
                        stats.logged.fetch_add(1, Ordering::Relaxed);
                        pending.pop_front();
                    }
                    Err(e) => {
                        stats.log_errors.fetch_add(1, Ordering::Relaxed);
                        stats.error(format!(
                            "{}: detection log write failed ({e}); {} record(s) waiting",
                            path.display(),
                            pending.len()
                        ));
                        break;
                    }
                }
            }
        }
        if done {
            stats
                .log_lost
                .fetch_add(pending.len() as u64, Ordering::Relaxed);
            return;
        }
    }
}

/// One health line: frames, overruns, CPU load of the processing thread over
/// the interval, detections, source errors, and field capture counters.
pub fn health_line(
    now: &Summary,
    before: &Summary,
    interval: Duration,
    field: Option<&FieldSummary>,
) -> String {
    let secs = interval.as_secs_f64().max(1e-9);
    let load = (now.busy_us - before.busy_us) as f64 / 1e6 / secs * 100.0;
    let audio = (now.samples - before.samples) as f64 / SAMPLE_RATE as f64;
    let mut s = format!(
        "stats: audio {:.1} s ({:.2}x real time), frames {}, overruns {}, source errors {}, load {:.1}%, detections {}",
        now.samples as f64 / SAMPLE_RATE as f64,
        audio / secs,
        now.frames,
        now.overruns,
        now.source_errors,
        load,
        now.detections
    );
    if let Some(f) = field {
        s.push_str(&format!(
            ", logged {}, log errors {}, clips saved {}, clips dropped {}",
            f.logged, f.log_errors, f.clips_saved, f.clips_dropped
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_wraps_and_copies() {
        let mut h = History::new(10);
        let x: Vec<f32> = (0..25).map(|i| i as f32).collect();
        for c in x.chunks(3) {
            h.push(c);
        }
        assert_eq!(h.total(), 25);
        assert_eq!(h.oldest(), 15);
        let mut out = Vec::new();
        assert_eq!(h.copy_range(12, 20, &mut out), 15);
        assert_eq!(out, (15..20).map(|i| i as f32).collect::<Vec<_>>());
        h.push(&x); // longer than the ring
        out.clear();
        h.copy_range(0, u64::MAX, &mut out);
        assert_eq!(out, (15..25).map(|i| i as f32).collect::<Vec<_>>());
    }

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
