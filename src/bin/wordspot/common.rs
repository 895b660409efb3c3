//! Options shared by every subcommand.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use wordspot::detector::{DetectorConfig, Fusion};
use wordspot::dtw::Metric;
use wordspot::features::embedding::EmbeddingModelFiles;
use wordspot::features::{EmbeddingConfig, Frontend, FrontendConfig, MfccConfig, Wav2vec2Config};
use wordspot::normalize::Normalizer;

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
    /// wav2vec2 streaming: chunk length (seconds).
    #[arg(long, default_value_t = 1.0, value_name = "S")]
    pub stream_chunk: f32,
    /// wav2vec2 streaming: left context per chunk (seconds).
    #[arg(long, default_value_t = 1.0, value_name = "S")]
    pub stream_context: f32,
    /// wav2vec2 streaming: right look-ahead per chunk (seconds; adds latency).
    #[arg(long, default_value_t = 0.5, value_name = "S")]
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

/// Reads `[start, end)` seconds of a file as 16 kHz mono, or all of it.
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
    /// Longest wait after a match ends before it is reported (seconds).
    #[arg(long, default_value_t = DetectorConfig::default().max_delay_s)]
    pub max_delay: f32,
    /// Quiet time after a detection (seconds).
    #[arg(long, default_value_t = DetectorConfig::default().refractory_s)]
    pub refractory: f32,
}

impl DetectorArgs {
    pub fn config(&self, fe: &FrontendArgs) -> DetectorConfig {
        DetectorConfig {
            fusion: self.fusion,
            metric: fe.metric,
            max_delay_s: self.max_delay,
            refractory_s: self.refractory,
        }
    }
}
