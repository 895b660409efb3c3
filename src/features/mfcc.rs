//! MFCC frontend: 25 ms frames every 10 ms, pre-emphasis, Hamming/Hann window,
//! 512-point real FFT (realfft, planned once), mel filterbank, log with a
//! floor, orthonormal DCT-II; optional deltas + delta-deltas and mean/variance
//! normalization.
//!
//! # Frames and streaming
//! Frame `i` covers samples `[i * 160, i * 160 + 400)`; a signal of `n`
//! samples gives `floor((n - 400) / 160) + 1` frames (none when `n < 400`):
//! a trailing partial window is dropped, never zero-padded. Pushing samples in
//! blocks of any size gives exactly the same frames as one push. Deltas need
//! two frames of look-ahead, so with `deltas` on, [`Frontend::push`] emits a
//! frame two frames late and [`Frontend::finish`] flushes the last two with the
//! edge frame repeated. After `finish` the frontend is reset for a new stream.
//!
//! # Normalization and streaming
//! * [`MfccNorm::Sliding`] subtracts the mean (and divides by the standard
//!   deviation) of the last `norm_window` output frames, the current one
//!   included. It is causal, adds no delay, and a signal gives the same frames
//!   whether it is processed whole or streamed.
//! * [`MfccNorm::Utterance`] needs the whole utterance: `push` emits nothing
//!   and keeps every frame (memory grows with the input); `finish` emits them
//!   all. It is meant for batch use on short files. Its output for a word
//!   depends on what surrounds it (a short template vs. a long stream), so it
//!   does not suit spotting in a stream.

mod post;
mod spectral;

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};
use serde::{Deserialize, Serialize};

use super::{Frontend, FrontendConfig};
use crate::{Error, Result, SAMPLE_RATE};
use post::{Deltas, Normalize, Sliding, Utterance};

/// Hop between frames: 10 ms at 16 kHz.
pub const HOP: usize = 160;
/// Frame length: 25 ms at 16 kHz.
pub const WINDOW: usize = 400;
/// FFT length (the frame is zero-padded to it).
pub const N_FFT: usize = 512;

/// The analysis window applied to each frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowKind {
    /// Hamming (0.54 − 0.46 cos).
    #[default]
    Hamming,
    /// Hann (0.5 − 0.5 cos).
    Hann,
}

/// What the first static coefficient holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FirstCoeff {
    /// The 0th cepstral coefficient (scaled mean log mel energy).
    C0,
    /// The log energy of the raw frame instead of c0.
    #[default]
    LogEnergy,
    /// No energy term: coefficients c1..c(n-1) only (`n_coeffs - 1` statics).
    Drop,
}

/// Mean/variance normalization of the output frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MfccNorm {
    /// No normalization.
    None,
    /// Causal sliding window of `norm_window` frames (streaming-safe).
    #[default]
    Sliding,
    /// Whole-utterance statistics (batch only: frames come out at `finish`).
    Utterance,
}

/// MFCC settings. Missing fields take their default values when deserialized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MfccConfig {
    /// Cepstral coefficients computed per frame, c0 included (see `first`).
    pub n_coeffs: usize,
    /// Append deltas and delta-deltas (3× the static coefficients).
    pub deltas: bool,
    /// c0, log energy, or nothing as the first coefficient.
    pub first: FirstCoeff,
    /// Mean/variance normalization of the output frames.
    pub norm: MfccNorm,
    /// Also divide by the standard deviation (for `Sliding` / `Utterance`).
    pub norm_variance: bool,
    /// Window of the sliding normalization, in frames.
    pub norm_window: usize,
    /// Mel filters.
    pub n_mels: usize,
    /// Lower edge of the filterbank, Hz.
    pub f_min: f32,
    /// Upper edge of the filterbank, Hz (at most 8000).
    pub f_max: f32,
    /// Analysis window.
    pub window: WindowKind,
    /// Pre-emphasis coefficient (0 disables), applied within each frame.
    pub pre_emphasis: f32,
    /// Floor on mel energies (and frame energy) before the log.
    pub log_floor: f32,
}

impl Default for MfccConfig {
    /// 39 dims: log energy + c1..c12, deltas, delta-deltas, causal 0.3 s
    /// sliding mean normalization. Chosen with `examples/mfcc_config_sweep.rs`
    /// (cross-speaker retrieval, cosine subsequence DTW, Speech Commands):
    /// best of the streaming-safe settings, on par with per-utterance CMN.
    fn default() -> Self {
        MfccConfig {
            n_coeffs: 13,
            deltas: true,
            first: FirstCoeff::LogEnergy,
            norm: MfccNorm::Sliding,
            norm_variance: false,
            norm_window: 30,
            n_mels: 40,
            f_min: 20.0,
            f_max: 8000.0,
            window: WindowKind::Hamming,
            pre_emphasis: 0.97,
            log_floor: 1e-10,
        }
    }
}

impl MfccConfig {
    /// Static coefficients per frame (before deltas).
    pub fn n_static(&self) -> usize {
        match self.first {
            FirstCoeff::Drop => self.n_coeffs.saturating_sub(1),
            _ => self.n_coeffs,
        }
    }

    /// Values per output frame.
    pub fn dim(&self) -> usize {
        self.n_static() * if self.deltas { 3 } else { 1 }
    }

    /// Checks the settings; the error says which field is wrong.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::invalid(format!("MFCC settings: {m}")));
        let nyquist = SAMPLE_RATE as f32 / 2.0;
        if self.n_mels == 0 || self.n_mels > 128 {
            return bad(format!("n_mels = {} (expected 1..=128)", self.n_mels));
        }
        if self.n_coeffs == 0 || self.n_coeffs > self.n_mels {
            return bad(format!(
                "n_coeffs = {} (expected 1..=n_mels = {})",
                self.n_coeffs, self.n_mels
            ));
        }
        if self.n_static() == 0 {
            return bad("first = drop needs n_coeffs >= 2".into());
        }
        if !(self.f_min >= 0.0 && self.f_min < self.f_max && self.f_max <= nyquist) {
            return bad(format!(
                "band {}..{} Hz (expected 0 <= f_min < f_max <= {nyquist})",
                self.f_min, self.f_max
            ));
        }
        if !(0.0..1.0).contains(&self.pre_emphasis) {
            return bad(format!(
                "pre_emphasis = {} (expected 0..1)",
                self.pre_emphasis
            ));
        }
        if !(self.log_floor > 0.0 && self.log_floor.is_finite()) {
            return bad(format!("log_floor = {} (expected > 0)", self.log_floor));
        }
        if self.norm == MfccNorm::Sliding && !(1..=100_000).contains(&self.norm_window) {
            return bad(format!(
                "norm_window = {} (expected 1..=100000 frames)",
                self.norm_window
            ));
        }
        let fb = spectral::mel_filterbank(
            self.n_mels,
            N_FFT,
            SAMPLE_RATE as f32,
            self.f_min,
            self.f_max,
        );
        if let Some(k) = fb.iter().position(|f| f.weights.is_empty()) {
            return bad(format!(
                "mel filter {k} covers no FFT bin (too many filters for {}..{} Hz)",
                self.f_min, self.f_max
            ));
        }
        Ok(())
    }
}

/// The MFCC frontend (see the module documentation for the frame convention).
pub struct Mfcc {
    cfg: MfccConfig,
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    filters: Vec<spectral::MelFilter>,
    /// `n_coeffs × n_mels`, row-major.
    dct: Vec<f32>,
    /// Raw samples of the frame being filled.
    buf: Vec<f32>,
    fill: usize,
    fft_in: Vec<f32>,
    spec: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    power: Vec<f32>,
    mel: Vec<f32>,
    stat: Vec<f32>,
    deltas: Deltas,
    norm: Normalize,
}

impl Mfcc {
    /// Builds an MFCC frontend; fails on invalid settings.
    pub fn new(cfg: MfccConfig) -> Result<Self> {
        cfg.validate()?;
        let mut planner = RealFftPlanner::<f32>::new();
        let fft = planner.plan_fft_forward(N_FFT);
        let fft_in = fft.make_input_vec();
        let spec = fft.make_output_vec();
        let scratch = fft.make_scratch_vec();
        let ns = cfg.n_static();
        let deltas = Deltas::new(ns, cfg.deltas);
        let dim = deltas.dim();
        let norm = match cfg.norm {
            MfccNorm::None => Normalize::None,
            MfccNorm::Sliding => {
                Normalize::Sliding(Sliding::new(dim, cfg.norm_window, cfg.norm_variance))
            }
            MfccNorm::Utterance => Normalize::Utterance(Utterance::new(dim, cfg.norm_variance)),
        };
        Ok(Mfcc {
            fft,
            window: spectral::window(cfg.window, WINDOW),
            filters: spectral::mel_filterbank(
                cfg.n_mels,
                N_FFT,
                SAMPLE_RATE as f32,
                cfg.f_min,
                cfg.f_max,
            ),
            dct: spectral::dct_matrix(cfg.n_coeffs, cfg.n_mels),
            buf: vec![0.0; WINDOW],
            fill: 0,
            fft_in,
            power: vec![0.0; spec.len()],
            spec,
            scratch,
            mel: vec![0.0; cfg.n_mels],
            stat: vec![0.0; ns],
            deltas,
            norm,
            cfg,
        })
    }

    /// The settings of this frontend.
    pub fn settings(&self) -> &MfccConfig {
        &self.cfg
    }

    /// Computes the static coefficients of the frame in `self.buf` into `self.stat`.
    fn static_frame(&mut self) {
        let a = self.cfg.pre_emphasis;
        let x = &self.buf;
        // Pre-emphasis inside the frame (the first sample against itself), window.
        let mut prev = x[0];
        for (i, (&s, &w)) in x.iter().zip(&self.window).enumerate() {
            let y = s - a * prev;
            prev = s;
            self.fft_in[i] = y * w;
        }
        self.fft_in[WINDOW..].iter_mut().for_each(|v| *v = 0.0);
        self.fft
            .process_with_scratch(&mut self.fft_in, &mut self.spec, &mut self.scratch)
            .expect("FFT buffers are sized by the plan");
        for (p, c) in self.power.iter_mut().zip(&self.spec) {
            *p = c.norm_sqr();
        }
        let floor = self.cfg.log_floor;
        for (m, f) in self.mel.iter_mut().zip(&self.filters) {
            let p = &self.power[f.first..f.first + f.weights.len()];
            let e: f32 = p.iter().zip(&f.weights).map(|(p, w)| p * w).sum();
            *m = e.max(floor).ln();
        }
        let nm = self.cfg.n_mels;
        let skip = usize::from(self.cfg.first == FirstCoeff::Drop);
        for (k, out) in self.stat.iter_mut().enumerate() {
            let row = &self.dct[(k + skip) * nm..(k + skip + 1) * nm];
            *out = row.iter().zip(&self.mel).map(|(a, b)| a * b).sum();
        }
        if self.cfg.first == FirstCoeff::LogEnergy {
            let e: f32 = x.iter().map(|s| s * s).sum();
            self.stat[0] = e.max(floor).ln();
        }
    }
}

impl Frontend for Mfcc {
    fn dim(&self) -> usize {
        self.cfg.dim()
    }
    fn hop(&self) -> usize {
        HOP
    }
    fn window(&self) -> usize {
        WINDOW
    }

    fn push(&mut self, samples: &[f32], out: &mut Vec<f32>) -> Result<usize> {
        if let Some(i) = samples.iter().position(|s| !s.is_finite()) {
            return Err(Error::invalid(format!(
                "MFCC input: sample {i} of the block is {} (audio must be finite)",
                samples[i]
            )));
        }
        let mut emitted = 0;
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (WINDOW - self.fill).min(rest.len());
            self.buf[self.fill..self.fill + take].copy_from_slice(&rest[..take]);
            self.fill += take;
            rest = &rest[take..];
            if self.fill == WINDOW {
                self.static_frame();
                let norm = &mut self.norm;
                self.deltas.push(&self.stat, &mut |f| {
                    emitted += norm.push(f, out);
                });
                self.buf.copy_within(HOP.., 0);
                self.fill = WINDOW - HOP;
            }
        }
        Ok(emitted)
    }

    fn finish(&mut self, out: &mut Vec<f32>) -> Result<usize> {
        let mut emitted = 0;
        let norm = &mut self.norm;
        self.deltas.finish(&mut |f| {
            emitted += norm.push(f, out);
        });
        emitted += self.norm.finish(out);
        self.fill = 0;
        Ok(emitted)
    }

    fn reset(&mut self) {
        self.fill = 0;
        self.deltas.reset();
        self.norm.reset();
    }

    fn config(&self) -> FrontendConfig {
        FrontendConfig::Mfcc(self.cfg.clone())
    }
}

#[cfg(test)]
mod tests;
