//! Second-stage word verification: a learned whole-word embedding scored on
//! the candidates the DTW detector proposes (issue 12's cascade).
//!
//! The model is EfficientWord-Net's ResNet-50 word embedding (ArcFace loss,
//! `models/word_verifier/`, Apache-2.0): 1.5 s of 16 kHz audio → a 149 × 64
//! log-mel filterbank ([`LogFbank`], python_speech_features' `logfbank` with
//! EfficientWord-Net's settings) → 2048 values. A window is compared with the
//! keyword's enrollment takes by cosine similarity ([`WordEmbedder`]); the
//! similarity is standardised against windows of keyword-free speech
//! ([`VerifierNorm`]) so one weight serves every keyword.
//!
//! Running the network costs about 25–50 ms per window on one x86 core, so it is
//! run only on DTW candidates (a few hundred per keyword-hour at the candidate
//! threshold), never on every window.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};
use tract_onnx::prelude::*;

use crate::{Error, Result, SAMPLE_RATE};

/// Samples in one verification window (1.5 s).
pub const WINDOW: usize = 24_000;
/// Filterbank frames per window (25 ms frames every 10 ms, zero-padded end).
pub const FRAMES: usize = 149;
/// Mel bands.
pub const BANDS: usize = 64;
/// Embedding size.
pub const DIM: usize = 2048;
const FRAME_LEN: usize = 400;
const FRAME_STEP: usize = 160;
const NFFT: usize = 512;

/// The built-in verifier model (int8 ResNet-50, EfficientWord-Net 1.0.5).
pub const BUILTIN_MODEL: &[u8] = include_bytes!("../models/word_verifier/resnet50_arc_qint8.onnx");
/// Name of the built-in model in messages.
pub const BUILTIN_NAME: &str = "<built-in word verifier>";

/// python_speech_features' `logfbank(x, 16000, winlen=0.025, winstep=0.01,
/// nfilt=64, nfft=512, preemph=0)`: rectangular 400-sample frames every 160,
/// power spectrum `|X|² / 512`, 64 triangular mel filters on FFT bins
/// `floor(513 · mel⁻¹(m) / 16000)`, natural log (zeros become `f64::EPSILON`).
/// Computed in `f64` as numpy does; no allocation per call.
pub struct LogFbank {
    fft: Arc<dyn RealToComplex<f64>>,
    frame: Vec<f64>,
    spec: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
    /// Per band: first FFT bin and weights.
    filters: Vec<(usize, Vec<f64>)>,
}

impl std::fmt::Debug for LogFbank {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogFbank").finish_non_exhaustive()
    }
}

fn hz2mel(hz: f64) -> f64 {
    2595.0 * (1.0 + hz / 700.0).log10()
}

fn mel2hz(mel: f64) -> f64 {
    700.0 * (10f64.powf(mel / 2595.0) - 1.0)
}

impl Default for LogFbank {
    fn default() -> Self {
        Self::new()
    }
}

impl LogFbank {
    /// Plans the FFT and builds the filterbank.
    pub fn new() -> Self {
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(NFFT);
        let hi = hz2mel(SAMPLE_RATE as f64 / 2.0);
        let bins: Vec<usize> = (0..BANDS + 2)
            .map(|i| {
                let m = hi * i as f64 / (BANDS + 1) as f64;
                ((NFFT + 1) as f64 * mel2hz(m) / SAMPLE_RATE as f64).floor() as usize
            })
            .collect();
        let filters = (0..BANDS)
            .map(|j| {
                let (a, b, c) = (bins[j], bins[j + 1], bins[j + 2]);
                let mut w = Vec::with_capacity(c - a);
                for i in a..b {
                    w.push((i - a) as f64 / (b - a) as f64);
                }
                for i in b..c {
                    w.push((c - i) as f64 / (c - b) as f64);
                }
                (a, w)
            })
            .collect();
        LogFbank {
            frame: fft.make_input_vec(),
            spec: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            fft,
            filters,
        }
    }

    /// Writes the `FRAMES × BANDS` log filterbank of a [`WINDOW`]-sample
    /// window into `out` (row-major).
    ///
    /// # Panics
    /// If `window` is not [`WINDOW`] samples or `out` not `FRAMES * BANDS`.
    pub fn compute(&mut self, window: &[f32], out: &mut [f32]) {
        assert_eq!(window.len(), WINDOW);
        assert_eq!(out.len(), FRAMES * BANDS);
        for (f, row) in out.chunks_exact_mut(BANDS).enumerate() {
            let start = f * FRAME_STEP;
            self.frame.iter_mut().for_each(|v| *v = 0.0);
            for (i, v) in self.frame[..FRAME_LEN].iter_mut().enumerate() {
                *v = window.get(start + i).copied().unwrap_or(0.0) as f64;
            }
            // Lengths are fixed at construction, so this cannot fail.
            let _ =
                self.fft
                    .process_with_scratch(&mut self.frame, &mut self.spec, &mut self.scratch);
            for ((a, w), o) in self.filters.iter().zip(row.iter_mut()) {
                let e: f64 = w
                    .iter()
                    .zip(&self.spec[*a..])
                    .map(|(w, x)| w * x.norm_sqr() / NFFT as f64)
                    .sum();
                *o = if e == 0.0 { f64::EPSILON.ln() } else { e.ln() } as f32;
            }
        }
    }
}

type Plan = Arc<TypedRunnableModel>;

/// The word embedding network with its filterbank: a [`WINDOW`] of audio → a
/// unit-length [`DIM`]-vector.
pub struct WordEmbedder {
    path: PathBuf,
    plan: Plan,
    fbank: LogFbank,
    feats: Vec<f32>,
}

impl std::fmt::Debug for WordEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WordEmbedder")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl WordEmbedder {
    /// The built-in model.
    pub fn builtin() -> Result<Self> {
        Self::from_bytes(BUILTIN_MODEL, Path::new(BUILTIN_NAME))
    }

    /// A model file (same input and output as the built-in one).
    pub fn from_file(path: &Path) -> Result<Self> {
        if !path.is_file() {
            return Err(Error::model(path, "model file not found"));
        }
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes, path)
    }

    /// Loads and optimizes a model from bytes; `path` names it in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let bad = |what: &str, e: TractError| Error::model(path, format!("{what}: {e}"));
        let mut model = tract_onnx::onnx()
            .model_for_read(&mut std::io::Cursor::new(bytes))
            .map_err(|e| bad("not a readable ONNX model", e))?;
        model
            .set_input_fact(0, f32::fact([1, 1, FRAMES, BANDS]).into())
            .map_err(|e| bad("does not take a [1, 1, 149, 64] input", e))?;
        let plan = model
            .into_optimized()
            .and_then(|m| m.into_runnable())
            .map_err(|e| bad("cannot optimize the model", e))?;
        let mut me = WordEmbedder {
            path: path.to_path_buf(),
            plan,
            fbank: LogFbank::new(),
            feats: vec![0.0; FRAMES * BANDS],
        };
        let mut probe = vec![0.0; DIM];
        me.embed(&vec![0.0; WINDOW], &mut probe)?;
        Ok(me)
    }

    /// Embeds a [`WINDOW`]-sample window into `out` ([`DIM`] values, unit length).
    pub fn embed(&mut self, window: &[f32], out: &mut [f32]) -> Result<()> {
        if window.len() != WINDOW || out.len() != DIM {
            return Err(Error::invalid(format!(
                "word embedding takes {WINDOW} samples into {DIM} values, got {} into {}",
                window.len(),
                out.len()
            )));
        }
        self.fbank.compute(window, &mut self.feats);
        // One tensor per call (about 38 KB): verification runs per candidate, not per frame.
        let input = Tensor::from_shape(&[1, 1, FRAMES, BANDS], &self.feats)
            .map_err(|e| Error::invalid(e.to_string()))?;
        let res = self
            .plan
            .run(tvec!(input.into()))
            .map_err(|e| Error::model(&self.path, format!("inference failed: {e}")))?;
        let y = res
            .first()
            .ok_or_else(|| Error::model(&self.path, "model gave no output"))?
            .try_as_plain_ram()
            .map_err(|e| Error::model(&self.path, format!("output: {e}")))?
            .as_slice::<f32>()
            .map_err(|e| Error::model(&self.path, format!("output is not f32: {e}")))?;
        if y.len() != DIM {
            return Err(Error::model(
                &self.path,
                format!("output has {} values, expected {DIM}", y.len()),
            ));
        }
        let n = y.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        for (o, v) in out.iter_mut().zip(y) {
            *o = v / n;
        }
        Ok(())
    }

    /// Embeds the window of `samples` centred on sample `centre` (zero-padded
    /// where it runs past either end). `buf` is a [`WINDOW`]-sample scratch.
    pub fn embed_centred(
        &mut self,
        samples: &[f32],
        centre: i64,
        buf: &mut [f32],
        out: &mut [f32],
    ) -> Result<()> {
        centred_window(samples, centre, buf);
        self.embed(buf, out)
    }
}

/// Copies the [`WINDOW`] samples of `samples` centred on `centre` into `out`,
/// zero where the window runs past either end.
pub fn centred_window(samples: &[f32], centre: i64, out: &mut [f32]) {
    let a = centre - (WINDOW / 2) as i64;
    for (i, o) in out.iter_mut().enumerate() {
        let j = a + i as i64;
        *o = if j >= 0 && (j as usize) < samples.len() {
            samples[j as usize]
        } else {
            0.0
        };
    }
}

/// An enrollment take's embedding: the take centred in the window (its middle
/// [`WINDOW`] samples if longer).
pub fn embed_take(embedder: &mut WordEmbedder, take: &[f32]) -> Result<Vec<f32>> {
    let mut buf = vec![0.0; WINDOW];
    let mut out = vec![0.0; DIM];
    embedder.embed_centred(take, (take.len() / 2) as i64, &mut buf, &mut out)?;
    Ok(out)
}

/// Standardisation of a keyword's verifier similarity, fitted on windows of
/// keyword-free speech.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VerifierNorm {
    /// Mean best similarity to the takes over background windows.
    pub mean: f32,
    /// Its standard deviation (floored at 1e-3).
    pub std: f32,
}

impl VerifierNorm {
    /// Fits on the best similarities of background windows; `None` if fewer than 8.
    pub fn fit(sims: &[f32]) -> Option<Self> {
        let v: Vec<f64> = sims
            .iter()
            .filter(|x| x.is_finite())
            .map(|&x| x as f64)
            .collect();
        if v.len() < 8 {
            return None;
        }
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
        Some(VerifierNorm {
            mean: mean as f32,
            std: (var.sqrt() as f32).max(1e-3),
        })
    }

    /// The standardised similarity.
    pub fn apply(&self, sim: f32) -> f32 {
        (sim - self.mean) / self.std
    }
}

/// Best cosine similarity of the unit vector `v` to any of `refs`.
pub fn best_similarity(refs: &[Vec<f32>], v: &[f32]) -> f32 {
    refs.iter()
        .map(|r| r.iter().zip(v).map(|(a, b)| a * b).sum::<f32>())
        .fold(f32::NEG_INFINITY, f32::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filterbank_matches_python_speech_features_bins() {
        let fb = LogFbank::new();
        // numpy: floor(513 * mel2hz(linspace(0, hz2mel(8000), 66)) / 16000)
        assert_eq!(fb.filters[0].0, 0);
        assert_eq!(fb.filters[63].0 + fb.filters[63].1.len(), 256);
        assert!(fb.filters.iter().all(|(_, w)| !w.is_empty()));
    }

    #[test]
    fn silent_window_is_log_epsilon() {
        let mut fb = LogFbank::new();
        let mut out = vec![0.0; FRAMES * BANDS];
        fb.compute(&vec![0.0; WINDOW], &mut out);
        assert!(out
            .iter()
            .all(|&v| (v - f64::EPSILON.ln() as f32).abs() < 1e-3));
    }

    #[test]
    fn centred_window_pads_with_zeros() {
        let x: Vec<f32> = (1..=100).map(|v| v as f32).collect();
        let mut w = vec![9.0; WINDOW];
        centred_window(&x, 50, &mut w);
        let a = WINDOW / 2 - 50;
        assert_eq!(w[a - 1], 0.0);
        assert_eq!(w[a], 1.0);
        assert_eq!(w[a + 99], 100.0);
        assert_eq!(w[a + 100], 0.0);
    }

    #[test]
    fn norm_fits_and_refuses_too_few() {
        assert!(VerifierNorm::fit(&[0.1; 5]).is_none());
        let n = VerifierNorm::fit(&[0.0, 0.2, 0.0, 0.2, 0.0, 0.2, 0.0, 0.2]).unwrap();
        assert!((n.mean - 0.1).abs() < 1e-6 && (n.std - 0.1).abs() < 1e-6);
        assert!((n.apply(0.3) - 2.0).abs() < 1e-5);
    }
}
