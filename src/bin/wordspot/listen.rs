//! `wordspot listen`: spot enrolled keywords in a live or recorded stream.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use anyhow::{bail, Context, Result};
use clap::Args;
use wordspot::audio::Source;
use wordspot::detector::{DetectorConfig, Fusion};
use wordspot::pipeline::{spawn, Event, PipelineOptions, Spotter};
use wordspot::templates::{self, default_threshold};

use crate::common::{Format, FrontendArgs};

/// Options of `wordspot listen`.
#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Template store (from `wordspot enroll`): a folder of keywords or one keyword folder.
    #[arg(long, value_name = "DIR")]
    pub templates: PathBuf,
    /// Audio file to read, or `-` for standard input (default: the microphone).
    #[arg(long, value_name = "FILE|-")]
    pub input: Option<PathBuf>,
    /// Threshold for every keyword (default: each keyword's stored threshold).
    #[arg(long)]
    pub threshold: Option<f32>,
    /// Template fusion per keyword: `min` or `mean:K` (mean of the K best).
    #[arg(long, default_value = "min")]
    pub fusion: Fusion,
    /// Longest wait after a match ends before it is reported (seconds).
    #[arg(long, default_value_t = 0.15)]
    pub max_delay: f32,
    /// Quiet time after a detection (seconds).
    #[arg(long, default_value_t = 0.25)]
    pub refractory: f32,
    /// Pace file input in real time.
    #[arg(long)]
    pub realtime: bool,
    /// Input device name (exact or a unique substring; see `wordspot devices`).
    #[arg(long)]
    pub device: Option<String>,
    /// Capture ring buffer length (seconds).
    #[arg(long, default_value_t = 4.0)]
    pub ring_seconds: f32,
    /// Raw standard input: sample format (`s16le`, `f32le`) or `wav`.
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
    /// Append every event to this JSONL file durably (fsync per event).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    #[command(flatten)]
    pub fe: FrontendArgs,
}

/// Runs `wordspot listen`.
pub fn run(a: ListenArgs) -> Result<()> {
    if let Some(t) = a.threshold {
        if !t.is_finite() || t <= 0.0 {
            bail!("--threshold must be a positive number, got {t}");
        }
    }
    let (mut fe, norm) = a.fe.build()?;
    let cfg = fe.config();
    let keywords = templates::load(&a.templates, &mut *fe, &norm)?;
    let thresholds: Vec<f32> = keywords
        .iter()
        .map(|k| {
            a.threshold
                .or_else(|| k.threshold_for(&cfg, &a.fe.normalize))
                .unwrap_or_else(|| {
                    let t = default_threshold(&cfg);
                    eprintln!(
                        "warning: {}: threshold was estimated with another frontend; using {t} (set --threshold or re-enroll)",
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
    if longest.1 > a.ring_seconds as f64 {
        bail!(
            "template {} lasts {:.2} s, longer than the {:.2} s ring buffer (raise --ring-seconds or trim the template)",
            longest.0.unwrap_or_default(),
            longest.1,
            a.ring_seconds
        );
    }
    fe.reset();
    let det = DetectorConfig {
        fusion: a.fusion,
        metric: a.fe.metric,
        max_delay_s: a.max_delay,
        refractory_s: a.refractory,
    };
    let spotter = Spotter::new(fe, norm, &keywords, &thresholds, det)?;
    let source = open_source(&a)?;
    let mut log = match &a.log {
        Some(p) => Some((open_log(p)?, p.clone())),
        None => None,
    };

    let pipeline = spawn(source, spotter, PipelineOptions::default());
    let stop = pipeline.stop_flag();
    ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
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
    for e in pipeline.events.iter() {
        if let Some((f, p)) = &mut log {
            append_event(f, &e)
                .with_context(|| format!("{}: writing the event log", p.display()))?;
        }
        print_event(&mut out, &e, a.format)?;
    }
    let s = pipeline.join()?;
    eprintln!(
        "stopped: {:.1} s of audio, {} frames, {} overruns ({} frames dropped), {} re-opens, {} detection(s)",
        s.samples as f64 / wordspot::SAMPLE_RATE as f64,
        s.frames,
        s.overruns,
        s.dropped_frames,
        s.reopens,
        s.detections
    );
    Ok(())
}

fn open_source(a: &ListenArgs) -> Result<Box<dyn Source>> {
    use wordspot::audio::{Encoding, FileSource, Paced, PcmFormat};
    let src: Box<dyn Source> = match &a.input {
        Some(p) if p.as_os_str() == "-" => {
            let encoding = match a.stdin_format.as_str() {
                "s16le" | "wav" => Encoding::S16,
                "f32le" => Encoding::F32,
                other => bail!("--stdin-format: unknown format '{other}' (s16le, f32le or wav)"),
            };
            let raw = PcmFormat {
                encoding,
                rate: a.stdin_rate,
                channels: a.stdin_channels,
            };
            Box::new(wordspot::audio::stdin(raw)?)
        }
        Some(p) => Box::new(FileSource::open(p)?),
        None => return open_mic(a),
    };
    Ok(if a.realtime {
        Box::new(Paced::new(src))
    } else {
        src
    })
}

#[cfg(feature = "mic")]
fn open_mic(a: &ListenArgs) -> Result<Box<dyn Source>> {
    Ok(Box::new(wordspot::audio::MicSource::open(
        a.device.as_deref(),
        a.ring_seconds,
    )?))
}

#[cfg(not(feature = "mic"))]
fn open_mic(_: &ListenArgs) -> Result<Box<dyn Source>> {
    bail!("this build has no microphone support (feature `mic`); use --input FILE or -")
}

fn open_log(p: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .with_context(|| format!("{}: cannot open the event log", p.display()))
}

/// Appends one JSON line and forces it to disk.
fn append_event(f: &mut File, e: &Event) -> std::io::Result<()> {
    let mut line = serde_json::to_string(e).map_err(std::io::Error::other)?;
    line.push('\n');
    f.write_all(line.as_bytes())?;
    f.flush()?;
    f.sync_data()
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
