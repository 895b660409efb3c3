//! `wordspot demo`: the main job on bundled audio, no download needed.
//!
//! The audio (`examples/demo/make_data.py`: Picovoice wake-word-benchmark
//! "alexa"/"computer" clips, Apache-2.0; Spanish words, public domain; Speech
//! Commands words, CC BY 4.0) is embedded in the binary. "alexa" is enrolled
//! from three takes by three speakers, its scores are normalised on 81 s of
//! keyword-free speech (the built-in cohort), the word is spotted in a 72 s stream of other speech
//! where four *other* speakers say it, and a fifth speaker's take is searched
//! for in twelve recordings by yet other speakers.

use std::fs;
use std::path::Path;

use std::io::Write;

use anyhow::{Context, Result};
use clap::Args;
use wordspot::detector::DetectorConfig;
use wordspot::eval::cohort::{normalise_keyword, CohortReport};
use wordspot::features::extract_utterance;
use wordspot::pipeline::Spotter;
use wordspot::search::{collect_files, search, SearchOptions};
use wordspot::templates::{self, enroll, Enrollment, TakeAudio};

use crate::common::FrontendArgs;

/// Length of the built-in cohort (`examples/demo/background.flac`), for the text.
const COHORT_SECONDS: u32 = 81;

macro_rules! bundled {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo/", $name)))),*]
    };
}

/// The embedded demo files: (relative path, bytes).
const FILES: &[(&str, &[u8])] = bundled!(
    "enroll/alexa_0.flac",
    "enroll/alexa_1.flac",
    "enroll/alexa_2.flac",
    "query/alexa.flac",
    "background.flac",
    "stream.flac",
    "stream.tsv",
    "corpus/alexa_0.flac",
    "corpus/alexa_1.flac",
    "corpus/alexa_2.flac",
    "corpus/alexa_3.flac",
    "corpus/command_0.flac",
    "corpus/command_1.flac",
    "corpus/computer_0.flac",
    "corpus/computer_1.flac",
    "corpus/computer_2.flac",
    "corpus/spanish_0.flac",
    "corpus/spanish_1.flac",
    "corpus/spanish_2.flac",
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

    // 1. Enroll "alexa" from three takes by three speakers.
    let store = root.join("templates");
    let takes = (0..3)
        .map(|t| {
            let name = format!("enroll/alexa_{t}.flac");
            Ok(TakeAudio {
                samples: wordspot::audio::read_file(&root.join(&name))?,
                source: name,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut m = enroll(
        &store,
        "alexa",
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
    // 1b. Normalise its scores on keyword-free speech by many speakers (the
    // built-in cohort, as `wordspot enroll` does by default).
    let cfg = DetectorConfig {
        metric: a.fe.metric,
        ..DetectorConfig::default()
    };
    let report = normalise_keyword(
        &store.join("alexa"),
        &mut m,
        &mut *fe,
        &norm,
        None,
        cfg,
        Some(wordspot::verify::VerifierConfig::default()),
    )?;
    let closest = match report {
        CohortReport::Normalised {
            closest_cohort: Some(c),
            ..
        } => format!("; the closest match in that speech scores {c:.2}"),
        _ => String::new(),
    };
    writeln!(
        std::io::stdout(),
        "1. enroll: 'alexa' from 3 takes by 3 speakers; scores normalised on {COHORT_SECONDS} s of \
         keyword-free speech by other speakers{}, threshold {:.2} ({}){closest}",
        if m.verifier.is_some() {
            "; DTW candidates checked by the built-in word verifier"
        } else {
            ""
        },
        m.threshold,
        m.threshold_source
    )?;
    let keywords = templates::load(&store, &mut *fe, &norm)?;
    let threshold = m.threshold;

    // 2. Spot it in a stream of digits spoken by jackson.
    let stream_path = root.join("stream.flac");
    let samples = wordspot::audio::read_file(&stream_path)?;
    let truth = read_truth(&root.join("stream.tsv"))?;
    fe.reset();
    let mut spotter = Spotter::new(fe, norm.clone(), &keywords, &[threshold], cfg)?;
    if let Some(c) = wordspot::verify::Cascade::for_keywords(&keywords)? {
        spotter = spotter.verified(c)?;
    }
    let mut events = Vec::new();
    for block in samples.chunks(1600) {
        spotter.push(block, &mut |e| events.push(e))?;
    }
    spotter.finish(&mut |e| events.push(e))?;
    writeln!(
        std::io::stdout(),
        "\n2. listen: {:.1} s of English and Spanish speech; 4 other speakers say 'alexa' at {}",
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
            "   {:>6.2}-{:<6.2} {}  score {:.2}  {}",
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
    let false_alarms = events
        .iter()
        .filter(|e| !truth.iter().any(|&(s, en)| e.start < en && s < e.end))
        .count();
    writeln!(
        std::io::stdout(),
        "   found {found} of {} occurrences; {false_alarms} false alarm(s) in {:.1} s",
        truth.len(),
        samples.len() as f64 / 16000.0
    )?;

    // 3. Search a corpus of recordings by other speakers with one take as the query.
    let mut fe = a.fe.build()?.0;
    let qpath = root.join("query/alexa.flac");
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
        "\n3. search: one take of 'alexa' by a fifth speaker over {} recordings by other speakers",
        files.len()
    )?;
    let relevant = |h: &wordspot::search::Hit| {
        h.file
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("alexa_"))
    };
    for h in res.hits.iter().take(6) {
        let name = h
            .file
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let mark = if relevant(h) { "✓" } else { " " };
        writeln!(
            std::io::stdout(),
            "   {:>2}. {mark} {:<18} distance {:.3}  match {:.2}-{:.2} s",
            h.rank,
            name,
            h.distance,
            h.start,
            h.end
        )?;
    }
    let n_rel = res.hits.iter().filter(|h| relevant(h)).count();
    let ranks: Vec<String> = res
        .hits
        .iter()
        .filter(|h| relevant(h))
        .map(|h| h.rank.to_string())
        .collect();
    let p_at = |k: usize| res.hits.iter().take(k).filter(|h| relevant(h)).count() as f64 / k as f64;
    writeln!(
        std::io::stdout(),
        "   the {n_rel} recordings with 'alexa' rank {}; P@1 {:.2}, P@{n_rel} {:.2}",
        ranks.join(", "),
        p_at(1),
        p_at(n_rel.max(1))
    )?;
    writeln!(
        std::io::stdout(),
        "\n   Frontend {}: `--frontend mfcc` is cheaper but matches mostly its enroller's voice;\n   \
         `--frontend wav2vec2 --model FILE.onnx` (models/README.md) is the multilingual path.",
        fe.config().name()
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
