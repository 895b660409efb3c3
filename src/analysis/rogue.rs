//! The rogue-dimension table: which dimensions have a huge mean.

use ndarray::Array2;
use serde::Serialize;

use crate::normalize::StatsAccumulator;

/// Per-layer rogue-dimension summary (over every frame of the layer).
#[derive(Debug, Clone, Serialize)]
pub struct RogueTable {
    /// Dimension with the highest mean.
    pub dim1: usize,
    /// Its mean.
    pub mean1: f64,
    /// Dimension with the second highest mean (`None` for 1-dim features).
    pub dim2: Option<usize>,
    /// Its mean.
    pub mean2: Option<f64>,
    /// Standard deviation of `dim1`.
    pub std1: f64,
    /// Median of the per-dimension means.
    pub median_mean: f64,
    /// Median of the per-dimension standard deviations.
    pub median_std: f64,
}

/// Computes the table over all frames of `recs`; `None` when there are no
/// frames or no dimensions.
pub fn rogue_table(recs: &[Array2<f32>]) -> Option<RogueTable> {
    let dim = recs.first()?.ncols();
    if dim == 0 {
        return None;
    }
    let mut acc = StatsAccumulator::new(dim);
    for r in recs {
        acc.push_array(r.view()).ok()?;
    }
    if acc.count() == 0 {
        return None;
    }
    let mean = acc.mean();
    let std = acc.std();
    let mut order: Vec<usize> = (0..dim).collect();
    order.sort_by(|&a, &b| mean[b].total_cmp(&mean[a]).then(a.cmp(&b)));
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            0.5 * (v[n / 2 - 1] + v[n / 2])
        }
    };
    let dim2 = order.get(1).copied();
    Some(RogueTable {
        dim1: order[0],
        mean1: mean[order[0]],
        dim2,
        mean2: dim2.map(|d| mean[d]),
        std1: std[order[0]],
        median_mean: median(&mut mean.to_vec()),
        median_std: median(&mut std.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_offset_dimensions() {
        let a = Array2::from_shape_fn((10, 5), |(i, j)| match j {
            3 => 500.0 + i as f32,
            1 => 40.0,
            _ => i as f32 * 0.1 - 0.5,
        });
        let t = rogue_table(&[a.clone(), a]).unwrap();
        assert_eq!((t.dim1, t.dim2), (3, Some(1)));
        assert!((t.mean1 - 504.5).abs() < 1e-9);
        assert_eq!(t.mean2, Some(40.0));
        // Sample std of 0..9 taken twice (n − 1 = 19).
        assert!(
            (t.std1 - (165.0f64 / 19.0).sqrt()).abs() < 1e-9,
            "{}",
            t.std1
        );
        assert!((t.median_mean + 0.05).abs() < 1e-6, "{}", t.median_mean);
        assert!(rogue_table(&[]).is_none());
        assert!(rogue_table(&[Array2::zeros((0, 3))]).is_none());
    }
}
