//! Online subsequence DTW (SPRING-style): one lattice column per incoming
//! frame, O(query length) work, no allocation after construction.

use ndarray::{Array2, ArrayView2};

use super::{step, Column, Metric};

/// Streaming subsequence DTW of one query (template) against an unbounded
/// stream of frames. Uses the same recursion as the batch search.
#[derive(Debug, Clone)]
pub struct StreamingDtw {
    query: Array2<f32>,
    metric: Metric,
    dist: Vec<f32>,
    /// `cols[0]` = column t-2, `cols[1]` = t-1, `cols[2]` = scratch for t.
    cols: [Column; 3],
    t: u64,
}

impl StreamingDtw {
    /// A spotter for `query` (frames × dims, unprepared). Panics on an empty query.
    pub fn new(query: ArrayView2<f32>, metric: Metric) -> Self {
        let m = query.nrows();
        assert!(m > 0, "empty query");
        let mut q = query.as_standard_layout().into_owned();
        for mut row in q.rows_mut() {
            metric.prepare(row.as_slice_mut().expect("standard layout"));
        }
        StreamingDtw {
            query: q,
            metric,
            dist: vec![0.0; m],
            cols: [Column::new(m), Column::new(m), Column::new(m)],
            t: 0,
        }
    }

    /// Query length in frames.
    pub fn len(&self) -> usize {
        self.query.nrows()
    }

    /// Always false (a query has at least one frame).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The metric in use.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// Frames consumed so far (index of the next frame).
    pub fn position(&self) -> u64 {
        self.t
    }

    /// Forgets the stream.
    pub fn reset(&mut self) {
        self.cols.iter_mut().for_each(Column::clear);
        self.t = 0;
    }

    /// Consumes one frame, already prepared with [`Metric::prepare`]. Returns the
    /// normalized distance of the best match ending at this frame and its start
    /// frame (`f32::INFINITY` when none can end here yet).
    #[inline]
    pub fn push_prepared(&mut self, frame: &[f32]) -> (f32, u64) {
        for (d, q) in self.dist.iter_mut().zip(self.query.rows()) {
            *d = self
                .metric
                .distance(q.as_slice().expect("standard layout"), frame);
        }
        self.push_distances_inner()
    }

    /// Consumes one frame given as its local distances to every query frame
    /// (`dist.len() == self.len()`).
    pub fn push_distances(&mut self, dist: &[f32]) -> (f32, u64) {
        self.dist.copy_from_slice(dist);
        self.push_distances_inner()
    }

    #[inline]
    fn push_distances_inner(&mut self) -> (f32, u64) {
        let [p2, p1, cur] = &mut self.cols;
        step(self.t, &self.dist, p1, p2, cur);
        // New order: [t-1, t, scratch(old t-2)].
        self.cols.rotate_left(1);
        self.t += 1;
        self.cols[1].end()
    }

    /// A lower bound on the normalized distance of any match that could still
    /// end in the future on a path starting at or before frame `start_max`:
    /// the remaining cells are assumed to cost nothing. `f32::INFINITY` when no
    /// such path is alive.
    pub fn lower_bound(&self, start_max: u64) -> f32 {
        let m = self.len();
        let mut lb = f32::INFINITY;
        // Paths can continue from the last two columns (cols[0] = t-2 → t via
        // the slow step, cols[1] = t-1).
        for col in &self.cols[..2] {
            for i in 0..m.saturating_sub(1) {
                let c = col.cost[i];
                if c.is_finite() && col.start[i] <= start_max {
                    let bound = c / (col.len[i] as usize + (m - 1 - i)) as f32;
                    lb = lb.min(bound);
                }
            }
        }
        lb
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtw::subsequence;

    #[test]
    fn streaming_equals_batch_curve() {
        let mut s = 9u64;
        let mut rnd = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        };
        let t = Array2::from_shape_fn((80, 6), |_| rnd());
        let q = Array2::from_shape_fn((12, 6), |_| rnd());
        for metric in [Metric::Cosine, Metric::Euclidean] {
            let batch = subsequence(q.view(), t.view(), metric);
            let mut sd = StreamingDtw::new(q.view(), metric);
            for (j, row) in t.rows().into_iter().enumerate() {
                let mut f = row.to_vec();
                metric.prepare(&mut f);
                let (d, st) = sd.push_prepared(&f);
                assert_eq!(d.is_finite(), batch[j].0.is_finite());
                if d.is_finite() {
                    assert!((d - batch[j].0).abs() < 1e-4, "{d} vs {}", batch[j].0);
                    assert_eq!(st as usize, batch[j].1);
                }
            }
        }
    }
}
