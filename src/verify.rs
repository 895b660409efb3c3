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

/// Samples of the raised-cosine ramp at each edge of a [`silence_outside`] mask (5 ms).
const RAMP: i64 = 80;

/// Silences `window` outside samples `from..to` (indices into the window,
/// clamped), with a [`RAMP`]-sample raised-cosine ramp inside each edge so
/// the cut adds no click to the filterbank.
pub fn silence_outside(window: &mut [f32], from: i64, to: i64) {
    let n = window.len() as i64;
    let (a, b) = (from.clamp(0, n), to.clamp(0, n));
    for (i, v) in window.iter_mut().enumerate() {
        let i = i as i64;
        let g = if i < a || i >= b {
            0.0
        } else {
            // Ramp only where the span is cut, not at the window's edges.
            let left = if from > 0 { i - a } else { RAMP };
            let right = if to < n { b - 1 - i } else { RAMP };
            let d = left.min(right);
            if d >= RAMP {
                1.0
            } else {
                0.5 - 0.5 * (std::f32::consts::PI * (d as f32 + 0.5) / RAMP as f32).cos()
            }
        };
        *v *= g;
    }
}

/// Silences a [`WINDOW`] centred on a match over `start..end` seconds
/// (as [`centre_sample`] centres it) outside the match and `margin` seconds
/// on either side of it.
pub fn mask_to_match(window: &mut [f32], start: f64, end: f64, margin: f32) {
    let a = centre_sample(start, end) - REACH as i64;
    let sr = SAMPLE_RATE as f64;
    let from = ((start - margin as f64) * sr).round() as i64 - a;
    let to = ((end + margin as f64) * sr).round() as i64 - a;
    silence_outside(window, from, to);
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
    /// Seconds of audio kept on each side of a candidate's match in its
    /// window; the rest is silenced, as around the takes (whose windows are
    /// the trimmed take padded with zeros). `None`: the whole window, context
    /// and all.
    #[serde(default)]
    pub margin: Option<f32>,
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
            margin: None,
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

    /// With a [`VerifierConfig::margin`], the samples a background window
    /// keeps around its centre when the norm is fitted for takes whose median
    /// length is `take_len` samples: the take plus the margin on each side.
    pub fn norm_span(&self, take_len: usize) -> Option<usize> {
        let m = self.margin?;
        Some(take_len + 2 * (m.max(0.0) * SAMPLE_RATE as f32) as usize)
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
    /// Per keyword, the median length of its takes in samples (the span a
    /// background window keeps when candidates are masked).
    take_len: Vec<usize>,
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
        let (refs, take_len) = keywords
            .iter()
            .map(|k| take_refs(&mut embedder, k))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .unzip();
        Ok(Some(Cascade {
            embedder,
            refs,
            take_len,
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
        let embed_all = |keep: Option<usize>| -> Result<Vec<Vec<f32>>> {
            all.par_iter()
                .step_by(step)
                .map_init(
                    || (self.embedder.clone(), vec![0.0; WINDOW]),
                    |(e, buf), &(i, c)| embed_background_window(e, &background[i], c, keep, buf),
                )
                .collect()
        };
        // Unmasked windows serve every keyword; masked ones are per keyword.
        let mut shared: Option<Vec<Vec<f32>>> = None;
        for k in 0..self.refs.len() {
            let keep = self.norm_span(k);
            let masked;
            let embs = match keep {
                Some(w) => {
                    masked = embed_all(Some(w))?;
                    &masked
                }
                None => {
                    if shared.is_none() {
                        shared = Some(embed_all(None)?);
                    }
                    shared.as_ref().expect("just set")
                }
            };
            let sims: Vec<f32> = embs
                .iter()
                .map(|v| best_similarity(&self.refs[k], v))
                .collect();
            if let Some(n) = VerifierNorm::fit(&sims) {
                self.entries[k].norm = n;
            }
        }
        Ok(())
    }

    /// Samples a background window of keyword `k` keeps around its centre
    /// when candidates are masked ([`VerifierConfig::margin`]): the median
    /// take plus the margin on each side.
    fn norm_span(&self, k: usize) -> Option<usize> {
        self.entries[k].config.norm_span(self.take_len[k])
    }

    /// The standardised similarity of keyword `k` to the window centred on
    /// a match over `start..end` seconds, where `samples[0]` is stream sample
    /// `first` (samples outside `samples` count as silence). With a
    /// [`VerifierConfig::margin`] only the match and that margin are heard.
    /// One window: windows 0.15 s either side as well scored the same on the
    /// benchmark's candidates (miss at 1 FA/h 26.2% both, offline) at three
    /// times the cost.
    pub fn similarity(
        &mut self,
        k: usize,
        samples: &[f32],
        first: i64,
        start: f64,
        end: f64,
    ) -> Result<f32> {
        let centre = centre_sample(start, end);
        centred_window(samples, centre - first, &mut self.buf);
        if let Some(m) = self.entries[k].config.margin {
            mask_to_match(&mut self.buf, start, end, m);
        }
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
        let v = self.similarity(k, samples, first, start, end)?;
        Ok(self.entries[k].config.score(z, v))
    }
}

/// The embeddings of a keyword's stored takes, and their median length in samples.
pub fn take_refs(embedder: &mut WordEmbedder, k: &Keyword) -> Result<(Vec<Vec<f32>>, usize)> {
    let mut lens = Vec::with_capacity(k.manifest.takes.len());
    let refs = k
        .manifest
        .takes
        .iter()
        .map(|t| {
            let x = audio::read_file(&k.dir.join(&t.file))?;
            lens.push(x.len());
            embed_take(embedder, &x)
        })
        .collect::<Result<_>>()?;
    lens.sort_unstable();
    Ok((refs, lens.get(lens.len() / 2).copied().unwrap_or(0)))
}

/// Silences a window outside its middle `keep` samples (see [`silence_outside`]).
pub fn keep_middle(window: &mut [f32], keep: usize) {
    let n = window.len() as i64;
    let a = (n - keep as i64) / 2;
    silence_outside(window, a, a + keep as i64);
}

/// Embeddings of the background windows of `samples` (every 0.75 s, as
/// norms are fitted), each silenced outside its middle `keep` samples when
/// given.
pub fn background_embeddings(
    embedder: &mut WordEmbedder,
    samples: &[f32],
    keep: Option<usize>,
) -> Result<Vec<Vec<f32>>> {
    let mut buf = vec![0.0; WINDOW];
    norm_centres(samples.len())
        .map(|c| embed_background_window(embedder, samples, c, keep, &mut buf))
        .collect()
}

/// The embedding of the background window of `samples` centred on sample
/// `c`, silenced outside its middle `keep` samples when given; `buf` is a
/// [`WINDOW`]-sample scratch.
fn embed_background_window(
    embedder: &mut WordEmbedder,
    samples: &[f32],
    c: i64,
    keep: Option<usize>,
    buf: &mut [f32],
) -> Result<Vec<f32>> {
    let mut out = vec![0.0; DIM];
    centred_window(samples, c, buf);
    if let Some(keep) = keep {
        keep_middle(buf, keep);
    }
    embedder.embed(buf, &mut out)?;
    Ok(out)
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
    fn silence_outside_keeps_the_span_with_ramps() {
        let mut w = vec![1.0f32; 1000];
        silence_outside(&mut w, 200, 600);
        assert!(w[..200].iter().all(|&v| v == 0.0));
        assert!(w[600..].iter().all(|&v| v == 0.0));
        assert!(w[200 + RAMP as usize..600 - RAMP as usize]
            .iter()
            .all(|&v| v == 1.0));
        // Ramps rise monotonically from near 0 to near 1.
        assert!(w[200] > 0.0 && w[200] < 0.01, "{}", w[200]);
        assert!(w[200..280].windows(2).all(|p| p[0] <= p[1]));
        assert!((w[599] - w[200]).abs() < 1e-6);
        // Spans past either end are clamped.
        let mut w = vec![1.0f32; 100];
        silence_outside(&mut w, -50, 500);
        assert_eq!(w[50], 1.0);
    }

    #[test]
    fn mask_to_match_keeps_the_match_and_its_margins() {
        // A match over 2.0-2.5 s: the window is centred on 2.25 s, so it
        // starts at 1.5 s; with 0.1 s margins it keeps 1.9-2.6 s, i.e.
        // window samples 6400..17600.
        let mut w = vec![1.0f32; WINDOW];
        mask_to_match(&mut w, 2.0, 2.5, 0.1);
        assert_eq!(w[6399], 0.0);
        assert!(w[6400] > 0.0);
        assert_eq!(w[12_000], 1.0);
        assert!(w[17_599] > 0.0);
        assert_eq!(w[17_600], 0.0);
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
