//! Options shared by every subcommand.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use wordspot::detector::{DetectorConfig, Fusion};
use wordspot::dtw::Metric;
use wordspot::features::embedding::EmbeddingModelFiles;
use wordspot::features::{EmbeddingConfig, Frontend, FrontendConfig, MfccConfig, Wav2vec2Config};
use wordspot::normalize::Normalizer;
use wordspot::templates::Keyword;
use wordspot::verify::Cascade;

/// Which frontend computes features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FrontendKind {
    /// Google's speech_embedding, built into the binary (cross-speaker; the default).
    Embedding,
    /// 13 MFCCs + deltas (no model needed; same speaker, lowest CPU).
    Mfcc,
    /// A wav2vec2-family ONNX encoder (`--model`).
    Wav2vec2,
}

/// Frontend, normalizer and distance options.
#[derive(Debug, Clone, Args)]
pub struct FrontendArgs {
    /// Feature frontend.
    #[arg(long, value_enum, default_value = "embedding")]
    pub frontend: FrontendKind,
    /// ONNX model for `--frontend wav2vec2`.
    #[arg(long, value_name = "FILE.onnx")]
    pub model: Option<PathBuf>,
    /// `--frontend embedding`: mel frames (10 ms) between embedding windows: 8, 4, 2 or 1.
    #[arg(long, value_name = "N", default_value_t = wordspot::features::embedding::DEFAULT_HOP_FRAMES)]
    pub embedding_hop: usize,
    /// `--frontend embedding`: use these model files instead of the built-in ones
    /// (`MEL.onnx,EMBEDDING.onnx`: openWakeWord's melspectrogram and embedding_model).
    #[arg(long, value_name = "MEL.onnx,EMB.onnx")]
    pub embedding_models: Option<String>,
    /// Transformer layer to use (all-layers models).
    #[arg(long, value_name = "L")]
    pub layer: Option<usize>,
    /// Rogue-dimension removal: none, standardize, drop:K, pca:K.
    #[arg(long, default_value = "none", value_name = "SPEC")]
    pub normalize: String,
    /// Statistics file from `wordspot fit-stats` (for --normalize).
    #[arg(long, value_name = "FILE")]
    pub stats: Option<PathBuf>,
    /// Frame distance.
    #[arg(long, value_enum, default_value = "cosine")]
    pub metric: Metric,
    /// wav2vec2 streaming: chunk length (seconds, over 0, at most 60).
    #[arg(long, default_value_t = 1.0, value_name = "S", value_parser = parse_stream_chunk, allow_negative_numbers = true)]
    pub stream_chunk: f32,
    /// wav2vec2 streaming: left context per chunk (seconds, at most 60).
    #[arg(long, default_value_t = 1.0, value_name = "S", value_parser = parse_stream_span, allow_negative_numbers = true)]
    pub stream_context: f32,
    /// wav2vec2 streaming: right look-ahead per chunk (seconds, at most 60; adds latency).
    #[arg(long, default_value_t = 0.5, value_name = "S", value_parser = parse_stream_span, allow_negative_numbers = true)]
    pub stream_lookahead: f32,
}

impl FrontendArgs {
    /// The frontend settings these options describe.
    pub fn config(&self) -> Result<FrontendConfig> {
        if self.frontend != FrontendKind::Embedding && self.embedding_models.is_some() {
            bail!("--embedding-models is only used with --frontend embedding");
        }
        Ok(match self.frontend {
            FrontendKind::Embedding => {
                if self.model.is_some() {
                    bail!("--model is only used with --frontend wav2vec2 (the embedding frontend takes --embedding-models MEL.onnx,EMB.onnx)");
                }
                let models = match &self.embedding_models {
                    None => None,
                    Some(s) => match s.split_once(',') {
                        Some((m, e)) if !m.is_empty() && !e.is_empty() => Some(EmbeddingModelFiles {
                            melspectrogram: m.into(),
                            embedding: e.into(),
                        }),
                        _ => bail!("--embedding-models wants MEL.onnx,EMBEDDING.onnx (two files), got '{s}'"),
                    },
                };
                let c = EmbeddingConfig {
                    hop_frames: self.embedding_hop,
                    models,
                };
                c.validate()?;
                FrontendConfig::Embedding(c)
            }
            FrontendKind::Mfcc => {
                if self.model.is_some() {
                    bail!("--model is only used with --frontend wav2vec2");
                }
                FrontendConfig::Mfcc(MfccConfig::default())
            }
            FrontendKind::Wav2vec2 => {
                let model = self
                    .model
                    .clone()
                    .context("--frontend wav2vec2 needs --model FILE.onnx")?;
                FrontendConfig::Wav2vec2(Wav2vec2Config {
                    model,
                    layer: self.layer,
                    chunk_s: self.stream_chunk,
                    context_s: self.stream_context,
                    lookahead_s: self.stream_lookahead,
                })
            }
        })
    }

    /// Builds the frontend and the normalizer.
    pub fn build(&self) -> Result<(Box<dyn Frontend>, Normalizer)> {
        let cfg = self.config()?;
        let fe = cfg.build()?;
        let norm = Normalizer::from_spec(&self.normalize, self.stats.as_deref(), &cfg, fe.dim())?;
        Ok((fe, norm))
    }
}

/// Machine or human output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// One JSON object per line.
    Jsonl,
    /// Tab-separated values with a header line.
    Tsv,
}

/// Parses a time in seconds (`1.5`) or `MM:SS.s`.
pub fn parse_time(s: &str) -> std::result::Result<f64, String> {
    let v = match s.split_once(':') {
        Some((m, sec)) => {
            let m: f64 = m.parse().map_err(|_| format!("bad time '{s}'"))?;
            let sec: f64 = sec.parse().map_err(|_| format!("bad time '{s}'"))?;
            m * 60.0 + sec
        }
        None => s
            .parse()
            .map_err(|_| format!("bad time '{s}' (seconds expected)"))?,
    };
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(format!(
            "bad time '{s}': must be a non-negative number of seconds"
        ))
    }
}

/// Longest wav2vec2 streaming chunk, context or look-ahead (seconds): the
/// encoder holds chunk + context + look-ahead of audio at once.
pub const MAX_STREAM_SPAN_S: f32 = 60.0;

/// A number of seconds in `lo..=hi` (`lo` itself excluded when `open_lo`).
pub fn seconds_in(s: &str, lo: f32, hi: f32, open_lo: bool) -> std::result::Result<f32, String> {
    let v: f32 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds"))?;
    let low_ok = if open_lo { v > lo } else { v >= lo };
    if v.is_finite() && low_ok && v <= hi {
        Ok(v)
    } else {
        let low = if open_lo {
            format!("over {lo}")
        } else {
            format!("at least {lo}")
        };
        Err(format!("{s} s is out of range: {low} and at most {hi} s"))
    }
}

fn parse_stream_chunk(s: &str) -> std::result::Result<f32, String> {
    seconds_in(s, 0.0, MAX_STREAM_SPAN_S, true)
}

fn parse_stream_span(s: &str) -> std::result::Result<f32, String> {
    seconds_in(s, 0.0, MAX_STREAM_SPAN_S, false)
}

/// Longest `--max-delay` (seconds): a detection waits at most this long,
/// and clip buffers are sized by it.
pub const MAX_DELAY_S: f32 = 10.0;

fn parse_max_delay(s: &str) -> std::result::Result<f32, String> {
    seconds_in(s, 0.0, MAX_DELAY_S, false)
}

/// A non-negative, finite number of seconds (no upper bound).
pub fn parse_non_negative(s: &str) -> std::result::Result<f32, String> {
    seconds_in(s, 0.0, f32::MAX, false)
}

/// A number of seconds over 0 and at most `hi`, for buffers sized by it.
pub fn parse_buffer_seconds(s: &str, hi: f32) -> std::result::Result<f32, String> {
    seconds_in(s, 0.0, hi, true)
}

/// A count of at least 1 (`--top-k`, `--per-file`...).
pub fn parse_count(s: &str) -> std::result::Result<usize, String> {
    parse_count_to(s, usize::MAX)
}

/// A count in `1..=hi`.
pub fn parse_count_to(s: &str, hi: usize) -> std::result::Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(v) if (1..=hi).contains(&v) => Ok(v),
        Ok(0) => Err("must be at least 1".into()),
        Ok(v) => Err(format!("{v} is too large (at most {hi})")),
        Err(_) => Err(format!("'{s}' is not a whole number")),
    }
}

/// Checks, before any work, that a plot can be written to `path`: a `.png`
/// or `.svg` name in an existing folder that accepts a new file. `flag`
/// names the option in the message.
pub fn check_plot_path(path: &std::path::Path, flag: &str) -> Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if !matches!(ext.as_deref(), Some("png") | Some("svg")) {
        bail!(
            "{flag} {}: the plot file name must end in .png or .svg",
            path.display()
        );
    }
    check_writable(path, flag)
}

/// Checks that `path` can be created (its folder exists and accepts files),
/// without leaving a file behind when it did not exist.
pub fn check_writable(path: &std::path::Path, flag: &str) -> Result<()> {
    if path.is_dir() {
        bail!("{flag} {}: is a folder, not a file name", path.display());
    }
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .with_context(|| format!("{flag} {}: cannot be written", path.display()))?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Reads `[start, end)` seconds of a file as 16 kHz mono, or all of it;
/// `start` alone reads from there to the end.
pub fn read_audio(
    path: &std::path::Path,
    start: Option<f64>,
    end: Option<f64>,
) -> Result<Vec<f32>> {
    if start.is_none() && end.is_none() {
        return Ok(wordspot::audio::read_file(path)?);
    }
    Ok(wordspot::audio::read_segment(
        path,
        start.unwrap_or(0.0),
        // `read_segment` reads to the end for an infinite end.
        end.unwrap_or(f64::INFINITY),
    )?)
}

/// Detector options: one definition for `listen`, `eval stream` and `calibrate`,
/// so a threshold calibrated or evaluated holds for `listen` as it runs.
#[derive(Debug, Clone, Args)]
pub struct DetectorArgs {
    /// Template fusion per keyword: `min` or `mean:K`.
    #[arg(long, default_value = "min")]
    pub fusion: Fusion,
    /// Longest wait after a match ends before it is reported (seconds, 0 to 10).
    #[arg(long, default_value_t = DetectorConfig::default().max_delay_s, value_parser = parse_max_delay, allow_negative_numbers = true)]
    pub max_delay: f32,
    /// Quiet time after a detection (seconds, at least 0).
    #[arg(long, default_value_t = DetectorConfig::default().refractory_s, value_parser = parse_non_negative, allow_negative_numbers = true)]
    pub refractory: f32,
    /// Turn off the second-stage verifier (a learned word embedding scored on
    /// each DTW candidate); thresholds are then on DTW scores.
    #[arg(long)]
    pub no_verify: bool,
}

impl DetectorArgs {
    /// The second stage for `keywords`: `None` with `--no-verify`, or when
    /// some keyword was enrolled without a verifier entry (then said once).
    pub fn cascade(&self, keywords: &[Keyword]) -> Result<Option<Cascade>> {
        if self.no_verify {
            return Ok(None);
        }
        let c = Cascade::for_keywords(keywords)?;
        if c.is_none() {
            if let Some(k) = keywords.iter().find(|k| k.manifest.verifier.is_none()) {
                eprintln!(
                    "note: {}: enrolled without the verifier (older store, --no-verify, or no cohort match); \
                     detection runs without it for every keyword (re-enroll to use it)",
                    k.dir.display()
                );
            }
        }
        Ok(c)
    }

    pub fn config(&self, fe: &FrontendArgs) -> DetectorConfig {
        DetectorConfig {
            fusion: self.fusion,
            metric: fe.metric,
            max_delay_s: self.max_delay,
            refractory_s: self.refractory,
        }
    }
}

/// Warnings of one kind printed in full before the rest are only counted.
pub const WARNINGS_SHOWN: usize = 3;

/// Counts of warnings by kind, in the order the kinds first appeared.
static WARNINGS: std::sync::Mutex<Vec<(String, usize)>> = std::sync::Mutex::new(Vec::new());

/// Prints `warning: {msg}` for the first [`WARNINGS_SHOWN`] warnings of
/// `kind` and counts the rest; [`finish_warnings`] prints how many more
/// there were. Safe to call from any thread.
pub fn warn(kind: &str, msg: impl std::fmt::Display) {
    let mut g = WARNINGS.lock().unwrap_or_else(|p| p.into_inner());
    let n = match g.iter_mut().find(|(k, _)| k == kind) {
        Some((_, n)) => {
            *n += 1;
            *n
        }
        None => {
            g.push((kind.to_string(), 1));
            1
        }
    };
    if n <= WARNINGS_SHOWN {
        eprintln!("warning: {msg}");
    }
}

/// Reports a file or folder that was skipped, summarised by the kind of
/// problem (the message without its file name and numbers).
pub fn warn_skipped(e: &wordspot::Error) {
    use wordspot::Error as E;
    let what = match e {
        E::Audio { msg, .. } | E::Format { msg, .. } | E::Model { msg, .. } => msg.clone(),
        E::Io { error, .. } => format!("{:?}", error.kind()),
        other => other.to_string(),
    };
    let kind: String = what
        .chars()
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect();
    warn(&format!("skipped: {kind}"), format_args!("skipped {e}"));
}

/// Prints, for each kind of warning given more than [`WARNINGS_SHOWN`]
/// times, how many were not printed.
pub fn finish_warnings() {
    let g = WARNINGS.lock().unwrap_or_else(|p| p.into_inner());
    for (kind, n) in g.iter().filter(|(_, n)| *n > WARNINGS_SHOWN) {
        eprintln!(
            "warning: ... and {} more like this ({kind})",
            n - WARNINGS_SHOWN
        );
    }
}

/// Loads a template store, reporting each keyword that cannot be loaded
/// (and skipping it); fails only when no keyword loads.
pub fn load_store(
    dir: &std::path::Path,
    fe: &mut dyn Frontend,
    norm: &Normalizer,
) -> Result<Vec<wordspot::templates::Keyword>> {
    let store = wordspot::templates::load_store(dir, fe, norm)?;
    for e in &store.skipped {
        warn("keyword skipped", format_args!("keyword skipped: {e}"));
    }
    if store.keywords.is_empty() {
        bail!(
            "{}: no keyword could be loaded ({} skipped; first: {})",
            dir.display(),
            store.skipped.len(),
            store
                .skipped
                .first()
                .map_or(String::new(), |e| e.to_string())
        );
    }
    Ok(store.keywords)
}
