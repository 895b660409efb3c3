//! An always-on field recorder: listens on the microphone for weeks, saves a
//! WAV clip around every detection (2 s before, 1 s after), appends each
//! detection durably to a daily JSONL log, and prints a health line every
//! minute. Storage failures (full SD card) are reported and detection goes on.
//!
//! ```sh
//! cargo run --release --example field_recorder -- templates /var/lib/wordspot [THRESHOLD]
//! ```
//! See cross/wordspot.service to start it at boot on a Raspberry Pi.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use crossbeam_channel::RecvTimeoutError;
use wordspot::audio::MicSource;
use wordspot::detector::DetectorConfig;
use wordspot::features::FrontendConfig;
use wordspot::field::{self, health_line, ClipConfig, DiskStore, FieldConfig, Rotate};
use wordspot::normalize::Normalizer;
use wordspot::pipeline::{spawn_with_tap, PipelineOptions, Retry, Spotter, Summary};
use wordspot::templates;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: field_recorder TEMPLATES_DIR OUT_DIR [THRESHOLD]";
    let templates_dir = PathBuf::from(args.next().context(usage)?);
    let out = PathBuf::from(args.next().context(usage)?);
    let threshold: Option<f32> = args.next().map(|t| t.parse()).transpose()?;

    // The spotter, as in the `listen` example.
    let mut frontend = FrontendConfig::default().build()?;
    let normalizer = Normalizer::identity(frontend.dim());
    let keywords = templates::load(&templates_dir, &mut *frontend, &normalizer)?;
    let thresholds: Vec<f32> = keywords
        .iter()
        .map(|k| threshold.unwrap_or(k.manifest.threshold))
        .collect();
    frontend.reset();
    let spotter = Spotter::new(
        frontend,
        normalizer,
        &keywords,
        &thresholds,
        DetectorConfig::default(),
    )?;

    // Field capture: clips in OUT/clips, the log in OUT/detections.YYYY-MM-DD.jsonl.
    let (tap, capture) = field::start(
        FieldConfig {
            clips: Some(ClipConfig::new(out.join("clips"))),
            log: Some((out.join("detections.jsonl"), Rotate::Daily)),
            ..Default::default()
        },
        Box::new(DiskStore::new()),
    )?;

    // The microphone re-opens itself after stream errors; if it still fails
    // (USB card unplugged), the pipeline retries with back-off for ~30 min
    // before giving up, and systemd restarts the program.
    let mic = MicSource::open(None, 4.0)?;
    let opts = PipelineOptions {
        retry: Retry {
            max_consecutive: 200,
            max_backoff: Duration::from_secs(10),
            ..Retry::default()
        },
        ..PipelineOptions::default()
    };
    let pipeline = spawn_with_tap(Box::new(mic), spotter, opts, Box::new(tap));
    let stop = pipeline.stop_flag();
    ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))?;
    eprintln!("field recorder: writing to {}", out.display());

    // Print detections as they come, and a health line every minute.
    let mut last = (Instant::now(), Summary::default());
    let mut errors_seen = 0;
    loop {
        match pipeline.events.recv_timeout(Duration::from_secs(1)) {
            Ok(e) => println!(
                "{} at {:.2} s (distance {:.3})",
                e.keyword, e.start, e.distance
            ),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let errors = capture.stats.error_count.load(Ordering::Relaxed);
        if errors > errors_seen {
            errors_seen = errors;
            eprintln!(
                "warning: {}",
                capture.stats.last_error().unwrap_or_default()
            );
        }
        if last.0.elapsed() >= Duration::from_secs(60) {
            let now = pipeline.counters.summary();
            let fs = capture.stats.summary();
            eprintln!(
                "{}",
                health_line(&now, &last.1, last.0.elapsed(), Some(&fs))
            );
            last = (Instant::now(), now);
        }
    }
    let s = pipeline.join()?;
    let fs = capture.join();
    eprintln!(
        "stopped after {:.0} s of audio: {} detections, {} clips saved, {} dropped",
        s.samples as f64 / wordspot::SAMPLE_RATE as f64,
        s.detections,
        fs.clips_saved,
        fs.clips_dropped
    );
    Ok(())
}
