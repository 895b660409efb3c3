//! Frame distance kernels. Hot path: no allocation, loops shaped so the
//! compiler vectorizes them (eight independent accumulators).

use serde::{Deserialize, Serialize};

/// The local distance between two frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// `1 - cos(a, b)`, in `[0, 2]`. Frames are L2-normalized once by
    /// [`Metric::prepare`], so the kernel is a dot product.
    #[default]
    Cosine,
    /// Euclidean distance `|a - b|`.
    Euclidean,
}

impl Metric {
    /// Prepares a frame for [`Metric::distance`] (L2-normalizes it for cosine).
    /// A zero frame stays zero: its cosine distance to anything is 1.
    #[inline]
    pub fn prepare(self, frame: &mut [f32]) {
        if self == Metric::Cosine {
            let n = dot(frame, frame).sqrt();
            if n > 1e-12 && n.is_finite() {
                let inv = 1.0 / n;
                frame.iter_mut().for_each(|x| *x *= inv);
            } else {
                frame.iter_mut().for_each(|x| *x = 0.0);
            }
        }
    }

    /// Distance between two prepared frames of equal length.
    #[inline]
    pub fn distance(self, a: &[f32], b: &[f32]) -> f32 {
        match self {
            Metric::Cosine => (1.0 - dot(a, b)).clamp(0.0, 2.0),
            Metric::Euclidean => sq_dist(a, b).sqrt(),
        }
    }
}

/// Dot product with eight accumulators.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// Squared Euclidean distance with eight accumulators.
#[inline]
pub fn sq_dist(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            let d = x[k] - y[k];
            acc[k] += d * d;
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        let d = x - y;
        s += d * d;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_of_parallel_and_orthogonal() {
        let m = Metric::Cosine;
        let mut a = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
        let mut b: Vec<f32> = a.iter().map(|x| x * 3.0).collect();
        m.prepare(&mut a);
        m.prepare(&mut b);
        assert!(m.distance(&a, &b) < 1e-6);
        let mut c = vec![1.0, 0.0];
        let mut d = vec![0.0, 1.0];
        m.prepare(&mut c);
        m.prepare(&mut d);
        assert!((m.distance(&c, &d) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn zero_and_nan_frames_are_neutral() {
        let m = Metric::Cosine;
        let mut z = vec![0.0; 5];
        let mut n = vec![f32::NAN; 5];
        let mut a = vec![1.0; 5];
        m.prepare(&mut z);
        m.prepare(&mut n);
        m.prepare(&mut a);
        assert_eq!(m.distance(&z, &a), 1.0);
        assert_eq!(m.distance(&n, &a), 1.0);
    }

    #[test]
    fn euclidean_matches_naive() {
        let a: Vec<f32> = (0..19).map(|i| i as f32 * 0.3).collect();
        let b: Vec<f32> = (0..19).map(|i| (i as f32).sin()).collect();
        let naive: f32 = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y) * (x - y))
            .sum::<f32>()
            .sqrt();
        assert!((Metric::Euclidean.distance(&a, &b) - naive).abs() < 1e-4);
    }
}
