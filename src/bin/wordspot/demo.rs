//! `wordspot demo`: the main job on bundled audio, no download needed.
//!
//! The audio (Free Spoken Digit Dataset, CC BY-SA 4.0) is embedded in the
//! binary: three takes of "seven" by one speaker are enrolled, then the word
//! is spotted in a stream of digits spoken by another speaker and searched for
//! in a small corpus of recordings by other speakers.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use clap::Args;
use wordspot::detector::DetectorConfig;
use wordspot::features::extract;
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
    "enroll/seven_0.wav",
    "enroll/seven_1.wav",
    "enroll/seven_2.wav",
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
    println!("wordspot demo — frontend {}\n", fe.config().name());

    // 1. Enroll "seven" from three takes by one speaker.
    let store = root.join("templates");
    let takes = (0..3)
        .map(|i| {
            let p = root.join(format!("enroll/seven_{i}.wav"));
            Ok(TakeAudio {
                samples: wordspot::audio::read_file(&p)?,
                source: format!("enroll/seven_{i}.wav (speaker george)"),
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
    println!(
        "1. enrolled 'seven' from {} takes by george; threshold {:.3} ({})",
        m.takes.len(),
        m.threshold,
        m.threshold_source
    );

    // 2. Spot it in a stream of digits spoken by jackson.
    let keywords = templates::load(&store, &mut *fe, &norm)?;
    let stream_path = root.join("stream.wav");
    let samples = wordspot::audio::read_file(&stream_path)?;
    let truth = read_truth(&root.join("stream.tsv"))?;
    let cfg = wordspot::detector::DetectorConfig {
        metric: a.fe.metric,
        ..DetectorConfig::default()
    };
    fe.reset();
    let mut spotter = Spotter::new(fe, norm.clone(), &keywords, &[m.threshold], cfg)?;
    let mut events = Vec::new();
    for block in samples.chunks(1600) {
        spotter.push(block, &mut |e| events.push(e))?;
    }
    spotter.finish(&mut |e| events.push(e))?;
    println!(
        "\n2. listen: {:.1} s stream of digits by jackson, 'seven' said at {}",
        samples.len() as f64 / 16000.0,
        truth
            .iter()
            .map(|(s, e)| format!("{s:.2}-{e:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for e in &events {
        let hit = truth.iter().any(|&(s, en)| e.start < en && s < e.end);
        println!(
            "   {:>6.2}-{:<6.2} {}  distance {:.3}  {}",
            e.start,
            e.end,
            e.keyword,
            e.distance,
            if hit { "✓ hit" } else { "✗ false alarm" }
        );
    }
    let found = truth
        .iter()
        .filter(|&&(s, en)| events.iter().any(|e| e.start < en && s < e.end))
        .count();
    println!(
        "   found {found} of {} occurrences, {} event(s)",
        truth.len(),
        events.len()
    );

    // 3. Search a corpus of recordings by other speakers with one take as the query.
    let mut fe = a.fe.build()?.0;
    let qpath = root.join("enroll/seven_0.wav");
    let q = wordspot::audio::read_file(&qpath)?;
    let q = templates::trim_silence(&q, &qpath.display().to_string())?;
    let query = norm.apply_features(&extract(&mut *fe, q, &qpath)?);
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
    println!(
        "\n3. search: query enroll/seven_0.wav over {} recordings (lucas, nicolas, jackson)",
        files.len()
    );
    for h in res.hits.iter().take(5) {
        let name = h
            .file
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let mark = if name.starts_with("7_") { "✓" } else { " " };
        println!(
            "   {:>2}. {mark} {:<16} distance {:.3}  match {:.2}-{:.2} s",
            h.rank, name, h.distance, h.start, h.end
        );
    }
    if a.keep.is_some() {
        println!("\nfiles kept in {}", root.display());
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
