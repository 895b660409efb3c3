//! wav2vec2-family encoders (wav2vec2, XLS-R, HuBERT, WavLM) exported to ONNX by
//! `models/export.py`, run by tract on the CPU.
//!
//! The model is loaded once with a symbolic time axis and optimized once; inputs
//! of any length then run without re-optimisation. Streaming is chunked (see
//! [`chunker`]): each chunk is encoded together with some left context and
//! right look-ahead and only the chunk's frames are emitted. Because the
//! encoder's positional convolution and self-attention see the whole window,
//! streamed frames are close to, not identical to, frames of one pass over the
//! whole input; [`Wav2vec2::infer`] runs that one pass.

pub mod chunker;
pub mod sidecar;

use std::path::{Path, PathBuf};

use ndarray::{Array2, Array3};
use tract_onnx::prelude::*;

use super::{Frontend, FrontendConfig, Wav2vec2Config};
use crate::{Error, Result, SAMPLE_RATE};
use chunker::{Chunker, Window};
pub use sidecar::Sidecar;

/// A loaded, optimized model plus what its sidecar says about it.
#[derive(Debug, Clone)]
pub struct Wav2vec2Model {
    path: PathBuf,
    sidecar: Sidecar,
    plan: Arc<TypedRunnableModel>,
}

/// Turns a tract error into a one-line [`Error::model`].
fn model_err(path: &Path, what: &str, e: impl std::fmt::Display) -> Error {
    let msg = format!("{what}: {e:#}").replace('\n', " ");
    Error::model(path, msg)
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
            .set_input_fact(0, f32::fact([TDim::from(1), samples.into()]).into())
            .map_err(|e| model_err(path, "cannot set the waveform input shape", e))?;
        let typed = model
            .into_typed()
            .map_err(|e| model_err(path, "model does not accept a [1, samples] f32 waveform", e))?;
        check_output(path, &side_path, &sidecar, &typed)?;
        let plan = typed
            .into_optimized()
            .and_then(|m| m.into_runnable())
            .map_err(|e| model_err(path, "cannot optimize the model", e))?;
        Ok(Wav2vec2Model {
            path: path.to_path_buf(),
            sidecar,
            plan,
        })
    }

    /// The model file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the sidecar says about the model.
    pub fn sidecar(&self) -> &Sidecar {
        &self.sidecar
    }

    /// Runs the model once on `samples` (already normalized if the model expects it),
    /// hands the output (`[output layers, frames, dim]`, row-major) to `sink` and
    /// returns the frame count.
    fn run_raw(&self, samples: &[f32], sink: impl FnOnce(&[f32], usize)) -> Result<usize> {
        let frames = self.sidecar.frames_for(samples.len());
        if frames == 0 {
            return Err(Error::invalid(format!(
                "{} samples are too few for one frame of {} (need {})",
                samples.len(),
                self.path.display(),
                self.sidecar.receptive_field
            )));
        }
        let input = Tensor::from_shape(&[1, samples.len()], samples)
            .map_err(|e| model_err(&self.path, "input", e))?;
        let out = self
            .plan
            .run(tvec!(input.into_tvalue()))
            .map_err(|e| model_err(&self.path, "inference failed", e))?;
        let t = &out[0];
        let shape = t.shape();
        let (layers, dim) = (self.sidecar.output_layers(), self.sidecar.dim);
        if shape.len() != 3 || shape[0] != layers || shape[1] != frames || shape[2] != dim {
            return Err(Error::model(
                &self.path,
                format!(
                    "output shape {shape:?} for {} samples, expected [{layers}, {frames}, {dim}]",
                    samples.len()
                ),
            ));
        }
        let view = t
            .try_as_plain_ram()
            .map_err(|e| model_err(&self.path, "output", e))?;
        let data = view
            .as_slice::<f32>()
            .map_err(|e| model_err(&self.path, "output", e))?;
        sink(data, frames);
        Ok(frames)
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
    /// Samples from global index `buf_start` on.
    buf: Vec<f32>,
    buf_start: u64,
    total: u64,
    /// The normalized model input of one window.
    scratch: Vec<f32>,
}

impl Wav2vec2 {
    /// Loads the model named in `cfg` and prepares streaming.
    pub fn new(cfg: Wav2vec2Config) -> Result<Wav2vec2> {
        let model = Wav2vec2Model::load(&cfg.model)?;
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
            buf: Vec::new(),
            buf_start: 0,
            total: 0,
            scratch: Vec::new(),
            model,
        };
        let cap = w.chunker.samples_needed() as usize;
        w.buf.reserve(cap + SAMPLE_RATE as usize);
        w.scratch.reserve(cap);
        Ok(w)
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
        self.chunker.advance(&w);
        let keep = self.chunker.keep_from();
        if keep > self.buf_start {
            let drop = ((keep - self.buf_start) as usize).min(self.buf.len());
            self.buf.drain(..drop);
            self.buf_start += drop as u64;
        }
        Ok((w.emit_end - w.emit) as usize)
    }
}

/// Zero mean, unit variance, as Hugging Face's `Wav2Vec2FeatureExtractor` does.
pub fn normalize(x: &mut [f32]) {
    if x.is_empty() {
        return;
    }
    let n = x.len() as f64;
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
    let inv = 1.0 / (var + 1e-7).sqrt();
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
