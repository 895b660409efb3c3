//! wav2vec2-family encoders (wav2vec2, XLS-R, HuBERT, WavLM) exported to ONNX by
//! `models/export.py`, run by tract on the CPU.
//!
//! The model is loaded once with a symbolic time axis and optimized once; inputs
//! of any length then run without re-optimisation. [`Wav2vec2::infer`] encodes a
//! whole input in one pass.
//!
//! Streaming (see [`chunker`]) emits chunks of frames, each computed in a window
//! with some left context and right look-ahead. For models whose graph has the
//! Hugging Face layout (all `models/export.py` exports), the graph is cut at the
//! transformer input and streaming is *incremental*: every conv feature-encoder
//! frame is computed once, when its 400 samples have arrived, and kept in a
//! ring; each window runs only the transformer part (feature projection,
//! positional convolution, layers) on the cached frames of
//! context + chunk + look-ahead. What the streamed frames equal:
//!
//! * without waveform normalization and with a per-frame-normalized conv encoder
//!   (`feat_extract_norm: layer`: XLS-R/large, the test fixture), exactly the
//!   frames of chunked streaming (each window re-encoding its audio), up to float
//!   rounding: the conv frames are the same numbers, computed once;
//! * with waveform normalization, each new stretch of audio is scaled with the
//!   mean and variance of its whole window (as chunked streaming does), so a
//!   context frame keeps the scaling of the window that first convolved it;
//! * wav2vec2-base's conv encoder (`feat_extract_norm: group`) normalizes each
//!   channel over the time of one call: incrementally that is the newly
//!   convolved stretch (one chunk), chunked it is the window, whole-file the file.
//!
//! Self-attention and the positional convolution see only the window, so streamed
//! frames are close to, not identical to, whole-input frames. Models that cannot be
//! cut stream chunked.

pub mod chunker;
pub mod sidecar;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ndarray::{Array2, Array3};
use tract_onnx::prelude::*;

use super::{Frontend, FrontendConfig, Wav2vec2Config};
use crate::{Error, Result, SAMPLE_RATE};
use chunker::{Chunker, Window};
pub use sidecar::Sidecar;

/// How a loaded model is run.
#[derive(Debug, Clone)]
enum Plans {
    /// The graph could not be cut at the transformer input: one plan, waveform → output.
    Whole(Arc<TypedRunnableModel>),
    /// The graph cut in two at the transformer input (see [`Wav2vec2Model::is_split`]).
    Split {
        /// Waveform `[1, samples]` → conv features `[1, frames, conv_dim]`.
        conv: Arc<TypedRunnableModel>,
        /// Conv features `[1, frames, conv_dim]` → output `[layers, frames, dim]`.
        transformer: Arc<TypedRunnableModel>,
        /// Channels of the conv feature encoder's output (512 in every wav2vec2 geometry).
        conv_dim: usize,
        /// The two parts before optimization, with their symbolic time axes, to
        /// build plans for one fixed input length ([`Wav2vec2Model::prepare_fixed`]).
        typed: Arc<(TypedModel, Symbol, TypedModel, Symbol)>,
        /// Plans optimized for one input length: (conv part?, length, plan).
        fixed: Arc<Mutex<Vec<FixedPlan>>>,
    },
}

/// A plan optimized for one input length: (conv part?, samples or frames, plan).
type FixedPlan = (bool, usize, Arc<TypedRunnableModel>);

/// A loaded, optimized model plus what its sidecar says about it.
///
/// When the graph has the Hugging Face layout (a `feature_projection` after the
/// conv feature encoder, as every `models/export.py` export has), it is cut there
/// into two plans: the conv feature encoder (local: each output frame depends
/// only on its own 400 samples when the encoder normalizes per frame) and the
/// rest (feature projection, positional convolution, transformer layers).
/// Streaming then convolves each sample once and keeps the conv frames; see
/// [`Wav2vec2`]. Other graphs run whole, as one plan.
#[derive(Debug, Clone)]
pub struct Wav2vec2Model {
    path: PathBuf,
    sidecar: Sidecar,
    plans: Plans,
    /// Why the graph was not cut (when it was not).
    split_note: Option<String>,
    /// Threads for tract's matrix products (1: the calling thread only).
    threads: usize,
    #[cfg(feature = "wav2vec2-threads")]
    pool: Option<tract_onnx::prelude::multithread::Executor>,
}

/// Environment variable giving the wav2vec2 frontend's thread count (default 1;
/// more than 1 needs the `wav2vec2-threads` build feature).
pub const THREADS_ENV: &str = "WORDSPOT_W2V_THREADS";

/// Turns a tract error into a one-line [`Error::model`].
fn model_err(path: &Path, what: &str, e: impl std::fmt::Display) -> Error {
    let msg = format!("{what}: {e:#}").replace('\n', " ");
    Error::model(path, msg)
}

/// The outlet feeding the first `feature_projection` node: the conv feature
/// encoder's output `[1, frames, conv_dim]` (Hugging Face's `extract_features`).
fn find_cut(model: &InferenceModel) -> Option<OutletId> {
    // ONNX node order is topological: the first such node is the LayerNorm (or
    // projection) reading the conv output; weights are not nodes with inputs.
    model
        .nodes()
        .iter()
        .filter(|n| n.name.contains("/feature_projection/"))
        .filter_map(|n| n.inputs.first().map(|o| (n.id, *o)))
        .filter(|(_, o)| !model.node(o.node).name.contains("feature_projection"))
        .min_by_key(|(id, _)| *id)
        .map(|(_, o)| o)
}

/// Cuts `model` (input fact already set) at the conv encoder output. Returns
/// the two typed models, or why it could not.
fn split_model(
    model: &InferenceModel,
) -> std::result::Result<(TypedModel, TypedModel, usize, Symbol), String> {
    let cut = find_cut(model).ok_or("no feature_projection node in the graph")?;
    let mut conv = model.clone();
    conv.select_output_outlets(&[cut])
        .map_err(|e| format!("{e:#}"))?;
    let conv = conv
        .into_typed()
        .map_err(|e| format!("conv encoder: {e:#}"))?;
    let shape = conv
        .output_fact(0)
        .map_err(|e| format!("{e:#}"))?
        .shape
        .to_tvec();
    let conv_dim = match shape.as_slice() {
        [one, _, c] if one.to_i64().ok() == Some(1) => c
            .to_i64()
            .ok()
            .and_then(|v| usize::try_from(v).ok())
            .ok_or_else(|| format!("conv encoder output {shape:?} has a symbolic channel axis"))?,
        _ => {
            return Err(format!(
                "conv encoder output is {shape:?}, expected [1, frames, channels]"
            ))
        }
    };
    let mut tr = model.clone();
    let frames = tr.sym("conv_frames");
    let succ = tr.outlet_successors(cut).to_vec();
    let src = tr
        .add_source(
            "conv_features",
            f32::fact([TDim::from(1), frames.clone().into(), TDim::from(conv_dim)]).into(),
        )
        .map_err(|e| format!("{e:#}"))?;
    for inlet in succ {
        tr.add_edge(src, inlet).map_err(|e| format!("{e:#}"))?;
    }
    tr.set_input_outlets(&[src]).map_err(|e| format!("{e:#}"))?;
    let tr = tr.into_typed().map_err(|e| format!("transformer: {e:#}"))?;
    Ok((conv, tr, conv_dim, frames))
}

/// Optimizes a typed model into a runnable plan.
fn optimize(path: &Path, m: TypedModel) -> Result<Arc<TypedRunnableModel>> {
    m.into_optimized()
        .and_then(|m| m.into_runnable())
        .map_err(|e| model_err(path, "cannot optimize the model", e))
}

impl Wav2vec2Model {
    /// Loads `path` and its sidecar (`path` with a `.json` extension), checks that
    /// they agree, and optimizes the model for inputs of any length.
    pub fn load(path: &Path) -> Result<Wav2vec2Model> {
        if !path.is_file() {
            return Err(Error::model(path, "model file not found"));
        }
        let side_path = Sidecar::path_for(path);
        let sidecar = Sidecar::load(&side_path)?;
        let mut model = tract_onnx::onnx()
            .model_for_path(path)
            .map_err(|e| model_err(path, "not a readable ONNX model", e))?;

        let names: Vec<String> = model
            .input_outlets()
            .map_err(|e| model_err(path, "bad graph", e))?
            .iter()
            .map(|o| model.node(o.node).name.clone())
            .collect();
        if names.len() != 1 || names[0] != sidecar.input_name {
            return Err(Error::model(
                path,
                format!(
                    "model inputs are {names:?}, expected one f32 waveform input `{}` [1, samples] (as {} says)",
                    sidecar.input_name,
                    side_path.display()
                ),
            ));
        }
        check_declared_input(path, &model)?;
        // export.py names the time axis `samples`; reusing that symbol keeps the
        // shapes recorded inside the graph consistent with ours.
        let samples = model.sym("samples");
        model
            .set_input_fact(0, f32::fact([TDim::from(1), samples.clone().into()]).into())
            .map_err(|e| model_err(path, "cannot set the waveform input shape", e))?;
        let (plans, split_note) = match split_model(&model) {
            Ok((conv, tr, conv_dim, frames)) => {
                check_output(path, &side_path, &sidecar, &tr)?;
                let plans = Plans::Split {
                    conv: optimize(path, conv.clone())?,
                    transformer: optimize(path, tr.clone())?,
                    conv_dim,
                    typed: Arc::new((conv, samples, tr, frames)),
                    fixed: Arc::new(Mutex::new(Vec::new())),
                };
                (plans, None)
            }
            Err(why) => {
                let typed = model.into_typed().map_err(|e| {
                    model_err(path, "model does not accept a [1, samples] f32 waveform", e)
                })?;
                check_output(path, &side_path, &sidecar, &typed)?;
                (Plans::Whole(optimize(path, typed)?), Some(why))
            }
        };
        Ok(Wav2vec2Model {
            path: path.to_path_buf(),
            sidecar,
            plans,
            split_note,
            threads: 1,
            #[cfg(feature = "wav2vec2-threads")]
            pool: None,
        })
    }

    /// Runs tract's matrix products on `n` threads (≥ 1; 1 is the calling thread
    /// only). More than one needs the `wav2vec2-threads` build feature. Results do
    /// not depend on the thread count (tract splits work on row boundaries).
    pub fn with_threads(mut self, n: usize) -> Result<Wav2vec2Model> {
        if n == 0 {
            return Err(Error::invalid("wav2vec2 threads must be at least 1"));
        }
        #[cfg(feature = "wav2vec2-threads")]
        {
            use tract_onnx::prelude::multithread::Executor;
            self.pool = (n > 1).then(|| Executor::multithread_with_name(n, "wordspot-w2v"));
        }
        #[cfg(not(feature = "wav2vec2-threads"))]
        if n > 1 {
            return Err(Error::invalid(format!(
                "{n} wav2vec2 threads asked for, but this build runs one \
                 (rebuild with --features wav2vec2-threads)"
            )));
        }
        self.threads = n;
        Ok(self)
    }

    /// Threads used for the matrix products (see [`Self::with_threads`]).
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The model file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the sidecar says about the model.
    pub fn sidecar(&self) -> &Sidecar {
        &self.sidecar
    }

    /// True when the graph was cut into conv feature encoder + transformer, so
    /// streaming convolves each sample once (incremental streaming).
    pub fn is_split(&self) -> bool {
        matches!(self.plans, Plans::Split { .. })
    }

    /// Why the graph was not cut (`None` when [`Self::is_split`]).
    pub fn split_note(&self) -> Option<&str> {
        self.split_note.as_deref()
    }

    /// Builds (once per model and length; shared by clones) plans optimized for a
    /// fixed input length: the conv part for `conv_frames` output frames and the
    /// transformer part for `window_frames` frames. Streaming uses them for its
    /// steady-state windows: tract runs a plan with a symbolic time axis with a
    /// large fixed cost per call (measured ≈ 0.26 s of CPU per call for
    /// wav2vec2-base int8 L6 here, vs 0.17 s of compute per second of audio),
    /// which a fixed-length plan does not pay. No-op for uncut models.
    pub fn prepare_fixed(&self, conv_frames: usize, window_frames: usize) -> Result<()> {
        let Plans::Split { typed, fixed, .. } = &self.plans else {
            return Ok(());
        };
        let (hop, rf) = (self.sidecar.hop, self.sidecar.receptive_field);
        let conv_len = (conv_frames.max(1) - 1) * hop + rf;
        for (is_conv, len) in [(true, conv_len), (false, window_frames.max(1))] {
            if self.fixed_plan(is_conv, len).is_some() {
                continue;
            }
            let (m, sym) = if is_conv {
                (&typed.0, &typed.1)
            } else {
                (&typed.2, &typed.3)
            };
            let subs = HashMap::from([(sym.clone(), TDim::from(len as i64))]);
            let m = m
                .set_symbols(&subs)
                .map_err(|e| model_err(&self.path, "cannot fix the input length", e))?;
            let plan = optimize(&self.path, m)?;
            if let Ok(mut v) = fixed.lock() {
                v.push((is_conv, len, plan));
            }
        }
        Ok(())
    }

    /// The fixed-length plan for this part and length, if prepared.
    fn fixed_plan(&self, is_conv: bool, len: usize) -> Option<Arc<TypedRunnableModel>> {
        let Plans::Split { fixed, .. } = &self.plans else {
            return None;
        };
        let v = fixed.lock().ok()?;
        v.iter()
            .find(|(c, l, _)| *c == is_conv && *l == len)
            .map(|(_, _, p)| p.clone())
    }

    /// Channels of the conv feature encoder's output (`None` for an uncut model).
    pub fn conv_dim(&self) -> Option<usize> {
        match self.plans {
            Plans::Split { conv_dim, .. } => Some(conv_dim),
            Plans::Whole(_) => None,
        }
    }

    fn too_short(&self, n: usize) -> Error {
        Error::invalid(format!(
            "{n} samples are too few for one frame of {} (need {})",
            self.path.display(),
            self.sidecar.receptive_field
        ))
    }

    /// Runs the model once on `samples` (already normalized if the model expects it),
    /// hands the output (`[output layers, frames, dim]`, row-major) to `sink` and
    /// returns the frame count.
    fn run_raw(&self, samples: &[f32], sink: impl FnOnce(&[f32], usize)) -> Result<usize> {
        let frames = self.sidecar.frames_for(samples.len());
        if frames == 0 {
            return Err(self.too_short(samples.len()));
        }
        let input = Tensor::from_shape(&[1, samples.len()], samples)
            .map_err(|e| model_err(&self.path, "input", e))?;
        let out = match &self.plans {
            Plans::Whole(plan) => self.run_plan(plan, input.into_tvalue())?,
            Plans::Split {
                conv, transformer, ..
            } => {
                let feats = self.run_plan(conv, input.into_tvalue())?;
                self.run_plan(transformer, feats)?
            }
        };
        self.sink_output(&out, frames, sink)?;
        Ok(frames)
    }

    /// Runs the conv feature encoder on `samples` and appends its frames
    /// (`conv_dim` values each) to `feats`; returns the frame count.
    fn run_conv(&self, samples: &[f32], feats: &mut Vec<f32>) -> Result<usize> {
        let Plans::Split { conv, conv_dim, .. } = &self.plans else {
            return Err(Error::model(&self.path, "the model was not cut"));
        };
        let frames = self.sidecar.frames_for(samples.len());
        if frames == 0 {
            return Err(self.too_short(samples.len()));
        }
        let input = Tensor::from_shape(&[1, samples.len()], samples)
            .map_err(|e| model_err(&self.path, "input", e))?;
        let out = match self.fixed_plan(true, samples.len()) {
            Some(p) => self.run_plan(&p, input.into_tvalue())?,
            None => self.run_plan(conv, input.into_tvalue())?,
        };
        let shape = out.shape();
        if shape != [1, frames, *conv_dim] {
            return Err(Error::model(
                &self.path,
                format!(
                    "conv encoder output shape {shape:?} for {} samples, expected [1, {frames}, {conv_dim}]",
                    samples.len()
                ),
            ));
        }
        feats.extend_from_slice(self.plain(&out)?);
        Ok(frames)
    }

    /// Runs the transformer part on conv frames `feats` (`[frames, conv_dim]`,
    /// row-major) and hands the output to `sink` like [`Self::run_raw`].
    fn run_transformer(&self, feats: &[f32], sink: impl FnOnce(&[f32], usize)) -> Result<usize> {
        let Plans::Split {
            transformer,
            conv_dim,
            ..
        } = &self.plans
        else {
            return Err(Error::model(&self.path, "the model was not cut"));
        };
        let frames = feats.len() / conv_dim;
        let input = Tensor::from_shape(&[1, frames, *conv_dim], feats)
            .map_err(|e| model_err(&self.path, "conv features", e))?;
        let out = match self.fixed_plan(false, frames) {
            Some(p) => self.run_plan(&p, input.into_tvalue())?,
            None => self.run_plan(transformer, input.into_tvalue())?,
        };
        self.sink_output(&out, frames, sink)?;
        Ok(frames)
    }

    fn run_plan(&self, plan: &Arc<TypedRunnableModel>, input: TValue) -> Result<TValue> {
        #[cfg(feature = "wav2vec2-threads")]
        let out = match &self.pool {
            Some(pool) => {
                tract_onnx::prelude::multithread::multithread_tract_scope(pool.clone(), || {
                    plan.run(tvec!(input))
                })
            }
            None => plan.run(tvec!(input)),
        };
        #[cfg(not(feature = "wav2vec2-threads"))]
        let out = plan.run(tvec!(input));
        let mut out = out.map_err(|e| model_err(&self.path, "inference failed", e))?;
        Ok(out.remove(0))
    }

    fn plain<'a>(&self, t: &'a TValue) -> Result<&'a [f32]> {
        let view = t
            .try_as_plain_ram()
            .map_err(|e| model_err(&self.path, "output", e))?;
        view.as_slice::<f32>()
            .map_err(|e| model_err(&self.path, "output", e))
    }

    /// Checks the output shape (`[layers, frames, dim]`) and hands the data to `sink`.
    fn sink_output(
        &self,
        t: &TValue,
        frames: usize,
        sink: impl FnOnce(&[f32], usize),
    ) -> Result<()> {
        let shape = t.shape();
        let (layers, dim) = (self.sidecar.output_layers(), self.sidecar.dim);
        if shape.len() != 3 || shape[0] != layers || shape[1] != frames || shape[2] != dim {
            return Err(Error::model(
                &self.path,
                format!("output shape {shape:?} for {frames} frames, expected [{layers}, {frames}, {dim}]"),
            ));
        }
        sink(self.plain(t)?, frames);
        Ok(())
    }
}

/// Checks the input the ONNX file declares: f32, `[1, samples]`, time axis dynamic.
fn check_declared_input(path: &Path, model: &InferenceModel) -> Result<()> {
    use tract_onnx::tract_hir::infer::Factoid;
    let fact = model
        .input_fact(0)
        .map_err(|e| model_err(path, "bad graph", e))?;
    let bad = |what: String| {
        Err(Error::model(
            path,
            format!(
                "input is {what}, expected an f32 waveform [1, samples] with a dynamic time axis"
            ),
        ))
    };
    if let Some(dt) = fact.datum_type.concretize() {
        if dt != f32::datum_type() {
            return bad(format!("{dt:?}"));
        }
    }
    if let Some(shape) = fact.shape.concretize() {
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        if shape.len() != 2 || shape[0].to_i64().is_ok_and(|v| v != 1) {
            return bad(format!("[{}]", dims.join(", ")));
        }
        if shape[1].to_i64().is_ok() {
            return bad(format!(
                "[{}] (fixed length: re-export with a dynamic axis)",
                dims.join(", ")
            ));
        }
    }
    Ok(())
}

/// Checks the typed model's output against the sidecar.
fn check_output(path: &Path, side_path: &Path, s: &Sidecar, m: &TypedModel) -> Result<()> {
    let fact = m
        .output_fact(0)
        .map_err(|e| model_err(path, "model has no output", e))?;
    let mismatch = |what: String| {
        Err(Error::model(
            side_path,
            format!("sidecar does not match {}: {what}", path.display()),
        ))
    };
    if m.outputs.len() != 1 {
        return mismatch(format!("model has {} outputs, expected 1", m.outputs.len()));
    }
    if fact.datum_type != f32::datum_type() {
        return mismatch(format!("output is {:?}, expected f32", fact.datum_type));
    }
    let shape = fact.shape.to_tvec();
    if shape.len() != 3 {
        return mismatch(format!("output has rank {}, expected 3", shape.len()));
    }
    let want_layers = s.output_layers() as i64;
    if shape[0].to_i64().map(|v| v != want_layers).unwrap_or(true) {
        return mismatch(format!(
            "output axis 0 is {}, the sidecar implies {want_layers} ({})",
            shape[0],
            if s.all_layers {
                "all layers"
            } else {
                "single layer"
            }
        ));
    }
    if shape[2].to_i64().map(|v| v != s.dim as i64).unwrap_or(true) {
        return mismatch(format!(
            "output has {} values per frame, sidecar says dim {}",
            shape[2], s.dim
        ));
    }
    Ok(())
}

/// The wav2vec2 [`Frontend`]: a model, a layer choice and the streaming state.
#[derive(Debug, Clone)]
pub struct Wav2vec2 {
    cfg: Wav2vec2Config,
    model: Wav2vec2Model,
    /// Index into the output's layer axis.
    layer_index: usize,
    chunker: Chunker,
    /// Incremental streaming (each sample convolved once) rather than chunked.
    incremental: bool,
    /// Samples from global index `buf_start` on.
    buf: Vec<f32>,
    buf_start: u64,
    total: u64,
    /// The normalized model input of one window.
    scratch: Vec<f32>,
    /// Incremental streaming: conv frames (`conv_dim` values each) from global
    /// frame `feat_start` to `feat_end` (every frame ever convolved is computed once).
    feats: Vec<f32>,
    feat_start: u64,
    feat_end: u64,
    /// Incremental streaming: sum, sum of squares and count of the samples
    /// `0..norm_upto` (the statistics of the waveform normalization).
    norm_sum: f64,
    norm_sumsq: f64,
    norm_upto: u64,
}

impl Wav2vec2 {
    /// Loads the model named in `cfg` and prepares streaming. The thread count
    /// comes from the environment variable [`THREADS_ENV`] (default 1).
    pub fn new(cfg: Wav2vec2Config) -> Result<Wav2vec2> {
        let threads = match std::env::var(THREADS_ENV) {
            Ok(v) => v.trim().parse::<usize>().map_err(|_| {
                Error::invalid(format!("{THREADS_ENV}={v:?}: expected a thread count"))
            })?,
            Err(_) => 1,
        };
        let model = Wav2vec2Model::load(&cfg.model)?.with_threads(threads)?;
        Wav2vec2::with_model(cfg, model)
    }

    /// Uses an already loaded model (cheap: the optimized plan is shared).
    pub fn with_model(cfg: Wav2vec2Config, model: Wav2vec2Model) -> Result<Wav2vec2> {
        let s = model.sidecar();
        let layer_index = match (s.all_layers, cfg.layer) {
            (true, Some(l)) if l <= s.num_layers => l,
            (true, Some(l)) => {
                return Err(Error::model(
                    &cfg.model,
                    format!(
                        "layer {l} out of range: this all-layers model has layers 0..={}",
                        s.num_layers
                    ),
                ))
            }
            (true, None) => s.num_layers,
            (false, None) => 0,
            (false, Some(l)) if Some(l) == s.layer => 0,
            (false, Some(l)) => {
                return Err(Error::model(
                    &cfg.model,
                    format!(
                        "layer {l} out of range: this model was exported for layer {} only \
                         (re-export with --layer {l}, or use an --all-layers model)",
                        s.layer.unwrap_or(0)
                    ),
                ))
            }
        };
        let secs = [cfg.chunk_s, cfg.context_s, cfg.lookahead_s];
        if !secs.iter().all(|v| v.is_finite() && *v >= 0.0) || cfg.chunk_s <= 0.0 {
            return Err(Error::invalid(format!(
                "wav2vec2 streaming: chunk_s must be > 0 and context_s, lookahead_s ≥ 0 (got {}, {}, {})",
                cfg.chunk_s, cfg.context_s, cfg.lookahead_s
            )));
        }
        let frames = |sec: f32| (sec as f64 * s.frame_rate).round() as usize;
        let chunk_frames = frames(cfg.chunk_s).max(1);
        let chunker = Chunker::new(
            s.hop,
            s.receptive_field,
            frames(cfg.chunk_s).max(1),
            frames(cfg.context_s),
            frames(cfg.lookahead_s),
        );
        let mut w = Wav2vec2 {
            cfg,
            layer_index,
            chunker,
            incremental: model.is_split(),
            buf: Vec::new(),
            buf_start: 0,
            total: 0,
            scratch: Vec::new(),
            feats: Vec::new(),
            feat_start: 0,
            feat_end: 0,
            norm_sum: 0.0,
            norm_sumsq: 0.0,
            norm_upto: 0,
            model,
        };
        let cap = w.chunker.samples_needed() as usize;
        w.buf.reserve(cap + SAMPLE_RATE as usize);
        w.scratch.reserve(cap);
        if let Some(c) = w.model.conv_dim() {
            w.feats.reserve(w.chunker.window_frames() as usize * c);
            // Steady state: each window convolves one chunk of new frames and runs
            // the transformer part on a full window.
            w.model
                .prepare_fixed(chunk_frames, w.chunker.window_frames() as usize)?;
        }
        Ok(w)
    }

    /// True when streaming is incremental: each sample goes through the conv
    /// feature encoder once, and each window runs only the transformer part on
    /// cached conv frames. False (chunked: each window re-encodes its audio)
    /// for models whose graph could not be cut, or after
    /// [`Self::set_incremental`]`(false)`.
    pub fn is_incremental(&self) -> bool {
        self.incremental
    }

    /// Chooses incremental (`true`, the default for cut models) or chunked
    /// streaming; returns whether incremental streaming is now on (it cannot be
    /// for an uncut model). Resets the stream.
    pub fn set_incremental(&mut self, on: bool) -> bool {
        self.incremental = on && self.model.is_split();
        self.reset();
        self.incremental
    }

    /// The model and its sidecar.
    pub fn model(&self) -> &Wav2vec2Model {
        &self.model
    }

    /// The selected layer (as in Hugging Face's `hidden_states[layer]`).
    pub fn layer(&self) -> usize {
        let s = self.model.sidecar();
        if s.all_layers {
            self.layer_index
        } else {
            s.layer.unwrap_or(0)
        }
    }

    /// Encodes a whole utterance in one pass (no chunking): `[frames, dim]` of the
    /// selected layer. Memory and time grow with the square of the length.
    pub fn infer(&mut self, samples: &[f32]) -> Result<Array2<f32>> {
        let (li, dim) = (self.layer_index, self.model.sidecar().dim);
        let mut v = Vec::new();
        let frames = self.run_normalized(samples, |data, frames| {
            v.extend_from_slice(&data[li * frames * dim..(li + 1) * frames * dim])
        })?;
        Array2::from_shape_vec((frames, dim), v)
            .map_err(|e| Error::model(&self.model.path, e.to_string()))
    }

    /// Encodes a whole utterance in one pass and returns every output layer:
    /// `[layers, frames, dim]` (one layer for single-layer models).
    pub fn infer_all(&mut self, samples: &[f32]) -> Result<Array3<f32>> {
        let mut v = Vec::new();
        let frames = self.run_normalized(samples, |data, _| v.extend_from_slice(data))?;
        let s = self.model.sidecar();
        Array3::from_shape_vec((s.output_layers(), frames, s.dim), v)
            .map_err(|e| Error::model(&self.model.path, e.to_string()))
    }

    /// Normalizes `samples` into the scratch buffer if the model wants it, then runs.
    fn run_normalized(
        &mut self,
        samples: &[f32],
        sink: impl FnOnce(&[f32], usize),
    ) -> Result<usize> {
        if !self.model.sidecar().normalize_waveform {
            return self.model.run_raw(samples, sink);
        }
        self.scratch.clear();
        self.scratch.extend_from_slice(samples);
        normalize(&mut self.scratch);
        self.model.run_raw(&self.scratch, sink)
    }

    /// Runs one window and appends its emitted frames to `out`.
    fn run_window(&mut self, w: Window, out: &mut Vec<f32>) -> Result<usize> {
        if self.incremental {
            return self.run_window_incremental(w, out);
        }
        let (hop, rf) = (
            self.model.sidecar().hop,
            self.model.sidecar().receptive_field,
        );
        let a = (w.first_sample(hop) - self.buf_start) as usize;
        let b = (w.end_sample(hop, rf) - self.buf_start) as usize;
        let input = std::mem::take(&mut self.buf);
        let (li, dim) = (self.layer_index, self.model.sidecar().dim);
        let (skip, take) = ((w.emit - w.start) as usize, (w.emit_end - w.emit) as usize);
        let r = self.run_normalized(&input[a..b], |data, frames| {
            let from = (li * frames + skip) * dim;
            out.extend_from_slice(&data[from..from + take * dim]);
        });
        self.buf = input;
        r?;
        self.advance(&w);
        Ok((w.emit_end - w.emit) as usize)
    }

    /// Marks `w` as emitted and drops the samples no later window needs.
    fn advance(&mut self, w: &Window) {
        self.chunker.advance(w);
        let keep = self.chunker.keep_from();
        if keep > self.buf_start {
            let drop = ((keep - self.buf_start) as usize).min(self.buf.len());
            self.buf.drain(..drop);
            self.buf_start += drop as u64;
        }
    }

    /// Incremental streaming of one window: convolves only the frames not yet
    /// convolved (`feat_end..w.end`), then runs the transformer part on the
    /// cached conv frames `w.start..w.end`.
    ///
    /// Waveform normalization (when the sidecar asks for it) uses the mean and
    /// variance of the window's samples, as chunked streaming does, applied to
    /// the new samples only: a conv frame keeps the scaling of the window that
    /// first needed it.
    fn run_window_incremental(&mut self, w: Window, out: &mut Vec<f32>) -> Result<usize> {
        let s = self.model.sidecar();
        let (hop, rf, dim) = (s.hop as u64, s.receptive_field as u64, s.dim);
        let normalize_waveform = s.normalize_waveform;
        let conv_dim = self.model.conv_dim().unwrap_or(0);
        if w.end > self.feat_end {
            let first = self.feat_end.max(w.start);
            let a = (first * hop - self.buf_start) as usize;
            let b = ((w.end - 1) * hop + rf - self.buf_start) as usize;
            self.scratch.clear();
            self.scratch.extend_from_slice(&self.buf[a..b]);
            if normalize_waveform {
                // Statistics of every sample up to the end of this window.
                let from = (self.norm_upto - self.buf_start) as usize;
                for &v in &self.buf[from..b] {
                    self.norm_sum += v as f64;
                    self.norm_sumsq += v as f64 * v as f64;
                }
                self.norm_upto = self.buf_start + b as u64;
                let n = self.norm_upto as f64;
                let mean = self.norm_sum / n;
                let var = (self.norm_sumsq / n - mean * mean).max(0.0);
                let inv = 1.0 / (var + 1e-7).sqrt();
                for v in self.scratch.iter_mut() {
                    *v = ((*v as f64 - mean) * inv) as f32;
                }
            }
            if first > self.feat_end {
                // Nothing cached is contiguous with this window (cannot happen with
                // the chunker's windows, which never skip frames; kept for safety).
                self.feats.clear();
                self.feat_start = first;
            }
            self.model.run_conv(&self.scratch, &mut self.feats)?;
            self.feat_end = w.end;
        }
        let a = (w.start - self.feat_start) as usize * conv_dim;
        let b = (w.end - self.feat_start) as usize * conv_dim;
        let li = self.layer_index;
        let (skip, take) = ((w.emit - w.start) as usize, (w.emit_end - w.emit) as usize);
        self.model
            .run_transformer(&self.feats[a..b], |data, frames| {
                let from = (li * frames + skip) * dim;
                out.extend_from_slice(&data[from..from + take * dim]);
            })?;
        self.advance(&w);
        // Conv frames before the next window's context are no longer needed.
        let keep = self.chunker.keep_from() / hop;
        if keep > self.feat_start {
            let drop = ((keep - self.feat_start) as usize * conv_dim).min(self.feats.len());
            self.feats.drain(..drop);
            self.feat_start += (drop / conv_dim.max(1)) as u64;
        }
        Ok(take)
    }
}

/// Mean and 1 / standard deviation (with Hugging Face's 1e-7 variance floor) of `x`.
fn mean_inv_std(x: &[f32]) -> (f64, f64) {
    if x.is_empty() {
        return (0.0, 1.0);
    }
    let n = x.len() as f64;
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
    (mean, 1.0 / (var + 1e-7).sqrt())
}

/// Zero mean, unit variance, as Hugging Face's `Wav2Vec2FeatureExtractor` does.
pub fn normalize(x: &mut [f32]) {
    let (mean, inv) = mean_inv_std(x);
    for v in x.iter_mut() {
        *v = ((*v as f64 - mean) * inv) as f32;
    }
}

impl Frontend for Wav2vec2 {
    fn dim(&self) -> usize {
        self.model.sidecar().dim
    }
    fn hop(&self) -> usize {
        self.model.sidecar().hop
    }
    fn window(&self) -> usize {
        self.model.sidecar().receptive_field
    }
    fn push(&mut self, samples: &[f32], out: &mut Vec<f32>) -> Result<usize> {
        self.buf.extend_from_slice(samples);
        self.total += samples.len() as u64;
        let mut n = 0;
        while let Some(w) = self.chunker.next_full(self.total) {
            n += self.run_window(w, out)?;
        }
        Ok(n)
    }
    fn finish(&mut self, out: &mut Vec<f32>) -> Result<usize> {
        let n = match self.chunker.last(self.total) {
            Some(w) => self.run_window(w, out)?,
            None => 0,
        };
        self.reset();
        Ok(n)
    }
    fn reset(&mut self) {
        self.chunker.reset();
        self.buf.clear();
        self.buf_start = 0;
        self.total = 0;
        self.feats.clear();
        self.feat_start = 0;
        self.feat_end = 0;
        self.norm_sum = 0.0;
        self.norm_sumsq = 0.0;
        self.norm_upto = 0;
    }
    fn config(&self) -> FrontendConfig {
        FrontendConfig::Wav2vec2(self.cfg.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_gives_zero_mean_unit_variance() {
        let mut x: Vec<f32> = (0..1000)
            .map(|i| (i as f32 * 0.37).sin() * 3.0 + 2.0)
            .collect();
        normalize(&mut x);
        let n = x.len() as f32;
        let mean = x.iter().sum::<f32>() / n;
        let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n;
        assert!(
            mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-4,
            "{mean} {var}"
        );
        let mut silent = vec![0.0f32; 10];
        normalize(&mut silent);
        assert!(silent.iter().all(|v| *v == 0.0));
    }
}
