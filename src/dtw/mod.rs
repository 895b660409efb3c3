//! Subsequence dynamic time warping: find where a query (template) occurs
//! inside a longer target, with free start and end in the target.
//!
//! # The recursion (the only one in wordspot)
//!
//! The lattice has one row per query frame `i` (0..m) and one column per
//! target frame `j`. A cell holds the accumulated cost `C`, the path length
//! `L` (cells on the path) and the target frame where the path started `S`.
//!
//! * `i = 0`: `C = d(0, j)`, `L = 1`, `S = j` — a match may start anywhere.
//! * `i > 0`: the predecessor is the one of
//!   `(i-1, j-1)` (diagonal), `(i-2, j-1)` (the target is faster) and
//!   `(i-1, j-2)` (the target is slower) that minimizes the length-normalized
//!   cost `(C_p + d(i, j)) / (L_p + 1)`; then `C = C_p + d`, `L = L_p + 1`, `S = S_p`.
//!
//! These steps bound the local slope between ½ and 2, so a match spans
//! 0.5×–2× the query's duration. The match ending at column `j` scores
//! `C(m-1, j) / L(m-1, j)` (path-length-normalized distance).
//!
//! [`step`] computes one column from the two before it. Batch search
//! ([`batch`]) and the online spotter ([`stream`]) both call it, so they
//! agree exactly.

pub mod batch;
pub mod distance;
pub mod stream;

pub use batch::{best_match, distance_matrix, subsequence, top_matches, BlockSubsequence};
pub use distance::Metric;
pub use stream::StreamingDtw;

/// One column of the DTW lattice (structure of arrays, allocated once).
#[derive(Debug, Clone)]
pub struct Column {
    /// Accumulated cost per query frame (`f32::INFINITY` where no path reaches).
    pub cost: Vec<f32>,
    /// Path length in cells.
    pub len: Vec<u32>,
    /// Target frame where the path started.
    pub start: Vec<u64>,
}

impl Column {
    /// An unreachable column for a query of `m` frames.
    pub fn new(m: usize) -> Self {
        Column {
            cost: vec![f32::INFINITY; m],
            len: vec![0; m],
            start: vec![0; m],
        }
    }

    /// Marks every cell unreachable.
    pub fn clear(&mut self) {
        self.cost.iter_mut().for_each(|c| *c = f32::INFINITY);
        self.len.iter_mut().for_each(|l| *l = 0);
        self.start.iter_mut().for_each(|s| *s = 0);
    }

    /// The match ending in this column: its normalized distance and start frame.
    #[inline]
    pub fn end(&self) -> (f32, u64) {
        let m = self.cost.len() - 1;
        if self.cost[m].is_finite() {
            (self.cost[m] / self.len[m] as f32, self.start[m])
        } else {
            (f32::INFINITY, 0)
        }
    }
}

/// A match of a query in a target: frames `[start, end]` (inclusive) and the
/// path-length-normalized distance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Match {
    /// First target frame of the match.
    pub start: usize,
    /// Last target frame of the match (inclusive).
    pub end: usize,
    /// Path-length-normalized DTW distance (lower is closer).
    pub distance: f32,
}

/// Computes column `j` of the lattice into `cur` from the local distances
/// `dist[i] = d(i, j)` and the two previous columns `p1` (j-1) and `p2` (j-2).
/// Allocation-free; O(m).
#[inline]
pub fn step(j: u64, dist: &[f32], p1: &Column, p2: &Column, cur: &mut Column) {
    let m = dist.len();
    debug_assert!(p1.cost.len() == m && p2.cost.len() == m && cur.cost.len() == m);
    if m == 0 {
        return;
    }
    cur.cost[0] = dist[0];
    cur.len[0] = 1;
    cur.start[0] = j;
    for (i, &d) in dist.iter().enumerate().skip(1) {
        // (cost, len, start) of the chosen predecessor and its normalized score.
        let mut best = (f32::INFINITY, 0u32, 0u64);
        let mut best_score = f32::INFINITY;
        let mut consider = |c: f32, l: u32, s: u64| {
            if c.is_finite() {
                let score = (c + d) / (l + 1) as f32;
                if score < best_score {
                    best_score = score;
                    best = (c, l, s);
                }
            }
        };
        consider(p1.cost[i - 1], p1.len[i - 1], p1.start[i - 1]);
        if i >= 2 {
            consider(p1.cost[i - 2], p1.len[i - 2], p1.start[i - 2]);
        }
        consider(p2.cost[i - 1], p2.len[i - 1], p2.start[i - 1]);
        cur.cost[i] = best.0 + d;
        cur.len[i] = best.1 + 1;
        cur.start[i] = best.2;
    }
}
