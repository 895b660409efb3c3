//! Batch subsequence DTW over whole feature matrices (corpus search).
//!
//! The local distances are computed (one matrix product for cosine), then the shared
//! recursion ([`super::step`]) runs column by column.

use ndarray::{Array2, ArrayView2, Axis};

use super::{step, Column, Match, Metric};

/// Local distance matrix, target frames × query frames: row `j` holds
/// `d(i, j)` for every query frame `i`. Inputs need not be prepared.
/// The result is in standard (row-major) layout.
pub fn distance_matrix(
    query: ArrayView2<f32>,
    target: ArrayView2<f32>,
    metric: Metric,
) -> Array2<f32> {
    assert_eq!(
        query.ncols(),
        target.ncols(),
        "query and target dimensions differ"
    );
    let q = prepared(query, metric);
    let t = prepared(target, metric);
    match metric {
        Metric::Cosine => {
            // The matrix product may pick a column-major result (e.g. for
            // 1-wide inputs); the recursion reads rows as slices.
            let mut g = t.dot(&q.t());
            if !g.is_standard_layout() {
                g = g.as_standard_layout().into_owned();
            }
            g.mapv_inplace(|x| (1.0 - x).clamp(0.0, 2.0));
            g
        }
        // Direct differences, not |t|² + |q|² - 2 t·q: the expansion cancels
        // near zero and its square root turns rounding into distances of
        // ~1e-3 between identical frames.
        Metric::Euclidean => {
            let mut g = Array2::zeros((t.nrows(), q.nrows()));
            for (mut row, tr) in g.rows_mut().into_iter().zip(t.rows()) {
                let tr = tr.as_slice().expect("standard layout");
                for (x, qr) in row.iter_mut().zip(q.rows()) {
                    *x = metric.distance(qr.as_slice().expect("standard layout"), tr);
                }
            }
            g
        }
    }
}

fn prepared(x: ArrayView2<f32>, metric: Metric) -> Array2<f32> {
    let mut x = x.as_standard_layout().into_owned();
    for mut row in x.axis_iter_mut(Axis(0)) {
        metric.prepare(row.as_slice_mut().expect("standard layout"));
    }
    x
}

/// The normalized distance of the best match ending at each target frame, and
/// where it starts: element `j` is `(distance, start)`; `f32::INFINITY` where no
/// match can end (the first frames of a target shorter than half the query).
pub fn subsequence(
    query: ArrayView2<f32>,
    target: ArrayView2<f32>,
    metric: Metric,
) -> Vec<(f32, usize)> {
    if query.nrows() == 0 || target.nrows() == 0 {
        return vec![(f32::INFINITY, 0); target.nrows()];
    }
    let mut out = Vec::with_capacity(target.nrows());
    BlockSubsequence::new(query, metric).push(target, &mut out);
    out
}

/// [`subsequence`] fed the target in blocks of frames: it keeps the query and
/// two lattice columns, never the target, so a long recording can be matched
/// as it is decoded. The curve it appends is the one [`subsequence`] gives
/// for the whole target, whatever the block sizes (each block's distances are
/// computed row by row in the same way, and the recursion carries over).
#[derive(Debug, Clone)]
pub struct BlockSubsequence {
    query: Array2<f32>,
    metric: Metric,
    cols: [Column; 3],
    next: u64,
}

impl BlockSubsequence {
    /// A matcher of `query` (frames × dims, unprepared, at least one frame).
    pub fn new(query: ArrayView2<f32>, metric: Metric) -> Self {
        let m = query.nrows();
        BlockSubsequence {
            query: query.to_owned(),
            metric,
            cols: [Column::new(m), Column::new(m), Column::new(m)],
            next: 0,
        }
    }

    /// Target frames consumed so far.
    pub fn position(&self) -> u64 {
        self.next
    }

    /// Consumes the next `block` of target frames (unprepared) and appends one
    /// `(distance, start)` per frame to `out`.
    pub fn push(&mut self, block: ArrayView2<f32>, out: &mut Vec<(f32, usize)>) {
        if self.query.nrows() == 0 {
            out.extend(std::iter::repeat_n((f32::INFINITY, 0), block.nrows()));
            self.next += block.nrows() as u64;
            return;
        }
        if block.nrows() == 0 {
            return;
        }
        let dist = distance_matrix(self.query.view(), block, self.metric);
        for row in dist.rows() {
            let [a, b, c] = &mut self.cols;
            // a = j-2, b = j-1, c = j
            step(self.next, row.as_slice().expect("standard layout"), b, a, c);
            let (d, s) = c.end();
            out.push((d, s as usize));
            self.cols.rotate_left(1);
            self.next += 1;
        }
    }
}

/// The best match of `query` in `target`, or `None` when none can be formed
/// (empty inputs or a target shorter than half the query).
pub fn best_match(
    query: ArrayView2<f32>,
    target: ArrayView2<f32>,
    metric: Metric,
) -> Option<Match> {
    top_matches(query, target, metric, 1).into_iter().next()
}

/// Up to `n` best non-overlapping matches, best first.
pub fn top_matches(
    query: ArrayView2<f32>,
    target: ArrayView2<f32>,
    metric: Metric,
    n: usize,
) -> Vec<Match> {
    select_non_overlapping(&subsequence(query, target, metric), n)
}

/// Greedy selection of the `n` lowest-distance, pairwise non-overlapping
/// matches from a per-end-frame curve as returned by [`subsequence`].
pub fn select_non_overlapping(curve: &[(f32, usize)], n: usize) -> Vec<Match> {
    let mut ends: Vec<usize> = (0..curve.len())
        .filter(|&j| curve[j].0.is_finite())
        .collect();
    ends.sort_by(|&a, &b| curve[a].0.total_cmp(&curve[b].0).then(a.cmp(&b)));
    let mut chosen: Vec<Match> = Vec::new();
    for j in ends {
        if chosen.len() >= n {
            break;
        }
        let (distance, start) = curve[j];
        let overlaps = chosen.iter().any(|c| start <= c.end && c.start <= j);
        if !overlaps {
            chosen.push(Match {
                start,
                end: j,
                distance,
            });
        }
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn seq(n: usize, d: usize, seed: u64) -> Array2<f32> {
        let mut s = seed;
        Array2::from_shape_fn((n, d), |_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        })
    }

    #[test]
    fn finds_exact_copy() {
        let t = seq(100, 5, 1);
        let q = t.slice(ndarray::s![40..60, ..]).to_owned();
        let m = best_match(q.view(), t.view(), Metric::Cosine).unwrap();
        assert_eq!((m.start, m.end), (40, 59));
        assert!(m.distance < 1e-6);
    }

    #[test]
    fn euclidean_matrix_matches_kernel() {
        let q = seq(4, 7, 2);
        let t = seq(6, 7, 3);
        let g = distance_matrix(q.view(), t.view(), Metric::Euclidean);
        for j in 0..6 {
            for i in 0..4 {
                let d = Metric::Euclidean
                    .distance(q.row(i).as_slice().unwrap(), t.row(j).as_slice().unwrap());
                assert!((g[[j, i]] - d).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn top_matches_do_not_overlap() {
        let t = seq(200, 4, 5);
        let q = t.slice(ndarray::s![10..30, ..]).to_owned();
        let ms = top_matches(q.view(), t.view(), Metric::Cosine, 5);
        assert_eq!(ms[0].start, 10);
        for a in 0..ms.len() {
            for b in a + 1..ms.len() {
                assert!(ms[a].end < ms[b].start || ms[b].end < ms[a].start);
            }
        }
    }

    #[test]
    fn euclidean_self_distance_is_exactly_zero() {
        let q = seq(30, 24, 4);
        let g = distance_matrix(q.view(), q.view(), Metric::Euclidean);
        for i in 0..30 {
            assert_eq!(g[[i, i]], 0.0);
        }
    }

    #[test]
    fn blocks_give_the_whole_target_curve() {
        let t = seq(300, 8, 21);
        let q = t.slice(ndarray::s![100..130, ..]).to_owned();
        for metric in [Metric::Cosine, Metric::Euclidean] {
            let whole = subsequence(q.view(), t.view(), metric);
            for block in [1, 7, 64, 299, 1000] {
                let mut b = BlockSubsequence::new(q.view(), metric);
                let mut out = Vec::new();
                for c in t.axis_chunks_iter(Axis(0), block) {
                    b.push(c, &mut out);
                }
                assert_eq!(out.len(), whole.len());
                for (x, y) in out.iter().zip(&whole) {
                    assert_eq!(x.0.to_bits(), y.0.to_bits(), "block {block}");
                    assert_eq!(x.1, y.1);
                }
            }
        }
    }

    #[test]
    fn any_shape_is_row_major() {
        // Shapes for which the matrix product returns a column-major array.
        for (m, n, d) in [(2, 2, 1), (1, 5, 3), (5, 1, 3), (3, 4, 1)] {
            let q = seq(m, d, 11);
            let t = seq(n, d, 12);
            assert!(distance_matrix(q.view(), t.view(), Metric::Cosine).is_standard_layout());
            assert_eq!(subsequence(q.view(), t.view(), Metric::Cosine).len(), n);
        }
    }

    #[test]
    fn too_short_target_gives_none() {
        let q = seq(20, 3, 7);
        let t = seq(5, 3, 8);
        assert!(best_match(q.view(), t.view(), Metric::Cosine).is_none());
        assert!(best_match(q.view(), Array2::zeros((0, 3)).view(), Metric::Cosine).is_none());
    }
}
