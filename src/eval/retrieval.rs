//! The seed paper's retrieval protocol over a labelled set of recordings.
//!
//! Every labelled occurrence in turn is the query; every other recording of the
//! set is ranked by its best subsequence-DTW match (the same DTW and feature
//! cache as [`crate::search`]); P@k and R@k are macro-averaged over queries (see
//! [`super::metrics`] for the exact definitions).
//!
//! A query is either **cut** from its recording by the label times and encoded
//! alone, or taken **in context** (`context = true`): the whole recording is
//! encoded and the frames whose centre lies inside the label times are the
//! query — the paper's "contextual representation".

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::labels::{Labels, Occurrence};
use super::metrics::{precision_recall, PrAtK, Ranking};
use crate::audio;
use crate::dtw::{best_match, Metric};
use crate::features::{extract_utterance, Features, FrontendConfig};
use crate::normalize::Normalizer;
use crate::search::{file_features, FeatureCache};
use crate::templates::voiced_range;
use crate::{Error, Result, SAMPLE_RATE};

/// Retrieval settings.
#[derive(Debug, Clone, Default)]
pub struct RetrievalOptions {
    /// Frame distance.
    pub metric: Metric,
    /// Take queries from the encoded whole recording instead of cutting them.
    pub context: bool,
    /// Trim silence inside each occurrence's label times before use.
    pub trim: bool,
    /// Only these words are queries (all words when `None`).
    pub words: Option<Vec<String>>,
    /// Feature cache for the recordings.
    pub cache: Option<FeatureCache>,
}

/// The outcome of one retrieval evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct RetrievalReport {
    /// Frontend name (`mfcc`, `wav2vec2:L6`).
    pub frontend: String,
    /// P@k / R@k rows.
    pub rows: Vec<PrAtK>,
    /// Queries run.
    pub queries: usize,
    /// Queries left out because no other recording contains their word.
    pub without_relevant: usize,
    /// Recordings in the set.
    pub recordings: usize,
    /// Distinct query words.
    pub words: usize,
}

/// Label times narrowed to the voiced part of `samples[start..end]` (when `trim`).
fn span(o: &Occurrence, samples: &[f32], trim: bool) -> (f64, f64) {
    let sr = SAMPLE_RATE as f64;
    if !trim {
        return (o.start, o.end);
    }
    let a = ((o.start * sr) as usize).min(samples.len());
    let b = ((o.end * sr) as usize).min(samples.len());
    match voiced_range(&samples[a..b]) {
        Some((x, y)) => (o.start + x as f64 / sr, o.start + y as f64 / sr),
        None => (o.start, o.end),
    }
}

/// Frames of `f` whose centre lies in `[start, end)` seconds.
pub fn frames_in(f: &Features, start: f64, end: f64) -> (usize, usize) {
    let centre = |i: usize| (i * f.hop + f.window / 2) as f64 / SAMPLE_RATE as f64;
    let a = (0..f.len())
        .find(|&i| centre(i) >= start)
        .unwrap_or(f.len());
    let b = (a..f.len()).find(|&i| centre(i) >= end).unwrap_or(f.len());
    (a, b)
}

fn query_error(o: &Occurrence, what: &str) -> Error {
    Error::audio(
        &o.file,
        format!("'{}' at {:.3}-{:.3} s: {what}", o.word, o.start, o.end),
    )
}

/// Evaluates retrieval on `labels` with one frontend; P@k / R@k at each of `ks`.
pub fn evaluate(
    labels: &Labels,
    frontend: &FrontendConfig,
    normalizer: &Normalizer,
    opts: &RetrievalOptions,
    ks: &[usize],
) -> Result<RetrievalReport> {
    let queries: Vec<&Occurrence> = labels
        .occurrences
        .iter()
        .filter(|o| opts.words.as_ref().is_none_or(|w| w.contains(&o.word)))
        .collect();
    if queries.is_empty() {
        return Err(Error::invalid(match &opts.words {
            Some(w) => format!("none of the words {} is labelled", w.join(", ")),
            None => "the labels hold no word occurrence".to_string(),
        }));
    }
    // 1. Features of every recording (cached), normalized.
    let feats: Vec<Features> = super::frontend_pool(&labels.files, frontend, |p, fe| {
        let f = file_features(p, fe, opts.cache.as_ref())?;
        Ok(normalizer.apply_features(&f))
    })?;
    let index: BTreeMap<&Path, usize> = labels
        .files
        .iter()
        .enumerate()
        .map(|(i, p)| (p.as_path(), i))
        .collect();
    // 2. Query features, grouped by recording so each is decoded once.
    let mut by_file: BTreeMap<&Path, Vec<&Occurrence>> = BTreeMap::new();
    for q in &queries {
        by_file.entry(q.file.as_path()).or_default().push(q);
    }
    let groups: Vec<(&Path, Vec<&Occurrence>)> = by_file.into_iter().collect();
    let per_file: Vec<Vec<(&Occurrence, Features)>> =
        super::frontend_pool(&groups, frontend, |(path, occs), fe| {
            let need_audio = opts.trim || !opts.context;
            let samples = if need_audio {
                audio::read_file(path)?
            } else {
                Vec::new()
            };
            let mut out = Vec::new();
            for o in occs {
                let (s, e) = span(o, &samples, opts.trim);
                let q = if opts.context {
                    let f = &feats[index[path]];
                    let (a, b) = frames_in(f, s, e);
                    if b <= a {
                        return Err(query_error(o, "no feature frame inside the label times"));
                    }
                    f.slice(a, b)
                } else {
                    let sr = SAMPLE_RATE as f64;
                    let a = ((s * sr) as usize).min(samples.len());
                    let b = ((e * sr).ceil() as usize).min(samples.len());
                    if b <= a {
                        return Err(query_error(o, "the label lies past the end of the audio"));
                    }
                    let f = extract_utterance(fe, &samples[a..b], path)
                        .map_err(|e| query_error(o, &e.to_string()))?;
                    normalizer.apply_features(&f)
                };
                out.push((*o, q));
            }
            Ok(out)
        })?;
    let qfeats: Vec<(&Occurrence, Features)> = per_file.into_iter().flatten().collect();
    // 3. Rank the other recordings for every query.
    let containing: BTreeMap<&str, BTreeSet<&Path>> =
        labels.occurrences.iter().fold(BTreeMap::new(), |mut m, o| {
            m.entry(o.word.as_str())
                .or_insert_with(BTreeSet::new)
                .insert(o.file.as_path());
            m
        });
    let rankings: Vec<Ranking> = qfeats
        .par_iter()
        .map(|(o, q)| {
            let mut scored: Vec<(f32, &PathBuf)> = labels
                .files
                .iter()
                .zip(&feats)
                .filter(|(p, _)| **p != o.file)
                .map(|(p, f)| {
                    let d = best_match(q.data.view(), f.data.view(), opts.metric)
                        .map_or(f32::INFINITY, |m| m.distance);
                    (d, p)
                })
                .collect();
            scored.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(b.1)));
            let rel = &containing[o.word.as_str()];
            Ranking {
                relevant: scored
                    .iter()
                    .map(|(_, p)| rel.contains(p.as_path()))
                    .collect(),
                total_relevant: rel.iter().filter(|p| **p != o.file).count(),
            }
        })
        .collect();
    let (rows, without_relevant) = precision_recall(&rankings, ks);
    let words: BTreeSet<&str> = queries.iter().map(|o| o.word.as_str()).collect();
    Ok(RetrievalReport {
        frontend: frontend.name(),
        rows,
        queries: rankings.len(),
        without_relevant,
        recordings: labels.files.len(),
        words: words.len(),
    })
}

/// Per cut-off, the index of the report with the highest F1 (first on ties).
pub fn best_by_f1(reports: &[RetrievalReport]) -> Vec<Option<usize>> {
    let n = reports.first().map_or(0, |r| r.rows.len());
    (0..n)
        .map(|i| {
            reports
                .iter()
                .enumerate()
                .filter(|(_, r)| r.rows.len() > i)
                .max_by(|(ia, a), (ib, b)| a.rows[i].f1.total_cmp(&b.rows[i].f1).then(ib.cmp(ia)))
                .map(|(j, _)| j)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn frames_by_centre() {
        let f = Features {
            data: Array2::zeros((100, 2)),
            hop: 160,
            window: 400,
        };
        // Centres at 0.0125 + 0.01 i.
        assert_eq!(frames_in(&f, 0.1, 0.2), (9, 19));
        assert_eq!(frames_in(&f, 0.0, 10.0), (0, 100));
        assert_eq!(frames_in(&f, 5.0, 6.0), (100, 100));
    }

    #[test]
    fn best_layer_per_k() {
        let rep = |f1s: &[f64]| RetrievalReport {
            frontend: String::new(),
            rows: f1s
                .iter()
                .enumerate()
                .map(|(k, &f1)| PrAtK {
                    k,
                    precision: 0.0,
                    recall: 0.0,
                    f1,
                    queries: 1,
                })
                .collect(),
            queries: 1,
            without_relevant: 0,
            recordings: 2,
            words: 1,
        };
        let best = best_by_f1(&[rep(&[0.1, 0.5]), rep(&[0.3, 0.5]), rep(&[0.2, 0.4])]);
        assert_eq!(best, vec![Some(1), Some(0)]);
        assert!(best_by_f1(&[]).is_empty());
    }
}
