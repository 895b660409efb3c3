//! Rogue-dimension removal applied to feature frames before scoring.
//!
//! A [`Normalizer`] is a fixed per-frame map built from [`Stats`] fitted on
//! background audio (`wordspot fit-stats`), applied identically to templates,
//! streams and corpora:
//! - `none`: identity;
//! - `standardize`: z-score per dimension;
//! - `drop:K` / `drop:K:var` / `drop:K:mean`: remove the K dimensions with the
//!   largest variance (or largest |mean|);
//! - `pca:K`: subtract the mean and project out the top K principal directions
//!   ("all-but-the-top").

pub mod eigen;
pub mod stats;

use std::fmt;
use std::path::Path;

use ndarray::{Array2, ArrayView2};

use crate::features::{Features, FrontendConfig};
use crate::{Error, Result};

pub use stats::{same_features, Stats, StatsAccumulator};

/// The accepted `--normalize` values, for error messages.
const SPEC_HELP: &str = "none, standardize, drop:K, drop:K:mean, pca:K";

/// How `drop:K` ranks dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropBy {
    /// Largest variance first.
    Variance,
    /// Largest absolute mean first.
    AbsMean,
}

/// A parsed `--normalize` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NormSpec {
    /// No change.
    None,
    /// Z-score per dimension.
    Standardize,
    /// Remove `k` dimensions ranked by `by`.
    Drop {
        /// Dimensions removed.
        k: usize,
        /// Ranking.
        by: DropBy,
    },
    /// Subtract the mean and project out the top `k` principal directions.
    Pca {
        /// Directions removed.
        k: usize,
    },
}

impl NormSpec {
    /// Parses `none | standardize | drop:K | drop:K:var | drop:K:mean | pca:K`.
    pub fn parse(spec: &str) -> Result<NormSpec> {
        let bad = || {
            Error::invalid(format!(
                "unknown normalizer '{spec}' (expected {SPEC_HELP})"
            ))
        };
        let count = |k: &str| -> Result<usize> {
            match k.parse::<usize>() {
                Ok(k) if k > 0 => Ok(k),
                _ => Err(Error::invalid(format!(
                    "normalizer '{spec}': K must be a positive integer"
                ))),
            }
        };
        let parts: Vec<&str> = spec.trim().split(':').collect();
        Ok(match parts.as_slice() {
            ["none"] => NormSpec::None,
            ["standardize"] => NormSpec::Standardize,
            ["drop", k] | ["drop", k, "var"] => NormSpec::Drop {
                k: count(k)?,
                by: DropBy::Variance,
            },
            ["drop", k, "mean"] => NormSpec::Drop {
                k: count(k)?,
                by: DropBy::AbsMean,
            },
            ["pca", k] => NormSpec::Pca { k: count(k)? },
            _ => return Err(bad()),
        })
    }

    /// Parses a comma-separated list of specs.
    pub fn parse_list(list: &str) -> Result<Vec<NormSpec>> {
        list.split(',')
            .filter(|s| !s.trim().is_empty())
            .map(NormSpec::parse)
            .collect()
    }

    /// Whether this spec needs fitted statistics.
    pub fn needs_stats(&self) -> bool {
        !matches!(self, NormSpec::None)
    }

    /// Principal directions this spec needs in the statistics.
    pub fn components_needed(&self) -> usize {
        match self {
            NormSpec::Pca { k } => *k,
            _ => 0,
        }
    }
}

impl fmt::Display for NormSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NormSpec::None => write!(f, "none"),
            NormSpec::Standardize => write!(f, "standardize"),
            NormSpec::Drop {
                k,
                by: DropBy::Variance,
            } => write!(f, "drop:{k}"),
            NormSpec::Drop {
                k,
                by: DropBy::AbsMean,
            } => write!(f, "drop:{k}:mean"),
            NormSpec::Pca { k } => write!(f, "pca:{k}"),
        }
    }
}

/// A per-frame map applied identically to templates, streams and corpora.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalizer {
    dim: usize,
    spec: NormSpec,
    map: Map,
}

#[derive(Debug, Clone, PartialEq)]
enum Map {
    Identity,
    /// `(x − mean) · inv_std`.
    Standardize {
        mean: Vec<f32>,
        inv_std: Vec<f32>,
    },
    /// Keeps the listed dimensions, in order.
    Select {
        keep: Vec<usize>,
    },
    /// `y = x − mean; y −= Σ_k (u_k · y) u_k` with `u` row-major `k × dim`.
    Project {
        mean: Vec<f32>,
        u: Vec<f32>,
    },
}

impl Normalizer {
    /// The identity map on `dim`-dimensional frames.
    pub fn identity(dim: usize) -> Self {
        Normalizer {
            dim,
            spec: NormSpec::None,
            map: Map::Identity,
        }
    }

    /// Input dimension.
    pub fn in_dim(&self) -> usize {
        self.dim
    }

    /// Output dimension (smaller than the input for `drop:K`).
    pub fn out_dim(&self) -> usize {
        match &self.map {
            Map::Select { keep } => keep.len(),
            _ => self.dim,
        }
    }

    /// True when this normalizer changes nothing.
    pub fn is_identity(&self) -> bool {
        matches!(self.map, Map::Identity)
    }

    /// The spec this normalizer was built from.
    pub fn spec(&self) -> NormSpec {
        self.spec
    }

    /// Maps one frame into `out`. `input.len()` must be [`Normalizer::in_dim`]
    /// and `out.len()` [`Normalizer::out_dim`] (checked in debug builds). No allocation.
    pub fn apply(&self, input: &[f32], out: &mut [f32]) {
        debug_assert_eq!(input.len(), self.dim);
        debug_assert_eq!(out.len(), self.out_dim());
        match &self.map {
            Map::Identity => out.copy_from_slice(input),
            Map::Standardize { mean, inv_std } => {
                for (o, ((&x, &m), &s)) in out.iter_mut().zip(input.iter().zip(mean).zip(inv_std)) {
                    *o = (x - m) * s;
                }
            }
            Map::Select { keep } => {
                for (o, &i) in out.iter_mut().zip(keep) {
                    *o = input[i];
                }
            }
            Map::Project { mean, u } => {
                for (o, (&x, &m)) in out.iter_mut().zip(input.iter().zip(mean)) {
                    *o = x - m;
                }
                for uk in u.chunks_exact(self.dim) {
                    let dot: f32 = uk.iter().zip(out.iter()).map(|(a, b)| a * b).sum();
                    for (o, &a) in out.iter_mut().zip(uk) {
                        *o -= dot * a;
                    }
                }
            }
        }
    }

    /// Maps every row of a `frames × in_dim` array.
    pub fn apply_array(&self, data: ArrayView2<f32>) -> Array2<f32> {
        if self.is_identity() {
            return data.to_owned();
        }
        let mut out = Array2::<f32>::zeros((data.nrows(), self.out_dim()));
        let mut scratch = vec![0.0f32; self.dim];
        for (row, mut o) in data.rows().into_iter().zip(out.rows_mut()) {
            let o = o.as_slice_mut().expect("fresh array is contiguous");
            match row.as_slice() {
                Some(r) => self.apply(r, o),
                None => {
                    scratch
                        .iter_mut()
                        .zip(row.iter())
                        .for_each(|(s, &v)| *s = v);
                    self.apply(&scratch, o);
                }
            }
        }
        out
    }

    /// Maps every frame of `f`.
    pub fn apply_features(&self, f: &Features) -> Features {
        Features {
            data: self.apply_array(f.data.view()),
            hop: f.hop,
            window: f.window,
        }
    }

    /// Builds the normalizer named by `spec` (`none`, `standardize`, `drop:K`,
    /// `drop:K:mean`, `pca:K`) from the statistics file `stats` fitted with the
    /// same frontend (`frontend`, `dim` values per frame).
    pub fn from_spec(
        spec: &str,
        stats: Option<&Path>,
        frontend: &FrontendConfig,
        dim: usize,
    ) -> Result<Self> {
        let parsed = NormSpec::parse(spec)?;
        if !parsed.needs_stats() {
            return Ok(Normalizer::identity(dim));
        }
        let path = stats.ok_or_else(|| {
            Error::invalid(format!(
                "--normalize {spec} needs a statistics file: fit one with `wordspot fit-stats --out stats.json AUDIO...` and pass --stats stats.json"
            ))
        })?;
        let st = Stats::load(path)?;
        st.check_compatible(frontend, dim, path)?;
        Normalizer::from_stats(parsed, &st).map_err(|e| match e {
            Error::Invalid(msg) => Error::format(path, msg),
            other => other,
        })
    }

    /// Builds the normalizer for `spec` from in-memory statistics.
    pub fn from_stats(spec: NormSpec, stats: &Stats) -> Result<Self> {
        let dim = stats.dim;
        let map = match spec {
            NormSpec::None => Map::Identity,
            NormSpec::Standardize => Map::Standardize {
                mean: stats.mean.iter().map(|&m| m as f32).collect(),
                inv_std: (0..dim)
                    .map(|i| (1.0 / stats.floored_std(i)) as f32)
                    .collect(),
            },
            NormSpec::Drop { k, by } => {
                if k >= dim {
                    return Err(Error::invalid(format!(
                        "{spec} would remove all {dim} dimensions"
                    )));
                }
                let key = |i: usize| match by {
                    DropBy::Variance => stats.std[i],
                    DropBy::AbsMean => stats.mean[i].abs(),
                };
                let mut order: Vec<usize> = (0..dim).collect();
                order.sort_by(|&a, &b| key(b).total_cmp(&key(a)).then(a.cmp(&b)));
                let mut keep = order[k..].to_vec();
                keep.sort_unstable();
                Map::Select { keep }
            }
            NormSpec::Pca { k } => {
                if k >= dim {
                    return Err(Error::invalid(format!(
                        "{spec} would remove all {dim} dimensions"
                    )));
                }
                if k > stats.components.len() {
                    return Err(Error::invalid(format!(
                        "{spec} needs {k} principal directions, the statistics hold {} (refit with fit-stats --components {k})",
                        stats.components.len()
                    )));
                }
                Map::Project {
                    mean: stats.mean.iter().map(|&m| m as f32).collect(),
                    u: stats.components[..k].iter().flatten().copied().collect(),
                }
            }
        };
        Ok(Normalizer { dim, spec, map })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats_from(rows: &[Vec<f32>], comps: usize) -> Stats {
        let dim = rows[0].len();
        let mut acc = StatsAccumulator::with_covariance(dim);
        for r in rows {
            acc.push(r).unwrap();
        }
        acc.fit(&FrontendConfig::default(), comps).unwrap()
    }

    fn grid(n: usize) -> Vec<Vec<f32>> {
        // dim 0: mean 100, small spread; dim 1: mean 0, big spread; dim 2: medium.
        (0..n)
            .map(|i| {
                let t = i as f32 / n as f32 - 0.5;
                vec![100.0 + t, 50.0 * (t * 7.0).sin(), 5.0 * (t * 3.0).cos()]
            })
            .collect()
    }

    #[test]
    fn parse_specs() {
        assert_eq!(NormSpec::parse("none").unwrap(), NormSpec::None);
        assert_eq!(
            NormSpec::parse("drop:2").unwrap(),
            NormSpec::Drop {
                k: 2,
                by: DropBy::Variance
            }
        );
        assert_eq!(
            NormSpec::parse("drop:1:mean").unwrap(),
            NormSpec::Drop {
                k: 1,
                by: DropBy::AbsMean
            }
        );
        assert_eq!(NormSpec::parse("pca:3").unwrap(), NormSpec::Pca { k: 3 });
        for bad in ["", "pca", "pca:0", "drop:x", "drop:1:foo", "zscore"] {
            assert!(NormSpec::parse(bad).is_err(), "{bad}");
        }
        for s in ["none", "standardize", "drop:2", "drop:1:mean", "pca:3"] {
            assert_eq!(NormSpec::parse(s).unwrap().to_string(), s);
        }
        assert_eq!(NormSpec::parse_list("none,pca:1").unwrap().len(), 2);
    }

    #[test]
    fn standardize_gives_zero_mean_unit_variance() {
        let rows = grid(500);
        let st = stats_from(&rows, 0);
        let n = Normalizer::from_stats(NormSpec::Standardize, &st).unwrap();
        let mut acc = StatsAccumulator::new(3);
        let mut out = [0.0f32; 3];
        for r in &rows {
            n.apply(r, &mut out);
            acc.push(&out).unwrap();
        }
        for i in 0..3 {
            assert!(acc.mean()[i].abs() < 1e-3, "{:?}", acc.mean());
            assert!(
                (acc.variance()[i] - 1.0).abs() < 1e-3,
                "{:?}",
                acc.variance()
            );
        }
    }

    #[test]
    fn drop_by_variance_and_by_mean() {
        let st = stats_from(&grid(500), 0);
        let by_var = Normalizer::from_stats(
            NormSpec::Drop {
                k: 1,
                by: DropBy::Variance,
            },
            &st,
        )
        .unwrap();
        let by_mean = Normalizer::from_stats(
            NormSpec::Drop {
                k: 1,
                by: DropBy::AbsMean,
            },
            &st,
        )
        .unwrap();
        assert_eq!(by_var.out_dim(), 2);
        let mut out = [0.0f32; 2];
        by_var.apply(&[1.0, 2.0, 3.0], &mut out);
        assert_eq!(out, [1.0, 3.0]);
        by_mean.apply(&[1.0, 2.0, 3.0], &mut out);
        assert_eq!(out, [2.0, 3.0]);
        assert!(Normalizer::from_stats(
            NormSpec::Drop {
                k: 3,
                by: DropBy::Variance
            },
            &st
        )
        .is_err());
    }

    #[test]
    fn pca_removes_the_dominant_direction() {
        // Points spread along (1, 1, 0)/√2 with small noise in the other directions.
        let rows: Vec<Vec<f32>> = (0..400)
            .map(|i| {
                let t = (i as f32 / 40.0).sin() * 10.0;
                let a = ((i * 7) % 13) as f32 * 0.01;
                let b = ((i * 5) % 11) as f32 * 0.01;
                vec![3.0 + t + a, -1.0 + t - a, 2.0 + b]
            })
            .collect();
        let st = stats_from(&rows, 3);
        let u = &st.components[0];
        let along = (u[0] + u[1]).abs() / 2f32.sqrt();
        assert!((along - 1.0).abs() < 1e-3, "{u:?}");
        let n = Normalizer::from_stats(NormSpec::Pca { k: 1 }, &st).unwrap();
        let mut out = [0.0f32; 3];
        for r in &rows {
            n.apply(r, &mut out);
            let proj: f32 = out.iter().zip(u).map(|(a, b)| a * b).sum();
            assert!(proj.abs() < 1e-3, "{proj}");
            assert!(out.iter().all(|v| v.abs() < 0.5), "{out:?}");
        }
        assert!(Normalizer::from_stats(NormSpec::Pca { k: 3 }, &st).is_err());
        let few = stats_from(&rows, 1);
        let err = Normalizer::from_stats(NormSpec::Pca { k: 2 }, &few).unwrap_err();
        assert!(err.to_string().contains("--components 2"), "{err}");
    }

    #[test]
    fn apply_features_keeps_geometry() {
        let st = stats_from(&grid(100), 0);
        let n = Normalizer::from_stats(
            NormSpec::Drop {
                k: 2,
                by: DropBy::Variance,
            },
            &st,
        )
        .unwrap();
        let data = Array2::from_shape_fn((4, 3), |(i, j)| (i * 3 + j) as f32);
        let f = Features {
            data,
            hop: 160,
            window: 400,
        };
        let g = n.apply_features(&f);
        assert_eq!(g.data.dim(), (4, 1));
        assert_eq!((g.hop, g.window), (160, 400));
        assert_eq!(g.data[[2, 0]], 6.0);
        // A non-contiguous view goes through the scratch path.
        let t = f.data.t().to_owned();
        let back = n.apply_array(t.t());
        assert_eq!(back, g.data);
    }

    #[test]
    fn from_spec_needs_a_stats_file_for_everything_but_none() {
        let fe = FrontendConfig::default();
        assert!(Normalizer::from_spec("none", None, &fe, 39)
            .unwrap()
            .is_identity());
        let err = Normalizer::from_spec("standardize", None, &fe, 39).unwrap_err();
        assert!(err.to_string().contains("fit-stats"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.json");
        let err = Normalizer::from_spec("pca:1", Some(&p), &fe, 39).unwrap_err();
        assert!(err.to_string().contains("s.json"), "{err}");

        let st = stats_from(&grid(100), 1);
        st.save(&p).unwrap();
        let n = Normalizer::from_spec("pca:1", Some(&p), &fe, 3).unwrap();
        assert_eq!((n.in_dim(), n.out_dim()), (3, 3));
        let err = Normalizer::from_spec("pca:2", Some(&p), &fe, 3).unwrap_err();
        assert!(err.to_string().contains("s.json"), "{err}");
        let err = Normalizer::from_spec("standardize", Some(&p), &fe, 39).unwrap_err();
        assert!(err.to_string().contains("3-dim"), "{err}");
    }
}
