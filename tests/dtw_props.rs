//! Property tests of the subsequence DTW (batch and streaming).
//!
//! Step pattern reminder (see `wordspot::dtw`): steps (1,1), (2,1) and (1,2)
//! in (query, target) frames. A path from query frame 0 to `m-1` therefore
//! spans between `⌈(m-1)/2⌉ + 1` and `2(m-1) + 1` target frames.

use ndarray::{concatenate, Array2, ArrayView2, Axis};
use proptest::prelude::*;
use wordspot::dtw::{best_match, subsequence, BlockSubsequence, Metric, StreamingDtw};

/// `n` frames of independent uniform values in [-1, 1) drawn from a seeded
/// generator. Shrinking changes the seed, not the values, so shrunk cases stay
/// generic (no zero frames or repeated frames, which would make the position
/// of a match ambiguous).
fn frames(n: usize, dim: usize) -> impl Strategy<Value = Array2<f32>> {
    any::<u64>().prop_map(move |seed| {
        let mut s = seed | 1;
        Array2::from_shape_fn((n, dim), |_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
    })
}

/// A query and a target with the query's frames at `pos` (the target's other
/// frames are random).
fn plant(target: &Array2<f32>, piece: ArrayView2<f32>, pos: usize) -> Array2<f32> {
    let pos = pos.min(target.nrows());
    concatenate![
        Axis(0),
        target.slice(ndarray::s![..pos, ..]),
        piece,
        target.slice(ndarray::s![pos.., ..])
    ]
}

/// Each frame repeated `k` times.
fn stretch(q: &Array2<f32>, k: usize) -> Array2<f32> {
    let rows: Vec<_> = q
        .rows()
        .into_iter()
        .flat_map(|r| std::iter::repeat_n(r, k))
        .collect();
    ndarray::stack(Axis(0), &rows).expect("same width")
}

/// Every other frame (0, 2, 4, ...).
fn compress(q: &Array2<f32>) -> Array2<f32> {
    q.slice(ndarray::s![..;2, ..]).to_owned()
}

fn metrics() -> impl Strategy<Value = Metric> {
    prop_oneof![Just(Metric::Cosine), Just(Metric::Euclidean)]
}

const EPS: f32 = 1e-4;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn self_distance_is_zero(
        (dim, q) in (1usize..40).prop_flat_map(|d| (Just(d), (1usize..40).prop_flat_map(move |m| frames(m, d)))),
        metric in metrics(),
    ) {
        let _ = dim;
        let m = best_match(q.view(), q.view(), metric).expect("a match");
        prop_assert!(m.distance.abs() < EPS, "distance {}", m.distance);
        if q.nrows() > 1 && dim > 1 {
            prop_assert_eq!((m.start, m.end), (0, q.nrows() - 1));
        }
    }

    #[test]
    fn planted_copy_is_found_exactly(
        (q, t) in (3usize..24).prop_flat_map(|d| (
            (2usize..30).prop_flat_map(move |m| frames(m, d)),
            (0usize..80).prop_flat_map(move |n| frames(n, d)),
        )),
        pos in 0usize..80,
        metric in metrics(),
    ) {
        let pos = pos.min(t.nrows());
        let target = plant(&t, q.view(), pos);
        let m = best_match(q.view(), target.view(), metric).expect("a match");
        prop_assert!(m.distance < EPS, "distance {}", m.distance);
        prop_assert_eq!((m.start, m.end), (pos, pos + q.nrows() - 1));
    }

    /// The query is slowed down 2× in the target (each frame twice). Every path
    /// that maps query frame `i` to one of its two copies costs nothing, and
    /// the slope-2 step skips a target frame, so a path covers at most `2m - 1`
    /// frames: the match starts on one of the two copies of the first frame and
    /// ends on one of the two copies of the last (within 1 frame of the plant).
    #[test]
    fn stretched_2x_is_found_in_place(
        (q, t) in (3usize..24).prop_flat_map(|d| (
            (2usize..30).prop_flat_map(move |m| frames(m, d)),
            (0usize..80).prop_flat_map(move |n| frames(n, d)),
        )),
        pos in 0usize..80,
        metric in metrics(),
    ) {
        let pos = pos.min(t.nrows());
        let slow = stretch(&q, 2);
        let target = plant(&t, slow.view(), pos);
        let m = best_match(q.view(), target.view(), metric).expect("a match");
        prop_assert!(m.distance < EPS, "distance {}", m.distance);
        let last = pos + slow.nrows() - 1;
        prop_assert!(
            (pos..=pos + 1).contains(&m.start) && (last - 1..=last).contains(&m.end),
            "found [{}, {}], planted [{pos}, {last}]", m.start, m.end
        );
    }

    /// The query is sped up 2× in the target (every other frame). With an odd
    /// query length its last frame is kept, so the match is exact.
    #[test]
    fn compressed_2x_is_found_exactly(
        (q, t) in (3usize..24).prop_flat_map(|d| (
            (1usize..15).prop_flat_map(move |k| frames(2 * k + 1, d)),
            (0usize..80).prop_flat_map(move |n| frames(n, d)),
        )),
        pos in 0usize..80,
        metric in metrics(),
    ) {
        let pos = pos.min(t.nrows());
        let fast = compress(&q);
        let target = plant(&t, fast.view(), pos);
        let m = best_match(q.view(), target.view(), metric).expect("a match");
        prop_assert!(m.distance < EPS, "distance {}", m.distance);
        prop_assert_eq!((m.start, m.end), (pos, pos + fast.nrows() - 1));
    }

    #[test]
    fn streaming_curve_equals_batch_curve(
        (q, t) in (1usize..48).prop_flat_map(|d| (
            (1usize..30).prop_flat_map(move |m| frames(m, d)),
            (0usize..120).prop_flat_map(move |n| frames(n, d)),
        )),
        metric in metrics(),
    ) {
        let batch = subsequence(q.view(), t.view(), metric);
        prop_assert_eq!(batch.len(), t.nrows());
        let mut s = StreamingDtw::new(q.view(), metric);
        let mut f = vec![0.0; q.ncols()];
        for (j, row) in t.rows().into_iter().enumerate() {
            f.iter_mut().zip(row).for_each(|(a, b)| *a = *b);
            metric.prepare(&mut f);
            let (d, start) = s.push_prepared(&f);
            let (bd, bs) = batch[j];
            prop_assert_eq!(d.is_finite(), bd.is_finite(), "frame {}: {} vs {}", j, d, bd);
            if d.is_finite() {
                prop_assert!((d - bd).abs() <= EPS * (1.0 + bd.abs()), "frame {}: {} vs {}", j, d, bd);
                prop_assert_eq!(start as usize, bs, "frame {}", j);
            }
        }
    }

    /// The block DTW of the corpus path fed the target in blocks of any
    /// sizes gives the whole-matrix curve (`subsequence`: one distance matrix
    /// over the whole target) bit for bit: distances and starts.
    #[test]
    fn block_curve_equals_whole_matrix_curve(
        (q, t) in (1usize..48).prop_flat_map(|d| (
            (1usize..30).prop_flat_map(move |m| frames(m, d)),
            (0usize..200).prop_flat_map(move |n| frames(n, d)),
        )),
        cuts in proptest::collection::vec(1usize..70, 1..12),
        metric in metrics(),
    ) {
        let whole = subsequence(q.view(), t.view(), metric);
        let mut b = BlockSubsequence::new(q.view(), metric);
        let mut got = Vec::new();
        let mut at = 0;
        let mut k = 0;
        while at < t.nrows() {
            let n = cuts[k % cuts.len()].min(t.nrows() - at);
            b.push(t.slice(ndarray::s![at..at + n, ..]), &mut got);
            at += n;
            k += 1;
            prop_assert_eq!(b.position() as usize, at);
        }
        prop_assert_eq!(got.len(), whole.len());
        for (j, (g, w)) in got.iter().zip(&whole).enumerate() {
            prop_assert_eq!(g.0.to_bits(), w.0.to_bits(), "frame {}: {} vs {}", j, g.0, w.0);
            prop_assert_eq!(g.1, w.1, "frame {}", j);
        }
    }
}
