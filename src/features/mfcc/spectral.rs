//! The per-frame spectral part of the MFCC frontend: analysis window, mel
//! filterbank and orthonormal DCT-II, all tabulated once at construction.

use super::WindowKind;

/// Hz → mel (HTK formula).
pub fn hz_to_mel(f: f32) -> f32 {
    2595.0 * (1.0 + f / 700.0).log10()
}

/// The symmetric analysis window of `n` samples.
pub fn window(kind: WindowKind, n: usize) -> Vec<f32> {
    let denom = (n.max(2) - 1) as f64;
    (0..n)
        .map(|i| {
            let c = (2.0 * std::f64::consts::PI * i as f64 / denom).cos();
            (match kind {
                WindowKind::Hamming => 0.54 - 0.46 * c,
                WindowKind::Hann => 0.5 - 0.5 * c,
            }) as f32
        })
        .collect()
}

/// One triangular mel filter: weights for FFT bins `first..first + weights.len()`.
#[derive(Debug, Clone)]
pub struct MelFilter {
    /// First FFT bin with a non-zero weight.
    pub first: usize,
    /// Weights of consecutive bins.
    pub weights: Vec<f32>,
}

/// Triangular filters equally spaced on the mel scale between `f_min` and
/// `f_max` Hz, for a real FFT of `n_fft` points at `rate` Hz. Weights are
/// computed in the mel domain (peak 1 at each centre, Kaldi-style).
pub fn mel_filterbank(
    n_mels: usize,
    n_fft: usize,
    rate: f32,
    f_min: f32,
    f_max: f32,
) -> Vec<MelFilter> {
    let (lo, hi) = (hz_to_mel(f_min), hz_to_mel(f_max));
    let step = (hi - lo) / (n_mels + 1) as f32;
    let bins = n_fft / 2 + 1;
    (0..n_mels)
        .map(|k| {
            let left = lo + k as f32 * step;
            let centre = left + step;
            let right = centre + step;
            let mut first = None;
            let mut weights = Vec::new();
            for b in 0..bins {
                let mel = hz_to_mel(b as f32 * rate / n_fft as f32);
                let w = if mel > left && mel <= centre {
                    (mel - left) / (centre - left)
                } else if mel > centre && mel < right {
                    (right - mel) / (right - centre)
                } else {
                    0.0
                };
                if w > 0.0 {
                    first.get_or_insert(b);
                    // Bins between the first and this one are inside the triangle.
                    let f = first.unwrap_or(b);
                    weights.resize(b - f, 0.0);
                    weights.push(w);
                }
            }
            MelFilter {
                first: first.unwrap_or(0),
                weights,
            }
        })
        .collect()
}

/// Orthonormal DCT-II matrix, `n_out` rows × `n_in` columns (row-major):
/// `c_k = s_k Σ_n x_n cos(π k (n + ½) / N)` with `s_0 = √(1/N)`, `s_k = √(2/N)`.
pub fn dct_matrix(n_out: usize, n_in: usize) -> Vec<f32> {
    let n = n_in as f64;
    let mut m = Vec::with_capacity(n_out * n_in);
    for k in 0..n_out {
        let s = if k == 0 {
            (1.0 / n).sqrt()
        } else {
            (2.0 / n).sqrt()
        };
        for i in 0..n_in {
            let v = s * (std::f64::consts::PI * k as f64 * (i as f64 + 0.5) / n).cos();
            m.push(v as f32);
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mel_to_hz(m: f32) -> f32 {
        700.0 * (10f32.powf(m / 2595.0) - 1.0)
    }

    #[test]
    fn mel_round_trip() {
        for f in [20.0, 440.0, 1000.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(f)) - f).abs() < 0.05 * f.max(1.0) / 100.0 + 0.01);
        }
        assert!((hz_to_mel(1000.0) - 1000.0).abs() < 1.0);
    }

    #[test]
    fn dct_is_orthonormal() {
        let n = 40;
        let m = dct_matrix(n, n);
        for a in 0..n {
            for b in 0..n {
                let d: f32 = (0..n).map(|i| m[a * n + i] * m[b * n + i]).sum();
                let want = if a == b { 1.0 } else { 0.0 };
                assert!((d - want).abs() < 1e-4, "rows {a},{b}: {d}");
            }
        }
    }

    #[test]
    fn filterbank_covers_band_with_unit_peaks() {
        let fb = mel_filterbank(40, 512, 16000.0, 20.0, 8000.0);
        assert_eq!(fb.len(), 40);
        for (k, f) in fb.iter().enumerate() {
            assert!(!f.weights.is_empty(), "filter {k} is empty");
            let peak = f.weights.iter().cloned().fold(0.0, f32::max);
            assert!(peak > 0.3 && peak <= 1.0, "filter {k} peak {peak}");
            assert!(f.first + f.weights.len() <= 257);
        }
        // Centres increase.
        for w in fb.windows(2) {
            assert!(w[0].first <= w[1].first);
        }
    }

    #[test]
    fn windows_are_symmetric_and_bounded() {
        for kind in [WindowKind::Hamming, WindowKind::Hann] {
            let w = window(kind, 400);
            for i in 0..400 {
                assert!((w[i] - w[399 - i]).abs() < 1e-6);
                assert!((0.0..=1.0).contains(&w[i]));
            }
        }
        assert!(window(WindowKind::Hann, 400)[0].abs() < 1e-7);
        assert!((window(WindowKind::Hamming, 400)[0] - 0.08).abs() < 1e-6);
    }
}
