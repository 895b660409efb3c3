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

mod history;
mod log;
mod store;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use crossbeam_channel::{unbounded, Receiver, RecvTimeoutError, Sender};
use serde::Serialize;

pub use history::History;
pub use log::{rfc3339, LogFiles, LogRecord, Rotate};
pub use store::{append_durably, DiskStore, Store};

use crate::pipeline::{Event, Summary, Tap};
use crate::{Error, Result, SAMPLE_RATE};

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
