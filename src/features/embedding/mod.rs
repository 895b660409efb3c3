//! The speech-embedding frontend: Google's `speech_embedding` model in
//! openWakeWord's ONNX form, run by tract, with both models built into the
//! binary (see `models/speech_embedding/README.md` for provenance and licence).
//!
//! 16 kHz audio → `melspectrogram.onnx` (32 log-mel bands, 25.6 ms window,
//! 10 ms hop) → `x / 10 + 2` → windows of 76 mel frames (0.78 s) →
//! `embedding_model.onnx` → one 96-dim frame per window.
//!
//! # openWakeWord's streaming conventions, reproduced exactly
//! * Samples are fed as int16-scaled floats (`sample × 32768`, so 16-bit input gives its exact integer values).
//! * The mel model clips every value to `max − 80 dB` over the frames of one
//!   call, so a mel frame depends on the chunk it is computed in. Chunks are
//!   openWakeWord's 80 ms ones: the first call sees the first 1280 samples
//!   (5 mel frames), each later call the 1632 samples that give the next 8
//!   frames (openWakeWord passes the last `1280 + 480` samples, whose last
//!   128 it never uses).
//! * The mel history starts as 76 frames of ones, so windows exist from the
//!   first chunk on; windows end on mel frames `5 + hop × m` (`hop` = 8 is
//!   openWakeWord's 80 ms).
//!
//! Because every chunk and window boundary is fixed by the sample index, the
//! frames do not depend on how the input is split into blocks: pushing a whole
//! file at once gives the same frames as pushing it in any blocks. Whole-file
//! pushes run the embedding model on batches of windows
//! ([`BATCH`] at a time), which tract computes exactly as one by one
//! (tested), so batching changes speed, not values.
//!
//! # Timing
//! Frame `m` is timed to the end of its window: [`Frontend::hop`] is
//! `160 × hop` samples and [`Frontend::window`] is 1152 samples, so frame `m`
//! spans `[m × hop, m × hop + 1152)`, whose end is the last sample its window
//! sees. Its receptive field ([`Frontend::receptive_field`]) is 12 512 samples,
//! reaching back 0.7 s before that span.
//!
//! # Allocation
//! The frontend's own buffers are sized at start-up. tract allocates the
//! tensors of each model run (one mel chunk per 80 ms, one embedding batch per
//! push); no other allocation happens per frame.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use tract_onnx::prelude::*;

use super::{Frontend, FrontendConfig};
use crate::{Error, Result};

mod net;

/// The built-in `melspectrogram.onnx` (openWakeWord, SHA-256 in models/speech_embedding/SHA256SUMS).
pub static BUILTIN_MEL_MODEL: &[u8] =
    include_bytes!("../../../models/speech_embedding/melspectrogram.onnx");
/// The built-in `embedding_model.onnx` (Google's speech_embedding in openWakeWord's ONNX form).
pub static BUILTIN_EMBEDDING_MODEL: &[u8] =
    include_bytes!("../../../models/speech_embedding/embedding_model.onnx");

/// Mel bands per frame.
pub const MEL_BANDS: usize = 32;
/// Mel frames per embedding window.
pub const WINDOW_FRAMES: usize = 76;
/// Values per output frame.
pub const DIM: usize = 96;
/// Samples between mel frames (10 ms).
pub const MEL_HOP: usize = 160;
/// Samples seen by one mel frame.
pub const MEL_WINDOW: usize = 512;
/// Samples of openWakeWord's streaming chunk (80 ms).
pub const CHUNK: usize = 1280;
/// Mel frames per streaming chunk.
pub const CHUNK_FRAMES: usize = CHUNK / MEL_HOP;
/// Mel frames of the first call (only 1280 samples are there).
pub const FIRST_FRAMES: usize = (CHUNK - MEL_WINDOW) / MEL_HOP + 1;
/// Samples of a later chunk: what its 8 mel frames need.
pub const CHUNK_SAMPLES: usize = (CHUNK_FRAMES - 1) * MEL_HOP + MEL_WINDOW;
/// Windows per embedding-model call when many are ready at once.
pub const BATCH: usize = 16;
/// Receptive field of one output frame, in samples.
pub const RECEPTIVE_FIELD: usize = (WINDOW_FRAMES - 1) * MEL_HOP + MEL_WINDOW;
/// The span a frame is timed to, in samples: the end of its window minus the
/// start of the 80 ms chunk grid cell it ends in (see the module docs).
pub const FRAME_SPAN: usize = (FIRST_FRAMES - 1) * MEL_HOP + MEL_WINDOW;
/// Audio (samples) a window of an isolated utterance must hold for the frame
/// to be kept in a template or query (see [`Frontend::utterance_lead_frames`]).
pub const UTTERANCE_MIN_AUDIO: usize = 3200;
/// Isolated utterances shorter than 0.6 s are padded with trailing silence to
/// it ([`Frontend::utterance_min_samples`]): a 0.3 s word (FSDD's "seven")
/// gave 2 template frames at the 40 ms hop, 10 once padded. On the
/// cross-speaker detection benchmark (`eval::bench`, 1 h) pooled miss at
/// <= 1 FA/h went 35.0% -> 27.5% ("seven" 100% -> 65%); padding to 0.5 s gave
/// 30.6%, to 0.8 s (which pads "nine" too) 35.6%.
pub const UTTERANCE_MIN_SAMPLES: usize = 9600;
/// Scale of the int16 samples openWakeWord feeds the mel model.
pub const INT16_SCALE: f32 = 32768.0;

/// Model files used instead of the built-in ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbeddingModelFiles {
    /// A `melspectrogram.onnx` with openWakeWord's input and output.
    pub melspectrogram: PathBuf,
    /// An `embedding_model.onnx` taking `[batch, 76, 32, 1]`, giving `[batch, 1, 1, 96]`.
    pub embedding: PathBuf,
}

/// Settings of the speech-embedding frontend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbeddingConfig {
    /// Mel frames (10 ms each) between consecutive windows: 8 (80 ms, openWakeWord's), 4, 2 or 1.
    pub hop_frames: usize,
    /// Other copies of the two models (`None`: the ones built into the binary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<EmbeddingModelFiles>,
}

/// The default hop, in mel frames (see the README's frontend table for the measurement).
pub const DEFAULT_HOP_FRAMES: usize = 4;

impl Default for EmbeddingConfig {
    fn default() -> Self {
        EmbeddingConfig {
            hop_frames: DEFAULT_HOP_FRAMES,
            models: None,
        }
    }
}

impl EmbeddingConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        if !matches!(self.hop_frames, 1 | 2 | 4 | 8) {
            return Err(Error::invalid(format!(
                "embedding hop must be 1, 2, 4 or 8 mel frames (10 ms each), got {}",
                self.hop_frames
            )));
        }
        Ok(())
    }
}

/// Turns a tract error into a one-line [`Error::model`].
fn model_err(path: &Path, what: &str, e: impl std::fmt::Display) -> Error {
    let msg = format!("{what}: {e:#}").replace('\n', " ");
    Error::model(path, msg)
}

/// The optimized plans of both models, shared by every frontend using them.
#[derive(Debug)]
pub struct EmbeddingModels {
    /// Where the models came from (`<built-in>/...` for the embedded ones).
    mel_path: PathBuf,
    emb_path: PathBuf,
    /// `[1, 1280]` → 5 mel frames.
    mel_first: TypedSimplePlan,
    /// `[1, 1632]` → 8 mel frames.
    mel_chunk: TypedSimplePlan,
    /// `[1, 76, 32, 1]` → `[1, 1, 1, 96]`.
    emb_one: TypedSimplePlan,
    /// `[BATCH, 76, 32, 1]` → `[BATCH, 1, 1, 96]`.
    emb_batch: TypedSimplePlan,
    /// The embedding network computed natively and incrementally (`None`: the
    /// model is not the chain [`net::Net`] knows, or native use is off; the
    /// frontend then runs `emb_batch`/`emb_one`).
    native: Option<net::Net>,
    /// Why `native` is `None`.
    native_unavailable: Option<String>,
}

type TypedSimplePlan = Arc<TypedRunnableModel>;

fn plan(bytes: &[u8], path: &Path, shape: &[usize]) -> Result<TypedSimplePlan> {
    let mut model = tract_onnx::onnx()
        .model_for_read(&mut std::io::Cursor::new(bytes))
        .map_err(|e| model_err(path, "not a readable ONNX model", e))?;
    let inputs = model
        .input_outlets()
        .map_err(|e| model_err(path, "bad graph", e))?
        .len();
    if inputs != 1 {
        return Err(Error::model(
            path,
            format!("model has {inputs} inputs, expected 1"),
        ));
    }
    model
        .set_input_fact(0, f32::fact(shape).into())
        .map_err(|e| model_err(path, &format!("does not take an f32 input {shape:?}"), e))?;
    model
        .into_optimized()
        .and_then(|m| m.into_runnable())
        .map_err(|e| {
            model_err(
                path,
                &format!("cannot optimize the model for input {shape:?}"),
                e,
            )
        })
}

fn read_model(path: &Path) -> Result<Vec<u8>> {
    if !path.is_file() {
        return Err(Error::model(path, "model file not found"));
    }
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

impl EmbeddingModels {
    /// Loads and optimizes the two models from bytes; `mel_path`/`emb_path` name them in errors.
    pub fn from_bytes(mel: &[u8], mel_path: &Path, emb: &[u8], emb_path: &Path) -> Result<Self> {
        let mut m = EmbeddingModels {
            mel_path: mel_path.to_path_buf(),
            emb_path: emb_path.to_path_buf(),
            mel_first: plan(mel, mel_path, &[1, CHUNK])?,
            mel_chunk: plan(mel, mel_path, &[1, CHUNK_SAMPLES])?,
            emb_one: plan(emb, emb_path, &[1, WINDOW_FRAMES, MEL_BANDS, 1])?,
            emb_batch: plan(emb, emb_path, &[BATCH, WINDOW_FRAMES, MEL_BANDS, 1])?,
            native: None,
            native_unavailable: None,
        };
        m.check()?;
        match net::Net::from_onnx(emb).and_then(|n| m.check_native(n)) {
            Ok(n) => m.native = Some(n),
            Err(why) => m.native_unavailable = Some(why),
        }
        Ok(m)
    }

    /// Checks the native network against tract on two windows (ones, and a
    /// ramp): a model whose graph reads as the expected chain but means
    /// something else is not run natively.
    fn check_native(&self, n: net::Net) -> std::result::Result<net::Net, String> {
        let per = WINDOW_FRAMES * MEL_BANDS;
        let ramp: Vec<f32> = (0..per)
            .map(|i| ((i * 37) % 101) as f32 / 25.0 - 2.0)
            .collect();
        for w in [&vec![1.0; per], &ramp] {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            n.run_window(w, &mut a);
            self.run_embedding(w, &mut b).map_err(|e| e.to_string())?;
            let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
            let d = a
                .iter()
                .zip(&b)
                .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
            if a.len() != b.len() || d.is_nan() || d > 1e-3 * scale {
                return Err(format!(
                    "native network differs from tract by {d} (output scale {scale})"
                ));
            }
        }
        Ok(n)
    }

    /// Whether the embedding network runs natively (incrementally, rows shared
    /// between windows) rather than through tract.
    pub fn native(&self) -> bool {
        self.native.is_some()
    }

    /// Why the embedding network does not run natively (`None` when it does).
    pub fn native_unavailable(&self) -> Option<&str> {
        self.native_unavailable.as_deref()
    }

    /// Runs the embedding network through tract even if it could run natively
    /// (for comparisons and benchmarks; the values agree to about 1e-6 of the output scale).
    pub fn disable_native(&mut self) {
        if self.native.take().is_some() {
            self.native_unavailable = Some("disabled".into());
        }
    }

    /// Multiply-accumulates per mel frame of the embedding network at `hop`:
    /// computed natively (rows shared) if it runs natively, else window by window.
    pub fn embedding_macs_per_frame(&self, hop: usize) -> Option<f64> {
        self.native.as_ref().map(|n| n.macs_per_frame(hop))
    }

    /// Multiply-accumulates of one window computed from scratch (what tract does per window).
    pub fn embedding_macs_per_window(&self) -> Option<u64> {
        self.native.as_ref().map(|n| n.macs_per_window())
    }

    /// The models built into the binary, loaded once per process.
    pub fn builtin() -> Result<Arc<EmbeddingModels>> {
        static CELL: OnceLock<std::result::Result<Arc<EmbeddingModels>, String>> = OnceLock::new();
        CELL.get_or_init(|| {
            EmbeddingModels::from_bytes(
                BUILTIN_MEL_MODEL,
                Path::new("<built-in>/melspectrogram.onnx"),
                BUILTIN_EMBEDDING_MODEL,
                Path::new("<built-in>/embedding_model.onnx"),
            )
            .map(Arc::new)
            .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| Error::model("<built-in>", e))
    }

    /// Loads the models named in `files`.
    pub fn from_files(files: &EmbeddingModelFiles) -> Result<Arc<EmbeddingModels>> {
        let mel = read_model(&files.melspectrogram)?;
        let emb = read_model(&files.embedding)?;
        Ok(Arc::new(EmbeddingModels::from_bytes(
            &mel,
            &files.melspectrogram,
            &emb,
            &files.embedding,
        )?))
    }

    /// The models a configuration asks for.
    pub fn for_config(cfg: &EmbeddingConfig) -> Result<Arc<EmbeddingModels>> {
        match &cfg.models {
            None => EmbeddingModels::builtin(),
            Some(f) => EmbeddingModels::from_files(f),
        }
    }

    /// Runs each plan once on zeros and checks the output shapes, so a wrong
    /// model is reported at load time, naming its file.
    fn check(&self) -> Result<()> {
        let mut mel = Vec::new();
        for (samples, frames) in [(CHUNK, FIRST_FRAMES), (CHUNK_SAMPLES, CHUNK_FRAMES)] {
            mel.clear();
            self.run_mel(&vec![0.0; samples], &mut mel)?;
            if mel.len() != frames * MEL_BANDS {
                return Err(Error::model(
                    &self.mel_path,
                    format!(
                        "gives {} values for {samples} samples, expected {frames} frames × {MEL_BANDS} mel bands",
                        mel.len()
                    ),
                ));
            }
        }
        let mut out = Vec::new();
        self.run_embedding(&vec![1.0; BATCH * WINDOW_FRAMES * MEL_BANDS], &mut out)?;
        self.run_embedding(&[1.0; WINDOW_FRAMES * MEL_BANDS], &mut out)?;
        if out.len() != (BATCH + 1) * DIM {
            return Err(Error::model(
                &self.emb_path,
                format!(
                    "gives {} values for {} windows, expected {DIM} per window",
                    out.len(),
                    BATCH + 1
                ),
            ));
        }
        Ok(())
    }

    /// Runs the mel model on int16-scaled `samples` (1280 or 1632 of them) and
    /// appends `x / 10 + 2` of its output (frames × 32) to `out`.
    pub fn run_mel(&self, samples: &[f32], out: &mut Vec<f32>) -> Result<()> {
        let plan = match samples.len() {
            CHUNK => &self.mel_first,
            CHUNK_SAMPLES => &self.mel_chunk,
            n => {
                return Err(Error::invalid(format!(
                    "mel chunk of {n} samples (expected {CHUNK} or {CHUNK_SAMPLES})"
                )))
            }
        };
        let input = Tensor::from_shape(&[1, samples.len()], samples)
            .map_err(|e| model_err(&self.mel_path, "input", e))?;
        let res = plan
            .run(tvec!(input.into_tvalue()))
            .map_err(|e| model_err(&self.mel_path, "inference failed", e))?;
        let data = output_slice(&res, &self.mel_path)?;
        out.extend(data.iter().map(|&x| x / 10.0 + 2.0));
        Ok(())
    }

    /// Runs the embedding model through tract on one window or [`BATCH`] windows (each
    /// 76 × 32 values, row-major) and appends 96 values per window to `out`.
    pub fn run_embedding(&self, windows: &[f32], out: &mut Vec<f32>) -> Result<()> {
        let per = WINDOW_FRAMES * MEL_BANDS;
        let (plan, n) = match windows.len() / per {
            1 if windows.len() == per => (&self.emb_one, 1),
            BATCH if windows.len() == BATCH * per => (&self.emb_batch, BATCH),
            _ => {
                return Err(Error::invalid(format!(
                    "embedding input of {} values (expected 1 or {BATCH} windows of {per})",
                    windows.len()
                )))
            }
        };
        let input = Tensor::from_shape(&[n, WINDOW_FRAMES, MEL_BANDS, 1], windows)
            .map_err(|e| model_err(&self.emb_path, "input", e))?;
        let res = plan
            .run(tvec!(input.into_tvalue()))
            .map_err(|e| model_err(&self.emb_path, "inference failed", e))?;
        out.extend_from_slice(output_slice(&res, &self.emb_path)?);
        Ok(())
    }
}

fn output_slice<'a>(res: &'a TVec<TValue>, path: &Path) -> Result<&'a [f32]> {
    let t = res
        .first()
        .ok_or_else(|| Error::model(path, "model gave no output"))?;
    t.try_as_plain_ram()
        .map_err(|e| model_err(path, "output", e))?
        .as_slice::<f32>()
        .map_err(|e| model_err(path, "output is not f32", e))
}

/// The speech-embedding [`Frontend`].
#[derive(Debug)]
pub struct SpeechEmbedding {
    cfg: EmbeddingConfig,
    models: Arc<EmbeddingModels>,
    /// Samples (int16-scaled) from global index `pending_start` on.
    pending: Vec<f32>,
    pending_start: u64,
    /// Total samples pushed.
    total: u64,
    /// Mel frames computed so far.
    mel_count: u64,
    /// Mel frames from global index `mel_start` on (may be negative: the ones-padding).
    mel: Vec<f32>,
    mel_start: i64,
    /// End (exclusive mel frame index) of the next window.
    next_end: u64,
    /// Windows waiting for the embedding model (tract only).
    windows: Vec<f32>,
    /// The native network's rows (`None`: tract runs the windows).
    net: Option<net::NetState>,
    /// Mel frames given to `net` so far.
    fed: u64,
    /// Scratch for a zero-padded last chunk.
    last_chunk: Vec<f32>,
}

impl SpeechEmbedding {
    /// Loads (or reuses) the models the settings name.
    pub fn new(cfg: EmbeddingConfig) -> Result<SpeechEmbedding> {
        cfg.validate()?;
        let models = EmbeddingModels::for_config(&cfg)?;
        Ok(SpeechEmbedding::with_models(cfg, models))
    }

    /// Uses already loaded models (cheap: the plans are shared).
    pub fn with_models(cfg: EmbeddingConfig, models: Arc<EmbeddingModels>) -> SpeechEmbedding {
        let mut s = SpeechEmbedding {
            cfg,
            models,
            pending: Vec::with_capacity(CHUNK_SAMPLES + 16_000),
            pending_start: 0,
            total: 0,
            mel_count: 0,
            mel: Vec::with_capacity((WINDOW_FRAMES + 2 * CHUNK_FRAMES) * MEL_BANDS),
            mel_start: 0,
            next_end: FIRST_FRAMES as u64,
            windows: Vec::new(),
            last_chunk: Vec::with_capacity(CHUNK_SAMPLES),
            net: None,
            fed: 0,
        };
        match s.models.native.as_ref() {
            Some(n) => s.net = Some(n.start_state(s.cfg.hop_frames)),
            None => s.windows.reserve(BATCH * WINDOW_FRAMES * MEL_BANDS),
        }
        s.reset();
        s
    }

    /// The shared models.
    pub fn models(&self) -> &Arc<EmbeddingModels> {
        &self.models
    }

    /// Sample index where the next mel chunk starts, and its length.
    fn next_chunk(&self) -> (u64, usize) {
        if self.mel_count == 0 {
            (0, CHUNK)
        } else {
            (self.mel_count * MEL_HOP as u64, CHUNK_SAMPLES)
        }
    }

    /// Appends mel frames of one chunk, dropping history no window needs.
    fn add_mel(&mut self, chunk: &[f32], keep_frames: usize) -> Result<()> {
        let before = self.mel.len();
        self.models.run_mel(chunk, &mut self.mel)?;
        self.mel.truncate(before + keep_frames * MEL_BANDS);
        self.mel_count += keep_frames as u64;
        Ok(())
    }

    /// Queues every window whose mel frames are all there; runs full batches.
    fn emit_windows(&mut self, out: &mut Vec<f32>, flush: bool) -> Result<usize> {
        let per = WINDOW_FRAMES * MEL_BANDS;
        let mut n = 0;
        if let (Some(net), Some(state)) = (self.models.native.as_ref(), self.net.as_mut()) {
            // Each mel frame completes the rows it can of every layer, and the
            // windows ending on it.
            while self.fed < self.mel_count {
                let a = (self.fed as i64 - self.mel_start) as usize * MEL_BANDS;
                let k = state.push_row(net, &self.mel[a..a + MEL_BANDS], out);
                self.fed += 1;
                n += k;
                self.next_end += (k * self.cfg.hop_frames) as u64;
            }
            debug_assert!(self.next_end > self.mel_count);
        }
        while self.next_end <= self.mel_count {
            let first = self.next_end as i64 - WINDOW_FRAMES as i64;
            let a = (first - self.mel_start) as usize * MEL_BANDS;
            self.windows.extend_from_slice(&self.mel[a..a + per]);
            self.next_end += self.cfg.hop_frames as u64;
            if self.windows.len() == BATCH * per {
                self.models.run_embedding(&self.windows, out)?;
                self.windows.clear();
                n += BATCH;
            }
        }
        if flush {
            // Whatever is left at the end of a push runs one window at a time
            // (tract gives the same values for a window alone as inside a batch).
            for w in self.windows.chunks_exact(per) {
                self.models.run_embedding(w, out)?;
                n += 1;
            }
            self.windows.clear();
        }
        // Drop mel history older than the next window's start.
        let keep_from = self.next_end as i64 - WINDOW_FRAMES as i64;
        if keep_from > self.mel_start {
            let drop = ((keep_from - self.mel_start) as usize).min(self.mel.len() / MEL_BANDS);
            self.mel.drain(..drop * MEL_BANDS);
            self.mel_start += drop as i64;
        }
        Ok(n)
    }

    fn drop_samples_before(&mut self, keep: u64) {
        if keep > self.pending_start {
            let drop = ((keep - self.pending_start) as usize).min(self.pending.len());
            self.pending.drain(..drop);
            self.pending_start += drop as u64;
        }
    }
}

impl Frontend for SpeechEmbedding {
    fn dim(&self) -> usize {
        DIM
    }
    fn hop(&self) -> usize {
        self.cfg.hop_frames * MEL_HOP
    }
    fn window(&self) -> usize {
        FRAME_SPAN
    }
    fn receptive_field(&self) -> usize {
        RECEPTIVE_FIELD
    }
    fn utterance_min_samples(&self) -> usize {
        UTTERANCE_MIN_SAMPLES
    }
    fn utterance_lead_frames(&self) -> usize {
        UTTERANCE_MIN_AUDIO
            .saturating_sub(FRAME_SPAN)
            .div_ceil(self.hop())
    }
    fn push(&mut self, samples: &[f32], out: &mut Vec<f32>) -> Result<usize> {
        let mut n = 0;
        let mut rest = samples;
        // Feed at most about a second at a time, so a long push does not hold a
        // copy of the whole input.
        while !rest.is_empty() {
            let take = rest.len().min(16_000);
            let (now, later) = rest.split_at(take);
            rest = later;
            self.pending.extend(
                now.iter()
                    .map(|&x| (x * INT16_SCALE).clamp(-32768.0, 32767.0)),
            );
            self.total += take as u64;
            loop {
                let (start, len) = self.next_chunk();
                if start + len as u64 > self.total {
                    break;
                }
                let a = (start - self.pending_start) as usize;
                let chunk = std::mem::take(&mut self.pending);
                let frames = if len == CHUNK {
                    FIRST_FRAMES
                } else {
                    CHUNK_FRAMES
                };
                let r = self.add_mel(&chunk[a..a + len], frames);
                self.pending = chunk;
                r?;
                let (next, _) = self.next_chunk();
                self.drop_samples_before(next);
            }
            n += self.emit_windows(out, rest.is_empty())?;
        }
        Ok(n)
    }
    fn finish(&mut self, out: &mut Vec<f32>) -> Result<usize> {
        // The mel frames the leftover samples fully cover, from one zero-padded chunk.
        let (start, len) = self.next_chunk();
        let avail = self.total.saturating_sub(start) as usize;
        if avail >= MEL_WINDOW {
            let frames = (avail - MEL_WINDOW) / MEL_HOP + 1;
            let a = (start - self.pending_start) as usize;
            let mut chunk = std::mem::take(&mut self.last_chunk);
            chunk.clear();
            chunk.extend_from_slice(&self.pending[a..a + avail]);
            chunk.resize(len, 0.0);
            let r = self.add_mel(&chunk, frames);
            self.last_chunk = chunk;
            r?;
        }
        let n = self.emit_windows(out, true)?;
        self.reset();
        Ok(n)
    }
    fn reset(&mut self) {
        self.pending.clear();
        self.pending_start = 0;
        self.total = 0;
        self.mel_count = 0;
        self.mel.clear();
        self.mel.resize(WINDOW_FRAMES * MEL_BANDS, 1.0);
        self.mel_start = -(WINDOW_FRAMES as i64);
        self.next_end = FIRST_FRAMES as u64;
        self.windows.clear();
        self.fed = 0;
        if let (Some(net), Some(state)) = (self.models.native.as_ref(), self.net.as_mut()) {
            net.reset_state(state, self.cfg.hop_frames);
        }
    }
    fn config(&self) -> FrontendConfig {
        FrontendConfig::Embedding(self.cfg.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = seed;
        (0..n)
            .map(|_| {
                rng = rng
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                // Roughly the range of x / 10 + 2 of real mel frames.
                ((rng >> 40) as f32 / (1u64 << 24) as f32) * 8.0 - 4.0
            })
            .collect()
    }

    #[test]
    fn builtin_model_runs_natively() {
        let m = EmbeddingModels::builtin().unwrap();
        assert!(m.native(), "{:?}", m.native_unavailable());
        let per_window = m.embedding_macs_per_window().unwrap();
        println!("{per_window} MAC per window from scratch");
        for hop in [8, 4, 2, 1] {
            let f = m.embedding_macs_per_frame(hop).unwrap();
            println!(
                "hop {hop}: {:.1} M MAC/s incremental, {:.1} M MAC/s window by window",
                f * 100.0 / 1e6,
                per_window as f64 * 100.0 / hop as f64 / 1e6
            );
        }
    }

    #[test]
    fn native_matches_tract_on_random_windows() {
        let m = EmbeddingModels::builtin().unwrap();
        let net = m.native.as_ref().unwrap();
        let per = WINDOW_FRAMES * MEL_BANDS;
        let windows = noise(BATCH * per, 777);
        let mut tract = Vec::new();
        m.run_embedding(&windows, &mut tract).unwrap();
        let mut native = Vec::new();
        for w in windows.chunks_exact(per) {
            net.run_window(w, &mut native);
        }
        let scale = tract.iter().fold(0f32, |a, v| a.max(v.abs()));
        let d = native
            .iter()
            .zip(&tract)
            .fold(0f32, |a, (x, y)| a.max((x - y).abs()));
        println!("max |native - tract| {d:.3e}, output scale {scale:.3}");
        assert_eq!(native.len(), tract.len());
        assert!(d <= 1e-4 * scale, "{d} of scale {scale}");
    }

    #[test]
    fn incremental_rows_equal_each_window_from_scratch_exactly() {
        let m = EmbeddingModels::builtin().unwrap();
        let net = m.native.as_ref().unwrap();
        let rows = 76 + 40;
        let mel = noise(rows * MEL_BANDS, 99);
        for hop in [1usize, 2, 4, 8] {
            let mut st = net::NetState::new(net, hop, 0, 0);
            let mut inc = Vec::new();
            for r in mel.chunks_exact(MEL_BANDS) {
                st.push_row(net, r, &mut inc);
            }
            let mut scratch = Vec::new();
            let mut s = 0;
            while s + WINDOW_FRAMES <= rows {
                net.run_window(
                    &mel[s * MEL_BANDS..(s + WINDOW_FRAMES) * MEL_BANDS],
                    &mut scratch,
                );
                s += hop;
            }
            assert_eq!(inc.len(), scratch.len(), "hop {hop}");
            assert!(inc == scratch, "hop {hop}");
        }
    }

    #[test]
    fn native_frontend_matches_tract_frontend() {
        let mut tract_models = EmbeddingModels::from_bytes(
            BUILTIN_MEL_MODEL,
            Path::new("mel"),
            BUILTIN_EMBEDDING_MODEL,
            Path::new("emb"),
        )
        .unwrap();
        tract_models.disable_native();
        let tract_models = Arc::new(tract_models);
        let x: Vec<f32> = noise(20_000, 5).iter().map(|v| v * 0.05).collect();
        for hop in [1, 2, 4, 8] {
            let cfg = EmbeddingConfig {
                hop_frames: hop,
                models: None,
            };
            let mut a = Vec::new();
            let mut fe = SpeechEmbedding::new(cfg.clone()).unwrap();
            fe.push(&x, &mut a).unwrap();
            fe.finish(&mut a).unwrap();
            let mut b = Vec::new();
            let mut fe = SpeechEmbedding::with_models(cfg, tract_models.clone());
            fe.push(&x, &mut b).unwrap();
            fe.finish(&mut b).unwrap();
            assert_eq!(a.len(), b.len(), "hop {hop}");
            let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
            let d = a
                .iter()
                .zip(&b)
                .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
            assert!(d <= 1e-4 * scale, "hop {hop}: {d} of scale {scale}");
        }
    }
}
