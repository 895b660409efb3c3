//! Queries for corpus search: a word and one or more spoken examples of it.
//!
//! Examples come from audio files (whole, or cut by start/end), from the
//! intervals of an annotation tier ([`crate::annotations`]), or from a query
//! list (TSV: `word<TAB>file<TAB>start<TAB>end`). The examples of one word are
//! searched together and their distance curves fused per end frame, as the
//! detector fuses templates ([`Fusion::Min`]: the best example;
//! [`Fusion::Mean`]: the mean of the `k` best).

use std::path::{Path, PathBuf};

use crate::annotations::read_annotations;
use crate::audio;
use crate::detector::{Fusion, ScoreNorm};
use crate::dtw::Metric;
use crate::eval::cohort::{builtin_cohort, score_norms};
use crate::eval::retrieval::frames_in;
use crate::features::{extract_utterance, Features, Frontend};
use crate::normalize::Normalizer;
use crate::search::{file_features, FeatureCache};
use crate::templates::{trim_silence, voiced_range};
use crate::{Error, Result, SAMPLE_RATE};

/// Where one example of a word is: a file, optionally a time range in it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExampleSpec {
    /// The audio file.
    pub file: PathBuf,
    /// Start in seconds (`None`: the beginning).
    pub start: Option<f64>,
    /// End in seconds (`None`: the end of the file).
    pub end: Option<f64>,
}

/// A word and where its examples are.
#[derive(Debug, Clone, PartialEq)]
pub struct QuerySpec {
    /// The word (labels hits and names export tiers).
    pub word: String,
    /// Its examples (at least one).
    pub examples: Vec<ExampleSpec>,
}

/// A word with the (normalized) features of each of its examples.
#[derive(Debug, Clone)]
pub struct Query {
    /// The word.
    pub word: String,
    /// One feature matrix per example, none empty.
    pub examples: Vec<Features>,
}

/// Merges specs with the same word (examples appended in order); words keep
/// the order of their first appearance.
pub fn merge_specs(specs: Vec<QuerySpec>) -> Vec<QuerySpec> {
    let mut out: Vec<QuerySpec> = Vec::new();
    for s in specs {
        match out.iter_mut().find(|o| o.word == s.word) {
            Some(o) => o.examples.extend(s.examples),
            None => out.push(s),
        }
    }
    out
}

/// Every interval of tier `tier` in an ELAN (`.eaf`) or Praat (`.TextGrid`)
/// file whose text (trimmed) is `value` becomes an example of the word
/// `value`, in the recording the annotation file names (EAF media
/// descriptor) or sits beside (TextGrid: the same-named audio file).
pub fn from_annotation(path: &Path, tier: &str, value: &str) -> Result<QuerySpec> {
    let doc = read_annotations(path)?;
    let media = doc.media_file()?;
    let t = doc.tier(tier).ok_or_else(|| {
        Error::format(
            path,
            format!(
                "no tier named '{tier}' (tiers: {})",
                doc.tiers
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })?;
    let examples: Vec<ExampleSpec> = t
        .intervals
        .iter()
        .filter(|i| i.text.trim() == value)
        .map(|i| ExampleSpec {
            file: media.clone(),
            start: Some(i.start),
            end: Some(i.end),
        })
        .collect();
    if examples.is_empty() {
        return Err(Error::format(
            path,
            format!(
                "tier '{tier}' has no interval whose text is '{value}' ({} intervals)",
                t.intervals.len()
            ),
        ));
    }
    Ok(QuerySpec {
        word: value.to_string(),
        examples,
    })
}

/// Reads a query list: one example per line, `word<TAB>file<TAB>start<TAB>end`
/// (seconds; start and end may be left empty for the whole file). Files are
/// relative to the list's folder. A first line whose third column is not a
/// number (and not empty) is a header; blank lines and `#` comments are
/// skipped. Rows of the same word are several examples of it.
pub fn read_query_list(path: &Path) -> Result<Vec<QuerySpec>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut specs = Vec::new();
    let mut first = true;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim_end_matches('\r');
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = l.split('\t').map(str::trim).collect();
        if std::mem::replace(&mut first, false)
            && cols.len() >= 3
            && !cols[2].is_empty()
            && cols[2].parse::<f64>().is_err()
        {
            continue; // header
        }
        let bad = |msg: String| Error::format(path, format!("line {line}: {msg}"));
        if cols.len() != 2 && cols.len() != 4 {
            return Err(bad(format!(
                "{} columns, expected 4 (word, file, start, end) separated by tabs",
                cols.len()
            )));
        }
        if cols[0].is_empty() {
            return Err(bad("empty word".into()));
        }
        if cols[1].is_empty() {
            return Err(bad("empty file name".into()));
        }
        let file = base.join(cols[1]);
        if !file.is_file() {
            return Err(bad(format!("unknown file '{}'", file.display())));
        }
        let time = |s: &str, what: &str| -> Result<Option<f64>> {
            if s.is_empty() {
                return Ok(None);
            }
            match s.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => Ok(Some(v)),
                _ => Err(bad(format!(
                    "bad {what} '{s}' (a non-negative number of seconds expected)"
                ))),
            }
        };
        let (start, end) = if cols.len() == 4 {
            (time(cols[2], "start")?, time(cols[3], "end")?)
        } else {
            (None, None)
        };
        if let (Some(s), Some(e)) = (start, end) {
            if e <= s {
                return Err(bad(format!("end {e} is not after start {s}")));
            }
        }
        specs.push(QuerySpec {
            word: cols[0].to_string(),
            examples: vec![ExampleSpec { file, start, end }],
        });
    }
    if specs.is_empty() {
        return Err(Error::format(path, "no query in this list"));
    }
    Ok(merge_specs(specs))
}

/// How [`build_queries_with`] turns examples into features.
#[derive(Debug, Clone, Default)]
pub struct QueryOptions {
    /// Keep each example's leading and trailing silence.
    pub no_trim: bool,
    /// Contextual queries: encode the example's whole recording and keep the
    /// frames whose centre lies inside the example's (trimmed) times, instead
    /// of encoding the cut example alone. For a frontend whose frames see
    /// beyond their own window (the speech embedding, wav2vec2), the word's
    /// frames then carry their surrounding speech, as the words of the corpus
    /// do (the seed paper's "contextual representation").
    pub context: bool,
    /// Feature cache for the whole recordings of contextual queries.
    pub cache: Option<FeatureCache>,
}

/// Computes the features of every example (decoded, trimmed of silence unless
/// `no_trim`, encoded as an isolated utterance, normalized). Errors name the
/// file and the time range.
pub fn build_queries(
    specs: &[QuerySpec],
    frontend: &mut dyn Frontend,
    normalizer: &Normalizer,
    no_trim: bool,
) -> Result<Vec<Query>> {
    let o = QueryOptions {
        no_trim,
        ..QueryOptions::default()
    };
    build_queries_with(specs, frontend, normalizer, &o)
}

/// [`build_queries`] with every option, contextual queries among them.
pub fn build_queries_with(
    specs: &[QuerySpec],
    frontend: &mut dyn Frontend,
    normalizer: &Normalizer,
    opts: &QueryOptions,
) -> Result<Vec<Query>> {
    let mut out = Vec::with_capacity(specs.len());
    for s in specs {
        if s.examples.is_empty() {
            return Err(Error::invalid(format!("word '{}' has no example", s.word)));
        }
        let mut examples = Vec::with_capacity(s.examples.len());
        for e in &s.examples {
            let samples = match (e.start, e.end) {
                (None, None) => audio::read_file(&e.file)?,
                (a, Some(b)) => audio::read_segment(&e.file, a.unwrap_or(0.0), b)?,
                (Some(a), None) => {
                    let all = audio::read_file(&e.file)?;
                    let i = (a * SAMPLE_RATE as f64).round() as usize;
                    if i >= all.len() {
                        return Err(Error::audio(
                            &e.file,
                            format!(
                                "start {a:.3} s is past the end of the audio ({:.3} s)",
                                all.len() as f64 / SAMPLE_RATE as f64
                            ),
                        ));
                    }
                    all[i..].to_vec()
                }
            };
            let what = match (e.start, e.end) {
                (None, None) => e.file.display().to_string(),
                (a, b) => format!(
                    "{} ({:.3}-{} s)",
                    e.file.display(),
                    a.unwrap_or(0.0),
                    b.map_or("end".to_string(), |b| format!("{b:.3}"))
                ),
            };
            if opts.context {
                examples.push(context_example(
                    e, &samples, &what, frontend, normalizer, opts,
                )?);
                continue;
            }
            let samples = if opts.no_trim {
                &samples[..]
            } else {
                trim_silence(&samples, &what)?
            };
            let f = extract_utterance(frontend, samples, Path::new(&what))?;
            examples.push(normalizer.apply_features(&f));
        }
        out.push(Query {
            word: s.word.clone(),
            examples,
        });
    }
    Ok(out)
}

/// The frames of example `e` (whose audio is `samples`) taken from its whole
/// recording's features.
fn context_example(
    e: &ExampleSpec,
    samples: &[f32],
    what: &str,
    frontend: &mut dyn Frontend,
    normalizer: &Normalizer,
    opts: &QueryOptions,
) -> Result<Features> {
    let sr = SAMPLE_RATE as f64;
    let from = e.start.unwrap_or(0.0);
    let (a, b) = if opts.no_trim {
        (0, samples.len())
    } else {
        voiced_range(samples)
            .ok_or_else(|| Error::audio(what, "no speech found (silent or too quiet)"))?
    };
    let (start, end) = (from + a as f64 / sr, from + b as f64 / sr);
    let whole = normalizer.apply_features(&file_features(&e.file, frontend, opts.cache.as_ref())?);
    let (i, j) = frames_in(&whole, start, end);
    if j <= i {
        return Err(Error::audio(
            what,
            format!("no feature frame of the whole recording is centred in {start:.3}-{end:.3} s"),
        ));
    }
    Ok(whole.slice(i, j))
}

/// How each example's distances are scaled before the examples of a word
/// are fused. Raw distances of different examples are not on one scale: a
/// long or clearly spoken example matches everything at lower distances than
/// another, so under [`Fusion::Min`] it decides alone, and with more examples
/// the lowest distance to unrelated speech falls faster than to the word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExampleNorm {
    /// Raw distances.
    #[default]
    None,
    /// Each example z-normalised on the built-in cohort of keyword-free speech
    /// (mean and std of its best-match distance ending at every cohort frame,
    /// as enrollment does for templates).
    Cohort,
    /// Each example z-normalised over the recordings being ranked (mean and std
    /// of its best distance per recording); needs every recording's distances
    /// first, so only retrieval evaluation offers it.
    Corpus,
}

impl std::str::FromStr for ExampleNorm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(ExampleNorm::None),
            "cohort" => Ok(ExampleNorm::Cohort),
            "corpus" => Ok(ExampleNorm::Corpus),
            _ => Err(Error::invalid(format!(
                "unknown example normalisation '{s}' (expected none, cohort or corpus)"
            ))),
        }
    }
}

impl std::fmt::Display for ExampleNorm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ExampleNorm::None => "none",
            ExampleNorm::Cohort => "cohort",
            ExampleNorm::Corpus => "corpus",
        })
    }
}

/// Scales a curve's distances by `norm` in place (infinite stays infinite).
pub fn scale_curve(curve: &mut [(f32, usize)], norm: &ScoreNorm) {
    for c in curve {
        c.0 = norm.apply(c.0);
    }
}

/// Per example of every query, its score normalisation on the built-in
/// cohort of keyword-free speech ([`ExampleNorm::Cohort`]; identity for an
/// example the cohort cannot normalise, one longer than twice it).
pub fn cohort_norms(
    queries: &[Query],
    frontend: &mut dyn Frontend,
    normalizer: &Normalizer,
    metric: Metric,
) -> Result<Vec<Vec<ScoreNorm>>> {
    let cohort = builtin_cohort(frontend, normalizer)?;
    Ok(queries
        .iter()
        .map(|q| {
            let ex: Vec<&Features> = q.examples.iter().collect();
            score_norms(&cohort, &ex, metric)
                .into_iter()
                .map(|n| n.unwrap_or(ScoreNorm::IDENTITY))
                .collect()
        })
        .collect())
}

/// [`fuse_curves`] of the curves each standardised by its example's norm
/// (`norms[i]` for `curves[i]`, in place), the fused score mapped back to the
/// distance scale of the examples: `mean(means) + z * mean(stds)`. For one
/// example this is its raw distance (up to rounding); for several, the ranks
/// are those of the standardised fusion and the values stay comparable to
/// raw distances (so a `--max-distance` keeps its meaning). Without norms,
/// plain [`fuse_curves`].
pub fn fuse_normalised(
    curves: &mut [Vec<(f32, usize)>],
    norms: &[ScoreNorm],
    fusion: Fusion,
    out: &mut Vec<(f32, usize)>,
) {
    if norms.is_empty() {
        fuse_curves(curves, fusion, out);
        return;
    }
    for (c, n) in curves.iter_mut().zip(norms) {
        scale_curve(c, n);
    }
    fuse_curves(curves, fusion, out);
    let k = norms.len().min(curves.len()).max(1) as f32;
    let mean = norms.iter().take(curves.len()).map(|n| n.mean).sum::<f32>() / k;
    let std = norms.iter().take(curves.len()).map(|n| n.std).sum::<f32>() / k;
    for o in out.iter_mut() {
        o.0 = mean + o.0 * std;
    }
}

/// Fuses per-end-frame curves of several examples over one target (each as
/// returned by [`crate::dtw::subsequence`], all of the same length) into
/// `out`: element `j` is the fused distance of matches ending at frame `j`
/// and the start of the best example's match there.
pub fn fuse_curves(curves: &[Vec<(f32, usize)>], fusion: Fusion, out: &mut Vec<(f32, usize)>) {
    out.clear();
    let n = curves.iter().map(Vec::len).min().unwrap_or(0);
    let mut top: Vec<f32> = Vec::with_capacity(curves.len());
    for j in 0..n {
        let best = curves
            .iter()
            .map(|c| c[j])
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .unwrap_or((f32::INFINITY, 0));
        if !best.0.is_finite() {
            out.push((f32::INFINITY, 0));
            continue;
        }
        let d = match fusion {
            Fusion::Min => best.0,
            Fusion::Mean(k) => {
                top.clear();
                top.extend(curves.iter().map(|c| c[j].0).filter(|d| d.is_finite()));
                top.sort_by(f32::total_cmp);
                let k = k.min(top.len()).max(1);
                top[..k].iter().sum::<f32>() / k as f32
            }
        };
        out.push((d, best.1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fusion_min_and_mean() {
        let a = vec![(0.2, 0), (f32::INFINITY, 0), (0.5, 1)];
        let b = vec![(0.4, 3), (f32::INFINITY, 0), (0.1, 2)];
        let mut out = Vec::new();
        fuse_curves(&[a.clone(), b.clone()], Fusion::Min, &mut out);
        assert_eq!(out, vec![(0.2, 0), (f32::INFINITY, 0), (0.1, 2)]);
        fuse_curves(&[a, b], Fusion::Mean(2), &mut out);
        assert!((out[0].0 - 0.3).abs() < 1e-6 && out[0].1 == 0);
        assert!((out[2].0 - 0.3).abs() < 1e-6 && out[2].1 == 2);
        assert!(out[1].0.is_infinite());
    }

    #[test]
    fn normalised_fusion_ranks_by_z_and_keeps_the_distance_scale() {
        // Example a: distances around 0.2 (std 0.1); b: around 0.6 (std 0.1).
        let norms = [
            ScoreNorm {
                mean: 0.2,
                std: 0.1,
            },
            ScoreNorm {
                mean: 0.6,
                std: 0.1,
            },
        ];
        // Frame 0: a at 0.15 (z -0.5); frame 1: b at 0.3 (z -3).
        let mut curves = vec![
            vec![(0.15, 0), (0.25, 0), (f32::INFINITY, 0)],
            vec![(0.7, 1), (0.3, 1), (f32::INFINITY, 0)],
        ];
        let mut out = Vec::new();
        fuse_normalised(&mut curves, &norms, Fusion::Min, &mut out);
        // Raw min would prefer frame 0 (0.15 < 0.25); standardised, frame 1.
        assert!(out[1].0 < out[0].0, "{out:?}");
        assert!((out[0].0 - (0.4 - 0.5 * 0.1)).abs() < 1e-6, "{out:?}");
        assert!((out[1].0 - (0.4 - 3.0 * 0.1)).abs() < 1e-6, "{out:?}");
        assert_eq!(out[1].1, 1);
        assert!(out[2].0.is_infinite());
        // One example: its raw distances.
        let mut one = vec![vec![(0.15, 0), (0.25, 2)]];
        fuse_normalised(&mut one, &norms[..1], Fusion::Min, &mut out);
        assert!((out[0].0 - 0.15).abs() < 1e-6 && (out[1].0 - 0.25).abs() < 1e-6);
        // No norms: plain fusion.
        let mut raw = vec![vec![(0.15, 0)], vec![(0.1, 3)]];
        fuse_normalised(&mut raw, &[], Fusion::Min, &mut out);
        assert_eq!(out, vec![(0.1, 3)]);
    }

    #[test]
    fn query_list_rows_headers_and_errors() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a.wav"), b"").unwrap();
        std::fs::write(d.path().join("b.wav"), b"").unwrap();
        let p = d.path().join("q.tsv");
        std::fs::write(
            &p,
            "word\tfile\tstart\tend\n# c\nyes\ta.wav\t0.5\t0.9\nno\tb.wav\t\t\nyes\tb.wav\t1\t1.5\n",
        )
        .unwrap();
        let q = read_query_list(&p).unwrap();
        assert_eq!(q.len(), 2);
        assert_eq!(q[0].word, "yes");
        assert_eq!(q[0].examples.len(), 2);
        assert_eq!(q[0].examples[1].start, Some(1.0));
        assert_eq!(q[1].examples[0].start, None);
        for (text, want) in [
            (
                "yes\ta.wav\t0.9\t0.5\n",
                "line 1: end 0.5 is not after start 0.9",
            ),
            ("yes\tmissing.wav\t0\t1\n", "line 1: unknown file"),
            ("yes\ta.wav\t0\n", "line 1: 3 columns"),
            (
                "yes\ta.wav\t0\t1\nyes\ta.wav\t-1\t1\n",
                "line 2: bad start '-1'",
            ),
            ("\ta.wav\t0\t1\n", "line 1: empty word"),
            ("# nothing\n", "no query"),
        ] {
            std::fs::write(&p, text).unwrap();
            let e = read_query_list(&p).unwrap_err().to_string();
            assert!(
                e.contains(want) && e.contains("q.tsv"),
                "{e} (wanted {want})"
            );
        }
    }
}
