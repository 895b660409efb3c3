//! Frontends turn 16 kHz mono samples into feature frames.
//!
//! Every frontend is incremental: samples may be pushed in blocks of any size
//! and the frames that come out are the same as when the whole signal is
//! pushed at once. [`Frontend::finish`] flushes what a trailing look-ahead held
//! back. Frame `i` covers samples `[i * hop, i * hop + window)`.

#[cfg(feature = "embedding")]
pub mod embedding;
pub mod mfcc;
#[cfg(feature = "wav2vec2")]
pub mod wav2vec2;

use std::path::Path;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::{Error, Result, SAMPLE_RATE};

pub use mfcc::{Mfcc, MfccConfig};

/// A feature extractor working on 16 kHz mono `f32` samples.
pub trait Frontend: Send {
    /// Number of values per output frame.
    fn dim(&self) -> usize;
    /// Hop between consecutive frames, in samples at 16 kHz.
    fn hop(&self) -> usize;
    /// Samples a frame is timed to, at 16 kHz: frame `i` spans
    /// `[i * hop, i * hop + window)` in reported times.
    fn window(&self) -> usize;
    /// Samples that influence one frame, ending where its [`Frontend::window`]
    /// ends (the same as `window` unless the frontend looks further back).
    fn receptive_field(&self) -> usize {
        self.window()
    }
    /// Frames at the start of an isolated utterance's features that see mostly
    /// the frontend's start-of-stream padding rather than the utterance; queries
    /// and templates leave them out ([`extract_utterance`]), since inside a
    /// stream the same word is preceded by other audio, not by that padding.
    fn utterance_lead_frames(&self) -> usize {
        0
    }
    /// Shortest isolated utterance, in samples: a shorter one is padded with
    /// trailing silence to this length before [`extract_utterance`] runs the
    /// frontend, so that a short word still gives a template of several frames
    /// (a frontend with a long window otherwise leaves one or two).
    fn utterance_min_samples(&self) -> usize {
        0
    }
    /// Feeds samples; appends every frame completed by them to `out`
    /// (row-major, [`Frontend::dim`] values per frame). Returns the number of frames appended.
    fn push(&mut self, samples: &[f32], out: &mut Vec<f32>) -> Result<usize>;
    /// Ends the stream: appends the frames still held back. Returns their number.
    fn finish(&mut self, out: &mut Vec<f32>) -> Result<usize>;
    /// Forgets the stream so far, ready for a new one.
    fn reset(&mut self);
    /// The settings that produced this frontend (used for caches and manifests).
    fn config(&self) -> FrontendConfig;
}

/// Serializable frontend settings: enough to rebuild the same frontend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum FrontendConfig {
    /// Google's speech_embedding (openWakeWord's ONNX form), built in.
    Embedding(EmbeddingConfig),
    /// Classic MFCC features.
    Mfcc(MfccConfig),
    /// A wav2vec2-family ONNX encoder run by tract.
    Wav2vec2(Wav2vec2Config),
}

/// Settings of the wav2vec2 frontend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Wav2vec2Config {
    /// Path of the `.onnx` model.
    pub model: std::path::PathBuf,
    /// Transformer layer whose output is used (`None`: the model's only/last output).
    pub layer: Option<usize>,
    /// Chunk length for streaming, in seconds.
    pub chunk_s: f32,
    /// Left context for streaming, in seconds.
    pub context_s: f32,
    /// Right look-ahead for streaming, in seconds.
    pub lookahead_s: f32,
}

/// Settings of the speech-embedding frontend (see [`embedding`]).
#[cfg(feature = "embedding")]
pub use embedding::EmbeddingConfig;

/// Settings of the speech-embedding frontend (this build has no embedding support).
#[cfg(not(feature = "embedding"))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbeddingConfig {
    /// Mel frames between windows.
    pub hop_frames: usize,
    /// Other copies of the models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<serde_json::Value>,
}

impl Default for FrontendConfig {
    /// The speech embedding where the build has it, else MFCC.
    fn default() -> Self {
        #[cfg(feature = "embedding")]
        {
            FrontendConfig::Embedding(EmbeddingConfig::default())
        }
        #[cfg(not(feature = "embedding"))]
        {
            FrontendConfig::Mfcc(MfccConfig::default())
        }
    }
}

impl FrontendConfig {
    /// Builds the frontend these settings describe.
    pub fn build(&self) -> Result<Box<dyn Frontend>> {
        match self {
            FrontendConfig::Embedding(c) => build_embedding(c),
            FrontendConfig::Mfcc(c) => Ok(Box::new(Mfcc::new(c.clone())?)),
            FrontendConfig::Wav2vec2(c) => build_wav2vec2(c),
        }
    }

    /// A short human-readable name ("mfcc", "wav2vec2:L6").
    pub fn name(&self) -> String {
        match self {
            FrontendConfig::Embedding(c) => format!("embedding:{}ms", c.hop_frames * 10),
            FrontendConfig::Mfcc(_) => "mfcc".into(),
            FrontendConfig::Wav2vec2(c) => match c.layer {
                Some(l) => format!("wav2vec2:L{l}"),
                None => "wav2vec2".into(),
            },
        }
    }
}

#[cfg(feature = "embedding")]
fn build_embedding(c: &EmbeddingConfig) -> Result<Box<dyn Frontend>> {
    Ok(Box::new(embedding::SpeechEmbedding::new(c.clone())?))
}

#[cfg(not(feature = "embedding"))]
fn build_embedding(_: &EmbeddingConfig) -> Result<Box<dyn Frontend>> {
    Err(Error::invalid(
        "this build of wordspot has no speech-embedding frontend (rebuild with --features embedding)",
    ))
}

#[cfg(feature = "wav2vec2")]
fn build_wav2vec2(c: &Wav2vec2Config) -> Result<Box<dyn Frontend>> {
    Ok(Box::new(wav2vec2::Wav2vec2::new(c.clone())?))
}

#[cfg(not(feature = "wav2vec2"))]
fn build_wav2vec2(c: &Wav2vec2Config) -> Result<Box<dyn Frontend>> {
    Err(Error::model(
        &c.model,
        "this build of wordspot has no wav2vec2 support (rebuild with --features wav2vec2)",
    ))
}

/// A whole utterance's features plus the geometry needed to map frames to time.
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    /// Frames × dims.
    pub data: Array2<f32>,
    /// Hop in samples at 16 kHz.
    pub hop: usize,
    /// Window (receptive field) in samples at 16 kHz.
    pub window: usize,
}

impl Features {
    /// Number of frames.
    pub fn len(&self) -> usize {
        self.data.nrows()
    }
    /// True when there are no frames.
    pub fn is_empty(&self) -> bool {
        self.data.nrows() == 0
    }
    /// Values per frame.
    pub fn dim(&self) -> usize {
        self.data.ncols()
    }
    /// Time in seconds at which frame `i` starts.
    pub fn frame_start(&self, i: usize) -> f64 {
        frame_start(i, self.hop)
    }
    /// Time in seconds at which frame `i` ends.
    pub fn frame_end(&self, i: usize) -> f64 {
        frame_end(i, self.hop, self.window)
    }
    /// Frames `[a, b)` as a new `Features`.
    pub fn slice(&self, a: usize, b: usize) -> Features {
        Features {
            data: self.data.slice(ndarray::s![a..b, ..]).to_owned(),
            hop: self.hop,
            window: self.window,
        }
    }
    /// Index of the first frame starting at or after `t` seconds.
    pub fn frame_at(&self, t: f64) -> usize {
        ((t * SAMPLE_RATE as f64) / self.hop as f64)
            .round()
            .max(0.0) as usize
    }
}

/// Start time in seconds of frame `i` for a given hop.
pub fn frame_start(i: usize, hop: usize) -> f64 {
    (i * hop) as f64 / SAMPLE_RATE as f64
}

/// End time in seconds of frame `i` for a given hop and window.
pub fn frame_end(i: usize, hop: usize, window: usize) -> f64 {
    (i * hop + window) as f64 / SAMPLE_RATE as f64
}

/// Features of an isolated utterance (a template or a query): [`extract`]
/// of the samples padded with trailing silence to
/// [`Frontend::utterance_min_samples`] (audio shorter than one
/// [`Frontend::window`] is not padded: it stays an error), without the
/// [`Frontend::utterance_lead_frames`] (at least one frame is kept).
pub fn extract_utterance(
    frontend: &mut dyn Frontend,
    samples: &[f32],
    what: &Path,
) -> Result<Features> {
    let min = frontend.utterance_min_samples();
    let padded;
    let samples = if samples.len() >= frontend.window() && samples.len() < min {
        let mut v = samples.to_vec();
        v.resize(min, 0.0);
        padded = v;
        &padded[..]
    } else {
        samples
    };
    let f = extract(frontend, samples, what)?;
    let skip = frontend.utterance_lead_frames().min(f.len() - 1);
    Ok(if skip == 0 { f } else { f.slice(skip, f.len()) })
}

/// Runs a frontend over a whole signal (16 kHz mono) and returns its features.
/// `what` names the input in errors.
pub fn extract(frontend: &mut dyn Frontend, samples: &[f32], what: &Path) -> Result<Features> {
    frontend.reset();
    let mut buf = Vec::new();
    frontend.push(samples, &mut buf)?;
    frontend.finish(&mut buf)?;
    let dim = frontend.dim();
    let n = buf.len() / dim;
    if n == 0 {
        return Err(Error::audio(
            what,
            format!(
                "too short: {:.3} s gives no feature frame (need at least {:.3} s)",
                samples.len() as f64 / SAMPLE_RATE as f64,
                frontend.window() as f64 / SAMPLE_RATE as f64
            ),
        ));
    }
    let data = Array2::from_shape_vec((n, dim), buf).expect("frontend produced whole frames");
    Ok(Features {
        data,
        hop: frontend.hop(),
        window: frontend.window(),
    })
}
