//! `wordspot listen`: spot enrolled keywords in a live or recorded stream.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use crossbeam_channel::RecvTimeoutError;
use wordspot::audio::Source;
use wordspot::field::{self, health_line, ClipConfig, DiskStore, FieldConfig, FieldStats, Rotate};
use wordspot::pipeline::{
    spawn, spawn_with_tap, Counters, Event, PipelineOptions, Spotter, Summary,
};

use crate::common::{parse_buffer_seconds, parse_non_negative, DetectorArgs, Format, FrontendArgs};

/// Clip pre- and post-roll: 0 to 300 s (the clip buffer holds them).
fn parse_roll(s: &str) -> std::result::Result<f64, String> {
    match parse_non_negative(s)? {
        v if v <= 300.0 => Ok(v as f64),
        v => Err(format!(
            "{v} s is out of range: at least 0 and at most 300 s"
        )),
    }
}

/// Options of `wordspot listen`.
#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Template store (from `wordspot enroll`): a folder of keywords or one keyword folder.
    #[arg(long, value_name = "DIR")]
    pub templates: PathBuf,
    /// Audio file to read, or `-` for standard input (default: the microphone).
    #[arg(long, value_name = "FILE|-")]
    pub input: Option<PathBuf>,
    /// Threshold for every keyword (default: each keyword's stored threshold;
    /// a normalised score, e.g. -4, for stores enrolled with the cohort).
    #[arg(long, allow_negative_numbers = true)]
    pub threshold: Option<f32>,
    #[command(flatten)]
    pub det: DetectorArgs,
    /// Pace file input in real time.
    #[arg(long)]
    pub realtime: bool,
    /// Input device name (exact or a unique substring; see `wordspot devices`).
    #[arg(long)]
    pub device: Option<String>,
    /// Capture ring buffer length (seconds, at most 600).
    #[arg(long, default_value_t = 4.0, value_parser = |s: &str| parse_buffer_seconds(s, 600.0))]
    pub ring_seconds: f32,
    /// Standard input: `wav` (a WAV stream; anything else is refused) or raw
    /// PCM samples, `s16le` or `f32le`, with --stdin-rate and --stdin-channels.
    #[arg(long, default_value = "wav")]
    pub stdin_format: String,
    /// Raw standard input: sample rate.
    #[arg(long, default_value_t = 16000)]
    pub stdin_rate: u32,
    /// Raw standard input: channels.
    #[arg(long, default_value_t = 1)]
    pub stdin_channels: u16,
    /// Output format (`table` prints human lines).
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Append every event to this JSONL file durably (fsync per event), with
    /// wall-clock time; default `DIR/detections.jsonl` when `--clips DIR` is given.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Split the log: `never`, `daily` (FILE.YYYY-MM-DD.jsonl) or `size:MB` (FILE.0001.jsonl, ...).
    #[arg(long, value_name = "never|daily|size:MB", default_value = "never")]
    pub log_rotate: String,
    /// Save a WAV clip around each detection in this folder.
    #[arg(long, value_name = "DIR")]
    pub clips: Option<PathBuf>,
    /// Seconds of audio kept before each detection in its clip (at most 300).
    #[arg(long, default_value_t = 2.0, value_parser = parse_roll)]
    pub pre_roll: f64,
    /// Seconds of audio kept after each detection in its clip (at most 300).
    #[arg(long, default_value_t = 1.0, value_parser = parse_roll)]
    pub post_roll: f64,
    /// Print a health line (frames, overruns, CPU load, detections, clips) every SECS seconds.
    #[arg(long, value_name = "SECS")]
    pub stats_every: Option<f64>,
    #[command(flatten)]
    pub fe: FrontendArgs,
}

/// Runs `wordspot listen`.
pub fn run(a: ListenArgs) -> Result<()> {
    if let Some(t) = a.threshold {
        if !t.is_finite() {
            bail!("--threshold must be a finite number, got {t}");
        }
    }
    let (mut fe, norm) = a.fe.build()?;
    let cfg = fe.config();
    let keywords = crate::common::load_store(&a.templates, &mut *fe, &norm)?;
    let cascade = a.det.cascade(&keywords)?;
    let verified = cascade.is_some();
    let thresholds: Vec<f32> = keywords
        .iter()
        .map(|k| {
            a.threshold
                .or_else(|| k.threshold_for(&cfg, &a.fe.normalize, verified))
                .unwrap_or_else(|| {
                    let t = k.default_threshold(&cfg, verified);
                    eprintln!(
                        "warning: {}: no usable stored threshold (set for another frontend or normalizer, or not a number); using {t} (set --threshold or re-enroll)",
                        k.dir.display()
                    );
                    t
                })
        })
        .collect();
    let longest = keywords
        .iter()
        .flat_map(|k| {
            k.templates
                .iter()
                .map(|(id, f)| (id, f.frame_end(f.len() - 1)))
        })
        .fold((None, 0.0), |acc, (id, d)| {
            if d > acc.1 {
                (Some(id.clone()), d)
            } else {
                acc
            }
        });
    // Only the microphone goes through the capture ring; a file or standard
    // input is read at the pipeline's pace, so any template length works.
    if a.input.is_none() && longest.1 > a.ring_seconds as f64 {
        bail!(
            "template {} lasts {:.2} s, longer than the {:.2} s ring buffer (raise --ring-seconds or trim the template)",
            longest.0.unwrap_or_default(),
            longest.1,
            a.ring_seconds
        );
    }
    fe.reset();
    let det = a.det.config(&a.fe);
    let mut spotter = Spotter::new(fe, norm, &keywords, &thresholds, det)?;
    if let Some(c) = cascade {
        spotter = spotter.verified(c)?;
    }
    // Set on Ctrl-C with the pipeline's own flag: standard input stops
    // waiting for a stalled writer.
    let stop_input = Arc::new(AtomicBool::new(false));
    let source = open_source(&a, stop_input.clone())?;
    // A match may last up to twice its template (DTW slope 2).
    let field_cfg = field_config(&a, 2.0 * longest.1 + a.det.max_delay as f64)?;
    let (pipeline, field) = match field_cfg {
        Some(cfg) => {
            let (tap, handle) = field::start(cfg, Box::new(DiskStore::new()))?;
            let p = spawn_with_tap(source, spotter, PipelineOptions::default(), Box::new(tap));
            (p, Some(handle))
        }
        None => (spawn(source, spotter, PipelineOptions::default()), None),
    };
    let stop = pipeline.stop_flag();
    let stop_on_signal = stop.clone();
    ctrlc::set_handler(move || {
        stop_on_signal.store(true, Ordering::SeqCst);
        stop_input.store(true, Ordering::SeqCst);
    })
    .context("installing the Ctrl-C handler")?;
    eprintln!(
        "listening for {} keyword(s): {}",
        keywords.len(),
        keywords
            .iter()
            .map(|k| k.manifest.keyword.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut out = std::io::stdout().lock();
    let mut health = Health::new(a.stats_every)?;
    // A failed write to standard output (the reader went away) stops the
    // pipeline cleanly: the events already detected still reach the durable
    // log and clips before the error is returned.
    let mut out_error: Option<anyhow::Error> = None;
    loop {
        match pipeline.events.recv_timeout(Duration::from_millis(250)) {
            Ok(e) if out_error.is_none() => {
                if let Err(err) = print_event(&mut out, &e, a.format) {
                    out_error = Some(err);
                    stop.store(true, Ordering::SeqCst);
                }
            }
            Ok(_) => {}
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        health.tick(&pipeline.counters, field.as_ref().map(|f| &*f.stats));
    }
    let counters = pipeline.counters.clone();
    let s = pipeline.join()?;
    if let Some(f) = field {
        let stats = f.stats.clone();
        let fs = f.join();
        health.tick(&counters, Some(&stats));
        eprintln!(
            "field capture: {} logged, {} lost, {} log write error(s), {} clip(s) saved, {} dropped",
            fs.logged, fs.log_lost, fs.log_errors, fs.clips_saved, fs.clips_dropped
        );
    }
    eprintln!(
        "stopped: {:.1} s of audio, {} frames, {} overruns ({} frames dropped), {} re-opens, {} detection(s)",
        s.samples as f64 / wordspot::SAMPLE_RATE as f64,
        s.frames,
        s.overruns,
        s.dropped_frames,
        s.reopens,
        s.detections
    );
    match out_error {
        Some(e) => Err(e.context("writing detections to standard output")),
        None => Ok(()),
    }
}

fn open_source(a: &ListenArgs, stop: Arc<AtomicBool>) -> Result<Box<dyn Source>> {
    use wordspot::audio::{Encoding, FileSource, Paced, PcmFormat, StdinLayout};
    let src: Box<dyn Source> = match &a.input {
        Some(p) if p.as_os_str() == "-" => {
            let raw = |encoding| {
                StdinLayout::Raw(PcmFormat {
                    encoding,
                    rate: a.stdin_rate,
                    channels: a.stdin_channels,
                })
            };
            let layout = match a.stdin_format.as_str() {
                "wav" => StdinLayout::Wav,
                "s16le" => raw(Encoding::S16),
                "f32le" => raw(Encoding::F32),
                other => bail!("--stdin-format: unknown format '{other}' (wav, s16le or f32le)"),
            };
            let src = wordspot::audio::stdin(layout, stop).map_err(|e| {
                let hint = if layout == StdinLayout::Wav {
                    " (for raw samples give --stdin-format s16le or f32le, --stdin-rate and --stdin-channels)"
                } else {
                    ""
                };
                anyhow::anyhow!("{e}{hint}")
            })?;
            Box::new(src)
        }
        Some(p) => Box::new(FileSource::open(p)?),
        None => return open_mic(a, stop),
    };
    Ok(if a.realtime {
        Box::new(Paced::new(src))
    } else {
        src
    })
}

/// The microphone; Ctrl-C (`stop`) also ends a re-open back-off.
#[cfg(feature = "mic")]
fn open_mic(a: &ListenArgs, stop: Arc<AtomicBool>) -> Result<Box<dyn Source>> {
    Ok(Box::new(
        wordspot::audio::MicSource::open(a.device.as_deref(), a.ring_seconds)?.with_stop(stop),
    ))
}

#[cfg(not(feature = "mic"))]
fn open_mic(_: &ListenArgs, _: Arc<AtomicBool>) -> Result<Box<dyn Source>> {
    bail!("this build has no microphone support (feature `mic`); use --input FILE or -")
}

/// Field capture settings from the options (`None` when neither `--log` nor `--clips`).
fn field_config(a: &ListenArgs, max_word: f64) -> Result<Option<FieldConfig>> {
    let rotate: Rotate = a.log_rotate.parse()?;
    let log = a
        .log
        .clone()
        .or_else(|| a.clips.as_ref().map(|d| d.join("detections.jsonl")));
    if log.is_none() && a.clips.is_none() {
        return Ok(None);
    }
    if let Some(p) = &log {
        // Fail at start, not at the first detection, when the log cannot be written.
        if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("{}: cannot create the log folder", dir.display()))?;
        }
        if rotate == Rotate::Never {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("{}: cannot open the event log", p.display()))?;
        }
    }
    Ok(Some(FieldConfig {
        clips: a.clips.as_ref().map(|d| ClipConfig {
            dir: d.clone(),
            pre_roll: a.pre_roll,
            post_roll: a.post_roll,
            max_word,
        }),
        log: log.map(|p| (p, rotate)),
        max_queued_clips: 0,
    }))
}

/// The `--stats-every` health line and storage/source error warnings.
struct Health {
    every: Option<Duration>,
    last: Instant,
    before: Summary,
    errors_seen: u64,
    source_errors_seen: u64,
}

impl Health {
    fn new(every: Option<f64>) -> Result<Self> {
        let every = match every {
            Some(s) if s.is_finite() && s > 0.0 => Some(Duration::from_secs_f64(s)),
            Some(s) => bail!("--stats-every must be a positive number of seconds, got {s}"),
            None => None,
        };
        Ok(Health {
            every,
            last: Instant::now(),
            before: Summary::default(),
            errors_seen: 0,
            source_errors_seen: 0,
        })
    }

    fn tick(&mut self, c: &Counters, f: Option<&FieldStats>) {
        if let Some(f) = f {
            let n = f.error_count.load(Ordering::Relaxed);
            if n > self.errors_seen {
                self.errors_seen = n;
                if let Some(msg) = f.last_error() {
                    eprintln!("warning: {msg}");
                }
            }
        }
        let now = c.summary();
        if now.source_errors > self.source_errors_seen {
            self.source_errors_seen = now.source_errors;
            if let Some(msg) = c.last_source_error() {
                eprintln!("warning: audio source failed, retrying: {msg}");
            }
        }
        if let Some(every) = self.every {
            let dt = self.last.elapsed();
            if dt >= every {
                let fs = f.map(FieldStats::summary);
                eprintln!("{}", health_line(&now, &self.before, dt, fs.as_ref()));
                self.before = now;
                self.last = Instant::now();
            }
        }
    }
}

/// Prints one event in the chosen format.
pub fn print_event(out: &mut impl Write, e: &Event, format: Format) -> Result<()> {
    match format {
        Format::Jsonl => writeln!(out, "{}", serde_json::to_string(e)?)?,
        Format::Tsv => writeln!(
            out,
            "{}\t{:.3}\t{:.3}\t{:.4}\t{}",
            e.keyword, e.start, e.end, e.distance, e.template
        )?,
        Format::Table => writeln!(
            out,
            "{:>9.2}-{:<9.2} {:<16} distance {:.4}  ({})",
            e.start, e.end, e.keyword, e.distance, e.template
        )?,
    }
    out.flush()?;
    Ok(())
}
