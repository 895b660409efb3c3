//! `wordspot search`: rank recordings by their best match to an audio query;
//! several words and examples in one pass, hits exported to ELAN/Praat/CSV/
//! Audacity and a review page.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use wordspot::detector::Fusion;
use wordspot::dtw::subsequence;
use wordspot::eval::plot::{plot_file, FilePlot, KeywordTrace};
use wordspot::export::{self, drop_rejected, read_judgements, ExportFormat};
use wordspot::features::{Features, Frontend};
use wordspot::normalize::Normalizer;
use wordspot::query::{
    build_queries_with, cohort_norms, from_annotation, merge_specs, read_query_list, ExampleNorm,
    ExampleSpec, QueryOptions, QuerySpec,
};
use wordspot::report::{write_report, ReportOptions};
use wordspot::search::{
    collect_files, file_features, spot_normalised, FeatureCache, SpotOptions, WordHit,
};

use crate::common::{check_plot_path, parse_count, parse_time, warn_skipped, Format, FrontendArgs};

/// Options of `wordspot search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The spoken query (a word, or a longer file with --start/--end).
    #[arg(long, value_name = "AUDIO", required_unless_present_any = ["query_annotation", "queries"])]
    pub query: Option<PathBuf>,
    /// The word a --query stands for (labels hits and export tiers; default: the file's stem).
    #[arg(long, value_name = "WORD", requires = "query")]
    pub word: Option<String>,
    /// Examples from an ELAN (.eaf) or Praat (.TextGrid) file: every interval of
    /// --tier whose text is --value (the recording: the EAF's media, or the
    /// TextGrid's same-named audio file).
    #[arg(long, value_name = "FILE", requires_all = ["tier", "value"])]
    pub query_annotation: Option<PathBuf>,
    /// Tier of --query-annotation.
    #[arg(long, value_name = "TIER", requires = "query_annotation")]
    pub tier: Option<String>,
    /// Annotation text of the examples in --tier (also the word searched for).
    #[arg(long, value_name = "WORD", requires = "query_annotation")]
    pub value: Option<String>,
    /// A query list: TSV rows `word, file, start, end` (one example per row;
    /// rows of a word are fused); all words are searched in one pass.
    #[arg(long, value_name = "TSV")]
    pub queries: Option<PathBuf>,
    /// Fusion of a word's examples: `min` (best example) or `mean:K` (mean of the K best).
    #[arg(long, default_value = "min")]
    pub fusion: Fusion,
    /// Scaling of each example's distances before a word's examples are
    /// fused: `cohort` (standardised on the built-in cohort of keyword-free
    /// speech, then mapped back to the examples' distance scale) or `none`.
    /// Only words with several examples are affected.
    #[arg(long, default_value = "cohort")]
    pub example_norm: ExampleNorm,
    /// Keep every non-overlapping hit at or under this distance (per recording,
    /// all of them unless --per-file is given).
    #[arg(long, value_name = "D")]
    pub max_distance: Option<f32>,
    /// Start of the query inside the file (seconds or MM:SS.s); alone, the
    /// query runs from there to the end of the file.
    #[arg(long, value_parser = parse_time)]
    pub start: Option<f64>,
    /// End of the query inside the file.
    #[arg(long, value_parser = parse_time)]
    pub end: Option<f64>,
    /// Keep the query's leading/trailing silence.
    #[arg(long)]
    pub no_trim: bool,
    /// Contextual queries: encode each example's whole recording and keep the
    /// frames inside the example's times (for frontends whose frames see their
    /// surroundings: the speech embedding, wav2vec2), instead of encoding the
    /// cut example alone.
    #[arg(long)]
    pub context: bool,
    /// Recordings or folders (searched recursively).
    #[arg(required = true, value_name = "CORPUS")]
    pub corpus: Vec<PathBuf>,
    /// How many results to print per word (at least 1).
    #[arg(long, default_value_t = 10, value_parser = parse_count)]
    pub top_k: usize,
    /// Non-overlapping hits kept per recording and word (at least 1; default 1,
    /// no limit with --max-distance).
    #[arg(long, value_name = "N", value_parser = parse_count)]
    pub per_file: Option<usize>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Feature cache folder (default: ~/.cache/wordspot or $WORDSPOT_CACHE).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Do not read or write the feature cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Draw the best-ranked recording's waveform, the query's DTW distance
    /// curve and its matches (`.png` or `.svg`).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Write the kept hits (all of them, not only --top-k) per recording as
    /// `eaf`, `textgrid`, `csv` or `audacity` files under DIR (repeatable).
    #[arg(long, num_args = 2, value_names = ["FORMAT", "DIR"], action = clap::ArgAction::Append)]
    pub export: Vec<String>,
    /// Merge into an existing EAF/TextGrid beside the recording in place
    /// (default: write NAME.wordspot.eaf/.TextGrid under the export folder).
    #[arg(long)]
    pub in_place: bool,
    /// Write a self-contained review page (HTML) of the kept hits.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// Judgements saved from the review page: rejected hits are dropped
    /// (from the printed list, the exports and the page).
    #[arg(long, value_name = "TSV")]
    pub judgements: Option<PathBuf>,
    #[command(flatten)]
    pub fe: FrontendArgs,
}

/// The words to search for, from --query, --query-annotation and --queries.
fn query_specs(a: &SearchArgs) -> Result<Vec<QuerySpec>> {
    let mut specs = Vec::new();
    if let Some(q) = &a.query {
        let word = match &a.word {
            Some(w) => w.clone(),
            None => q
                .file_stem()
                .map_or("query".into(), |s| s.to_string_lossy().into_owned()),
        };
        specs.push(QuerySpec {
            word,
            examples: vec![ExampleSpec {
                file: q.clone(),
                start: a.start,
                end: a.end,
            }],
        });
    } else if a.start.is_some() || a.end.is_some() {
        bail!("--start/--end cut the --query file; with --queries give times in the list");
    }
    if let (Some(f), Some(t), Some(v)) = (&a.query_annotation, &a.tier, &a.value) {
        specs.push(from_annotation(f, t, v)?);
    }
    if let Some(l) = &a.queries {
        specs.extend(read_query_list(l)?);
    }
    Ok(merge_specs(specs))
}

/// Parsed `--export FORMAT DIR` pairs.
fn exports(a: &SearchArgs) -> Result<Vec<(ExportFormat, PathBuf)>> {
    a.export
        .chunks(2)
        .map(|c| Ok((c[0].parse::<ExportFormat>()?, PathBuf::from(&c[1]))))
        .collect()
}

/// Runs `wordspot search`.
pub fn run(a: SearchArgs) -> Result<()> {
    if let Some(p) = &a.plot {
        check_plot_path(p, "--plot")?;
    }
    if let Some(d) = a.max_distance {
        if !d.is_finite() {
            bail!("--max-distance must be a finite number, got {d}");
        }
    }
    if a.per_file == Some(0) {
        bail!("--per-file must be at least 1");
    }
    let exports = exports(&a)?;
    let judgements = match &a.judgements {
        Some(j) => Some(read_judgements(j)?),
        None => None,
    };
    let (mut fe, norm) = a.fe.build()?;
    let cfg = fe.config();
    let specs = query_specs(&a)?;
    let cache = (!a.no_cache)
        .then(|| FeatureCache::new(a.cache.clone().unwrap_or_else(FeatureCache::default_dir)));
    let qo = QueryOptions {
        no_trim: a.no_trim,
        context: a.context,
        cache: cache.clone(),
    };
    let queries = build_queries_with(&specs, &mut *fe, &norm, &qo)?;
    let several = queries.iter().filter(|q| q.examples.len() > 1).count();
    let norms = match a.example_norm {
        ExampleNorm::Corpus => {
            bail!("--example-norm corpus needs every recording's distances first: only `eval retrieval` offers it")
        }
        ExampleNorm::Cohort if several > 0 => {
            eprintln!("{several} word(s) with several examples: each example standardised on the built-in cohort before fusion");
            cohort_norms(&queries, &mut *fe, &norm, a.fe.metric)?
        }
        _ => Vec::new(),
    };

    let (files, errors) = collect_files(&a.corpus);
    for e in &errors {
        warn_skipped(e);
    }
    if files.is_empty() {
        bail!(
            "no audio file found in the corpus ({} path(s) given)",
            a.corpus.len()
        );
    }
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::new(files.len() as u64);
        b.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} files {elapsed_precise} eta {eta}")
                .expect("static template"),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let opts = SpotOptions {
        metric: a.fe.metric,
        fusion: a.fusion,
        per_file: match (a.per_file, a.max_distance) {
            (Some(n), _) => Some(n),
            (None, Some(_)) => None,
            (None, None) => Some(1),
        },
        max_distance: a.max_distance,
        cache,
    };
    let res = spot_normalised(&queries, &norms, &files, &cfg, &norm, &opts, &|| bar.inc(1))?;
    bar.finish_and_clear();
    for e in &res.skipped {
        warn_skipped(e);
    }
    if res.skipped.len() == files.len() {
        bail!("none of the {} file(s) could be searched", files.len());
    }
    let mut hits = res.hits;
    if let Some(j) = &judgements {
        let (kept, dropped) = drop_rejected(hits, j);
        eprintln!("{dropped} hit(s) rejected in the judgements dropped");
        hits = kept;
    }
    if let (Some(plot), Some(q)) = (&a.plot, queries.first()) {
        let first: Vec<WordHit> = hits.iter().filter(|h| h.word == q.word).cloned().collect();
        if first.is_empty() {
            eprintln!("warning: no hit of '{}' to plot", q.word);
        } else {
            plot_best(plot, &q.examples[0], &first, &mut *fe, &norm, &opts)?;
            eprintln!("plot written to {}", plot.display());
        }
    }
    for (format, dir) in &exports {
        let written = export::export(&hits, *format, dir, a.in_place)
            .with_context(|| format!("export to {}", dir.display()))?;
        let merged = written.iter().filter(|w| w.merged_from.is_some()).count();
        eprintln!(
            "{} file(s) written under {} ({merged} merged into existing annotations)",
            written.len(),
            dir.display()
        );
    }
    if let Some(r) = &a.report {
        let s = write_report(r, &hits, &ReportOptions::default())?;
        eprintln!(
            "review page written to {} ({} hits, {:.1} MB{})",
            r.display(),
            s.hits,
            s.bytes as f64 / 1e6,
            if s.left_out > 0 {
                format!(", {} more left out", s.left_out)
            } else {
                String::new()
            }
        );
    }
    let several = queries.len() > 1;
    let mut out = std::io::stdout().lock();
    if a.format == Format::Tsv {
        if several {
            writeln!(out, "word\trank\tfile\tstart\tend\tdistance")?;
        } else {
            writeln!(out, "rank\tfile\tstart\tend\tdistance")?;
        }
    }
    for h in hits.iter().filter(|h| h.rank <= a.top_k) {
        match a.format {
            Format::Jsonl => writeln!(out, "{}", serde_json::to_string(h)?)?,
            Format::Tsv => {
                if several {
                    write!(out, "{}\t", h.word)?;
                }
                writeln!(
                    out,
                    "{}\t{}\t{:.3}\t{:.3}\t{:.4}",
                    h.rank,
                    h.file.display(),
                    h.start,
                    h.end,
                    h.distance
                )?
            }
            Format::Table => {
                if several {
                    write!(out, "{:<12} ", h.word)?;
                }
                writeln!(
                    out,
                    "{:>4}  {:.4}  {:>8.2}-{:<8.2}  {}",
                    h.rank,
                    h.distance,
                    h.start,
                    h.end,
                    h.file.display()
                )?
            }
        }
    }
    Ok(())
}

/// Plots the best-ranked file: waveform, distance curve of the query, matches.
fn plot_best(
    path: &std::path::Path,
    query: &Features,
    hits: &[WordHit],
    fe: &mut dyn Frontend,
    norm: &Normalizer,
    opts: &SpotOptions,
) -> Result<()> {
    let best = &hits[0];
    let samples = wordspot::audio::read_file(&best.file)?;
    let f = norm.apply_features(&file_features(&best.file, fe, opts.cache.as_ref())?);
    let curve = subsequence(query.data.view(), f.data.view(), opts.metric);
    let fig = FilePlot {
        title: format!("{} (rank 1)", best.file.display()),
        samples: &samples,
        frame_step: f.hop as f64 / wordspot::SAMPLE_RATE as f64,
        frame_offset: f.window as f64 / wordspot::SAMPLE_RATE as f64,
        traces: vec![KeywordTrace {
            name: "query".into(),
            distances: curve.iter().map(|c| c.0).collect(),
            threshold: best.distance,
        }],
        events: hits
            .iter()
            .filter(|h| h.file == best.file)
            .map(|h| (0, h.start, h.end))
            .collect(),
        truth: Vec::new(),
    };
    plot_file(&fig, path)?;
    Ok(())
}
