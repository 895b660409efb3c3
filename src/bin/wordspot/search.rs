//! `wordspot search`: rank recordings by their best match to an audio query.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use wordspot::dtw::subsequence;
use wordspot::eval::plot::{plot_file, FilePlot, KeywordTrace};
use wordspot::features::{extract_utterance, Features, Frontend};
use wordspot::normalize::Normalizer;
use wordspot::search::{collect_files, file_features, search, FeatureCache, SearchOptions};
use wordspot::templates::trim_silence;

use crate::common::{
    check_plot_path, parse_count, parse_time, read_audio, warn_skipped, Format, FrontendArgs,
};

/// Options of `wordspot search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The spoken query (a word, or a longer file with --start/--end).
    #[arg(long, value_name = "AUDIO")]
    pub query: PathBuf,
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
    /// Recordings or folders (searched recursively).
    #[arg(required = true, value_name = "CORPUS")]
    pub corpus: Vec<PathBuf>,
    /// How many results to print (at least 1).
    #[arg(long, default_value_t = 10, value_parser = parse_count)]
    pub top_k: usize,
    /// Non-overlapping matches considered per recording (at least 1).
    #[arg(long, default_value_t = 1, value_parser = parse_count)]
    pub per_file: usize,
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
    #[command(flatten)]
    pub fe: FrontendArgs,
}

/// Runs `wordspot search`.
pub fn run(a: SearchArgs) -> Result<()> {
    if let Some(p) = &a.plot {
        check_plot_path(p, "--plot")?;
    }
    let (mut fe, norm) = a.fe.build()?;
    let cfg = fe.config();
    let samples = read_audio(&a.query, a.start, a.end)?;
    let what = a.query.display().to_string();
    let samples = if a.no_trim {
        &samples[..]
    } else {
        trim_silence(&samples, &what)?
    };
    let query = norm.apply_features(&extract_utterance(&mut *fe, samples, &a.query)?);

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
    let opts = SearchOptions {
        metric: a.fe.metric,
        per_file: a.per_file,
        cache: (!a.no_cache)
            .then(|| FeatureCache::new(a.cache.clone().unwrap_or_else(FeatureCache::default_dir))),
    };
    let res = search(&query, &files, &cfg, &norm, &opts, &|| bar.inc(1))?;
    bar.finish_and_clear();
    for e in &res.skipped {
        warn_skipped(e);
    }
    if res.hits.is_empty() {
        bail!("none of the {} file(s) could be searched", files.len());
    }
    if let Some(plot) = &a.plot {
        plot_best(plot, &query, &res.hits, &mut *fe, &norm, &opts)?;
        eprintln!("plot written to {}", plot.display());
    }
    let mut out = std::io::stdout().lock();
    if a.format == Format::Tsv {
        writeln!(out, "rank\tfile\tstart\tend\tdistance")?;
    }
    for h in res.hits.iter().take(a.top_k) {
        match a.format {
            Format::Jsonl => writeln!(out, "{}", serde_json::to_string(h)?)?,
            Format::Tsv => writeln!(
                out,
                "{}\t{}\t{:.3}\t{:.3}\t{:.4}",
                h.rank,
                h.file.display(),
                h.start,
                h.end,
                h.distance
            )?,
            Format::Table => writeln!(
                out,
                "{:>4}  {:.4}  {:>8.2}-{:<8.2}  {}",
                h.rank,
                h.distance,
                h.start,
                h.end,
                h.file.display()
            )?,
        }
    }
    Ok(())
}

/// Plots the best-ranked file: waveform, distance curve of the query, matches.
fn plot_best(
    path: &std::path::Path,
    query: &Features,
    hits: &[wordspot::search::Hit],
    fe: &mut dyn Frontend,
    norm: &Normalizer,
    opts: &SearchOptions,
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
