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
//!
//! With several examples per query ([`evaluate_examples`]), each query takes
//! `count - 1` more occurrences of its word by other speakers
//! ([`speaker_of`]) as examples, each example's distances optionally
//! standardised ([`ExampleNorm`]: on the built-in cohort, as search does by
//! default, or over the ranked recordings) and fused as
//! [`crate::search::spot`] fuses them; the recordings of all its examples are
//! left out of its ranking. [`evaluate_configs`] compares several settings
//! in one pass over the same rankable recordings.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::labels::{Labels, Occurrence};
use super::metrics::{precision_recall, PrAtK, Ranking};
use crate::audio;
use crate::detector::Fusion;
use crate::detector::ScoreNorm;
use crate::dtw::{subsequence, Metric};
use crate::eval::cohort::{builtin_cohort, score_norms};
use crate::features::{extract_utterance, Features, FrontendConfig};
use crate::normalize::Normalizer;
use crate::query::{fuse_curves, scale_curve, ExampleNorm};
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

/// How many examples each query has, how each example's distances are
/// scaled and how they are fused.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Examples {
    /// Examples per query (1: the occurrence alone).
    pub count: usize,
    /// Fusion of the examples' distances.
    pub fusion: Fusion,
    /// Scaling of each example's distances before fusion.
    pub norm: ExampleNorm,
}

impl Default for Examples {
    fn default() -> Self {
        Examples {
            count: 1,
            fusion: Fusion::Min,
            norm: ExampleNorm::Cohort,
        }
    }
}

/// The speaker of a recording, from the file-name conventions of the shared
/// data: Speech Commands `SPEAKER_nohash_N`, FSDD `DIGIT_SPEAKER_TAKE`;
/// any other file is its own speaker (its path).
pub fn speaker_of(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Some((spk, _)) = stem.split_once("_nohash_") {
        return spk.to_string();
    }
    let parts: Vec<&str> = stem.split('_').collect();
    if parts.len() == 3
        && parts[0].chars().all(|c| c.is_ascii_digit())
        && parts[2].chars().all(|c| c.is_ascii_digit())
        && !parts[1].is_empty()
    {
        return parts[1].to_string();
    }
    path.to_string_lossy().into_owned()
}

/// For query `qi` of `qs`, up to `n` other queries of the same word, each by a
/// different speaker and none by the query's speaker, taken in order after
/// `qi` (wrapping), so the choice is deterministic.
fn pick_examples(qs: &[(&Occurrence, Features)], qi: usize, n: usize) -> Vec<usize> {
    let o = qs[qi].0;
    let mut speakers = vec![speaker_of(&o.file)];
    let mut out = Vec::new();
    for step in 1..qs.len() {
        if out.len() >= n {
            break;
        }
        let j = (qi + step) % qs.len();
        let c = qs[j].0;
        if c.word != o.word || c.file == o.file {
            continue;
        }
        let s = speaker_of(&c.file);
        if !speakers.contains(&s) {
            speakers.push(s);
            out.push(j);
        }
    }
    out
}

/// Evaluates retrieval on `labels` with one frontend; P@k / R@k at each of `ks`.
pub fn evaluate(
    labels: &Labels,
    frontend: &FrontendConfig,
    normalizer: &Normalizer,
    opts: &RetrievalOptions,
    ks: &[usize],
) -> Result<RetrievalReport> {
    evaluate_examples(labels, frontend, normalizer, opts, ks, Examples::default())
}

/// [`evaluate`] with `examples.count` examples per query (see the module docs).
pub fn evaluate_examples(
    labels: &Labels,
    frontend: &FrontendConfig,
    normalizer: &Normalizer,
    opts: &RetrievalOptions,
    ks: &[usize],
    examples: Examples,
) -> Result<RetrievalReport> {
    let mut r = evaluate_configs(labels, frontend, normalizer, opts, ks, &[examples])?;
    Ok(r.remove(0))
}

/// [`evaluate_examples`] for several example settings in one pass: features
/// are computed once, and each query's examples are matched once against
/// every recording. Every setting ranks the same recordings: all but those
/// of the query's examples under the largest `count`, so that settings with
/// fewer examples are not given more relevant recordings to find. Reports are
/// in the order of `configs`.
pub fn evaluate_configs(
    labels: &Labels,
    frontend: &FrontendConfig,
    normalizer: &Normalizer,
    opts: &RetrievalOptions,
    ks: &[usize],
    configs: &[Examples],
) -> Result<Vec<RetrievalReport>> {
    if configs.is_empty() || configs.iter().any(|c| c.count == 0) {
        return Err(Error::invalid("examples per query must be at least 1"));
    }
    let most = configs.iter().map(|c| c.count).max().unwrap_or(1);
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
    // Cohort normalisation of every query's features (only when asked for).
    let cohort_norms: Vec<ScoreNorm> = if configs
        .iter()
        .any(|c| c.norm == ExampleNorm::Cohort && c.count > 1)
    {
        let mut fe = frontend.build()?;
        let cohort = builtin_cohort(&mut *fe, normalizer)?;
        let qs: Vec<&Features> = qfeats.iter().map(|q| &q.1).collect();
        score_norms(&cohort, &qs, opts.metric)
            .into_iter()
            .map(|n| n.unwrap_or(ScoreNorm::IDENTITY))
            .collect()
    } else {
        vec![ScoreNorm::IDENTITY; qfeats.len()]
    };
    // Per query, one ranking per setting.
    let per_query: Vec<Vec<Ranking>> = (0..qfeats.len())
        .into_par_iter()
        .map(|qi| {
            let o = qfeats[qi].0;
            let mut ex = vec![qi];
            ex.extend(pick_examples(&qfeats, qi, most - 1));
            let own: BTreeSet<&Path> = ex.iter().map(|&j| qfeats[j].0.file.as_path()).collect();
            let ranked: Vec<usize> = (0..labels.files.len())
                .filter(|&i| !own.contains(labels.files[i].as_path()))
                .collect();
            // curves[e][r]: example e against ranked recording r.
            let curves: Vec<Vec<Vec<(f32, usize)>>> = ex
                .iter()
                .map(|&j| {
                    ranked
                        .iter()
                        .map(|&i| {
                            subsequence(qfeats[j].1.data.view(), feats[i].data.view(), opts.metric)
                        })
                        .collect()
                })
                .collect();
            let best = |c: &[(f32, usize)]| {
                c.iter()
                    .map(|c| c.0)
                    .filter(|d| d.is_finite())
                    .fold(f32::INFINITY, f32::min)
            };
            let corpus_norms: Vec<ScoreNorm> = curves
                .iter()
                .map(|per_file| {
                    ScoreNorm::fit(per_file.iter().map(|c| best(c))).unwrap_or(ScoreNorm::IDENTITY)
                })
                .collect();
            let rel = &containing[o.word.as_str()];
            let total_relevant = rel.iter().filter(|p| !own.contains(*p)).count();
            let mut fused = Vec::new();
            let mut scaled: Vec<Vec<(f32, usize)>> = Vec::new();
            configs
                .iter()
                .map(|c| {
                    let n = c.count.min(ex.len());
                    let mut scored: Vec<(f32, &PathBuf)> = ranked
                        .iter()
                        .enumerate()
                        .map(|(r, &i)| {
                            scaled.clear();
                            for e in 0..n {
                                let mut cv = curves[e][r].clone();
                                match c.norm {
                                    ExampleNorm::None => {}
                                    ExampleNorm::Cohort => {
                                        scale_curve(&mut cv, &cohort_norms[ex[e]])
                                    }
                                    ExampleNorm::Corpus => scale_curve(&mut cv, &corpus_norms[e]),
                                }
                                scaled.push(cv);
                            }
                            fuse_curves(&scaled, c.fusion, &mut fused);
                            (best(&fused), &labels.files[i])
                        })
                        .collect();
                    scored.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(b.1)));
                    Ranking {
                        relevant: scored
                            .iter()
                            .map(|(_, p)| rel.contains(p.as_path()))
                            .collect(),
                        total_relevant,
                    }
                })
                .collect()
        })
        .collect();
    let words: BTreeSet<&str> = queries.iter().map(|o| o.word.as_str()).collect();
    Ok((0..configs.len())
        .map(|ci| {
            let rankings: Vec<Ranking> = per_query.iter().map(|r| r[ci].clone()).collect();
            let (rows, without_relevant) = precision_recall(&rankings, ks);
            RetrievalReport {
                frontend: frontend.name(),
                rows,
                queries: rankings.len(),
                without_relevant,
                recordings: labels.files.len(),
                words: words.len(),
            }
        })
        .collect())
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
    fn speakers_and_example_choice() {
        assert_eq!(speaker_of(Path::new("x/0a2b_nohash_1.wav")), "0a2b");
        assert_eq!(speaker_of(Path::new("fsdd/7_george_12.wav")), "george");
        assert_eq!(speaker_of(Path::new("w/alexa/3.flac")), "w/alexa/3.flac");
        let f = Features {
            data: Array2::zeros((2, 1)),
            hop: 160,
            window: 400,
        };
        let occ = |file: &str, word: &str| Occurrence {
            file: file.into(),
            word: word.into(),
            start: 0.0,
            end: 1.0,
        };
        let os = [
            occ("a_nohash_0.wav", "x"),
            occ("a_nohash_1.wav", "x"),
            occ("b_nohash_0.wav", "y"),
            occ("c_nohash_0.wav", "x"),
            occ("c_nohash_1.wav", "x"),
            occ("d_nohash_0.wav", "x"),
        ];
        let qs: Vec<(&Occurrence, Features)> = os.iter().map(|o| (o, f.clone())).collect();
        // From query 0 (speaker a): skip a's other take and the other word; c once.
        assert_eq!(pick_examples(&qs, 0, 4), vec![3, 5]);
        assert_eq!(pick_examples(&qs, 5, 1), vec![0]);
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
