//! `wordspot demo`: the main job on bundled audio, no download needed.
//!
//! The audio (Free Spoken Digit Dataset, CC BY-SA 4.0) is embedded in the
//! binary. "seven" is enrolled from three takes by one speaker, its threshold
//! is calibrated on background speech (other digits) by the same speaker, the
//! word is spotted in a stream of digits from other recordings of that
//! speaker, and a take by another speaker is searched for in a small corpus
//! of recordings by three more speakers.

use std::fs;
use std::path::Path;

use std::io::Write;

use anyhow::{Context, Result};
use clap::Args;
use wordspot::detector::DetectorConfig;
use wordspot::eval::stream::{calibrate, stream_features, StreamFeatures};
use wordspot::features::extract_utterance;
use wordspot::pipeline::Spotter;
use wordspot::search::{collect_files, search, SearchOptions};
use wordspot::templates::{self, enroll, Enrollment, TakeAudio};

use crate::common::FrontendArgs;

macro_rules! bundled {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo/", $name)))),*]
    };
}

/// The embedded demo files: (relative path, bytes).
const FILES: &[(&str, &[u8])] = bundled!(
    "enroll/seven_jackson_0.wav",
    "enroll/seven_jackson_1.wav",
    "enroll/seven_jackson_2.wav",
    "query/seven_george.wav",
    "background.wav",
    "stream.wav",
    "stream.tsv",
    "corpus/0_lucas.wav",
    "corpus/1_lucas.wav",
    "corpus/2_lucas.wav",
    "corpus/3_lucas.wav",
    "corpus/4_lucas.wav",
    "corpus/5_lucas.wav",
    "corpus/6_lucas.wav",
    "corpus/7_lucas.wav",
    "corpus/7_nicolas.wav",
    "corpus/7_jackson.wav",
    "corpus/8_lucas.wav",
    "corpus/9_lucas.wav",
);

/// Options of `wordspot demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo files and templates in this folder instead of a temporary one.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub fe: FrontendArgs,
}

/// Runs `wordspot demo`.
pub fn run(a: DemoArgs) -> Result<()> {
    let tmp = tempfile::tempdir().context("creating a temporary folder")?;
    let root = a.keep.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    for (name, bytes) in FILES {
        let p = root.join(name);
        fs::create_dir_all(p.parent().expect("has a parent"))
            .with_context(|| format!("{}: cannot create", root.display()))?;
        fs::write(&p, bytes).with_context(|| format!("{}: cannot write", p.display()))?;
    }
    let (mut fe, norm) = a.fe.build()?;
    writeln!(
        std::io::stdout(),
        "wordspot demo — frontend {}\n",
        fe.config().name()
    )?;

    // 1. Enroll "seven" from three takes by jackson.
    let store = root.join("templates");
    let takes = (0..3)
        .map(|t| {
            let name = format!("enroll/seven_jackson_{t}.wav");
            Ok(TakeAudio {
                samples: wordspot::audio::read_file(&root.join(&name))?,
                source: name,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let m = enroll(
        &store,
        "seven",
        &takes,
        Enrollment {
            frontend: &mut *fe,
            normalizer: &norm,
            normalize_spec: &a.fe.normalize,
            metric: a.fe.metric,
            trim: true,
            threshold: None,
        },
    )?;
    writeln!(
        std::io::stdout(),
        "1. enroll: 'seven' from 3 takes by jackson; leave-one-out threshold {:.3}",
        m.threshold
    )?;

    // 1b. Calibrate the threshold on background speech without the word.
    let keywords = templates::load(&store, &mut *fe, &norm)?;
    let cfg = DetectorConfig {
        metric: a.fe.metric,
        ..DetectorConfig::default()
    };
    let bg_path = root.join("background.wav");
    let bg = wordspot::audio::read_file(&bg_path)?;
    let background = [StreamFeatures {
        file: bg_path.clone(),
        features: stream_features(&mut *fe, &norm, &bg)?,
        seconds: bg.len() as f64 / wordspot::SAMPLE_RATE as f64,
    }];
    let cal = calibrate(&background, &keywords, &[m.threshold], 0.0, cfg)?;
    let threshold = cal[0].threshold;
    writeln!(
        std::io::stdout(),
        "   calibrate: {:.1} s of other digits by jackson -> threshold {threshold:.3} (no false alarm there)",
        background[0].seconds
    )?;

    // 2. Spot it in a stream of digits spoken by jackson.
    let stream_path = root.join("stream.wav");
    let samples = wordspot::audio::read_file(&stream_path)?;
    let truth = read_truth(&root.join("stream.tsv"))?;
    fe.reset();
    let mut spotter = Spotter::new(fe, norm.clone(), &keywords, &[threshold], cfg)?;
    let mut events = Vec::new();
    for block in samples.chunks(1600) {
        spotter.push(block, &mut |e| events.push(e))?;
    }
    spotter.finish(&mut |e| events.push(e))?;
    writeln!(
        std::io::stdout(),
        "\n2. listen: {:.1} s stream of digits by jackson (other recordings), 'seven' said at {}",
        samples.len() as f64 / 16000.0,
        truth
            .iter()
            .map(|(s, e)| format!("{s:.2}-{e:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    for e in &events {
        let hit = truth.iter().any(|&(s, en)| e.start < en && s < e.end);
        writeln!(
            std::io::stdout(),
            "   {:>6.2}-{:<6.2} {}  distance {:.3}  {}",
            e.start,
            e.end,
            e.keyword,
            e.distance,
            if hit { "✓ hit" } else { "✗ false alarm" }
        )?;
    }
    let found = truth
        .iter()
        .filter(|&&(s, en)| events.iter().any(|e| e.start < en && s < e.end))
        .count();
    writeln!(
        std::io::stdout(),
        "   found {found} of {} occurrences, {} event(s)",
        truth.len(),
        events.len()
    )?;

    // 3. Search a corpus of recordings by other speakers with one take as the query.
    let mut fe = a.fe.build()?.0;
    let qpath = root.join("query/seven_george.wav");
    let q = wordspot::audio::read_file(&qpath)?;
    let q = templates::trim_silence(&q, &qpath.display().to_string())?;
    let query = norm.apply_features(&extract_utterance(&mut *fe, q, &qpath)?);
    let (files, _) = collect_files(&[root.join("corpus")]);
    let res = search(
        &query,
        &files,
        &fe.config(),
        &norm,
        &SearchOptions {
            metric: a.fe.metric,
            per_file: 1,
            cache: None,
        },
        &|| {},
    )?;
    writeln!(
        std::io::stdout(),
        "\n3. search: query 'seven' by george over {} recordings by lucas, nicolas and jackson",
        files.len()
    )?;
    for h in res.hits.iter().take(5) {
        let name = h
            .file
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let mark = if name.starts_with("7_") { "✓" } else { " " };
        writeln!(
            std::io::stdout(),
            "   {:>2}. {mark} {:<16} distance {:.3}  match {:.2}-{:.2} s",
            h.rank,
            name,
            h.distance,
            h.start,
            h.end
        )?;
    }
    writeln!(
        std::io::stdout(),
        "\n   MFCC matches the same speaker well but ranks other speakers poorly; a wav2vec2-family\n   \
         model (--frontend wav2vec2 --model FILE.onnx, see models/README.md) is the cross-speaker choice."
    )?;
    if a.keep.is_some() {
        writeln!(std::io::stdout(), "\nfiles kept in {}", root.display())?;
    }
    Ok(())
}

fn read_truth(p: &Path) -> Result<Vec<(f64, f64)>> {
    let text = fs::read_to_string(p).with_context(|| format!("{}: cannot read", p.display()))?;
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            anyhow::ensure!(c.len() == 4, "{}: bad line '{l}'", p.display());
            Ok((c[2].parse()?, c[3].parse()?))
        })
        .collect()
}
