//! Anisotropy: A = E[1 − cos(x_i, x_j)] over random frame pairs, reported for
//! pairs from the same recording and from different recordings.

use ndarray::Array2;
use serde::Serialize;

use super::rng::Rng;

/// One sampled pair: (recording, frame) and (recording, frame).
pub type Pair = ((usize, usize), (usize, usize));

/// Frame pairs sampled once and reused for every normalizer, so differences
/// between normalizers are not sampling noise.
#[derive(Debug, Clone, Default)]
pub struct PairSample {
    /// Pairs of distinct frames from the same recording.
    pub same: Vec<Pair>,
    /// Pairs of frames from two different recordings.
    pub different: Vec<Pair>,
}

impl PairSample {
    /// Samples `n` same-recording and `n` different-recording pairs over
    /// recordings with `lens[r]` frames. Same-recording pairs pick a frame
    /// uniformly among recordings of ≥ 2 frames, then another frame of it;
    /// different-recording pairs pick two frames uniformly from two distinct
    /// recordings. A kind that cannot be sampled (one recording, single-frame
    /// recordings) stays empty.
    pub fn draw(lens: &[usize], n: usize, seed: u64) -> PairSample {
        let mut rng = Rng::new(seed);
        let total: usize = lens.iter().sum();
        let locate = |mut g: usize, skip: Option<usize>| -> (usize, usize) {
            for (r, &l) in lens.iter().enumerate() {
                if Some(r) == skip {
                    continue;
                }
                if g < l {
                    return (r, g);
                }
                g -= l;
            }
            unreachable!("index within total")
        };
        let multi: usize = lens.iter().filter(|&&l| l >= 2).sum();
        let mut same = Vec::with_capacity(if multi > 0 { n } else { 0 });
        if multi > 0 {
            let multi_lens: Vec<usize> = lens.iter().map(|&l| if l >= 2 { l } else { 0 }).collect();
            for _ in 0..n {
                let mut g = rng.below(multi);
                let mut r = 0;
                while g >= multi_lens[r] {
                    g -= multi_lens[r];
                    r += 1;
                }
                let mut j = rng.below(lens[r] - 1);
                if j >= g {
                    j += 1;
                }
                same.push(((r, g), (r, j)));
            }
        }
        let nonempty = lens.iter().filter(|&&l| l > 0).count();
        let mut different = Vec::new();
        if nonempty >= 2 {
            different.reserve(n);
            for _ in 0..n {
                let a = locate(rng.below(total), None);
                let b = locate(rng.below(total - lens[a.0]), Some(a.0));
                different.push((a, b));
            }
        }
        PairSample { same, different }
    }
}

/// Summary of 1 − cos over sampled pairs.
#[derive(Debug, Clone, Serialize)]
pub struct PairSummary {
    /// Pairs measured.
    pub pairs: usize,
    /// Anisotropy A = mean of 1 − cos (≈ 1 isotropic, → 0 when every frame points the same way).
    pub mean: f64,
    /// Median of 1 − cos.
    pub median: f64,
    /// First quartile of 1 − cos.
    pub q1: f64,
    /// Third quartile of 1 − cos.
    pub q3: f64,
    /// Interquartile range (q3 − q1).
    pub iqr: f64,
    /// Mean cosine similarity (1 − A).
    pub mean_cos: f64,
    /// Every pair's cosine similarity (for plots; not serialized).
    #[serde(skip)]
    pub cosines: Vec<f32>,
}

/// Cosine similarity; 0 when either vector is all zeros.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64, y as f64);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        return 0.0;
    }
    (ab / (aa.sqrt() * bb.sqrt())).clamp(-1.0, 1.0) as f32
}

/// Measures the pairs on `recs` (recordings as `frames × dim` arrays); `None`
/// when there are no pairs.
pub fn summarize(recs: &[Array2<f32>], pairs: &[Pair]) -> Option<PairSummary> {
    if pairs.is_empty() {
        return None;
    }
    let cosines: Vec<f32> = pairs
        .iter()
        .map(|&((ra, fa), (rb, fb))| {
            let a = recs[ra].row(fa);
            let b = recs[rb].row(fb);
            match (a.as_slice(), b.as_slice()) {
                (Some(a), Some(b)) => cosine(a, b),
                _ => cosine(&a.to_vec(), &b.to_vec()),
            }
        })
        .collect();
    let mut d: Vec<f64> = cosines.iter().map(|&c| 1.0 - c as f64).collect();
    d.sort_by(f64::total_cmp);
    let mean = d.iter().sum::<f64>() / d.len() as f64;
    let (q1, median, q3) = (quantile(&d, 0.25), quantile(&d, 0.5), quantile(&d, 0.75));
    Some(PairSummary {
        pairs: d.len(),
        mean,
        median,
        q1,
        q3,
        iqr: q3 - q1,
        mean_cos: 1.0 - mean,
        cosines,
    })
}

/// Linear-interpolated quantile of sorted, non-empty data.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_respect_their_kind() {
        let lens = [5, 1, 0, 7];
        let s = PairSample::draw(&lens, 500, 3);
        assert_eq!(s.same.len(), 500);
        assert_eq!(s.different.len(), 500);
        for &((ra, fa), (rb, fb)) in &s.same {
            assert_eq!(ra, rb);
            assert_ne!(fa, fb);
            assert!(fa < lens[ra] && fb < lens[rb]);
            assert_ne!(ra, 1, "a single-frame recording has no same pair");
        }
        for &((ra, fa), (rb, fb)) in &s.different {
            assert_ne!(ra, rb);
            assert!(fa < lens[ra] && fb < lens[rb]);
        }
        // Reproducible.
        assert_eq!(PairSample::draw(&lens, 500, 3).different, s.different);
        // Degenerate inputs give empty kinds, not panics.
        let one = PairSample::draw(&[4], 10, 1);
        assert_eq!((one.same.len(), one.different.len()), (10, 0));
        let singles = PairSample::draw(&[1, 1], 10, 1);
        assert_eq!((singles.same.len(), singles.different.len()), (0, 10));
        assert!(PairSample::draw(&[], 10, 1).same.is_empty());
    }

    #[test]
    fn cosine_and_quantiles() {
        assert!((cosine(&[1.0, 0.0], &[0.0, 2.0])).abs() < 1e-7);
        assert!((cosine(&[1.0, 1.0], &[2.0, 2.0]) - 1.0).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 2.0]), 0.0);
        let d = [0.0, 1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&d, 0.5), 2.0);
        assert_eq!(quantile(&d, 0.25), 1.0);
        assert_eq!(quantile(&[0.0, 1.0], 0.5), 0.5);
    }

    #[test]
    fn identical_frames_have_zero_anisotropy() {
        let recs = vec![
            Array2::from_elem((4, 3), 1.0f32),
            Array2::from_elem((3, 3), 2.0f32),
        ];
        let s = PairSample::draw(&[4, 3], 50, 9);
        let same = summarize(&recs, &s.same).unwrap();
        let diff = summarize(&recs, &s.different).unwrap();
        assert!(same.mean.abs() < 1e-6 && diff.mean.abs() < 1e-6);
        assert!(summarize(&recs, &[]).is_none());
    }
}
