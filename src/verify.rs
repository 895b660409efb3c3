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
#[cfg(feature = "embedding")]
use tract_onnx::prelude::*;

use crate::templates::Keyword;
use crate::{audio, Error, Result, SAMPLE_RATE};

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
#[cfg(feature = "embedding")]
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

#[cfg(feature = "embedding")]
type Plan = Arc<TypedRunnableModel>;
#[cfg(not(feature = "embedding"))]
type Plan = std::convert::Infallible;

/// The word embedding network with its filterbank: a [`WINDOW`] of audio → a
/// unit-length [`DIM`]-vector. Clones share the optimized model.
pub struct WordEmbedder {
    path: PathBuf,
    plan: Plan,
    fbank: LogFbank,
    feats: Vec<f32>,
}

impl Clone for WordEmbedder {
    fn clone(&self) -> Self {
        WordEmbedder {
            path: self.path.clone(),
            plan: self.plan.clone(),
            fbank: LogFbank::new(),
            feats: vec![0.0; FRAMES * BANDS],
        }
    }
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
        #[cfg(feature = "embedding")]
        return Self::from_bytes(BUILTIN_MODEL, Path::new(BUILTIN_NAME));
        #[cfg(not(feature = "embedding"))]
        return Self::from_bytes(&[], Path::new(BUILTIN_NAME));
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
        let mut me = WordEmbedder {
            path: path.to_path_buf(),
            plan: load_plan(bytes, path)?,
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
        run_plan(&self.plan, &self.path, &self.feats, out)?;
        let n = out.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        out.iter_mut().for_each(|v| *v /= n);
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

#[cfg(feature = "embedding")]
fn load_plan(bytes: &[u8], path: &Path) -> Result<Plan> {
    let bad = |what: &str, e: TractError| Error::model(path, format!("{what}: {e}"));
    let mut model = tract_onnx::onnx()
        .model_for_read(&mut std::io::Cursor::new(bytes))
        .map_err(|e| bad("not a readable ONNX model", e))?;
    model
        .set_input_fact(0, f32::fact([1, 1, FRAMES, BANDS]).into())
        .map_err(|e| bad("does not take a [1, 1, 149, 64] input", e))?;
    model
        .into_optimized()
        .and_then(|m| m.into_runnable())
        .map_err(|e| bad("cannot optimize the model", e))
}

#[cfg(not(feature = "embedding"))]
fn load_plan(_bytes: &[u8], path: &Path) -> Result<Plan> {
    Err(Error::model(
        path,
        "this build has no ONNX runtime (built without the `embedding` feature)",
    ))
}

/// Runs the network on `feats` (`FRAMES × BANDS`) into `out` ([`DIM`] values).
#[cfg(feature = "embedding")]
fn run_plan(plan: &Plan, path: &Path, feats: &[f32], out: &mut [f32]) -> Result<()> {
    // One tensor per call (about 38 KB): verification runs per candidate, not per frame.
    let input = Tensor::from_shape(&[1, 1, FRAMES, BANDS], feats)
        .map_err(|e| Error::invalid(e.to_string()))?;
    let res = plan
        .run(tvec!(input.into()))
        .map_err(|e| Error::model(path, format!("inference failed: {e}")))?;
    let y = res
        .first()
        .ok_or_else(|| Error::model(path, "model gave no output"))?
        .try_as_plain_ram()
        .map_err(|e| Error::model(path, format!("output: {e}")))?
        .as_slice::<f32>()
        .map_err(|e| Error::model(path, format!("output is not f32: {e}")))?;
    if y.len() != DIM {
        return Err(Error::model(
            path,
            format!("output has {} values, expected {DIM}", y.len()),
        ));
    }
    out.copy_from_slice(y);
    Ok(())
}

#[cfg(not(feature = "embedding"))]
fn run_plan(plan: &Plan, _path: &Path, _feats: &[f32], _out: &mut [f32]) -> Result<()> {
    match *plan {}
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
/// keyword-free speech: robust location and scale (median and 1.4826 × the
/// median absolute deviation), so a few windows that do hold the word (the
/// built-in cohort has "computer" clips) do not inflate the scale.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VerifierNorm {
    /// Median best similarity to the takes over background windows.
    pub mean: f32,
    /// 1.4826 × its median absolute deviation (floored at 1e-3).
    pub std: f32,
}

fn median(v: &mut [f32]) -> f32 {
    v.sort_by(f32::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

impl VerifierNorm {
    /// Fits on the best similarities of background windows; `None` if fewer
    /// than 8 are finite.
    pub fn fit(sims: &[f32]) -> Option<Self> {
        let mut v: Vec<f32> = sims.iter().copied().filter(|x| x.is_finite()).collect();
        if v.len() < 8 {
            return None;
        }
        let m = median(&mut v);
        let mut dev: Vec<f32> = v.iter().map(|x| (x - m).abs()).collect();
        let mad = median(&mut dev);
        Some(VerifierNorm {
            mean: m,
            std: (1.4826 * mad).max(1e-3),
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

/// How verification turns a DTW candidate into a score. The candidate's
/// normalised DTW score `z` ([`crate::detector::ScoreNorm`]) becomes
/// `z - weight * clamp(v, lo, hi)`, where `v` is the standardised similarity of
/// the candidate's window to the takes ([`VerifierNorm`]); thresholds are then
/// on that score. Only candidates with `z <= candidate` are verified.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VerifierConfig {
    /// Weight of the standardised similarity.
    pub weight: f32,
    /// Highest normalised DTW score verified.
    pub candidate: f32,
    /// Lower clamp of the standardised similarity.
    pub lo: f32,
    /// Upper clamp of the standardised similarity.
    pub hi: f32,
}

impl Default for VerifierConfig {
    /// The settings measured on the cross-speaker benchmark (issue 12): weight
    /// 0.5, candidates at `z <= -2`, similarity clamped to [-3, 10].
    fn default() -> Self {
        VerifierConfig {
            weight: 0.5,
            candidate: -2.0,
            lo: -3.0,
            hi: 10.0,
        }
    }
}

impl VerifierConfig {
    /// The verified score of a candidate with normalised DTW score `z` and
    /// standardised similarity `v`.
    pub fn score(&self, z: f32, v: f32) -> f32 {
        let v = if v.is_nan() {
            self.lo
        } else {
            v.clamp(self.lo, self.hi)
        };
        z - self.weight * v
    }

    /// The DTW threshold that proposes every candidate that could reach a
    /// verified `threshold`: at least [`VerifierConfig::candidate`].
    pub fn proposal_threshold(&self, threshold: f32) -> f32 {
        self.candidate.max(threshold + self.weight * self.lo.abs())
    }
}

/// Default threshold on verified scores, with similarity norms fitted on the
/// built-in cohort. On the cross-speaker benchmark (2 × 30 min, 4 keywords;
/// measured offline on the detector's candidates with onnxruntime) it gave
/// 0.25 false alarms per keyword-hour at 29% missed (seed 12) and 1.5 at 36%
/// (seed 7).
pub const DEFAULT_VERIFIED_THRESHOLD: f32 = -6.0;

/// Samples a verification needs on each side of a candidate's centre (half a
/// window: the window is centred on the candidate).
pub const REACH: usize = WINDOW / 2;

/// What a keyword's manifest stores about its verifier.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VerifierEntry {
    /// Standardisation of the similarity, fitted on the built-in cohort.
    pub norm: VerifierNorm,
    /// Settings the keyword's threshold was set with.
    pub config: VerifierConfig,
}

/// The sample at the centre of a candidate running from `start` to `end` seconds.
pub fn centre_sample(start: f64, end: f64) -> i64 {
    ((start + end) * 0.5 * SAMPLE_RATE as f64).round() as i64
}

/// The second stage for a set of keywords: their takes' embeddings and
/// similarity norms, with one model.
#[derive(Debug, Clone)]
pub struct Cascade {
    embedder: WordEmbedder,
    refs: Vec<Vec<Vec<f32>>>,
    entries: Vec<VerifierEntry>,
    buf: Vec<f32>,
    emb: Vec<f32>,
}

impl Cascade {
    /// The cascade for `keywords` with the built-in model, or `None` when some
    /// keyword has no verifier entry (enrolled before verification existed,
    /// or without a cohort match): verification is all or nothing, so one
    /// threshold scale holds for every keyword.
    pub fn for_keywords(keywords: &[Keyword]) -> Result<Option<Cascade>> {
        let Some(entries) = keywords
            .iter()
            .map(|k| k.manifest.verifier)
            .collect::<Option<Vec<_>>>()
        else {
            return Ok(None);
        };
        if keywords.is_empty() || !cfg!(feature = "embedding") {
            return Ok(None);
        }
        let mut embedder = WordEmbedder::builtin()?;
        let refs = keywords
            .iter()
            .map(|k| take_refs(&mut embedder, k))
            .collect::<Result<_>>()?;
        Ok(Some(Cascade {
            embedder,
            refs,
            entries,
            buf: vec![0.0; WINDOW],
            emb: vec![0.0; DIM],
        }))
    }

    /// The settings of keyword `k`.
    pub fn config(&self, k: usize) -> VerifierConfig {
        self.entries[k].config
    }

    /// The verifier entry of keyword `k` (to store in its manifest).
    pub fn entry(&self, k: usize) -> VerifierEntry {
        self.entries[k]
    }

    /// Refits every keyword's similarity norm on `background` (recordings
    /// without the keywords; windows every 0.75 s, at most
    /// [`MAX_NORM_WINDOWS`] spread over them), in parallel. A keyword keeps its
    /// norm when the background gives too few windows.
    pub fn refit(&mut self, background: &[Vec<f32>]) -> Result<()> {
        use rayon::prelude::*;
        let all: Vec<(usize, i64)> = background
            .iter()
            .enumerate()
            .flat_map(|(i, x)| norm_centres(x.len()).map(move |c| (i, c)))
            .collect();
        let step = all.len().div_ceil(MAX_NORM_WINDOWS).max(1);
        let embs: Vec<Vec<f32>> = all
            .par_iter()
            .step_by(step)
            .map_init(
                || (self.embedder.clone(), vec![0.0; WINDOW]),
                |(e, buf), &(i, c)| {
                    let mut out = vec![0.0; DIM];
                    e.embed_centred(&background[i], c, buf, &mut out)?;
                    Ok(out)
                },
            )
            .collect::<Result<_>>()?;
        for (refs, entry) in self.refs.iter().zip(&mut self.entries) {
            let sims: Vec<f32> = embs.iter().map(|v| best_similarity(refs, v)).collect();
            if let Some(n) = VerifierNorm::fit(&sims) {
                entry.norm = n;
            }
        }
        Ok(())
    }

    /// The standardised similarity of keyword `k` to the window centred on
    /// sample `centre`, where `samples[0]` is stream sample `first` (samples
    /// outside `samples` count as silence). One window: windows 0.15 s either
    /// side as well scored the same on the benchmark's candidates (miss at
    /// 1 FA/h 26.2% both, offline) at three times the cost.
    pub fn similarity(
        &mut self,
        k: usize,
        samples: &[f32],
        first: i64,
        centre: i64,
    ) -> Result<f32> {
        centred_window(samples, centre - first, &mut self.buf);
        self.embedder.embed(&self.buf, &mut self.emb)?;
        Ok(self.entries[k]
            .norm
            .apply(best_similarity(&self.refs[k], &self.emb)))
    }

    /// The verified score of a candidate of keyword `k` with normalised DTW
    /// score `z` over `start..end` seconds.
    pub fn rescore(
        &mut self,
        k: usize,
        z: f32,
        samples: &[f32],
        first: i64,
        start: f64,
        end: f64,
    ) -> Result<f32> {
        let v = self.similarity(k, samples, first, centre_sample(start, end))?;
        Ok(self.entries[k].config.score(z, v))
    }
}

/// The embeddings of a keyword's stored takes.
pub fn take_refs(embedder: &mut WordEmbedder, k: &Keyword) -> Result<Vec<Vec<f32>>> {
    k.manifest
        .takes
        .iter()
        .map(|t| {
            let x = audio::read_file(&k.dir.join(&t.file))?;
            embed_take(embedder, &x)
        })
        .collect()
}

/// Embeddings of the background windows of `samples` (every 0.75 s, as
/// norms are fitted).
pub fn background_embeddings(
    embedder: &mut WordEmbedder,
    samples: &[f32],
) -> Result<Vec<Vec<f32>>> {
    let mut buf = vec![0.0; WINDOW];
    norm_centres(samples.len())
        .map(|c| {
            let mut out = vec![0.0; DIM];
            embedder.embed_centred(samples, c, &mut buf, &mut out)?;
            Ok(out)
        })
        .collect()
}

/// Fits a norm on precomputed background embeddings (see [`background_embeddings`]).
pub fn fit_norm_on(embeddings: &[Vec<f32>], refs: &[Vec<f32>]) -> Option<VerifierNorm> {
    let sims: Vec<f32> = embeddings
        .iter()
        .map(|v| best_similarity(refs, v))
        .collect();
    VerifierNorm::fit(&sims)
}

/// Most background windows a norm is fitted on (about 25 min of audio at the
/// 0.75 s step; longer background is subsampled evenly).
pub const MAX_NORM_WINDOWS: usize = 2000;

/// Centres of the background windows of a recording of `len` samples: every
/// 0.75 s, each window inside the recording.
fn norm_centres(len: usize) -> impl Iterator<Item = i64> {
    let half = WINDOW / 2;
    (half..=len.saturating_sub(half))
        .step_by(12_000)
        .map(|c| c as i64)
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
        // Median 0.1, deviations 0.1 (the outlier moves neither much).
        let n = VerifierNorm::fit(&[0.0, 0.1, 0.2, 0.0, 0.1, 0.2, 0.1, 0.1, 9.0]).unwrap();
        assert!((n.mean - 0.1).abs() < 1e-6, "{n:?}");
        assert!((n.std - 1.4826 * 0.1).abs() < 1e-5, "{n:?}");
        assert!((n.apply(0.1 + 2.0 * n.std) - 2.0).abs() < 1e-4);
    }
}
