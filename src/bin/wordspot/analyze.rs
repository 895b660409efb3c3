//! `wordspot fit-stats` (normalizer statistics from background audio) and
//! `wordspot analyze` (anisotropy, rogue dimensions, IsoScore, plots).

use std::path::PathBuf;

use std::io::Write;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use ndarray::Array2;
use wordspot::analysis::{self, plot, AnalysisConfig};
use wordspot::features::{self, FrontendConfig};
use wordspot::normalize::{NormSpec, Normalizer, Stats, StatsAccumulator};

use crate::common::{check_plot_path, parse_count_to, warn_skipped, FrontendArgs};

/// Most frame pairs or frames `analyze` samples: the samples are held in
/// memory (tens of bytes each) before any statistic is computed.
const MAX_SAMPLED: usize = 1_000_000;

/// Fit normalizer statistics (mean, std, principal directions) on background audio.
#[derive(Debug, Args)]
pub struct FitStatsArgs {
    #[command(flatten)]
    pub frontend: FrontendArgs,
    /// Where to write the statistics (JSON).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Principal directions to store (the largest K usable by --normalize pca:K).
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub components: usize,
    /// Audio files or folders (searched recursively).
    #[arg(required = true, value_name = "AUDIO")]
    pub audio: Vec<PathBuf>,
}

/// Output format of `analyze`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AnalyzeFormat {
    /// An aligned table.
    Table,
    /// One JSON object per layer × normalizer.
    Jsonl,
}

/// Measure anisotropy, rogue dimensions and IsoScore of the features of a set of recordings.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    pub frontend: FrontendArgs,
    /// Frame pairs sampled per kind (same recording / different recordings; 1 to 1000000).
    #[arg(long, default_value_t = 1000, value_name = "N", value_parser = |s: &str| parse_count_to(s, MAX_SAMPLED))]
    pub pairs: usize,
    /// Seed of the random pair and frame sampling.
    #[arg(long, default_value_t = 0, value_name = "S")]
    pub seed: u64,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: AnalyzeFormat,
    /// Draw per-layer cosine-similarity distributions to FILE.png or FILE.svg.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Layers to analyze with a multi-layer model, e.g. `1-12` or `3,6,9` (default: all).
    #[arg(long, value_name = "LIST")]
    pub layers: Option<String>,
    /// Normalizers compared, comma-separated. They are fitted on the analyzed
    /// recordings themselves, or read from --stats when given.
    #[arg(
        long,
        default_value = "none,standardize,drop:2,pca:2",
        value_name = "LIST"
    )]
    pub normalizers: String,
    /// Frames sampled for IsoScore and for fitting the compared normalizers (1 to 1000000).
    #[arg(long, default_value_t = 4000, value_name = "N", value_parser = |s: &str| parse_count_to(s, MAX_SAMPLED))]
    pub sample_frames: usize,
    /// Audio files or folders (searched recursively).
    #[arg(required = true, value_name = "AUDIO")]
    pub audio: Vec<PathBuf>,
}

/// Expands files and folders (recursively, audio extensions only, each real
/// file once even through symbolic links) into a sorted file list.
pub fn collect_audio(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let (out, errors) = wordspot::search::collect_files(inputs);
    if let Some(e) = errors.into_iter().next() {
        bail!("{e}");
    }
    if out.is_empty() {
        bail!("no audio files found in the given paths");
    }
    Ok(out)
}

/// `wordspot fit-stats`.
pub fn fit_stats(args: FitStatsArgs) -> Result<()> {
    if args.frontend.normalize != "none" || args.frontend.stats.is_some() {
        bail!("fit-stats measures raw features: --normalize and --stats are not used here");
    }
    let cfg = args.frontend.config()?;
    let mut fe = cfg.build()?;
    let files = collect_audio(&args.audio)?;
    let mut acc = StatsAccumulator::with_covariance(fe.dim());
    let (mut used, mut skipped, mut samples_total) = (0usize, 0usize, 0u64);
    let mut buf: Vec<f32> = Vec::new();
    for path in &files {
        let samples = match wordspot::audio::read_file(path) {
            Ok(s) => s,
            Err(e) => {
                warn_skipped(&e);
                skipped += 1;
                continue;
            }
        };
        // Stream the file through the frontend in 1 s blocks so only one
        // block of features is held at a time.
        fe.reset();
        let mut ok = true;
        for block in samples.chunks(wordspot::SAMPLE_RATE as usize) {
            buf.clear();
            if let Err(e) = fe.push(block, &mut buf) {
                eprintln!("warning: skipping {}: {e}", path.display());
                ok = false;
                break;
            }
            acc.push_frames(&buf)?;
        }
        if ok {
            buf.clear();
            match fe.finish(&mut buf) {
                Ok(_) => acc.push_frames(&buf)?,
                Err(e) => {
                    eprintln!("warning: skipping the end of {}: {e}", path.display());
                }
            }
            used += 1;
            samples_total += samples.len() as u64;
        } else {
            skipped += 1;
        }
    }
    if acc.count() < 2 {
        bail!(
            "{}: not enough feature frames to fit statistics ({} from {used} usable files)",
            args.out.display(),
            acc.count()
        );
    }
    let stats = acc.fit(&cfg, args.components)?;
    stats.save(&args.out)?;
    let hours = samples_total as f64 / wordspot::SAMPLE_RATE as f64 / 3600.0;
    eprintln!(
        "fit-stats: {} frames ({}-dim, {}) from {used} files, {hours:.4} h of audio{}{} -> {}",
        acc.count(),
        fe.dim(),
        cfg.name(),
        if skipped > 0 {
            format!(", {skipped} files skipped")
        } else {
            String::new()
        },
        if acc.skipped() > 0 {
            format!(", {} non-finite frames ignored", acc.skipped())
        } else {
            String::new()
        },
        args.out.display()
    );
    Ok(())
}

/// Parses `1-12`, `3,6,9` or `1-4,8`.
fn parse_layers(list: &str) -> Result<Vec<usize>> {
    let mut out = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let num = |s: &str| -> Result<usize> {
            s.trim()
                .parse()
                .with_context(|| format!("--layers: '{part}' is not a layer number or range"))
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    bail!("--layers: range '{part}' is empty");
                }
                out.extend(a..=b);
            }
            None => out.push(num(part)?),
        }
    }
    if out.is_empty() {
        bail!("--layers: no layer given");
    }
    Ok(out)
}

/// Features of every recording for each analyzed layer: `(layer, per recording)`.
type Layers = Vec<(usize, Vec<Array2<f32>>)>;

/// Extracts the features of `files` for the layers to analyze. A multi-layer
/// (`--all-layers`) wav2vec2 model gives every layer (or those of `--layers`);
/// other frontends give their single output.
fn extract_layers(cfg: &FrontendConfig, files: &[PathBuf], layers: Option<&str>) -> Result<Layers> {
    #[cfg(feature = "wav2vec2")]
    if let FrontendConfig::Wav2vec2(c) = cfg {
        return extract_wav2vec2_layers(c, files, layers);
    }
    let mut fe = cfg.build()?;
    let layer_id = match cfg {
        FrontendConfig::Wav2vec2(c) => c.layer.unwrap_or(0),
        _ => 0,
    };
    if let Some(list) = layers {
        if parse_layers(list)? != [layer_id] {
            bail!(
                "--layers {list}: {} gives one output (layer {layer_id}); analyzing several layers needs a multi-layer (--all-layers) wav2vec2 model",
                cfg.name()
            );
        }
    }
    let mut recs = Vec::new();
    for path in files {
        match wordspot::audio::read_file(path)
            .and_then(|s| features::extract(fe.as_mut(), &s, path))
        {
            Ok(f) => recs.push(f.data),
            Err(e) => warn_skipped(&e),
        }
    }
    Ok(vec![(layer_id, recs)])
}

#[cfg(feature = "wav2vec2")]
fn extract_wav2vec2_layers(
    c: &wordspot::features::Wav2vec2Config,
    files: &[PathBuf],
    layers: Option<&str>,
) -> Result<Layers> {
    use ndarray::Axis;
    use wordspot::features::wav2vec2::Wav2vec2;

    let mut w = Wav2vec2::new(c.clone())?;
    let side = w.model().sidecar().clone();
    // (layer number, index into the model's layer axis)
    let wanted: Vec<(usize, usize)> = if side.all_layers {
        let ids = match (layers, c.layer) {
            (Some(list), _) => parse_layers(list)?,
            (None, Some(l)) => vec![l],
            (None, None) => (0..=side.num_layers).collect(),
        };
        if let Some(bad) = ids.iter().find(|&&l| l > side.num_layers) {
            bail!(
                "{}: layer {bad} out of range: this all-layers model has layers 0..={}",
                c.model.display(),
                side.num_layers
            );
        }
        ids.into_iter().map(|l| (l, l)).collect()
    } else {
        let l = side.layer.unwrap_or(0);
        if let Some(list) = layers {
            if parse_layers(list)? != [l] {
                bail!(
                    "--layers {list}: {} holds layer {l} only; export it with --all-layers to analyze several layers",
                    c.model.display()
                );
            }
        }
        vec![(l, 0)]
    };
    let mut out: Layers = wanted.iter().map(|&(l, _)| (l, Vec::new())).collect();
    for path in files {
        // Whole-utterance inference: every layer in one pass.
        let all = wordspot::audio::read_file(path).and_then(|s| w.infer_all(&s));
        match all {
            Ok(a) if a.shape()[1] > 0 => {
                for (slot, &(_, idx)) in out.iter_mut().zip(&wanted) {
                    slot.1.push(a.index_axis(Axis(0), idx).to_owned());
                }
            }
            Ok(_) => eprintln!(
                "warning: skipping {}: too short for one frame",
                path.display()
            ),
            Err(e) => warn_skipped(&e),
        }
    }
    Ok(out)
}

/// `wordspot analyze`.
pub fn analyze(args: AnalyzeArgs) -> Result<()> {
    let cfg = args.frontend.config()?;
    let mut specs = NormSpec::parse_list(&args.normalizers)?;
    if specs.is_empty() {
        bail!("--normalizers: give at least one (e.g. none)");
    }
    let extra = NormSpec::parse(&args.frontend.normalize)?;
    if !specs.contains(&extra) {
        specs.push(extra);
    }
    if let Some(p) = &args.plot {
        check_plot_path(p, "--plot")?;
    }
    if let Some(path) = &args.frontend.stats {
        // Fail before reading any audio: the file must exist and match the frontend.
        let st = Stats::load(path)?;
        st.check_compatible(&cfg, st.dim, path)?;
    }
    let files = collect_audio(&args.audio)?;
    let layers = extract_layers(&cfg, &files, args.layers.as_deref())?;
    let (recordings, frames) = match layers.first() {
        Some((_, recs)) if !recs.is_empty() => {
            (recs.len(), recs.iter().map(|r| r.nrows()).sum::<usize>())
        }
        _ => bail!("no recording could be analyzed"),
    };
    let acfg = AnalysisConfig {
        pairs: args.pairs,
        seed: args.seed,
        sample_frames: args.sample_frames.max(2),
    };
    let reports = match &args.frontend.stats {
        Some(path) => {
            let [(layer, recs)] = layers.as_slice() else {
                bail!("--stats holds statistics of one layer: pick it with --layers L");
            };
            let dim = recs[0].ncols();
            let norms = specs
                .iter()
                .map(|s| Normalizer::from_spec(&s.to_string(), Some(path), &cfg, dim))
                .collect::<wordspot::Result<Vec<_>>>()?;
            analysis::analyze_layer(*layer, recs, &norms, &acfg)?
        }
        None => analysis::analyze_layers(&layers, &specs, &cfg, &acfg)?,
    };

    match args.format {
        AnalyzeFormat::Table => {
            writeln!(
                std::io::stdout(),
                "# {recordings} recordings, {frames} frames, frontend {}, {} layer(s), {} pairs per kind, seed {}, normalizers {}",
                cfg.name(),
                layers.len(),
                args.pairs,
                args.seed,
                match &args.frontend.stats {
                    Some(p) => format!("from {}", p.display()),
                    None => "fitted on these recordings".into(),
                }
            )?;
            write!(std::io::stdout(), "{}", analysis::format_table(&reports))?;
        }
        AnalyzeFormat::Jsonl => {
            for r in &reports {
                writeln!(std::io::stdout(), "{}", serde_json::to_string(r)?)?;
            }
        }
    }
    if let Some(p) = &args.plot {
        plot::plot_cosines(&reports, p)?;
        eprintln!("analyze: plot written to {}", p.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_lists() {
        assert_eq!(parse_layers("1-3").unwrap(), vec![1, 2, 3]);
        assert_eq!(parse_layers("3,6, 9").unwrap(), vec![3, 6, 9]);
        assert_eq!(parse_layers("0-1,5").unwrap(), vec![0, 1, 5]);
        assert!(parse_layers("5-2").is_err());
        assert!(parse_layers("x").is_err());
        assert!(parse_layers("").is_err());
    }
}
