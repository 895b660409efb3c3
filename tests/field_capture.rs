//! Field capture on real speech: clips around detections, the durable log,
//! failing storage, and a source that loses its device mid-stream.

mod common_field;

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common_field::{fsdd, george_stream, hits, spotter};
use wordspot::audio::{MemorySource, Source};
use wordspot::field::{self, ClipConfig, DiskStore, FieldConfig, Rotate, Store};
use wordspot::pipeline::{spawn, spawn_with_tap, Event, PipelineOptions, Retry};
use wordspot::{Error, Result};

/// "seven" intervals (s).
type Truth = Vec<(f64, f64)>;

/// The test stream (12 words, 4 "seven") or `None` when the data is absent.
fn stream() -> Option<(Vec<f32>, Truth)> {
    Some(george_stream(&fsdd()?, 12))
}

/// Events of a plain synchronous run over `x` (the reference).
fn reference(x: &[f32], dir: &Path) -> Vec<Event> {
    let mut sp = spotter(&dir.join("templates"));
    let mut ev = Vec::new();
    sp.push(x, &mut |e| ev.push(e)).unwrap();
    sp.finish(&mut |e| ev.push(e)).unwrap();
    ev
}

fn run_field(
    x: &[f32],
    store: Box<dyn Store>,
    cfg: FieldConfig,
    dir: &Path,
) -> (Vec<Event>, field::FieldSummary, Option<String>) {
    let (tap, handle) = field::start(cfg, store).unwrap();
    let p = spawn_with_tap(
        Box::new(MemorySource::new(x.to_vec(), 1600, "george")),
        spotter(&dir.join("templates")),
        PipelineOptions::default(),
        Box::new(tap),
    );
    let events: Vec<Event> = p.events.iter().collect();
    p.join().unwrap();
    let stats = handle.stats.clone();
    let s = handle.join();
    (events, s, stats.last_error())
}

#[test]
fn clips_are_valid_wavs_of_the_right_length_holding_the_word() {
    let Some((x, truth)) = stream() else { return };
    let d = tempfile::tempdir().unwrap();
    let clips = d.path().join("clips");
    let log = d.path().join("log/detections.jsonl");
    let cfg = FieldConfig {
        clips: Some(ClipConfig::new(&clips)),
        log: Some((log.clone(), Rotate::Never)),
        ..Default::default()
    };
    let (events, s, err) = run_field(&x, Box::new(DiskStore::new()), cfg, d.path());
    assert_eq!(events, reference(&x, d.path()));
    assert!(events.len() >= 3, "{events:?}");
    let n = events.len() as u64;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(s.clips_saved, n);
    assert_eq!(s.logged, n);

    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), events.len());
    for (i, (e, rec)) in events.iter().zip(&lines).enumerate() {
        assert_eq!(rec["seq"], i as u64 + 1);
        assert_eq!(rec["keyword"], "seven");
        assert!((rec["start"].as_f64().unwrap() - e.start).abs() < 1e-9);
        let time = rec["time"].as_str().unwrap();
        assert!(time.len() == 24 && time.ends_with('Z'), "{time}");
        assert!(hits(&truth, e.start, e.end));

        let clip = clips.join(rec["clip"].as_str().unwrap());
        let r = hound::WavReader::open(&clip).unwrap();
        let spec = r.spec();
        assert_eq!((spec.sample_rate, spec.channels), (16000, 1));
        let n = r.len() as f64;
        let a = ((e.start - 2.0).max(0.0) * 16000.0).floor();
        let b = ((e.end + 1.0) * 16000.0).floor().min(x.len() as f64);
        assert!(
            (n - (b - a)).abs() <= 1.0,
            "clip {n} samples, want {}",
            b - a
        );

        // The clip alone contains the word: a fresh spotter finds it there.
        let samples = wordspot::audio::read_file(&clip).unwrap();
        let mut sp = spotter(&d.path().join("templates"));
        let mut found = Vec::new();
        sp.push(&samples, &mut |e| found.push(e)).unwrap();
        sp.finish(&mut |e| found.push(e)).unwrap();
        let pre = e.start - a / 16000.0;
        assert!(
            found
                .iter()
                .any(|f| (f.start - pre).abs() < 0.2 && f.keyword == "seven"),
            "clip {} does not hold the word: {found:?}",
            clip.display()
        );
    }
}

/// Storage that fails every clip and the first `log_failures` appends.
struct FailingStore {
    inner: DiskStore,
    log_failures: Arc<AtomicU32>,
}

impl Store for FailingStore {
    fn append(&mut self, path: &Path, line: &[u8]) -> io::Result<()> {
        if self
            .log_failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1))
            .is_ok()
        {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "no space left on device",
            ));
        }
        self.inner.append(path, line)
    }
    fn write_clip(&mut self, path: &Path, _: &[f32]) -> Result<()> {
        Err(Error::io(
            path,
            io::Error::new(io::ErrorKind::StorageFull, "no space left on device"),
        ))
    }
}

#[test]
fn disk_full_drops_clips_keeps_detecting_and_logs_once_space_returns() {
    let Some((x, _)) = stream() else { return };
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("det.jsonl");
    let cfg = FieldConfig {
        clips: Some(ClipConfig::new(d.path().join("clips"))),
        log: Some((log.clone(), Rotate::Size(200))),
        ..Default::default()
    };
    let store = FailingStore {
        inner: DiskStore::new(),
        log_failures: Arc::new(AtomicU32::new(2)),
    };
    let (events, s, err) = run_field(&x, Box::new(store), cfg, d.path());
    assert_eq!(events, reference(&x, d.path()), "detection continues");
    let n = events.len() as u64;
    assert!(n >= 3);
    assert_eq!(s.clips_saved, 0);
    assert_eq!(s.clips_dropped, n);
    assert_eq!(s.log_errors, 2);
    assert_eq!((s.logged, s.log_lost), (n, 0));
    assert!(err.unwrap().contains("no space left"));
    // Each record exactly once, in order, across the rotated files.
    let files =
        wordspot::field::LogFiles::new(&log, Rotate::Size(200), &mut DiskStore::new()).all_files();
    assert!(files.len() >= 2, "{files:?}");
    let seqs: Vec<u64> = files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(|l| {
                    serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                        .as_u64()
                        .unwrap()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(seqs, (1..=n).collect::<Vec<_>>());
}

#[test]
fn storage_that_never_recovers_is_reported_and_detection_continues() {
    let Some((x, _)) = stream() else { return };
    let d = tempfile::tempdir().unwrap();
    let cfg = FieldConfig {
        clips: Some(ClipConfig::new(d.path().join("clips"))),
        log: Some((d.path().join("det.jsonl"), Rotate::Daily)),
        ..Default::default()
    };
    let store = FailingStore {
        inner: DiskStore::new(),
        log_failures: Arc::new(AtomicU32::new(u32::MAX)),
    };
    let (events, s, err) = run_field(&x, Box::new(store), cfg, d.path());
    assert_eq!(events, reference(&x, d.path()));
    let n = events.len() as u64;
    assert!(n >= 3);
    assert_eq!((s.logged, s.log_lost, s.clips_dropped), (0, n, n));
    assert!(s.log_errors >= n);
    assert!(err.is_some());
}

/// A source that loses its device after `fail_at` reads (returns
/// `Error::Device` `failures` times), then delivers the rest.
struct FlakySource {
    inner: MemorySource,
    reads: u32,
    fail_at: u32,
    failures: u32,
}

impl Source for FlakySource {
    fn read(&mut self, out: &mut Vec<f32>) -> Result<usize> {
        self.reads += 1;
        if self.reads > self.fail_at && self.failures > 0 {
            self.failures -= 1;
            return Err(Error::Device(
                "test device: stream error (unplugged)".into(),
            ));
        }
        self.inner.read(out)
    }
    fn name(&self) -> &str {
        "flaky"
    }
}

#[test]
fn device_loss_mid_stream_is_counted_and_the_stream_continues() {
    let Some((x, truth)) = stream() else { return };
    let d = tempfile::tempdir().unwrap();
    let n = x.len() as u64;
    let want = reference(&x, d.path());
    let src = FlakySource {
        inner: MemorySource::new(x, 1600, "george"),
        reads: 0,
        fail_at: 20, // 2 s in, after the first "seven"
        failures: 3,
    };
    let opts = PipelineOptions {
        retry: Retry {
            first_backoff: Duration::from_millis(5),
            ..Retry::default()
        },
        ..PipelineOptions::default()
    };
    let p = spawn(Box::new(src), spotter(&d.path().join("templates")), opts);
    let events: Vec<Event> = p.events.iter().collect();
    let err = p.counters.last_source_error();
    let s = p
        .join()
        .expect("a recoverable error does not end the stream");
    assert_eq!(s.source_errors, 3);
    assert_eq!(s.samples, n);
    assert!(err.unwrap().contains("unplugged"));
    assert_eq!(
        events, want,
        "nothing lost: the same events as without the error"
    );
    assert!(events.len() >= 3);
    assert!(events.iter().all(|e| hits(&truth, e.start, e.end)));
}

#[test]
fn too_many_consecutive_device_errors_or_a_fatal_error_stop_the_pipeline() {
    let Some((x, _)) = stream() else { return };
    let d = tempfile::tempdir().unwrap();
    let retry = Retry {
        max_consecutive: 2,
        first_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(2),
    };
    let src = FlakySource {
        inner: MemorySource::new(x.clone(), 1600, "s"),
        reads: 0,
        fail_at: 3,
        failures: 10,
    };
    let opts = PipelineOptions {
        retry,
        ..PipelineOptions::default()
    };
    let p = spawn(Box::new(src), spotter(&d.path().join("t")), opts);
    let e = p.join().unwrap_err();
    assert!(e.to_string().contains("unplugged"), "{e}");

    struct Broken;
    impl Source for Broken {
        fn read(&mut self, _: &mut Vec<f32>) -> Result<usize> {
            Err(Error::audio("broken.wav", "corrupt frame"))
        }
        fn name(&self) -> &str {
            "broken.wav"
        }
    }
    let p = spawn(
        Box::new(Broken),
        spotter(&d.path().join("t")),
        PipelineOptions::default(),
    );
    let s = p.counters.clone();
    assert!(p.join().is_err());
    assert_eq!(s.summary().source_errors, 0, "not a device error: no retry");
}
