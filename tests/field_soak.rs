//! Soak test: hours of audio through the pipeline with field capture, as fast
//! as possible. Ignored by default; run it with
//! `WORDSPOT_SOAK_SECONDS=36000 cargo test --release --test field_soak -- --ignored --nocapture`
//! (default 3600 s of audio). Checks that the resident set stays flat and
//! that every detection lands in the rotated log exactly once.

mod common_field;

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use common_field::{fsdd, george_stream, hits, spotter};
use wordspot::audio::Source;
use wordspot::field::{self, ClipConfig, DiskStore, FieldConfig, LogFiles, Rotate, Store};
use wordspot::pipeline::{spawn_with_tap, PipelineOptions};
use wordspot::Result;

/// Resident set size of this process in bytes (Linux `/proc/self/statm`).
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Loops a recording with fresh low-level noise on each pass, for
/// `total` samples; samples the RSS every 10 s of audio.
struct LoopSource {
    audio: Vec<f32>,
    pos: usize,
    sent: u64,
    total: u64,
    seed: u32,
    warmup: u64,
    baseline: Arc<AtomicU64>,
    peak: Arc<AtomicU64>,
}

impl Source for LoopSource {
    fn read(&mut self, out: &mut Vec<f32>) -> Result<usize> {
        let n = (1600u64).min(self.total - self.sent) as usize;
        for _ in 0..n {
            self.seed = self
                .seed
                .wrapping_mul(1_664_525)
                .wrapping_add(1_013_904_223);
            let noise = ((self.seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 2e-4;
            out.push(self.audio[self.pos] + noise);
            self.pos = (self.pos + 1) % self.audio.len();
        }
        self.sent += n as u64;
        if self.sent % 160_000 == 0 {
            let r = rss();
            if self.sent <= self.warmup {
                self.baseline.store(r, Ordering::Relaxed);
            } else {
                self.peak.fetch_max(r, Ordering::Relaxed);
            }
        }
        Ok(n)
    }
    fn name(&self) -> &str {
        "soak loop"
    }
}

/// Log on disk; clips checked for length and then discarded (hours of clips
/// would only fill the temporary folder).
struct SoakStore {
    disk: DiskStore,
    clips: u64,
    bad_clips: u64,
}

impl Store for SoakStore {
    fn append(&mut self, path: &Path, line: &[u8]) -> io::Result<()> {
        self.disk.append(path, line)
    }
    fn write_clip(&mut self, _: &Path, samples: &[f32]) -> Result<()> {
        // 2 s pre-roll + word (0.3-0.8 s) + 1 s post-roll.
        if !(3.2..4.0).contains(&(samples.len() as f64 / 16000.0)) {
            self.bad_clips += 1;
        }
        self.clips += 1;
        Ok(())
    }
}

#[test]
#[ignore = "long: set WORDSPOT_SOAK_SECONDS and run with --ignored"]
fn soak_rss_flat_and_log_exact_across_rotations() {
    let Some(f) = fsdd() else { return };
    let seconds: u64 = std::env::var("WORDSPOT_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3600);
    let (audio, truth) = george_stream(&f, 30);
    let loop_s = audio.len() as f64 / 16000.0;
    let d = tempfile::tempdir().unwrap();
    let spotter = spotter(&d.path().join("templates"));

    let baseline = Arc::new(AtomicU64::new(0));
    let peak = Arc::new(AtomicU64::new(0));
    let total = seconds * 16000;
    let src = LoopSource {
        audio,
        pos: 0,
        sent: 0,
        total,
        seed: 1,
        warmup: (total / 20).max(160_000 * 6),
        baseline: baseline.clone(),
        peak: peak.clone(),
    };
    let log = d.path().join("log/detections.jsonl");
    let rotate = Rotate::Size(16 * 1024);
    let cfg = FieldConfig {
        clips: Some(ClipConfig::new(d.path().join("clips"))),
        log: Some((log.clone(), rotate)),
        ..Default::default()
    };
    let store = SoakStore {
        disk: DiskStore::new(),
        clips: 0,
        bad_clips: 0,
    };
    let (tap, handle) = field::start(cfg, Box::new(store)).unwrap();
    let t0 = std::time::Instant::now();
    let p = spawn_with_tap(
        Box::new(src),
        spotter,
        PipelineOptions::default(),
        Box::new(tap),
    );
    let mut events: Vec<(f64, f64)> = Vec::new();
    let mut misplaced = 0u64;
    for e in p.events.iter() {
        let (s, en) = (e.start % loop_s, e.end % loop_s);
        if !hits(&truth, s, en) && !hits(&truth, s, en + loop_s) {
            misplaced += 1;
        }
        events.push((e.start, e.end));
    }
    let summary = p.join().unwrap();
    let fs = handle.join();
    let wall = t0.elapsed().as_secs_f64();

    // Every detection is in the log exactly once, in order, across the files.
    let files = LogFiles::new(&log, rotate, &mut DiskStore::new()).all_files();
    let mut logged: Vec<(u64, f64)> = Vec::new();
    for file in &files {
        for line in std::fs::read_to_string(file).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            logged.push((v["seq"].as_u64().unwrap(), v["start"].as_f64().unwrap()));
        }
    }
    let base = baseline.load(Ordering::Relaxed);
    let top = peak.load(Ordering::Relaxed).max(base);
    eprintln!(
        "soak: {:.2} h of audio in {wall:.1} s ({:.0}x real time), {} detections ({misplaced} off the planted words), {} log files, RSS after warm-up {:.1} MiB, peak {:.1} MiB (+{:.2} MiB), clips {} saved",
        seconds as f64 / 3600.0,
        seconds as f64 / wall,
        events.len(),
        files.len(),
        base as f64 / 1048576.0,
        top as f64 / 1048576.0,
        (top - base) as f64 / 1048576.0,
        fs.clips_saved,
    );
    assert_eq!(summary.samples, total);
    assert!(events.len() as f64 >= 0.5 * 10.0 * seconds as f64 / loop_s);
    assert!(
        misplaced * 20 <= events.len() as u64,
        "{misplaced} false alarms"
    );
    assert_eq!(logged.len(), events.len(), "lost or duplicated records");
    for (i, ((seq, start), (s, _))) in logged.iter().zip(&events).enumerate() {
        assert_eq!(*seq, i as u64 + 1);
        assert!((start - s).abs() < 1e-6);
    }
    assert!(seconds < 600 || files.len() > 1, "the log rotated");
    assert_eq!((fs.log_errors, fs.log_lost), (0, 0));
    assert_eq!(fs.clips_saved + fs.clips_dropped, events.len() as u64);
    assert!(base > 0, "RSS was sampled");
    assert!(
        top - base < 16 * 1048576,
        "RSS grew by {} bytes",
        top - base
    );
}
