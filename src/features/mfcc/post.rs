//! Frame-level post-processing of the MFCC frontend: deltas / delta-deltas
//! (two frames of look-ahead) and mean/variance normalization.
//! Buffers are allocated at construction; only the per-utterance normalizer
//! grows (it must keep the whole utterance).

/// Regression half-width of the deltas (frames each side).
pub const DELTA_REACH: usize = 2;
const HIST: usize = 2 * DELTA_REACH + 1;

/// Appends deltas and delta-deltas to static frames, with a delay of
/// [`DELTA_REACH`] frames. Edges are padded by repeating the first / last frame.
///
/// * delta: `Σ_{n=1..2} n (c[t+n] - c[t-n]) / 10` (least-squares slope over ±2 frames);
/// * delta-delta: `Σ_{n=-2..2} (n² - 2) c[t+n] / 7` (twice the quadratic
///   coefficient of a least-squares parabola over the same 5 frames), so both
///   need the same two frames of look-ahead.
#[derive(Debug, Clone)]
pub struct Deltas {
    ns: usize,
    enabled: bool,
    /// Ring of the last 5 static frames: frame `t` lives in slot `t % 5`.
    hist: Vec<f32>,
    /// Static frames seen in this stream.
    n: usize,
    frame: Vec<f32>,
}

impl Deltas {
    /// A stage for `ns` static coefficients; pass-through when `enabled` is false.
    pub fn new(ns: usize, enabled: bool) -> Self {
        Deltas {
            ns,
            enabled,
            hist: vec![0.0; HIST * ns],
            n: 0,
            frame: vec![0.0; if enabled { 3 * ns } else { ns }],
        }
    }

    /// Output values per frame.
    pub fn dim(&self) -> usize {
        self.frame.len()
    }

    /// Consumes one static frame; calls `sink` with every frame now complete.
    pub fn push(&mut self, stat: &[f32], sink: &mut impl FnMut(&[f32])) {
        if !self.enabled {
            sink(stat);
            return;
        }
        let t = self.n;
        let slot = t % HIST;
        self.hist[slot * self.ns..(slot + 1) * self.ns].copy_from_slice(stat);
        self.n += 1;
        if t >= DELTA_REACH {
            self.emit(t - DELTA_REACH, t);
            sink(&self.frame);
        }
    }

    /// Ends the stream: emits the frames held back, padding the right edge.
    pub fn finish(&mut self, sink: &mut impl FnMut(&[f32])) {
        if self.enabled && self.n > 0 {
            let last = self.n - 1;
            for k in self.n.saturating_sub(DELTA_REACH)..self.n {
                self.emit(k, last);
                sink(&self.frame);
            }
        }
        self.reset();
    }

    /// Forgets the stream.
    pub fn reset(&mut self) {
        self.n = 0;
    }

    /// Fills `self.frame` with frame `k`, neighbours clamped to `[0, last]`.
    fn emit(&mut self, k: usize, last: usize) {
        let ns = self.ns;
        let at = |o: isize| -> usize {
            let idx = (k as isize + o).clamp(0, last as isize) as usize;
            (idx % HIST) * ns
        };
        let (m2, m1, c0, p1, p2) = (at(-2), at(-1), at(0), at(1), at(2));
        let h = &self.hist;
        let (stat, rest) = self.frame.split_at_mut(ns);
        let (delta, acc) = rest.split_at_mut(ns);
        for d in 0..ns {
            let (a, b, c, e, f) = (h[m2 + d], h[m1 + d], h[c0 + d], h[p1 + d], h[p2 + d]);
            stat[d] = c;
            delta[d] = ((e - b) + 2.0 * (f - a)) / 10.0;
            acc[d] = (2.0 * a - b - 2.0 * c - e + 2.0 * f) / 7.0;
        }
    }
}

/// Which mean/variance normalization the frontend applies to its output frames.
#[derive(Debug, Clone)]
pub enum Normalize {
    /// Frames pass unchanged.
    None,
    /// Causal sliding window: frame `t` is normalized with the statistics of
    /// frames `max(0, t-W+1)..=t`. Same result in batch and streaming.
    Sliding(Sliding),
    /// Whole-utterance statistics: frames are held until `finish`.
    Utterance(Utterance),
}

impl Normalize {
    /// Consumes one frame, appending the normalized frame(s) now available to `out`.
    pub fn push(&mut self, frame: &[f32], out: &mut Vec<f32>) -> usize {
        match self {
            Normalize::None => {
                out.extend_from_slice(frame);
                1
            }
            Normalize::Sliding(s) => {
                s.push(frame, out);
                1
            }
            Normalize::Utterance(u) => {
                u.frames.extend_from_slice(frame);
                0
            }
        }
    }

    /// Ends the stream, appending held frames; then forgets it.
    pub fn finish(&mut self, out: &mut Vec<f32>) -> usize {
        let n = match self {
            Normalize::Utterance(u) => u.flush(out),
            _ => 0,
        };
        self.reset();
        n
    }

    /// Forgets the stream.
    pub fn reset(&mut self) {
        match self {
            Normalize::None => {}
            Normalize::Sliding(s) => s.reset(),
            Normalize::Utterance(u) => u.frames.clear(),
        }
    }
}

/// Smallest variance used when dividing (avoids blowing up constant dimensions).
const VAR_FLOOR: f64 = 1e-4;

/// Causal sliding-window mean (and optionally variance) normalization.
#[derive(Debug, Clone)]
pub struct Sliding {
    dim: usize,
    window: usize,
    variance: bool,
    ring: Vec<f32>,
    sum: Vec<f64>,
    sumsq: Vec<f64>,
    /// Frames seen in this stream.
    n: usize,
}

impl Sliding {
    /// A normalizer over the last `window` frames (`window >= 1`).
    pub fn new(dim: usize, window: usize, variance: bool) -> Self {
        Sliding {
            dim,
            window,
            variance,
            ring: vec![0.0; dim * window],
            sum: vec![0.0; dim],
            sumsq: vec![0.0; dim],
            n: 0,
        }
    }

    fn push(&mut self, frame: &[f32], out: &mut Vec<f32>) {
        let d = self.dim;
        let slot = (self.n % self.window) * d;
        let old = &mut self.ring[slot..slot + d];
        let full = self.n >= self.window;
        for (k, (&x, o)) in frame.iter().zip(old.iter_mut()).enumerate() {
            if full {
                let o = *o as f64;
                self.sum[k] -= o;
                self.sumsq[k] -= o * o;
            }
            let x64 = x as f64;
            self.sum[k] += x64;
            self.sumsq[k] += x64 * x64;
            *o = x;
        }
        self.n += 1;
        let cnt = self.n.min(self.window) as f64;
        for ((&x, s), sq) in frame.iter().zip(&self.sum).zip(&self.sumsq) {
            let mean = s / cnt;
            let mut y = x as f64 - mean;
            if self.variance {
                let var = (sq / cnt - mean * mean).max(VAR_FLOOR);
                y /= var.sqrt();
            }
            out.push(y as f32);
        }
    }

    fn reset(&mut self) {
        self.n = 0;
        self.sum.iter_mut().for_each(|s| *s = 0.0);
        self.sumsq.iter_mut().for_each(|s| *s = 0.0);
    }
}

/// Per-utterance mean (and optionally variance) normalization.
#[derive(Debug, Clone)]
pub struct Utterance {
    dim: usize,
    variance: bool,
    frames: Vec<f32>,
}

impl Utterance {
    /// A whole-utterance normalizer for `dim`-dimensional frames.
    pub fn new(dim: usize, variance: bool) -> Self {
        Utterance {
            dim,
            variance,
            frames: Vec::new(),
        }
    }

    fn flush(&mut self, out: &mut Vec<f32>) -> usize {
        let d = self.dim;
        let n = self.frames.len() / d;
        if n == 0 {
            return 0;
        }
        let mut mean = vec![0f64; d];
        let mut sq = vec![0f64; d];
        for f in self.frames.chunks_exact(d) {
            for k in 0..d {
                mean[k] += f[k] as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        for f in self.frames.chunks_exact(d) {
            for k in 0..d {
                let c = f[k] as f64 - mean[k];
                sq[k] += c * c;
            }
        }
        let inv: Vec<f64> = sq
            .iter()
            .map(|s| {
                if self.variance {
                    1.0 / (s / n as f64).max(VAR_FLOOR).sqrt()
                } else {
                    1.0
                }
            })
            .collect();
        out.reserve(self.frames.len());
        for f in self.frames.chunks_exact(d) {
            for k in 0..d {
                out.push(((f[k] as f64 - mean[k]) * inv[k]) as f32);
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_deltas(statics: &[f32], ns: usize) -> Vec<f32> {
        let mut d = Deltas::new(ns, true);
        let mut out = Vec::new();
        for s in statics.chunks(ns) {
            d.push(s, &mut |f| out.extend_from_slice(f));
        }
        d.finish(&mut |f| out.extend_from_slice(f));
        out
    }

    #[test]
    fn deltas_of_a_ramp_and_a_parabola() {
        // c[t] = t: slope 1 everywhere away from the edges, curvature 0.
        let ramp: Vec<f32> = (0..10).map(|t| t as f32).collect();
        let out = run_deltas(&ramp, 1);
        assert_eq!(out.len(), 30);
        for t in 2..8 {
            assert_eq!(out[3 * t], t as f32);
            assert!((out[3 * t + 1] - 1.0).abs() < 1e-6);
            assert!(out[3 * t + 2].abs() < 1e-6);
        }
        // c[t] = t²: second derivative 2.
        let par: Vec<f32> = (0..10).map(|t| (t * t) as f32).collect();
        let out = run_deltas(&par, 1);
        for t in 2..8 {
            assert!((out[3 * t + 1] - 2.0 * t as f32).abs() < 1e-4);
            assert!((out[3 * t + 2] - 2.0).abs() < 1e-4);
        }
    }

    #[test]
    fn deltas_pad_edges_and_keep_frame_count() {
        for n in 1..7 {
            let s: Vec<f32> = (0..n).map(|t| 3.0 + t as f32).collect();
            let out = run_deltas(&s, 1);
            assert_eq!(out.len(), 3 * n, "n = {n}");
        }
        // A single frame: deltas are zero.
        assert_eq!(run_deltas(&[5.0], 1), vec![5.0, 0.0, 0.0]);
        // Left edge: c[-1] = c[-2] = c[0].
        let out = run_deltas(&[0.0, 1.0, 2.0, 3.0, 4.0], 1);
        assert!((out[1] - (1.0 + 2.0 * 2.0) / 10.0).abs() < 1e-6);
    }

    #[test]
    fn sliding_mean_is_causal_and_windowed() {
        let mut s = Normalize::Sliding(Sliding::new(1, 3, false));
        let mut out = Vec::new();
        for x in [1.0, 3.0, 5.0, 7.0] {
            s.push(&[x], &mut out);
        }
        // means: 1, 2, 3, 5 (window of 3).
        assert_eq!(out, vec![0.0, 1.0, 2.0, 2.0]);
    }

    #[test]
    fn utterance_cmvn_gives_zero_mean_unit_variance() {
        let mut u = Normalize::Utterance(Utterance::new(2, true));
        let mut out = Vec::new();
        for t in 0..50 {
            assert_eq!(u.push(&[t as f32, 10.0 - 3.0 * t as f32], &mut out), 0);
        }
        assert!(out.is_empty());
        assert_eq!(u.finish(&mut out), 50);
        for k in 0..2 {
            let v: Vec<f32> = out.iter().skip(k).step_by(2).cloned().collect();
            let m: f32 = v.iter().sum::<f32>() / 50.0;
            let var: f32 = v.iter().map(|x| (x - m) * (x - m)).sum::<f32>() / 50.0;
            assert!(m.abs() < 1e-4 && (var - 1.0).abs() < 1e-3, "{m} {var}");
        }
    }
}
