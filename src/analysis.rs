//! Anisotropy tools: how much of a feature space random frames share, which
//! "rogue" dimensions dominate cosine similarity, and what each normalizer
//! changes.
//!
//! Everything works on one layer at a time, given as the layer's features for
//! each recording (`&[Array2<f32>]`, `frames × dim`); a multi-layer model gives
//! one such slice per layer. Per layer and per normalizer a [`LayerReport`]
//! holds:
//! - anisotropy A = E[1 − cos(x_i, x_j)] over seeded random frame pairs, for
//!   pairs within a recording and across recordings (mean, median, IQR);
//! - the rogue-dimension table ([`rogue::RogueTable`]);
//! - the IsoScore of the layer's point cloud ([`isoscore`]).

pub mod anisotropy;
pub mod isoscore;
pub mod plot;
pub mod rng;
pub mod rogue;

use std::borrow::Cow;
use std::fmt::Write as _;

use ndarray::Array2;
use rayon::prelude::*;
use serde::Serialize;

use crate::features::FrontendConfig;
use crate::normalize::{NormSpec, Normalizer, StatsAccumulator};
use crate::{Error, Result};

pub use anisotropy::{PairSample, PairSummary};
pub use rng::Rng;
pub use rogue::RogueTable;

/// Settings of an analysis run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnalysisConfig {
    /// Frame pairs sampled per kind (same recording / different recordings).
    pub pairs: usize,
    /// Seed of every random choice (pairs, frame samples).
    pub seed: u64,
    /// At most this many frames (a seeded random sample) are used for the
    /// IsoScore and for fitting normalizers on the analyzed data.
    pub sample_frames: usize,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        AnalysisConfig {
            pairs: 1000,
            seed: 0,
            sample_frames: 4000,
        }
    }
}

/// The measurements of one layer under one normalizer.
#[derive(Debug, Clone, Serialize)]
pub struct LayerReport {
    /// Layer index (0 for a single-output frontend).
    pub layer: usize,
    /// The normalizer applied before measuring (`none`, `pca:2`...).
    pub normalizer: String,
    /// Recordings analyzed.
    pub recordings: usize,
    /// Frames over all recordings.
    pub frames: usize,
    /// Values per frame after the normalizer.
    pub dim: usize,
    /// 1 − cos over pairs of frames of the same recording.
    pub same: Option<PairSummary>,
    /// 1 − cos over pairs of frames of different recordings.
    pub different: Option<PairSummary>,
    /// Rogue-dimension table (dimension indices after the normalizer).
    pub rogue: Option<RogueTable>,
    /// IsoScore of the (sampled) point cloud, in [0, 1].
    pub isoscore: Option<f64>,
    /// Frames the IsoScore was computed on.
    pub isoscore_frames: usize,
}

/// Seeded sample of at most `m` distinct (recording, frame) positions, in order.
pub fn sample_positions(lens: &[usize], m: usize, seed: u64) -> Vec<(usize, usize)> {
    let total: usize = lens.iter().sum();
    let mut global: Vec<usize> = (0..total).collect();
    if m < total {
        let mut rng = Rng::new(seed);
        for i in 0..m {
            let j = i + rng.below(total - i);
            global.swap(i, j);
        }
        global.truncate(m);
        global.sort_unstable();
    }
    let mut out = Vec::with_capacity(global.len());
    let (mut r, mut base) = (0usize, 0usize);
    for g in global {
        while g >= base + lens[r] {
            base += lens[r];
            r += 1;
        }
        out.push((r, g - base));
    }
    out
}

/// The rows at `positions` stacked into one `positions.len() × dim` array.
pub fn gather(recs: &[Array2<f32>], positions: &[(usize, usize)]) -> Array2<f32> {
    let dim = recs.first().map_or(0, |r| r.ncols());
    let mut out = Array2::zeros((positions.len(), dim));
    for (mut o, &(r, f)) in out.rows_mut().into_iter().zip(positions) {
        o.assign(&recs[r].row(f));
    }
    out
}

fn check_layer(recs: &[Array2<f32>]) -> Result<usize> {
    let dim = recs
        .first()
        .map(|r| r.ncols())
        .ok_or_else(|| Error::invalid("analysis needs at least one recording"))?;
    if dim == 0 || recs.iter().any(|r| r.ncols() != dim) {
        return Err(Error::invalid(
            "every recording of a layer must have the same, non-zero frame dimension",
        ));
    }
    if recs.iter().all(|r| r.nrows() == 0) {
        return Err(Error::invalid("analysis needs at least one feature frame"));
    }
    Ok(dim)
}

/// Fits the normalizers named by `specs` on a seeded sample (at most
/// `cfg.sample_frames` frames) of the layer's own frames.
pub fn fit_normalizers(
    recs: &[Array2<f32>],
    specs: &[NormSpec],
    frontend: &FrontendConfig,
    cfg: &AnalysisConfig,
) -> Result<Vec<Normalizer>> {
    let dim = check_layer(recs)?;
    if specs.iter().all(|s| !s.needs_stats()) {
        return Ok(specs.iter().map(|_| Normalizer::identity(dim)).collect());
    }
    let lens: Vec<usize> = recs.iter().map(|r| r.nrows()).collect();
    let sample = gather(
        recs,
        &sample_positions(&lens, cfg.sample_frames, cfg.seed ^ 0x5EED),
    );
    let components = specs
        .iter()
        .map(|s| s.components_needed())
        .max()
        .unwrap_or(0);
    let mut acc = if components > 0 {
        StatsAccumulator::with_covariance(dim)
    } else {
        StatsAccumulator::new(dim)
    };
    acc.push_array(sample.view())?;
    let stats = acc.fit(frontend, components)?;
    specs
        .iter()
        .map(|&s| Normalizer::from_stats(s, &stats))
        .collect()
}

/// Measures one layer (`recs`: its features per recording) under each normalizer.
/// The same frame pairs and the same IsoScore sample are used for every normalizer.
pub fn analyze_layer(
    layer: usize,
    recs: &[Array2<f32>],
    normalizers: &[Normalizer],
    cfg: &AnalysisConfig,
) -> Result<Vec<LayerReport>> {
    let dim = check_layer(recs)?;
    let lens: Vec<usize> = recs.iter().map(|r| r.nrows()).collect();
    let frames: usize = lens.iter().sum();
    let pairs = PairSample::draw(&lens, cfg.pairs, cfg.seed);
    let sample = sample_positions(&lens, cfg.sample_frames, cfg.seed ^ 0x150);
    normalizers
        .iter()
        .map(|n| {
            if n.in_dim() != dim {
                return Err(Error::invalid(format!(
                    "normalizer {} expects {}-dim frames, layer {layer} has {dim}",
                    n.spec(),
                    n.in_dim()
                )));
            }
            let data: Cow<[Array2<f32>]> = if n.is_identity() {
                Cow::Borrowed(recs)
            } else {
                Cow::Owned(recs.iter().map(|r| n.apply_array(r.view())).collect())
            };
            let points = gather(&data, &sample);
            Ok(LayerReport {
                layer,
                normalizer: n.spec().to_string(),
                recordings: recs.len(),
                frames,
                dim: n.out_dim(),
                same: anisotropy::summarize(&data, &pairs.same),
                different: anisotropy::summarize(&data, &pairs.different),
                rogue: rogue::rogue_table(&data),
                isoscore: isoscore::isoscore(points.view()),
                isoscore_frames: points.nrows(),
            })
        })
        .collect()
}

/// Analyzes every layer (`(layer index, features per recording)`) with the
/// normalizers of `specs`, each fitted on that layer's own frames; layers run
/// in parallel. Reports come layer by layer, in `specs` order within a layer.
pub fn analyze_layers(
    layers: &[(usize, Vec<Array2<f32>>)],
    specs: &[NormSpec],
    frontend: &FrontendConfig,
    cfg: &AnalysisConfig,
) -> Result<Vec<LayerReport>> {
    let per_layer: Vec<Result<Vec<LayerReport>>> = layers
        .par_iter()
        .map(|(layer, recs)| {
            let norms = fit_normalizers(recs, specs, frontend, cfg)?;
            analyze_layer(*layer, recs, &norms, cfg)
        })
        .collect();
    let mut out = Vec::new();
    for r in per_layer {
        out.extend(r?);
    }
    Ok(out)
}

/// Compact number formatting for tables (scientific for very large/small values).
fn num(v: f64) -> String {
    if v == 0.0 || (1e-3..1e5).contains(&v.abs()) {
        format!("{v:.3}")
    } else {
        format!("{v:.2e}")
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), num)
}

/// The reports as an aligned text table (one row per layer × normalizer).
pub fn format_table(reports: &[LayerReport]) -> String {
    let header = [
        "layer", "norm", "frames", "dim", "A_same", "med", "IQR", "A_diff", "med", "IQR",
        "IsoScore", "top1", "mean1", "top2", "mean2", "std1", "med_mean",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for r in reports {
        let pair = |p: &Option<PairSummary>| -> [String; 3] {
            match p {
                Some(p) => [num(p.mean), num(p.median), num(p.iqr)],
                None => ["-".into(), "-".into(), "-".into()],
            }
        };
        let [sm, smed, siqr] = pair(&r.same);
        let [dm, dmed, diqr] = pair(&r.different);
        let (t1, m1, t2, m2, s1, mm) = match &r.rogue {
            Some(t) => (
                t.dim1.to_string(),
                num(t.mean1),
                t.dim2.map_or("-".into(), |d| d.to_string()),
                opt(t.mean2),
                num(t.std1),
                num(t.median_mean),
            ),
            None => Default::default(),
        };
        rows.push(vec![
            r.layer.to_string(),
            r.normalizer.clone(),
            r.frames.to_string(),
            r.dim.to_string(),
            sm,
            smed,
            siqr,
            dm,
            dmed,
            diqr,
            opt(r.isoscore),
            t1,
            m1,
            t2,
            m2,
            s1,
            mm,
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (s, &w))| {
                if c == 1 {
                    format!("{s:<w$}")
                } else {
                    format!("{s:>w$}")
                }
            })
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `recs` recordings of `frames` isotropic Gaussian frames in `dim` dims,
    /// with `offset` added to dimension `rogue_dim`.
    fn cloud(recs: usize, frames: usize, dim: usize, offset: f32, seed: u64) -> Vec<Array2<f32>> {
        let mut rng = Rng::new(seed);
        (0..recs)
            .map(|_| {
                Array2::from_shape_fn((frames, dim), |(_, j)| {
                    rng.gaussian() as f32 + if j == 5 { offset } else { 0.0 }
                })
            })
            .collect()
    }

    fn specs() -> Vec<NormSpec> {
        NormSpec::parse_list("none,standardize,drop:1,pca:1").unwrap()
    }

    fn get<'a>(reports: &'a [LayerReport], norm: &str) -> &'a LayerReport {
        reports.iter().find(|r| r.normalizer == norm).unwrap()
    }

    #[test]
    fn isotropic_cloud_has_anisotropy_one_and_isoscore_one() {
        let recs = cloud(10, 500, 16, 0.0, 1);
        let cfg = AnalysisConfig {
            pairs: 4000,
            seed: 3,
            sample_frames: 5000,
        };
        let reports =
            analyze_layers(&[(0, recs)], &specs(), &FrontendConfig::default(), &cfg).unwrap();
        assert_eq!(reports.len(), 4);
        for r in &reports {
            let same = r.same.as_ref().unwrap();
            let diff = r.different.as_ref().unwrap();
            assert!(
                (same.mean - 1.0).abs() < 0.03,
                "{} {}",
                r.normalizer,
                same.mean
            );
            assert!(
                (diff.mean - 1.0).abs() < 0.03,
                "{} {}",
                r.normalizer,
                diff.mean
            );
            // pca:1 leaves 15 of 16 dimensions in use: IsoScore (d·15/16 − 1)/(d − 1) = 14/15.
            let want = if r.normalizer == "pca:1" {
                14.0 / 15.0
            } else {
                1.0
            };
            let iso = r.isoscore.unwrap();
            assert!((iso - want).abs() < 0.03, "{} {iso}", r.normalizer);
            assert_eq!(same.pairs, 4000);
        }
        assert_eq!(get(&reports, "drop:1").dim, 15);
    }

    #[test]
    fn rogue_offset_is_found_and_removed() {
        let recs = cloud(8, 300, 16, 40.0, 2);
        let cfg = AnalysisConfig {
            pairs: 2000,
            seed: 4,
            sample_frames: 4000,
        };
        let reports =
            analyze_layers(&[(7, recs)], &specs(), &FrontendConfig::default(), &cfg).unwrap();
        let none = get(&reports, "none");
        assert_eq!(none.layer, 7);
        let a = none.different.as_ref().unwrap().mean;
        assert!(
            a < 0.02,
            "offset should make every pair nearly parallel: A = {a}"
        );
        let rogue = none.rogue.as_ref().unwrap();
        assert_eq!(rogue.dim1, 5);
        assert!((rogue.mean1 - 40.0).abs() < 0.2 && (rogue.std1 - 1.0).abs() < 0.1);
        assert!(rogue.median_mean.abs() < 0.1);
        // A pure offset adds no variance: IsoScore (centered) is unaffected.
        assert!(none.isoscore.unwrap() > 0.95);
        for norm in ["standardize", "pca:1", "drop:1:mean"] {
            let norms = fit_normalizers(
                &cloud(8, 300, 16, 40.0, 2),
                &[NormSpec::parse(norm).unwrap()],
                &FrontendConfig::default(),
                &cfg,
            )
            .unwrap();
            let r = analyze_layer(7, &cloud(8, 300, 16, 40.0, 2), &norms, &cfg).unwrap();
            let a = r[0].different.as_ref().unwrap().mean;
            assert!(
                (a - 1.0).abs() < 0.05,
                "{norm} should restore A ≈ 1, got {a}"
            );
        }
        let s = get(&reports, "standardize")
            .different
            .as_ref()
            .unwrap()
            .mean;
        assert!((s - 1.0).abs() < 0.05, "{s}");
    }

    #[test]
    fn drop_by_variance_restores_a_high_variance_rogue_dimension() {
        // A rogue dimension with a large spread (and mean) dominates cosine.
        let mut rng = Rng::new(11);
        let recs: Vec<Array2<f32>> = (0..6)
            .map(|_| {
                Array2::from_shape_fn((300, 12), |(_, j)| {
                    let g = rng.gaussian() as f32;
                    if j == 2 {
                        30.0 + 10.0 * g
                    } else {
                        g
                    }
                })
            })
            .collect();
        let cfg = AnalysisConfig::default();
        let specs = NormSpec::parse_list("none,drop:1").unwrap();
        let rep = analyze_layers(&[(0, recs)], &specs, &FrontendConfig::default(), &cfg).unwrap();
        let before = rep[0].different.as_ref().unwrap().mean;
        let after = rep[1].different.as_ref().unwrap().mean;
        assert!(before < 0.3, "{before}");
        assert!((after - 1.0).abs() < 0.05, "{after}");
        assert_eq!(rep[0].rogue.as_ref().unwrap().dim1, 2);
        assert!(rep[0].isoscore.unwrap() < 0.3, "{:?}", rep[0].isoscore);
        assert!(rep[1].isoscore.unwrap() > 0.9, "{:?}", rep[1].isoscore);
    }

    #[test]
    fn same_recording_pairs_are_told_apart() {
        // Each recording has its own direction: same-recording pairs are similar.
        let mut rng = Rng::new(5);
        let recs: Vec<Array2<f32>> = (0..20)
            .map(|_| {
                let center: Vec<f32> = (0..10).map(|_| 3.0 * rng.gaussian() as f32).collect();
                Array2::from_shape_fn((50, 10), |(_, j)| center[j] + 0.3 * rng.gaussian() as f32)
            })
            .collect();
        let rep = analyze_layer(
            0,
            &recs,
            &[Normalizer::identity(10)],
            &AnalysisConfig::default(),
        )
        .unwrap();
        let same = rep[0].same.as_ref().unwrap();
        let diff = rep[0].different.as_ref().unwrap();
        assert!(
            same.mean < 0.1 && diff.mean > 0.7,
            "{} {}",
            same.mean,
            diff.mean
        );
        assert!(same.q1 <= same.median && same.median <= same.q3);
    }

    #[test]
    fn bad_layers_are_errors_not_panics() {
        let cfg = AnalysisConfig::default();
        assert!(analyze_layer(0, &[], &[], &cfg).is_err());
        let mixed = vec![Array2::zeros((3, 4)), Array2::zeros((3, 5))];
        assert!(analyze_layer(0, &mixed, &[Normalizer::identity(4)], &cfg).is_err());
        let ok = vec![Array2::<f32>::ones((3, 4))];
        assert!(analyze_layer(0, &ok, &[Normalizer::identity(5)], &cfg).is_err());
        // All-zero frames: no NaN anywhere.
        let zeros = vec![Array2::<f32>::zeros((5, 4)), Array2::zeros((5, 4))];
        let rep =
            analyze_layers(&[(0, zeros)], &specs(), &FrontendConfig::default(), &cfg).unwrap();
        for r in &rep {
            let json = serde_json::to_string(r).unwrap();
            assert!(!json.contains("NaN") && !json.contains("nan"), "{json}");
            assert!(r.same.as_ref().unwrap().mean.is_finite());
        }
    }

    #[test]
    fn sampling_and_table() {
        let pos = sample_positions(&[3, 0, 4], 5, 1);
        assert_eq!(pos.len(), 5);
        assert!(pos.iter().all(|&(r, f)| r != 1 && f < [3, 0, 4][r]));
        assert_eq!(sample_positions(&[2, 2], 10, 1).len(), 4);
        let recs = cloud(3, 20, 6, 10.0, 9);
        let rep = analyze_layers(
            &[(2, recs)],
            &specs(),
            &FrontendConfig::default(),
            &AnalysisConfig::default(),
        )
        .unwrap();
        let t = format_table(&rep);
        assert_eq!(t.lines().count(), 5);
        assert!(t.lines().next().unwrap().contains("IsoScore"));
        assert!(t.contains("pca:1"));
    }
}
