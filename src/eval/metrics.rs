//! Retrieval and detection metrics.
//!
//! # Retrieval: P@k and R@k
//! The seed paper's protocol ranks **recordings**. For a query (one labelled
//! occurrence of word `w` in recording `r_q`), every recording of the set except
//! `r_q` itself is ranked by the distance of its best match to the query
//! (ascending; ties broken by file name). A recording is *relevant* when it
//! contains at least one labelled occurrence of `w`. With `rel_k` the number of
//! relevant recordings among the first `k` and `R` the number of relevant
//! recordings in the set (excluding `r_q`):
//!
//! * `P@k = rel_k / k` (the usual definition: the denominator stays `k` even when
//!   fewer than `k` recordings are ranked),
//! * `R@k = rel_k / R`,
//!
//! both **macro-averaged** over queries (each query weighs the same). Queries
//! whose word occurs in no other recording (`R = 0`) have no defined recall and
//! are left out of both averages (they are counted). `F1@k` is the harmonic mean
//! of the averaged `P@k` and `R@k`; it selects the best layer per `k` in a
//! layer sweep.
//!
//! # Detection: miss rate vs false alarms per hour
//! Each event of a keyword either hits a labelled occurrence of that keyword
//! (overlaps it) or is a false alarm. At threshold `θ` the events with
//! distance `≤ θ` count: an occurrence is detected when one of them hits it;
//! further events on an already detected occurrence count as false alarms (the
//! user hears them twice). `miss rate = 1 − detected / occurrences`;
//! `FA/h = false alarms / hours of audio` (for several keywords pooled:
//! `false alarms / (hours × keywords)`, false alarms per hour per keyword).
//! With `H` hours of audio the FA rate has a resolution of `1/H` per hour.

use serde::Serialize;

/// The cut-offs reported by default.
pub const KS: [usize; 8] = [1, 2, 3, 5, 10, 20, 50, 100];

/// One query's ranking: relevance of each ranked recording, best first, and
/// the number of relevant recordings in the set.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranking {
    /// `true` where the recording at that rank is relevant.
    pub relevant: Vec<bool>,
    /// Relevant recordings in the set (the query's own excluded).
    pub total_relevant: usize,
}

impl Ranking {
    /// A ranking from relevance flags in rank order (all relevant items ranked).
    pub fn from_flags(relevant: Vec<bool>) -> Self {
        let total_relevant = relevant.iter().filter(|&&r| r).count();
        Ranking {
            relevant,
            total_relevant,
        }
    }
    /// Relevant recordings among the first `k`.
    pub fn hits_at(&self, k: usize) -> usize {
        self.relevant.iter().take(k).filter(|&&r| r).count()
    }
}

/// Macro-averaged precision and recall at one cut-off.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PrAtK {
    /// The cut-off.
    pub k: usize,
    /// Mean P@k over the scored queries.
    pub precision: f64,
    /// Mean R@k over the scored queries.
    pub recall: f64,
    /// Harmonic mean of `precision` and `recall` (0 when both are 0).
    pub f1: f64,
    /// Queries averaged.
    pub queries: usize,
}

/// P@k and R@k for each `k`, macro-averaged over `rankings`; queries with no
/// relevant recording are left out. Returns the rows and the number left out.
pub fn precision_recall(rankings: &[Ranking], ks: &[usize]) -> (Vec<PrAtK>, usize) {
    let scored: Vec<&Ranking> = rankings.iter().filter(|r| r.total_relevant > 0).collect();
    let skipped = rankings.len() - scored.len();
    let n = scored.len();
    let rows = ks
        .iter()
        .map(|&k| {
            let (mut p, mut r) = (0.0, 0.0);
            for q in &scored {
                let h = q.hits_at(k) as f64;
                p += h / k.max(1) as f64;
                r += h / q.total_relevant as f64;
            }
            let (p, r) = if n > 0 {
                (p / n as f64, r / n as f64)
            } else {
                (0.0, 0.0)
            };
            PrAtK {
                k,
                precision: p,
                recall: r,
                f1: if p + r > 0.0 {
                    2.0 * p * r / (p + r)
                } else {
                    0.0
                },
                queries: n,
            }
        })
        .collect();
    (rows, skipped)
}

/// A scored detection: its distance and the occurrence it hits (an index into
/// the caller's list of occurrences of the same keyword), or `None` for a false alarm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// Fused DTW distance (lower = more confident).
    pub distance: f32,
    /// Index of the hit occurrence, `None` for a false alarm.
    pub hit: Option<usize>,
}

/// Counts at one threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DetPoint {
    /// Events with distance at or under this count.
    pub threshold: f32,
    /// Occurrences detected.
    pub hits: usize,
    /// Occurrences missed.
    pub misses: usize,
    /// False alarms.
    pub false_alarms: usize,
    /// `misses / occurrences` (0 when there are no occurrences).
    pub miss_rate: f64,
    /// False alarms per hour (per keyword when pooled).
    pub fa_per_hour: f64,
}

/// Scores the events of one run: hits, misses and false alarms among the
/// events with distance `≤ threshold`. `occurrences` is the number of labelled
/// occurrences, `hours` the audio duration (already multiplied by the number of
/// keywords for a pooled rate).
pub fn score_at(events: &[Scored], occurrences: usize, hours: f64, threshold: f32) -> DetPoint {
    let mut sorted: Vec<Scored> = events
        .iter()
        .copied()
        .filter(|e| e.distance <= threshold)
        .collect();
    sorted.sort_by(|a, b| a.distance.total_cmp(&b.distance));
    sweep(&sorted, occurrences, hours)
        .pop()
        .map(|mut p| {
            p.threshold = threshold;
            p
        })
        .unwrap_or_else(|| point(threshold, 0, 0, occurrences, hours))
}

fn point(threshold: f32, hits: usize, fa: usize, occurrences: usize, hours: f64) -> DetPoint {
    let misses = occurrences.saturating_sub(hits);
    DetPoint {
        threshold,
        hits,
        misses,
        false_alarms: fa,
        miss_rate: if occurrences > 0 {
            misses as f64 / occurrences as f64
        } else {
            0.0
        },
        fa_per_hour: if hours > 0.0 { fa as f64 / hours } else { 0.0 },
    }
}

/// One point per distinct distance of `sorted` (ascending): the counts at that threshold.
fn sweep(sorted: &[Scored], occurrences: usize, hours: f64) -> Vec<DetPoint> {
    let mut detected = vec![false; occurrences];
    let (mut hits, mut fa) = (0, 0);
    let mut out: Vec<DetPoint> = Vec::new();
    for (i, e) in sorted.iter().enumerate() {
        match e.hit {
            Some(o) if o < occurrences && !detected[o] => {
                detected[o] = true;
                hits += 1;
            }
            _ => fa += 1,
        }
        let last_of_value = sorted.get(i + 1).is_none_or(|n| n.distance > e.distance);
        if last_of_value {
            out.push(point(e.distance, hits, fa, occurrences, hours));
        }
    }
    out
}

/// The DET curve of one run recorded at a threshold high enough to keep every
/// candidate, swept offline: one point per distinct event distance, plus the
/// all-rejecting point at threshold 0. (With a detector whose event selection
/// depends on the threshold this is an approximation; see `eval::stream`.)
pub fn det_curve(events: &[Scored], occurrences: usize, hours: f64) -> Vec<DetPoint> {
    let mut sorted = events.to_vec();
    sorted.sort_by(|a, b| a.distance.total_cmp(&b.distance));
    let mut out = vec![point(0.0, 0, 0, occurrences, hours)];
    out.extend(sweep(&sorted, occurrences, hours));
    out
}

/// The operating point with the lowest miss rate among those with at most
/// `fa_per_hour` false alarms per hour (the highest threshold on ties), or
/// `None` when no point qualifies.
pub fn miss_rate_at(curve: &[DetPoint], fa_per_hour: f64) -> Option<DetPoint> {
    curve
        .iter()
        .filter(|p| p.fa_per_hour <= fa_per_hour + 1e-12)
        .min_by(|a, b| {
            a.miss_rate
                .total_cmp(&b.miss_rate)
                .then(b.threshold.total_cmp(&a.threshold))
        })
        .copied()
}

/// Quantiles `qs` (in `[0, 1]`, nearest rank) of `values` (sorted here).
pub fn quantiles(values: &[f32], qs: &[f64]) -> Vec<f32> {
    let mut v: Vec<f32> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f32::total_cmp);
    qs.iter()
        .map(|&q| {
            if v.is_empty() {
                f32::NAN
            } else {
                let i = (q.clamp(0.0, 1.0) * (v.len() - 1) as f64).round() as usize;
                v[i]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn hand_made_rankings() {
        // Query 1: 2 relevant recordings, ranked 1st and 3rd of 4.
        let q1 = Ranking::from_flags(vec![true, false, true, false]);
        // Query 2: 1 relevant recording, ranked 2nd; a 2nd relevant one is
        // unranked (total given explicitly), so recall never reaches 1.
        let q2 = Ranking {
            relevant: vec![false, true, false, false],
            total_relevant: 2,
        };
        // Query 3: no relevant recording at all: left out.
        let q3 = Ranking::from_flags(vec![false, false]);
        let (rows, skipped) = precision_recall(&[q1, q2, q3], &[1, 2, 3, 5]);
        assert_eq!(skipped, 1);
        let want = [
            // k, P@k = mean(q1, q2), R@k = mean(q1, q2)
            (1, (1.0 + 0.0) / 2.0, (0.5 + 0.0) / 2.0),
            (2, (0.5 + 0.5) / 2.0, (0.5 + 0.5) / 2.0),
            (3, (2.0 / 3.0 + 1.0 / 3.0) / 2.0, (1.0 + 0.5) / 2.0),
            (5, (2.0 / 5.0 + 1.0 / 5.0) / 2.0, (1.0 + 0.5) / 2.0),
        ];
        for (row, (k, p, r)) in rows.iter().zip(want) {
            assert_eq!(row.k, k);
            assert!(close(row.precision, p), "P@{k} {} vs {p}", row.precision);
            assert!(close(row.recall, r), "R@{k} {} vs {r}", row.recall);
            assert!(close(row.f1, 2.0 * p * r / (p + r)));
            assert_eq!(row.queries, 2);
        }
        let perfect = Ranking::from_flags(vec![true, true, false]);
        let (rows, _) = precision_recall(&[perfect], &[2, 3]);
        assert!(close(rows[0].precision, 1.0) && close(rows[0].recall, 1.0));
        assert!(close(rows[1].precision, 2.0 / 3.0));
        let (rows, skipped) = precision_recall(&[], &[1]);
        assert_eq!((rows[0].queries, skipped), (0, 0));
        assert_eq!(rows[0].f1, 0.0);
    }

    #[test]
    fn synthetic_det_case() {
        // 4 occurrences, 2 hours. Events (distance, hit):
        // 0.1 hits o0, 0.2 hits o1, 0.3 FA, 0.4 hits o0 again (duplicate => FA),
        // 0.5 hits o2, 0.6 FA, 0.6 FA. o3 is never detected.
        let ev = [
            (0.5, Some(2)),
            (0.1, Some(0)),
            (0.3, None),
            (0.2, Some(1)),
            (0.4, Some(0)),
            (0.6, None),
            (0.6, None),
        ]
        .map(|(distance, hit)| Scored { distance, hit });
        let c = det_curve(&ev, 4, 2.0);
        let got: Vec<(f32, usize, usize, f64)> = c
            .iter()
            .map(|p| (p.threshold, p.hits, p.false_alarms, p.fa_per_hour))
            .collect();
        assert_eq!(
            got,
            vec![
                (0.0, 0, 0, 0.0),
                (0.1, 1, 0, 0.0),
                (0.2, 2, 0, 0.0),
                (0.3, 2, 1, 0.5),
                (0.4, 2, 2, 1.0),
                (0.5, 3, 2, 1.0),
                (0.6, 3, 4, 2.0),
            ]
        );
        assert!(close(c[5].miss_rate, 0.25) && c[5].misses == 1);
        // At <= 1 FA/h the best point is threshold 0.5 (miss 0.25); at 0.1 FA/h it is 0.2 (miss 0.5).
        let p = miss_rate_at(&c, 1.0).unwrap();
        assert_eq!((p.threshold, p.miss_rate), (0.5, 0.25));
        let p = miss_rate_at(&c, 0.1).unwrap();
        assert_eq!((p.threshold, p.miss_rate), (0.2, 0.5));
        // score_at agrees with the curve.
        assert_eq!(
            score_at(&ev, 4, 2.0, 0.45),
            DetPoint {
                threshold: 0.45,
                ..c[4]
            }
        );
        assert_eq!(score_at(&ev, 4, 2.0, 0.05).hits, 0);
        assert_eq!(score_at(&ev, 4, 2.0, 0.05).miss_rate, 1.0);
    }

    #[test]
    fn quantiles_nearest_rank() {
        let v = [5.0, 1.0, 3.0, f32::NAN, 2.0, 4.0];
        assert_eq!(quantiles(&v, &[0.0, 0.5, 1.0]), vec![1.0, 3.0, 5.0]);
        assert!(quantiles(&[], &[0.5])[0].is_nan());
    }
}
