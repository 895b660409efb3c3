//! IsoScore (Rudman et al. 2022, "IsoScore: Measuring the Uniformity of
//! Embedding Space Utilization"): how uniformly a point cloud uses its
//! dimensions, in [0, 1] (1 = isotropic, 0 = a single direction).
//!
//! The algorithm PCA-reorients the cloud and takes its variance vector Σ_D
//! (the covariance eigenvalues), normalizes it to Σ̂ = √d Σ_D / ‖Σ_D‖,
//! measures δ = ‖Σ̂ − 1‖ / √(2(d − √d)), then φ = (d − δ²(d − √d))² / d² and
//! ι = (d φ − 1) / (d − 1). Since Σ λ = tr C and Σ λ² = ‖C‖_F², only the
//! covariance's trace and Frobenius norm are needed: no eigen-decomposition.

use ndarray::{Array2, ArrayView2, Axis};

/// IsoScore from the covariance eigenvalues' sum (`trace`) and the square
/// root of their sum of squares (`frobenius`), for `d` dimensions. `None` for
/// `d < 2` or a zero covariance.
pub fn isoscore_from_moments(trace: f64, frobenius: f64, d: usize) -> Option<f64> {
    if d < 2 || frobenius.is_nan() || frobenius <= 0.0 || !trace.is_finite() {
        return None;
    }
    let d = d as f64;
    let sd = d.sqrt();
    // ‖Σ̂ − 1‖² = Σ Σ̂² − 2 Σ Σ̂ + d = 2d − 2 √d tr / ‖C‖_F.
    let dist2 = (2.0 * d - 2.0 * sd * trace / frobenius).max(0.0);
    let delta2 = dist2 / (2.0 * (d - sd));
    let phi = (d - delta2 * (d - sd)).powi(2) / (d * d);
    Some(((d * phi - 1.0) / (d - 1.0)).clamp(0.0, 1.0))
}

/// IsoScore from explicit covariance eigenvalues (the paper's formulation).
pub fn isoscore_from_eigenvalues(values: &[f64]) -> Option<f64> {
    let trace: f64 = values.iter().sum();
    let frob = values.iter().map(|v| v * v).sum::<f64>().sqrt();
    isoscore_from_moments(trace, frob, values.len())
}

/// IsoScore of the rows of `points` (`n × d`, `n ≥ 2`). The sample covariance
/// is used, so a cloud with few points per dimension scores below its true
/// isotropy (use thousands of points for hundreds of dimensions).
pub fn isoscore(points: ArrayView2<f32>) -> Option<f64> {
    let (n, d) = points.dim();
    if n < 2 {
        return None;
    }
    let mean = points.mapv(|v| v as f64).mean_axis(Axis(0))?;
    let centered: Array2<f32> =
        Array2::from_shape_fn((n, d), |(i, j)| (points[[i, j]] as f64 - mean[j]) as f32);
    let cov = centered.t().dot(&centered);
    let scale = 1.0 / (n - 1) as f64;
    let trace: f64 = (0..d).map(|i| cov[[i, i]] as f64).sum::<f64>() * scale;
    let frob = cov.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt() * scale;
    isoscore_from_moments(trace, frob, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::rng::Rng;
    use crate::normalize::eigen::SymmetricEigen;

    fn gaussian(n: usize, d: usize, seed: u64, scales: &[f64]) -> Array2<f32> {
        let mut r = Rng::new(seed);
        Array2::from_shape_fn((n, d), |(_, j)| (r.gaussian() * scales[j]) as f32)
    }

    #[test]
    fn known_spectra() {
        assert!((isoscore_from_eigenvalues(&[2.0; 10]).unwrap() - 1.0).abs() < 1e-12);
        let mut one = vec![0.0; 10];
        one[0] = 5.0;
        assert!(isoscore_from_eigenvalues(&one).unwrap().abs() < 1e-12);
        // Half the dimensions used equally → about half the score.
        let half: Vec<f64> = (0..100).map(|i| if i < 50 { 1.0 } else { 0.0 }).collect();
        let s = isoscore_from_eigenvalues(&half).unwrap();
        assert!((0.4..0.6).contains(&s), "{s}");
        assert!(isoscore_from_eigenvalues(&[1.0]).is_none());
        assert!(isoscore_from_eigenvalues(&[0.0, 0.0]).is_none());
    }

    #[test]
    fn isotropic_cloud_scores_near_one_and_matches_eigenvalues() {
        let d = 8;
        let x = gaussian(20_000, d, 5, &[1.0; 8]);
        let s = isoscore(x.view()).unwrap();
        assert!(s > 0.99, "{s}");

        let anis = gaussian(5_000, d, 6, &[10.0, 3.0, 1.0, 1.0, 0.5, 0.1, 0.1, 0.01]);
        let s = isoscore(anis.view()).unwrap();
        // The same score through an explicit eigen-decomposition.
        let mean = anis.mapv(|v| v as f64).mean_axis(Axis(0)).unwrap();
        let mut cov = vec![0.0f64; d * d];
        for row in anis.rows() {
            for i in 0..d {
                for j in 0..d {
                    cov[i * d + j] += (row[i] as f64 - mean[i]) * (row[j] as f64 - mean[j]);
                }
            }
        }
        cov.iter_mut().for_each(|c| *c /= (anis.nrows() - 1) as f64);
        let eig = SymmetricEigen::values_only(&cov, d).unwrap();
        let direct = isoscore_from_eigenvalues(&eig.values).unwrap();
        assert!((s - direct).abs() < 1e-4, "{s} vs {direct}");
        assert!(s < 0.2, "{s}");
    }

    #[test]
    fn rotation_does_not_change_the_score() {
        let x = gaussian(4_000, 2, 8, &[3.0, 1.0]);
        let (c, s) = (0.6f32, 0.8f32);
        let rot = Array2::from_shape_fn(x.dim(), |(i, j)| {
            if j == 0 {
                c * x[[i, 0]] - s * x[[i, 1]]
            } else {
                s * x[[i, 0]] + c * x[[i, 1]]
            }
        });
        let a = isoscore(x.view()).unwrap();
        let b = isoscore(rot.view()).unwrap();
        assert!((a - b).abs() < 1e-4, "{a} vs {b}");
    }
}
