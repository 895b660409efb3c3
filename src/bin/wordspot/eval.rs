//! `wordspot eval retrieval|stream` and `wordspot calibrate`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use wordspot::eval::labels::{read_labels, Labels};
use wordspot::eval::metrics::{DetPoint, KS};
use wordspot::eval::plot::{plot_det, plot_file, FilePlot, KeywordTrace};
use wordspot::eval::retrieval::{self, best_by_f1, RetrievalOptions, RetrievalReport};
use wordspot::eval::stream::{self, load_streams, SweepOptions};
use wordspot::features::FrontendConfig;
use wordspot::search::{collect_files, FeatureCache};
use wordspot::templates::Keyword;

use crate::common::{
    check_plot_path, parse_count_to, DetectorArgs, Format, FrontendArgs, FrontendKind,
};

/// Options of `wordspot eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(subcommand)]
    pub what: EvalCommand,
}

/// What to evaluate.
#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Query-by-example retrieval: each labelled occurrence is a query, recordings are ranked (P@k, R@k).
    Retrieval(RetrievalArgs),
    /// Detection on long labelled recordings: hits, misses, false alarms, DET curve.
    Stream(StreamArgs),
}

/// Options of `wordspot eval retrieval`.
#[derive(Debug, Args)]
pub struct RetrievalArgs {
    /// Labels: TSV (file, word, start, end), a Praat TextGrid, or a folder of TextGrids.
    #[arg(long, value_name = "FILE")]
    pub labels: PathBuf,
    /// TextGrid tier holding the words (default: `words`/`word`, else the first interval tier).
    #[arg(long)]
    pub tier: Option<String>,
    /// Only these words are queries (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub words: Option<Vec<String>>,
    /// Encode whole recordings and take each query's frames from them (contextual queries).
    #[arg(long)]
    pub context: bool,
    /// Trim silence inside each occurrence's label times.
    #[arg(long)]
    pub trim: bool,
    /// Examples per query: the occurrence plus N-1 others of its word by other
    /// speakers (their recordings are left out of its ranking). A list
    /// (`1,3,5`) compares them in one pass, every setting ranking the same
    /// recordings (those of the largest N's examples left out).
    #[arg(
        long,
        value_name = "N[,N..]",
        value_delimiter = ',',
        default_value = "1"
    )]
    pub examples: Vec<usize>,
    /// Fusion of a query's examples: `min` or `mean:K` (a list compares them).
    #[arg(long, value_delimiter = ',', default_value = "min")]
    pub example_fusion: Vec<wordspot::detector::Fusion>,
    /// Scaling of each example's distances before fusion: `cohort` (z-norm on
    /// the built-in cohort), `corpus` (z-norm over the ranked recordings) or
    /// `none`; a list compares them.
    #[arg(long, value_delimiter = ',', default_value = "cohort")]
    pub example_norm: Vec<wordspot::query::ExampleNorm>,
    /// Sweep transformer layers (wav2vec2 only), e.g. `1-12` or `3,6,9`; `{layer}` in --stats is replaced.
    #[arg(long, value_name = "LIST")]
    pub layers: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Feature cache folder (default: ~/.cache/wordspot or $WORDSPOT_CACHE).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Do not read or write the feature cache.
    #[arg(long)]
    pub no_cache: bool,
    #[command(flatten)]
    pub fe: FrontendArgs,
}

/// Options of `wordspot eval stream`.
#[derive(Debug, Args)]
pub struct StreamArgs {
    /// Labels of the recordings (TSV, TextGrid or folder of TextGrids).
    #[arg(long, value_name = "FILE")]
    pub labels: PathBuf,
    /// TextGrid tier holding the words.
    #[arg(long)]
    pub tier: Option<String>,
    /// Template store (from `wordspot enroll`).
    #[arg(long, value_name = "DIR")]
    pub templates: PathBuf,
    /// Recordings to evaluate (default: every labelled recording); unlabelled ones count as keyword-free.
    #[arg(value_name = "AUDIO")]
    pub audio: Vec<PathBuf>,
    /// Operating threshold for every keyword (default: each keyword's stored
    /// threshold; a normalised score, e.g. -4, for stores enrolled with the cohort).
    #[arg(long, allow_negative_numbers = true)]
    pub threshold: Option<f32>,
    /// Quantiles of the candidate distances in the threshold grid (1 to 100000).
    #[arg(long, default_value_t = 40, value_parser = |s: &str| parse_count_to(s, 100_000))]
    pub quantiles: usize,
    /// Lowest-scoring false alarms whose distances join the grid (resolution at low FA rates; at most 100000).
    #[arg(long, default_value_t = 20, value_parser = parse_low_fa)]
    pub low_fa: usize,
    /// Draw the DET curve to this file (.png or .svg).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Draw each recording (waveform, distance curves, detections) into this folder.
    #[arg(long, value_name = "DIR")]
    pub plot_files: Option<PathBuf>,
    /// Output format (`jsonl` includes every DET point).
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    #[command(flatten)]
    pub det: DetectorArgs,
    #[command(flatten)]
    pub fe: FrontendArgs,
}

/// Options of `wordspot calibrate`.
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Template store (from `wordspot enroll`); manifests are updated in place.
    #[arg(long, value_name = "DIR")]
    pub templates: PathBuf,
    /// Background audio without the keywords (files or folders).
    #[arg(long, value_name = "AUDIO", num_args = 1.., required = true)]
    pub background: Vec<PathBuf>,
    /// Largest false-alarm rate to allow on the background, per hour (at least 0).
    #[arg(long, value_name = "R", value_parser = parse_rate, allow_negative_numbers = true)]
    pub fa_per_hour: f64,
    /// Print the thresholds without writing them.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub det: DetectorArgs,
    #[command(flatten)]
    pub fe: FrontendArgs,
}

/// Runs `wordspot eval`.
pub fn run(a: EvalArgs) -> Result<()> {
    match a.what {
        EvalCommand::Retrieval(r) => run_retrieval(r),
        EvalCommand::Stream(s) => run_stream(s),
    }
}

/// Parses `1-12`, `3,6,9`, `1-4,8` into layer indices.
fn parse_layers(s: &str) -> Result<Vec<usize>> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let num = |x: &str| {
            x.trim()
                .parse::<usize>()
                .with_context(|| format!("--layers: bad layer '{x}' in '{s}'"))
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if b < a {
                    bail!("--layers: empty range '{part}'");
                }
                out.extend(a..=b);
            }
            None => out.push(num(part)?),
        }
    }
    if out.is_empty() {
        bail!("--layers: no layer in '{s}'");
    }
    Ok(out)
}

fn run_retrieval(a: RetrievalArgs) -> Result<()> {
    let labels = read_labels(&a.labels, a.tier.as_deref())?;
    let opts = RetrievalOptions {
        metric: a.fe.metric,
        context: a.context,
        trim: a.trim,
        words: a.words.clone(),
        cache: (!a.no_cache)
            .then(|| FeatureCache::new(a.cache.clone().unwrap_or_else(FeatureCache::default_dir))),
    };
    let layers: Vec<Option<usize>> = match &a.layers {
        None => vec![a.fe.layer],
        Some(spec) => {
            if a.fe.frontend != FrontendKind::Wav2vec2 {
                bail!("--layers sweeps transformer layers: it needs --frontend wav2vec2 (MFCC has no layers)");
            }
            parse_layers(spec)?.into_iter().map(Some).collect()
        }
    };
    let mut configs = Vec::new();
    for &count in &a.examples {
        for &fusion in &a.example_fusion {
            for &norm in &a.example_norm {
                configs.push(retrieval::Examples {
                    count,
                    fusion,
                    norm,
                });
            }
        }
    }
    if configs.len() > 1 && layers.len() > 1 {
        bail!("sweep either --layers or the example settings (--examples, --example-fusion, --example-norm), not both");
    }
    let mut reports = Vec::new();
    let mut labels_of_rows = Vec::new();
    for layer in &layers {
        let mut fe = a.fe.clone();
        fe.layer = *layer;
        if let (Some(l), Some(st)) = (layer, &fe.stats) {
            fe.stats = Some(PathBuf::from(
                st.to_string_lossy().replace("{layer}", &l.to_string()),
            ));
        }
        let (_, norm) = fe.build()?;
        let cfg: FrontendConfig = fe.config()?;
        eprintln!("evaluating {} ...", cfg.name());
        let t0 = std::time::Instant::now();
        let rs = retrieval::evaluate_configs(&labels, &cfg, &norm, &opts, &KS, &configs)?;
        eprintln!(
            "{} setting(s) evaluated in {:.1} s",
            rs.len(),
            t0.elapsed().as_secs_f64()
        );
        for (r, c) in rs.into_iter().zip(&configs) {
            labels_of_rows.push(if configs.len() > 1 {
                let f = match c.fusion {
                    wordspot::detector::Fusion::Min => "min".to_string(),
                    wordspot::detector::Fusion::Mean(k) => format!("mean:{k}"),
                };
                format!("{} ex {f} {}", c.count, c.norm)
            } else {
                r.frontend.clone()
            });
            reports.push(r);
        }
    }
    for (r, l) in reports.iter_mut().zip(labels_of_rows) {
        r.frontend = l;
    }
    let layers = if configs.len() > 1 {
        vec![a.fe.layer; reports.len()]
    } else {
        layers
    };
    print_retrieval(&reports, &layers, &a)
}

fn print_retrieval(
    reports: &[RetrievalReport],
    layers: &[Option<usize>],
    a: &RetrievalArgs,
) -> Result<()> {
    let best = best_by_f1(reports);
    let mut out = std::io::stdout().lock();
    let r0 = &reports[0];
    match a.format {
        Format::Jsonl => {
            for (i, r) in reports.iter().enumerate() {
                for (j, row) in r.rows.iter().enumerate() {
                    let v = serde_json::json!({
                        "frontend": r.frontend, "layer": layers[i], "k": row.k,
                        "precision": row.precision, "recall": row.recall, "f1": row.f1,
                        "queries": row.queries, "recordings": r.recordings,
                        "best_f1": reports.len() > 1 && best[j] == Some(i),
                    });
                    writeln!(out, "{v}")?;
                }
            }
        }
        Format::Tsv => {
            writeln!(out, "frontend\tk\tprecision\trecall\tf1\tbest_f1")?;
            for (i, r) in reports.iter().enumerate() {
                for (j, row) in r.rows.iter().enumerate() {
                    writeln!(
                        out,
                        "{}\t{}\t{:.4}\t{:.4}\t{:.4}\t{}",
                        r.frontend,
                        row.k,
                        row.precision,
                        row.recall,
                        row.f1,
                        reports.len() > 1 && best[j] == Some(i)
                    )?;
                }
            }
        }
        Format::Table => {
            writeln!(
                out,
                "retrieval: {} queries ({} word(s)) over {} recordings, {} queries, metric {:?}",
                r0.queries,
                r0.words,
                r0.recordings,
                if a.context { "contextual" } else { "cut" },
                a.fe.metric
            )?;
            if r0.without_relevant > 0 {
                writeln!(
                    out,
                    "({} queries left out: their word occurs in no other recording)",
                    r0.without_relevant
                )?;
            }
            if reports.len() == 1 {
                writeln!(
                    out,
                    "frontend {}\n{:>5}  {:>7}  {:>7}  {:>7}",
                    r0.frontend, "k", "P@k", "R@k", "F1"
                )?;
                for row in &r0.rows {
                    writeln!(
                        out,
                        "{:>5}  {:>7.4}  {:>7.4}  {:>7.4}",
                        row.k, row.precision, row.recall, row.f1
                    )?;
                }
            } else {
                for (name, get) in [
                    (
                        "P@k",
                        (|p: &wordspot::eval::metrics::PrAtK| p.precision) as fn(&_) -> f64,
                    ),
                    ("R@k", |p| p.recall),
                ] {
                    write!(out, "\n{name:<22}")?;
                    for row in &r0.rows {
                        write!(out, "{:>9}", format!("k={}", row.k))?;
                    }
                    writeln!(out)?;
                    for (i, r) in reports.iter().enumerate() {
                        write!(out, "{:<22}", r.frontend)?;
                        for (j, row) in r.rows.iter().enumerate() {
                            let mark = if best[j] == Some(i) { "*" } else { " " };
                            write!(out, "{:>8.4}{mark}", get(row))?;
                        }
                        writeln!(out)?;
                    }
                }
                writeln!(out, "\n* best row by F1 at that k")?;
            }
        }
    }
    Ok(())
}

/// Thresholds per keyword: `given`, else the stored one when it was set for
/// this frontend and normalizer, else the default (with a warning).
fn thresholds(
    keywords: &[Keyword],
    given: Option<f32>,
    cfg: &FrontendConfig,
    normalize: &str,
    verified: bool,
) -> Result<Vec<f32>> {
    if let Some(t) = given {
        if !t.is_finite() {
            bail!("--threshold must be a finite number, got {t}");
        }
    }
    Ok(keywords
        .iter()
        .map(|k| {
            given
                .or_else(|| k.threshold_for(cfg, normalize, verified))
                .unwrap_or_else(|| {
                    let t = k.default_threshold(cfg, verified);
                    eprintln!(
                        "warning: {}: no usable stored threshold (set for another frontend or normalizer, or not a number); using {t}",
                        k.dir.display()
                    );
                    t
                })
        })
        .collect())
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map_or("audio".into(), |s| s.to_string_lossy().to_string())
}

/// `--low-fa`: 0 to 100000.
fn parse_low_fa(s: &str) -> std::result::Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(v) if v <= 100_000 => Ok(v),
        Ok(v) => Err(format!("{v} is too large (at most 100000)")),
        Err(_) => Err(format!("'{s}' is not a whole number")),
    }
}

/// `--fa-per-hour`: a finite rate, at least 0.
fn parse_rate(s: &str) -> std::result::Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        Ok(v) => Err(format!(
            "{v} is not a rate: a finite number of false alarms per hour, at least 0"
        )),
        Err(_) => Err(format!("'{s}' is not a number")),
    }
}

fn run_stream(a: StreamArgs) -> Result<()> {
    if let Some(p) = &a.plot {
        check_plot_path(p, "--plot")?;
    }
    if let Some(d) = &a.plot_files {
        if d.exists() && !d.is_dir() {
            bail!("--plot-files {}: not a folder", d.display());
        }
    }
    let mut labels: Labels = read_labels(&a.labels, a.tier.as_deref())?;
    let files: Vec<PathBuf> = if a.audio.is_empty() {
        labels.files.clone()
    } else {
        let (files, errors) = collect_files(&a.audio);
        if let Some(e) = errors.into_iter().next() {
            return Err(e.into());
        }
        files
    };
    if files.is_empty() {
        bail!("no recording to evaluate");
    }
    for f in &files {
        if !labels.files.contains(f) {
            eprintln!(
                "note: {} is not in the labels: every detection in it is a false alarm",
                f.display()
            );
            labels.add_file(f.clone());
        }
    }
    let (mut fe, norm) = a.fe.build()?;
    let cfg = fe.config();
    let keywords = crate::common::load_store(&a.templates, &mut *fe, &norm)?;
    let cascade = a.det.cascade(&keywords)?;
    let ths = thresholds(
        &keywords,
        a.threshold,
        &cfg,
        &a.fe.normalize,
        cascade.is_some(),
    )?;
    for k in &keywords {
        if !labels
            .occurrences
            .iter()
            .any(|o| o.word == k.manifest.keyword)
        {
            eprintln!(
                "warning: keyword '{}' has no labelled occurrence",
                k.manifest.keyword
            );
        }
    }
    let streams = load_streams(&files, &cfg, &norm)?;
    let det = a.det.config(&a.fe);
    let rep = stream::evaluate(
        &labels,
        &streams,
        &keywords,
        &ths,
        SweepOptions {
            detector: det,
            quantiles: a.quantiles,
            low_false_alarms: a.low_fa,
        },
        cascade.as_ref(),
    )?;
    let mut out = std::io::stdout().lock();
    match a.format {
        Format::Jsonl => {
            for r in rep.keywords.iter().chain([&rep.pooled]) {
                let mut v = serde_json::to_value(r)?;
                v["hours"] = rep.hours.into();
                v["files"] = rep.files.into();
                writeln!(out, "{v}")?;
            }
        }
        Format::Table | Format::Tsv => {
            writeln!(
                out,
                "eval stream: {} recording(s), {:.3} h, {} keyword(s), {} thresholds swept (frontend {})",
                rep.files,
                rep.hours,
                keywords.len(),
                rep.grid,
                cfg.name()
            )?;
            writeln!(
                out,
                "{:<14} {:>5} | {:>8} {:>5} {:>5} {:>5} {:>8} | {:>16} | {:>16}",
                "keyword",
                "occ",
                "thresh",
                "hits",
                "miss",
                "FA",
                "FA/h",
                "miss @1 FA/h",
                "miss @0.1 FA/h"
            )?;
            let at = |p: &Option<DetPoint>| match p {
                Some(p) => format!("{:>5.1}% ({:.3})", 100.0 * p.miss_rate, p.threshold),
                None => "-".into(),
            };
            for r in rep.keywords.iter().chain([&rep.pooled]) {
                let name = if r.keyword == "*" {
                    "all (pooled)"
                } else {
                    &r.keyword
                };
                let th = if r.at_threshold.threshold.is_finite() && r.keyword != "*" {
                    format!(
                        "{:.4}",
                        ths[rep
                            .keywords
                            .iter()
                            .position(|x| x.keyword == r.keyword)
                            .unwrap_or(0)]
                    )
                } else {
                    "-".into()
                };
                writeln!(
                    out,
                    "{:<14} {:>5} | {:>8} {:>5} {:>5} {:>5} {:>8.2} | {:>16} | {:>16}",
                    name,
                    r.occurrences,
                    th,
                    r.at_threshold.hits,
                    r.at_threshold.misses,
                    r.at_threshold.false_alarms,
                    r.at_threshold.fa_per_hour,
                    at(&r.at_1_fa_per_hour),
                    at(&r.at_0_1_fa_per_hour)
                )?;
            }
            writeln!(
                out,
                "(FA rate resolution: {:.3}/h; pooled FA/h is per keyword; `miss @R` = best swept threshold with at most R FA/h)",
                1.0 / rep.hours
            )?;
        }
    }
    if let Some(p) = &a.plot {
        let mut curves: Vec<(String, Vec<DetPoint>)> = rep
            .keywords
            .iter()
            .map(|r| (r.keyword.clone(), r.curve.clone()))
            .collect();
        if rep.keywords.len() > 1 {
            curves.push(("all (pooled)".into(), rep.pooled.curve.clone()));
        }
        plot_det(&curves, rep.hours, p)?;
        eprintln!("DET curve written to {}", p.display());
    }
    if let Some(dir) = &a.plot_files {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
        for (i, s) in streams.iter().enumerate() {
            let samples = wordspot::audio::read_file(&s.file)?;
            // Plots need the whole curve: a long recording's frames are read back.
            let f = &s.features.load()?;
            let curves = stream::distance_curves(&keywords, det.fusion, det, f);
            let fig = FilePlot {
                title: s.file.display().to_string(),
                samples: &samples,
                frame_step: f.hop as f64 / wordspot::SAMPLE_RATE as f64,
                frame_offset: f.window as f64 / wordspot::SAMPLE_RATE as f64,
                traces: keywords
                    .iter()
                    .zip(curves)
                    .zip(&ths)
                    .map(|((k, d), &t)| KeywordTrace {
                        name: k.manifest.keyword.clone(),
                        distances: d,
                        threshold: t,
                    })
                    .collect(),
                events: rep.events[i]
                    .iter()
                    .map(|e| (e.keyword, e.start, e.end))
                    .collect(),
                truth: labels
                    .in_file(&s.file)
                    .filter(|o| keywords.iter().any(|k| k.manifest.keyword == o.word))
                    .map(|o| (o.word.clone(), o.start, o.end))
                    .collect(),
            };
            let p = dir.join(format!("{:03}_{}.png", i + 1, stem(&s.file)));
            plot_file(&fig, &p)?;
        }
        eprintln!(
            "{} recording plot(s) written to {}",
            streams.len(),
            dir.display()
        );
    }
    Ok(())
}

/// Runs `wordspot calibrate`.
pub fn run_calibrate(a: CalibrateArgs) -> Result<()> {
    let (files, errors) = collect_files(&a.background);
    if let Some(e) = errors.into_iter().next() {
        return Err(e.into());
    }
    if files.is_empty() {
        bail!("no background audio found");
    }
    let (mut fe, norm) = a.fe.build()?;
    let cfg = fe.config();
    let keywords = crate::common::load_store(&a.templates, &mut *fe, &norm)?;
    let cascade = a.det.cascade(&keywords)?;
    let current = thresholds(&keywords, None, &cfg, &a.fe.normalize, cascade.is_some())?;
    let streams = load_streams(&files, &cfg, &norm)?;
    let mut not_speech = Vec::new();
    for f in &files {
        // Block by block: a long background recording is not held in memory.
        let check = stream::SpeechCheck::of_source(&mut wordspot::audio::FileSource::open(f)?)?;
        if !check.is_speech_like() {
            not_speech.push(f.display().to_string());
            eprintln!(
                "warning: {}: looks like noise or silence, not speech (peak {:.0} dBFS, level spread {:.1} dB): \
                 thresholds calibrated on it are too loose for speech; add keyword-free speech to --background",
                f.display(),
                check.peak_dbfs,
                check.modulation_db
            );
        }
    }
    if not_speech.len() == files.len() {
        eprintln!(
            "warning: none of the background is speech-like: the thresholds below will flood a stream of speech with false alarms"
        );
    }
    let cals = stream::calibrate(
        &streams,
        &keywords,
        &current,
        a.fa_per_hour,
        a.det.config(&a.fe),
        cascade.as_ref(),
    )?;
    let hours = cals.first().map_or(0.0, |c| c.hours);
    writeln!(
        std::io::stdout(),
        "calibrate: {} background file(s), {:.3} h; target {} FA/h => at most {} false alarm(s); FA rate resolution 1/{:.3} h = {:.3}/h",
        files.len(),
        hours,
        a.fa_per_hour,
        cals.first().map_or(0, |c| c.allowed),
        hours,
        1.0 / hours
    )?;
    if a.fa_per_hour > 0.0 && a.fa_per_hour * hours < 1.0 {
        writeln!(
            std::io::stdout(),
            "note: {:.3} h of background cannot measure {} FA/h (1 false alarm would be {:.2}/h): thresholds are set for 0 false alarms on it",
            hours,
            a.fa_per_hour,
            1.0 / hours
        )?;
    }
    for ((k, c), old) in keywords.iter().zip(&cals).zip(&current) {
        let q = |x: f64| {
            c.distance_quantiles
                .iter()
                .find(|(l, _)| (*l - x).abs() < 1e-9)
                .map_or(f32::NAN, |v| v.1)
        };
        writeln!(
            std::io::stdout(),
            "{:<14} threshold {:.4} -> {:.4}  {} FA on background ({:.2}/h)  candidates {}  distance min {:.4} p1 {:.4} p5 {:.4} median {:.4}{}",
            c.keyword,
            old,
            c.threshold,
            c.false_alarms,
            c.fa_per_hour,
            c.events,
            q(0.0),
            q(0.01),
            q(0.05),
            q(0.5),
            if c.constrained { "" } else { "  (not constrained: too few candidates, threshold kept)" }
        )?;
        if !a.dry_run {
            stream::write_calibration(k, c, &cfg, &a.fe.normalize, a.fe.metric, &files)?;
        }
    }
    if a.dry_run {
        writeln!(std::io::stdout(), "(dry run: manifests not changed)")?;
    } else {
        writeln!(
            std::io::stdout(),
            "thresholds written to {}",
            a.templates.display()
        )?;
    }
    Ok(())
}
