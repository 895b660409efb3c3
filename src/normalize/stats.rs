//! Feature statistics fitted on background audio: per-dimension mean and
//! standard deviation (Welford, f64) and the covariance's principal directions
//! (blocked co-moment updates, f64). Memory stays constant however many frames
//! are pushed.

use std::path::Path;

use ndarray::{linalg::general_mat_mul, ArrayView2, ArrayViewMut2};
use serde::{Deserialize, Serialize};

use super::eigen::{top_eigen, SymmetricEigen};
use crate::features::FrontendConfig;
use crate::{Error, Result};

/// Frames buffered before one co-moment update (a matrix product).
const BLOCK: usize = 256;
/// Relative standard-deviation floor: a dimension's std is never taken below
/// this fraction of the mean std over all dimensions.
const REL_STD_FLOOR: f64 = 1e-4;
/// Absolute standard-deviation floor.
const ABS_STD_FLOOR: f64 = 1e-12;
/// Up to this dimension `fit` computes every eigenvalue; above it only the top ones.
const FULL_EIGEN_MAX_DIM: usize = 128;
/// Tag written into every statistics file.
const FORMAT_TAG: &str = "wordspot-stats";
const FORMAT_VERSION: u32 = 1;

/// Streaming accumulator of feature statistics (constant memory).
///
/// Mean and variance use Welford's update per frame; the co-moment matrix (for
/// principal directions) is updated per block of frames with the exact
/// pairwise merge of Chan et al., so both stay accurate over hours of frames.
#[derive(Debug, Clone)]
pub struct StatsAccumulator {
    dim: usize,
    count: u64,
    skipped: u64,
    mean: Vec<f64>,
    m2: Vec<f64>,
    cov: Option<Covariance>,
}

#[derive(Debug, Clone)]
struct Covariance {
    block: Vec<f64>,
    block_len: usize,
    block_mean: Vec<f64>,
    count: u64,
    mean: Vec<f64>,
    comoment: Vec<f64>,
}

impl StatsAccumulator {
    /// Mean and variance only, for `dim`-dimensional frames.
    pub fn new(dim: usize) -> Self {
        StatsAccumulator {
            dim,
            count: 0,
            skipped: 0,
            mean: vec![0.0; dim],
            m2: vec![0.0; dim],
            cov: None,
        }
    }

    /// Mean, variance and the full covariance (needed for `pca:K`); holds a
    /// `dim × dim` f64 matrix plus a small block buffer.
    pub fn with_covariance(dim: usize) -> Self {
        let mut s = Self::new(dim);
        s.cov = Some(Covariance {
            block: vec![0.0; BLOCK * dim],
            block_len: 0,
            block_mean: vec![0.0; dim],
            count: 0,
            mean: vec![0.0; dim],
            comoment: vec![0.0; dim * dim],
        });
        s
    }

    /// Frame dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Frames accumulated so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Frames ignored because they held a NaN or infinity.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Adds one frame (`frame.len() == dim`, else an error). Frames with a
    /// non-finite value are counted in [`StatsAccumulator::skipped`] and ignored.
    /// No allocation.
    pub fn push(&mut self, frame: &[f32]) -> Result<()> {
        if frame.len() != self.dim {
            return Err(Error::invalid(format!(
                "statistics expect {}-dim frames, got {}",
                self.dim,
                frame.len()
            )));
        }
        if frame.iter().any(|v| !v.is_finite()) {
            self.skipped += 1;
            return Ok(());
        }
        self.count += 1;
        let n = self.count as f64;
        for ((m, m2), &x) in self.mean.iter_mut().zip(&mut self.m2).zip(frame) {
            let x = x as f64;
            let delta = x - *m;
            *m += delta / n;
            *m2 += delta * (x - *m);
        }
        if let Some(c) = &mut self.cov {
            let row = &mut c.block[c.block_len * self.dim..(c.block_len + 1) * self.dim];
            for (r, &x) in row.iter_mut().zip(frame) {
                *r = x as f64;
            }
            c.block_len += 1;
            if c.block_len == BLOCK {
                c.flush(self.dim);
            }
        }
        Ok(())
    }

    /// Adds every frame of a row-major `frames × dim` buffer.
    pub fn push_frames(&mut self, data: &[f32]) -> Result<()> {
        if self.dim == 0 || data.len() % self.dim != 0 {
            return Err(Error::invalid(format!(
                "statistics expect whole {}-dim frames, got {} values",
                self.dim,
                data.len()
            )));
        }
        for frame in data.chunks_exact(self.dim) {
            self.push(frame)?;
        }
        Ok(())
    }

    /// Adds every row of a `frames × dim` array.
    pub fn push_array(&mut self, data: ArrayView2<f32>) -> Result<()> {
        let mut scratch = Vec::new();
        for row in data.rows() {
            match row.as_slice() {
                Some(s) => self.push(s)?,
                None => {
                    scratch.clear();
                    scratch.extend(row.iter().copied());
                    self.push(&scratch)?;
                }
            }
        }
        Ok(())
    }

    /// Per-dimension means.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// Per-dimension sample variances (`n − 1` denominator; 0 below two frames).
    pub fn variance(&self) -> Vec<f64> {
        let d = self.count.saturating_sub(1).max(1) as f64;
        self.m2.iter().map(|m2| (m2 / d).max(0.0)).collect()
    }

    /// Per-dimension standard deviations (no floor applied).
    pub fn std(&self) -> Vec<f64> {
        self.variance().into_iter().map(f64::sqrt).collect()
    }

    /// The sample covariance (`dim × dim`, row-major), or `None` when the
    /// accumulator was built without one.
    pub fn covariance(&mut self) -> Option<Vec<f64>> {
        let dim = self.dim;
        let c = self.cov.as_mut()?;
        c.flush(dim);
        let d = c.count.saturating_sub(1).max(1) as f64;
        let mut out: Vec<f64> = c.comoment.iter().map(|v| v / d).collect();
        // Symmetrize away rounding differences between the two triangles.
        for i in 0..dim {
            for j in i + 1..dim {
                let v = 0.5 * (out[i * dim + j] + out[j * dim + i]);
                out[i * dim + j] = v;
                out[j * dim + i] = v;
            }
        }
        Some(out)
    }

    /// Finishes the fit: statistics for `frontend`, keeping the top
    /// `components` principal directions (0 when fitted without covariance).
    pub fn fit(&mut self, frontend: &FrontendConfig, components: usize) -> Result<Stats> {
        if self.count < 2 {
            return Err(Error::invalid(format!(
                "statistics need at least 2 frames, got {}",
                self.count
            )));
        }
        let std = self.std();
        let mean_std = std.iter().sum::<f64>() / self.dim.max(1) as f64;
        let std_floor = (REL_STD_FLOOR * mean_std).max(ABS_STD_FLOOR);
        // Large covariances are only decomposed when directions are asked for.
        let decompose = components > 0 || self.dim <= FULL_EIGEN_MAX_DIM;
        let (eigenvalues, comps) = match self.covariance().filter(|_| decompose) {
            Some(cov) => {
                let k = components.min(self.dim);
                // Small matrices: every eigenvalue (cheap). Large ones: only the top k.
                let eig = if self.dim <= FULL_EIGEN_MAX_DIM {
                    SymmetricEigen::new(&cov, self.dim)
                } else {
                    top_eigen(&cov, self.dim, k)
                }
                .ok_or_else(|| Error::invalid("covariance is not finite"))?;
                let comps = (0..k)
                    .map(|i| eig.vector(i).iter().map(|&v| v as f32).collect())
                    .collect();
                (eig.values, comps)
            }
            None => (Vec::new(), Vec::new()),
        };
        Ok(Stats {
            format: FORMAT_TAG.into(),
            version: FORMAT_VERSION,
            frontend: frontend.clone(),
            dim: self.dim,
            frames: self.count,
            mean: self.mean.clone(),
            std,
            std_floor,
            eigenvalues,
            components: comps,
        })
    }
}

impl Covariance {
    /// Merges the buffered block into the running co-moment.
    fn flush(&mut self, dim: usize) {
        let nb = self.block_len;
        if nb == 0 {
            return;
        }
        let block = &mut self.block[..nb * dim];
        self.block_mean.iter_mut().for_each(|m| *m = 0.0);
        for row in block.chunks_exact(dim) {
            for (m, &x) in self.block_mean.iter_mut().zip(row) {
                *m += x;
            }
        }
        for m in &mut self.block_mean {
            *m /= nb as f64;
        }
        for row in block.chunks_exact_mut(dim) {
            for (x, &m) in row.iter_mut().zip(&self.block_mean) {
                *x -= m;
            }
        }
        let xc = ArrayView2::from_shape((nb, dim), &*block).expect("block shape");
        let mut c =
            ArrayViewMut2::from_shape((dim, dim), &mut self.comoment[..]).expect("comoment shape");
        general_mat_mul(1.0, &xc.t(), &xc, 1.0, &mut c);

        let na = self.count as f64;
        let nbf = nb as f64;
        let n = na + nbf;
        if self.count > 0 {
            let w = na * nbf / n;
            for i in 0..dim {
                let di = self.block_mean[i] - self.mean[i];
                let row = &mut self.comoment[i * dim..(i + 1) * dim];
                for (cij, (&bm, &m)) in row.iter_mut().zip(self.block_mean.iter().zip(&self.mean)) {
                    *cij += w * di * (bm - m);
                }
            }
        }
        for (m, &bm) in self.mean.iter_mut().zip(&self.block_mean) {
            *m += (bm - *m) * nbf / n;
        }
        self.count += nb as u64;
        self.block_len = 0;
    }
}

/// Fitted statistics as stored on disk (JSON), tied to the frontend they were
/// fitted on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Always `"wordspot-stats"`.
    pub format: String,
    /// File format version.
    pub version: u32,
    /// The frontend (and layer) whose output was measured.
    pub frontend: FrontendConfig,
    /// Frame dimension.
    pub dim: usize,
    /// Frames the statistics were fitted on.
    pub frames: u64,
    /// Per-dimension means.
    pub mean: Vec<f64>,
    /// Per-dimension standard deviations (raw; see `std_floor`).
    pub std: Vec<f64>,
    /// Smallest standard deviation used when dividing (constant dimensions).
    pub std_floor: f64,
    /// Covariance eigenvalues, largest first: all of them up to 128 dimensions,
    /// else as many as `components` (empty without covariance).
    pub eigenvalues: Vec<f64>,
    /// Top principal directions (unit vectors), largest variance first.
    pub components: Vec<Vec<f32>>,
}

impl Stats {
    /// Standard deviation of dimension `i` with the floor applied.
    pub fn floored_std(&self, i: usize) -> f64 {
        self.std[i].max(self.std_floor)
    }

    /// Writes the statistics as JSON.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string(self)
            .map_err(|e| Error::format(path, format!("cannot serialize statistics: {e}")))?;
        std::fs::write(path, text).map_err(|e| Error::io(path, e))
    }

    /// Reads statistics written by [`Stats::save`] and checks their consistency.
    pub fn load(path: &Path) -> Result<Stats> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let s: Stats = serde_json::from_str(&text)
            .map_err(|e| Error::format(path, format!("not a wordspot statistics file: {e}")))?;
        s.validate(path)?;
        Ok(s)
    }

    /// Checks internal consistency (lengths, finiteness); `path` names the file in errors.
    pub fn validate(&self, path: &Path) -> Result<()> {
        let bad = |msg: String| Err(Error::format(path, msg));
        if self.format != FORMAT_TAG {
            return bad(format!(
                "format is '{}', expected '{FORMAT_TAG}'",
                self.format
            ));
        }
        if self.version != FORMAT_VERSION {
            return bad(format!(
                "format version {} is not supported (expected {FORMAT_VERSION})",
                self.version
            ));
        }
        if self.dim == 0 || self.mean.len() != self.dim || self.std.len() != self.dim {
            return bad(format!(
                "dim {} does not match {} means and {} stds",
                self.dim,
                self.mean.len(),
                self.std.len()
            ));
        }
        if self.eigenvalues.len() > self.dim || self.components.iter().any(|c| c.len() != self.dim)
        {
            return bad(format!(
                "principal directions are not {}-dimensional",
                self.dim
            ));
        }
        let finite = self
            .mean
            .iter()
            .chain(&self.std)
            .chain(&self.eigenvalues)
            .all(|v| v.is_finite())
            && self.components.iter().flatten().all(|v| v.is_finite())
            && self.std_floor.is_finite()
            && self.std_floor > 0.0;
        if !finite {
            return bad("contains NaN, infinite or non-positive values".into());
        }
        Ok(())
    }

    /// Checks that these statistics describe the features of `frontend` with
    /// `dim` values per frame; `path` names the statistics file in errors.
    pub fn check_compatible(
        &self,
        frontend: &FrontendConfig,
        dim: usize,
        path: &Path,
    ) -> Result<()> {
        if !same_features(&self.frontend, frontend) {
            let (a, b) = (self.frontend.name(), frontend.name());
            let (a, b) = if a == b {
                (
                    serde_json::to_string(&self.frontend).unwrap_or(a),
                    serde_json::to_string(frontend).unwrap_or(b),
                )
            } else {
                (a, b)
            };
            return Err(Error::format(
                path,
                format!("statistics fitted on {a}, used with {b}"),
            ));
        }
        if self.dim != dim {
            return Err(Error::format(
                path,
                format!(
                    "statistics fitted on {}-dim features, used with {dim}-dim features",
                    self.dim
                ),
            ));
        }
        Ok(())
    }
}

/// Whether two frontend settings give the same features: MFCC settings must be
/// equal; wav2vec2 models must have the same file name and layer (streaming
/// chunk sizes and the folder the model sits in do not matter).
pub fn same_features(a: &FrontendConfig, b: &FrontendConfig) -> bool {
    match (a, b) {
        (FrontendConfig::Mfcc(x), FrontendConfig::Mfcc(y)) => x == y,
        (FrontendConfig::Embedding(x), FrontendConfig::Embedding(y)) => x == y,
        (FrontendConfig::Wav2vec2(x), FrontendConfig::Wav2vec2(y)) => {
            x.model.file_name() == y.model.file_name() && x.layer == y.layer
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::MfccConfig;

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    /// Frames with a large common offset (hard for naive sum-of-squares).
    fn frames(n: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n * dim)
            .map(|k| 1000.0 + (k % dim) as f32 * 3.0 + lcg(&mut s) * (1 + k % dim) as f32)
            .collect()
    }

    fn two_pass(data: &[f32], dim: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let n = data.len() / dim;
        let mut mean = vec![0.0f64; dim];
        for row in data.chunks(dim) {
            for (m, &x) in mean.iter_mut().zip(row) {
                *m += x as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mut cov = vec![0.0f64; dim * dim];
        for row in data.chunks(dim) {
            for i in 0..dim {
                for j in 0..dim {
                    cov[i * dim + j] += (row[i] as f64 - mean[i]) * (row[j] as f64 - mean[j]);
                }
            }
        }
        cov.iter_mut().for_each(|c| *c /= (n - 1) as f64);
        let var = (0..dim).map(|i| cov[i * dim + i]).collect();
        (mean, var, cov)
    }

    #[test]
    fn welford_and_blocked_covariance_match_two_pass() {
        let dim = 6;
        // Not a multiple of the block size, and more than one block.
        for &n in &[2usize, 3, 255, 256, 257, 1000] {
            let data = frames(n, dim, n as u64);
            let mut acc = StatsAccumulator::with_covariance(dim);
            acc.push_frames(&data).unwrap();
            let (mean, var, cov) = two_pass(&data, dim);
            assert_eq!(acc.count(), n as u64);
            for i in 0..dim {
                assert!((acc.mean()[i] - mean[i]).abs() < 1e-9 * mean[i].abs());
                assert!(
                    (acc.variance()[i] - var[i]).abs() < 1e-9 * var[i].max(1.0),
                    "n={n}"
                );
            }
            let got = acc.covariance().unwrap();
            for (g, w) in got.iter().zip(&cov) {
                assert!((g - w).abs() < 1e-8 * (1.0 + w.abs()), "n={n}: {g} vs {w}");
            }
        }
    }

    #[test]
    fn constant_dimension_gives_finite_stats() {
        let dim = 3;
        let mut acc = StatsAccumulator::with_covariance(dim);
        for k in 0..50 {
            acc.push(&[5.0, k as f32, -2.0]).unwrap();
        }
        let s = acc.fit(&FrontendConfig::default(), 3).unwrap();
        assert_eq!(s.std[0], 0.0);
        assert!(s.floored_std(0) > 0.0);
        assert!(s.eigenvalues.iter().all(|v| v.is_finite()));
        assert!(s.components.iter().flatten().all(|v| v.is_finite()));
        s.validate(Path::new("x")).unwrap();
    }

    #[test]
    fn non_finite_frames_are_skipped_and_wrong_dims_rejected() {
        let mut acc = StatsAccumulator::new(2);
        acc.push(&[1.0, f32::NAN]).unwrap();
        acc.push(&[1.0, 2.0]).unwrap();
        assert_eq!((acc.count(), acc.skipped()), (1, 1));
        assert!(acc.push(&[1.0]).is_err());
        assert!(acc.push_frames(&[1.0, 2.0, 3.0]).is_err());
        assert!(acc.fit(&FrontendConfig::default(), 0).is_err());
    }

    #[test]
    fn save_load_roundtrip_and_compatibility() {
        let dim = 4;
        let mut acc = StatsAccumulator::with_covariance(dim);
        acc.push_frames(&frames(300, dim, 9)).unwrap();
        let fe = FrontendConfig::Mfcc(MfccConfig {
            n_coeffs: 4,
            deltas: false,
            ..MfccConfig::default()
        });
        let s = acc.fit(&fe, 2).unwrap();
        assert_eq!(s.components.len(), 2);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("stats.json");
        s.save(&p).unwrap();
        let back = Stats::load(&p).unwrap();
        assert_eq!(back.dim, dim);
        for (a, b) in back.mean.iter().zip(&s.mean) {
            assert!((a - b).abs() <= 1e-12 * b.abs());
        }
        assert_eq!(back.components, s.components);
        back.check_compatible(&fe, dim, &p).unwrap();
        let err = back
            .check_compatible(&FrontendConfig::default(), dim, &p)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("stats.json") && err.contains("fitted on"),
            "{err}"
        );
        let err = back.check_compatible(&fe, 5, &p).unwrap_err().to_string();
        assert!(err.contains("4-dim") && err.contains("5-dim"), "{err}");

        std::fs::write(&p, "{\"format\":1}").unwrap();
        let err = Stats::load(&p).unwrap_err().to_string();
        assert!(err.contains("stats.json"), "{err}");
        let missing = dir.path().join("nope.json");
        assert!(Stats::load(&missing)
            .unwrap_err()
            .to_string()
            .contains("nope.json"));
    }
}
