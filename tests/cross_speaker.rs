//! Cross-speaker quality of the default frontend (the built-in speech
//! embedding) on real recordings of ../shared/data, with MFCC beside it.
//! These tests need the shared data and fail, not skip, without it.
#![cfg(feature = "embedding")]

mod common;

use std::path::{Path, PathBuf};

use wordspot::audio::{read_file, write_wav};
use wordspot::eval::labels::read_labels;
use wordspot::eval::retrieval::{evaluate, RetrievalOptions};
use wordspot::features::{FrontendConfig, MfccConfig};
use wordspot::normalize::Normalizer;
use wordspot::SAMPLE_RATE;

fn shared() -> PathBuf {
    common::shared_data().expect(
        "these tests need ../shared/data (or $WORDSPOT_SHARED_DATA): the real speech they measure",
    )
}

fn p_r_at_10(cfg: &FrontendConfig) -> (f64, f64) {
    let labels_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/retrieval/shared-small.tsv");
    let labels = read_labels(&labels_path, None).unwrap();
    let dim = cfg.build().unwrap().dim();
    let opts = RetrievalOptions {
        trim: true,
        ..RetrievalOptions::default()
    };
    let r = evaluate(&labels, cfg, &Normalizer::identity(dim), &opts, &[10]).unwrap();
    let row = &r.rows[0];
    (row.precision, row.recall)
}

/// 50 queries (alexa, computer, nine, right, zero; 10 recordings each, many
/// speakers) over 70 recordings (with 20 Spanish distractors). With 9 other
/// recordings of each word, P@10 can reach 0.9 at most.
#[test]
fn embedding_retrieves_other_speakers_words_and_beats_mfcc() {
    shared();
    let (p_emb, r_emb) = p_r_at_10(&FrontendConfig::default());
    let (p_mfcc, r_mfcc) = p_r_at_10(&FrontendConfig::Mfcc(MfccConfig::default()));
    eprintln!("P@10 / R@10: embedding {p_emb:.3} / {r_emb:.3}, mfcc {p_mfcc:.3} / {r_mfcc:.3}");
    assert!(
        p_emb >= 0.80 && r_emb >= 0.90,
        "embedding P@10 {p_emb}, R@10 {r_emb}"
    );
    assert!(p_emb >= p_mfcc + 0.1, "embedding {p_emb} vs mfcc {p_mfcc}");
}

fn voiced(x: &[f32]) -> &[f32] {
    let (a, b) = wordspot::templates::voiced_range(x).expect("speech in the clip");
    &x[a..b]
}

/// "alexa" enrolled from three recordings with the default (cohort-normalised)
/// scores; in a stream where three other speakers say it among other words,
/// `listen` at the default threshold raises no false alarm, and with every
/// candidate reported the two best-scoring events are occurrences of the word
/// (measured: -3.02 and -2.96; the third occurrence scores -1.57, under the
/// best other-speech match, -1.98, and the default -4 finds none of them:
/// the default is set for under 1 false alarm per hour on the 1 h benchmark).
/// `search` ranks the recordings of the word first.
#[test]
fn a_word_enrolled_from_three_speakers_is_found_in_others_speech() {
    let data = shared();
    let dir = tempfile::tempdir().unwrap();
    let alexa = |i: u32| data.join(format!("wake_words/alexa/{i}.flac"));
    let takes: Vec<String> = (200..203).map(|i| alexa(i).display().to_string()).collect();
    let store = dir.path().join("templates");
    let mut args = vec![
        "enroll",
        "--name",
        "alexa",
        "--out",
        store.to_str().unwrap(),
    ];
    args.extend(takes.iter().map(String::as_str));
    let text = common::wordspot_ok(&args);
    assert!(text.contains("(cohort-normalised)"), "{text}");

    // Stream: Spanish words and speech_commands words, three alexas by others.
    let gap = vec![0.0f32; (0.4 * SAMPLE_RATE as f64) as usize];
    let spanish: Vec<PathBuf> = {
        let mut v: Vec<PathBuf> =
            std::fs::read_dir(data.join("spanish_one_speaker/not-wake-words/es"))
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "wav"))
                .collect();
        v.sort();
        v
    };
    let mut stream = Vec::new();
    let mut truth = Vec::new();
    let mut others = spanish.iter().take(12);
    for (n, i) in (210..213).enumerate() {
        for _ in 0..(3 + n) {
            stream.extend_from_slice(&gap);
            stream.extend_from_slice(voiced(&read_file(others.next().unwrap()).unwrap()));
        }
        stream.extend_from_slice(&gap);
        let w = read_file(&alexa(i)).unwrap();
        let w = voiced(&w);
        let t0 = stream.len() as f64 / SAMPLE_RATE as f64;
        stream.extend_from_slice(w);
        truth.push((t0, stream.len() as f64 / SAMPLE_RATE as f64));
    }
    stream.extend_from_slice(&gap);
    let stream_path = dir.path().join("stream.wav");
    write_wav(&stream_path, &stream).unwrap();
    let listen = |extra: &[&str]| -> Vec<(f64, f64, f64)> {
        let mut args = vec![
            "listen",
            "--templates",
            store.to_str().unwrap(),
            "--input",
            stream_path.to_str().unwrap(),
            "--format",
            "jsonl",
        ];
        args.extend_from_slice(extra);
        common::wordspot_ok(&args)
            .lines()
            .map(|l| {
                let e: serde_json::Value = serde_json::from_str(l).unwrap();
                let f = |k: &str| e[k].as_f64().unwrap();
                (f("start"), f("end"), f("distance"))
            })
            .collect()
    };
    let is_hit = |e: &(f64, f64, f64)| truth.iter().any(|&(s, en)| e.0 < en && s < e.1);
    let default = listen(&[]);
    eprintln!("truth {truth:?}\nevents at the default threshold {default:?}");
    assert!(
        default.iter().all(is_hit),
        "false alarms at the default threshold: {default:?}"
    );
    let mut all = listen(&["--threshold", "0"]);
    all.sort_by(|a, b| a.2.total_cmp(&b.2));
    eprintln!("best candidates {:?}", &all[..all.len().min(5)]);
    assert!(all.len() >= 3, "{all:?}");
    assert!(
        all[..2].iter().all(is_hit),
        "the two best-scoring events are not the word: {:?}",
        &all[..5.min(all.len())]
    );

    // Search: a take by yet another speaker over 4 alexa and 8 other recordings.
    let corpus = dir.path().join("corpus");
    std::fs::create_dir(&corpus).unwrap();
    for i in 220..224 {
        std::fs::copy(alexa(i), corpus.join(format!("alexa_{i}.flac"))).unwrap();
    }
    for (i, p) in spanish.iter().skip(20).take(4).enumerate() {
        std::fs::copy(p, corpus.join(format!("other_es_{i}.wav"))).unwrap();
    }
    for (i, w) in ["nine", "zero", "right", "nine"].iter().enumerate() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(data.join("speech_commands").join(w))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        std::fs::copy(&v[30 + i], corpus.join(format!("other_sc_{i}.wav"))).unwrap();
    }
    let q = alexa(230).display().to_string();
    let out = common::wordspot_ok(&[
        "search",
        "--query",
        &q,
        "--format",
        "jsonl",
        "--no-cache",
        "--top-k",
        "20",
        corpus.to_str().unwrap(),
    ]);
    let ranked: Vec<String> = out
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["file"].as_str().unwrap().to_string()
        })
        .collect();
    eprintln!("ranking {ranked:?}");
    assert_eq!(ranked.len(), 12);
    for f in &ranked[..4] {
        assert!(f.contains("alexa_"), "{ranked:?}");
    }
}
