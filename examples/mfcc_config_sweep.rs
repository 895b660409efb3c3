//! Which MFCC settings find a word best across speakers?
//!
//! Every recording of a labelled folder set (`DIR/<word>/<speaker>_*.wav`,
//! 16 kHz mono WAV, e.g. Google Speech Commands) is used in turn as a query:
//! it is trimmed of leading/trailing silence, and every recording by *another*
//! speaker is ranked by its best subsequence-DTW match (cosine distance).
//! Precision@10 and mean average precision (relevant = same word) are
//! averaged over queries, for each MFCC configuration.
//!
//! ```text
//! cargo run --release --example mfcc_config_sweep [DIR]
//! ```
//! DIR defaults to `../shared/data/speech_commands`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use wordspot::dtw::{best_match, Metric};
use wordspot::features::mfcc::{FirstCoeff, MfccNorm, WindowKind};
use wordspot::features::{extract, Features, Frontend, Mfcc, MfccConfig};

struct Clip {
    path: PathBuf,
    word: String,
    speaker: String,
    samples: Vec<f32>,
    /// The clip without its leading/trailing silence (the query).
    trimmed: Vec<f32>,
}

fn read_wav(path: &Path) -> Result<Vec<f32>> {
    let mut r = hound::WavReader::open(path).with_context(|| format!("{}", path.display()))?;
    let spec = r.spec();
    if spec.sample_rate != 16_000 || spec.channels != 1 || spec.bits_per_sample != 16 {
        bail!("{}: expected 16 kHz mono 16-bit WAV", path.display());
    }
    r.samples::<i16>()
        .map(|s| Ok(s? as f32 / 32768.0))
        .collect::<Result<_>>()
        .with_context(|| format!("{}", path.display()))
}

/// Keeps the span from the first to the last 10 ms frame whose energy is within
/// `DB` dB of the loudest frame, plus a 50 ms margin each side.
fn trim_silence(x: &[f32]) -> Vec<f32> {
    const DB: f32 = 35.0;
    const HOP: usize = 160;
    let energy: Vec<f32> = x
        .chunks(HOP)
        .map(|c| c.iter().map(|s| s * s).sum::<f32>() / c.len() as f32)
        .collect();
    let peak = energy.iter().cloned().fold(0.0, f32::max);
    let thr = peak * 10f32.powf(-DB / 10.0);
    let first = energy.iter().position(|&e| e > thr).unwrap_or(0);
    let last = energy
        .iter()
        .rposition(|&e| e > thr)
        .unwrap_or(energy.len());
    let a = first.saturating_sub(5) * HOP;
    let b = ((last + 1 + 5) * HOP).min(x.len());
    x[a..b].to_vec()
}

fn load(dir: &Path) -> Result<Vec<Clip>> {
    let mut clips = Vec::new();
    let mut words: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("{}", dir.display()))?
        .collect::<std::io::Result<Vec<_>>>()?;
    words.sort_by_key(|e| e.path());
    for w in words.into_iter().filter(|e| e.path().is_dir()) {
        let word = w.file_name().to_string_lossy().into_owned();
        let mut files: Vec<PathBuf> = std::fs::read_dir(w.path())?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<_>>()?;
        files.sort();
        for path in files
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "wav"))
        {
            let samples = read_wav(&path)?;
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let speaker = name.split('_').next().unwrap_or_default().to_string();
            let trimmed = trim_silence(&samples);
            clips.push(Clip {
                path,
                word: word.clone(),
                speaker,
                samples,
                trimmed,
            });
        }
    }
    Ok(clips)
}

/// Average precision of a ranking (`true` = relevant), and precision at 10.
fn ap_and_p10(ranked: &[bool]) -> (f64, f64) {
    let total = ranked.iter().filter(|&&r| r).count();
    let (mut hits, mut sum) = (0usize, 0f64);
    for (i, &r) in ranked.iter().enumerate() {
        if r {
            hits += 1;
            sum += hits as f64 / (i + 1) as f64;
        }
    }
    let p10 = ranked.iter().take(10).filter(|&&r| r).count() as f64 / 10.0;
    (if total > 0 { sum / total as f64 } else { 0.0 }, p10)
}

fn features(cfg: &MfccConfig, x: &[f32], path: &Path) -> Result<Features> {
    let mut fe = Mfcc::new(cfg.clone())?;
    Ok(extract(&mut fe as &mut dyn Frontend, x, path)?)
}

/// Mean P@10 and MAP of `cfg` over all queries.
fn evaluate(cfg: &MfccConfig, clips: &[Clip]) -> Result<(f64, f64)> {
    let (p10, map, _) = evaluate_se(cfg, clips)?;
    Ok((p10, map))
}

/// Mean P@10, MAP, and the standard error of the MAP over queries.
fn evaluate_se(cfg: &MfccConfig, clips: &[Clip]) -> Result<(f64, f64, f64)> {
    let targets = clips
        .iter()
        .map(|c| features(cfg, &c.samples, &c.path))
        .collect::<Result<Vec<_>>>()?;
    let queries = clips
        .iter()
        .map(|c| features(cfg, &c.trimmed, &c.path))
        .collect::<Result<Vec<_>>>()?;
    let per_query: Vec<(f64, f64)> = (0..clips.len())
        .into_par_iter()
        .map(|qi| {
            let q = &queries[qi];
            let mut scored: Vec<(f32, bool)> = (0..clips.len())
                .filter(|&ti| clips[ti].speaker != clips[qi].speaker)
                .map(|ti| {
                    let d = best_match(q.data.view(), targets[ti].data.view(), Metric::Cosine)
                        .map_or(f32::INFINITY, |m| m.distance);
                    (d, clips[ti].word == clips[qi].word)
                })
                .collect();
            scored.sort_by(|a, b| a.0.total_cmp(&b.0));
            let ranked: Vec<bool> = scored.iter().map(|s| s.1).collect();
            ap_and_p10(&ranked)
        })
        .collect();
    let n = per_query.len() as f64;
    let p10 = per_query.iter().map(|r| r.1).sum::<f64>() / n;
    let map = per_query.iter().map(|r| r.0).sum::<f64>() / n;
    let var = per_query.iter().map(|r| (r.0 - map).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    Ok((p10, map, (var / n).sqrt()))
}

fn describe(c: &MfccConfig) -> String {
    let norm = match c.norm {
        MfccNorm::None => "none".to_string(),
        MfccNorm::Sliding => format!(
            "sliding{}:{}",
            if c.norm_variance { "-mv" } else { "-m" },
            c.norm_window
        ),
        MfccNorm::Utterance => format!("utt{}", if c.norm_variance { "-mv" } else { "-m" }),
    };
    format!(
        "deltas={:<5} first={:<9} norm={:<15} window={:?}",
        c.deltas,
        format!("{:?}", c.first),
        norm,
        c.window
    )
}

fn main() -> Result<()> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../shared/data/speech_commands"
            ))
        });
    let clips = load(&dir)?;
    if clips.is_empty() {
        bail!("{}: no WAV files in word folders", dir.display());
    }
    let speakers: std::collections::HashSet<_> = clips.iter().map(|c| &c.speaker).collect();
    println!(
        "{} clips, {} speakers, from {}; queries trimmed to {:.2} s on average",
        clips.len(),
        speakers.len(),
        dir.display(),
        clips.iter().map(|c| c.trimmed.len()).sum::<usize>() as f64 / clips.len() as f64 / 16000.0
    );
    let norms = [
        (MfccNorm::None, false, 0),
        (MfccNorm::Sliding, false, 30),
        (MfccNorm::Sliding, false, 50),
        (MfccNorm::Sliding, false, 100),
        (MfccNorm::Sliding, true, 50),
        (MfccNorm::Sliding, true, 100),
        (MfccNorm::Utterance, false, 0),
        (MfccNorm::Utterance, true, 0),
    ];
    let mut configs = Vec::new();
    for deltas in [false, true] {
        for first in [FirstCoeff::C0, FirstCoeff::LogEnergy, FirstCoeff::Drop] {
            for &(norm, norm_variance, w) in &norms {
                configs.push(MfccConfig {
                    deltas,
                    first,
                    norm,
                    norm_variance,
                    norm_window: if w > 0 { w } else { 300 },
                    ..MfccConfig::default()
                });
            }
        }
    }
    let mut results = Vec::new();
    println!("{:>6} {:>6}  {:<9} config", "P@10", "MAP", "streaming");
    for cfg in configs {
        let (p10, map) = evaluate(&cfg, &clips)?;
        let streaming = cfg.norm != MfccNorm::Utterance;
        println!(
            "{:>6.3} {:>6.3}  {:<9} {}",
            p10,
            map,
            if streaming { "yes" } else { "no" },
            describe(&cfg)
        );
        results.push((cfg, p10, map, streaming));
    }
    // Refine the best streaming-safe setting: sliding window length and
    // analysis window.
    let best = results
        .iter()
        .filter(|r| r.3)
        .max_by(|a, b| a.2.total_cmp(&b.2))
        .map(|r| r.0.clone())
        .expect("at least one streaming configuration");
    let mut refine = Vec::new();
    for window in [WindowKind::Hamming, WindowKind::Hann] {
        let windows: &[usize] = if best.norm == MfccNorm::Sliding {
            &[10, 20, 30, 40]
        } else {
            &[best.norm_window]
        };
        for &norm_window in windows {
            let c = MfccConfig {
                window,
                norm_window,
                ..best.clone()
            };
            if !results.iter().any(|r| r.0 == c) {
                refine.push(c);
            }
        }
    }
    for cfg in refine {
        let (p10, map) = evaluate(&cfg, &clips)?;
        println!("{:>6.3} {:>6.3}  {:<9} {}", p10, map, "yes", describe(&cfg));
        results.push((cfg, p10, map, true));
    }
    println!();
    for (label, streaming_only) in [("overall", false), ("streaming-safe", true)] {
        let b = results
            .iter()
            .filter(|r| !streaming_only || r.3)
            .max_by(|a, b| a.2.total_cmp(&b.2))
            .expect("results");
        println!(
            "best {label} by MAP: P@10 {:.3} MAP {:.3}  {}",
            b.1,
            b.2,
            describe(&b.0)
        );
    }
    let d = MfccConfig::default();
    let (p10, map) = evaluate(&d, &clips)?;
    println!(
        "current default:      P@10 {p10:.3} MAP {map:.3}  {}",
        describe(&d)
    );
    Ok(())
}
