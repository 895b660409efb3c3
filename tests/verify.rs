//! The word verifier (second stage of detection) against onnxruntime and
//! python_speech_features: `tests/data/verify/word_verifier_ref.json`, written by
//! `models/word_verifier/make_fixture.py` from a shared recording.
#![cfg(feature = "embedding")]

use std::path::Path;

use wordspot::verify::{LogFbank, WordEmbedder, BANDS, DIM, FRAMES, WINDOW};

fn reference() -> serde_json::Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/verify/word_verifier_ref.json");
    serde_json::from_slice(&std::fs::read(&p).expect("fixture")).expect("json")
}

fn window(r: &serde_json::Value) -> Vec<f32> {
    let src = r["source"].as_str().unwrap();
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(src);
    let x = wordspot::audio::read_file(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let n = r["samples"].as_u64().unwrap() as usize;
    let mut w = vec![0.0; WINDOW];
    w[..n].copy_from_slice(&x[..n]);
    w
}

#[test]
fn filterbank_matches_python_speech_features() {
    let r = reference();
    let w = window(&r);
    let mut out = vec![0.0; FRAMES * BANDS];
    LogFbank::new().compute(&w, &mut out);
    for (row, want) in r["fbank_rows"].as_object().unwrap() {
        let i: usize = row.parse().unwrap();
        for (b, v) in want.as_array().unwrap().iter().enumerate() {
            let v = v.as_f64().unwrap() as f32;
            let got = out[i * BANDS + b];
            assert!(
                (got - v).abs() < 2e-3 * v.abs().max(1.0),
                "row {i} band {b}: {got} vs {v}"
            );
        }
    }
}

#[test]
fn builtin_model_matches_onnxruntime() {
    let r = reference();
    let w = window(&r);
    let want: Vec<f32> = r["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(want.len(), DIM);
    let mut e = WordEmbedder::builtin().unwrap();
    let mut got = vec![0.0; DIM];
    e.embed(&w, &mut got).unwrap();
    let n = want.iter().map(|v| v * v).sum::<f32>().sqrt();
    let cos: f32 = got.iter().zip(&want).map(|(a, b)| a * b).sum::<f32>() / n;
    let diff = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b / n).abs())
        .fold(0.0f32, f32::max);
    let scale = want.iter().map(|v| (v / n).abs()).fold(0.0f32, f32::max);
    eprintln!("cosine to onnxruntime {cos:.6}, max |diff| {diff:.2e} of scale {scale:.2e}");
    assert!(cos > 0.995, "cosine {cos}");
}

#[test]
fn a_missing_or_corrupt_model_is_a_clear_error() {
    let e = WordEmbedder::from_file(Path::new("/nonexistent/verifier.onnx")).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/verifier.onnx"), "{e}");
    let e = WordEmbedder::from_bytes(b"not onnx", Path::new("junk.onnx")).unwrap_err();
    assert!(e.to_string().contains("junk.onnx"), "{e}");
}

mod common;

use wordspot::detector::DetectorConfig;
use wordspot::dtw::Metric;
use wordspot::eval::cohort::normalise_keyword;
use wordspot::eval::stream::{detect, load_streams};
use wordspot::features::FrontendConfig;
use wordspot::normalize::Normalizer;
use wordspot::pipeline::Spotter;
use wordspot::templates::{self, enroll, Enrollment, TakeAudio};
use wordspot::verify::Cascade;

/// Verified events of the streaming spotter (fed uneven blocks) equal those
/// of `eval::stream::detect` on the whole recording: same candidates, same
/// windows, same scores. "seven" enrolled from jackson, spotted in george's digits.
#[test]
fn streaming_verified_events_equal_the_evaluation_path() {
    let data = common::shared_data().expect("this test needs ../shared/data");
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let cfg = FrontendConfig::default();
    let mut fe = cfg.build().unwrap();
    let norm = Normalizer::identity(fe.dim());
    let takes: Vec<TakeAudio> = (0..3)
        .map(|t| TakeAudio {
            samples: common::fsdd(&data, 7, "jackson", t),
            source: format!("7_jackson_{t}"),
        })
        .collect();
    let mut m = enroll(
        &store,
        "seven",
        &takes,
        Enrollment {
            frontend: &mut *fe,
            normalizer: &norm,
            normalize_spec: "none",
            metric: Metric::Cosine,
            trim: true,
            threshold: None,
        },
    )
    .unwrap();
    let det = DetectorConfig::default();
    normalise_keyword(
        &store.join("seven"),
        &mut m,
        &mut *fe,
        &norm,
        None,
        det,
        Some(wordspot::verify::VerifierConfig::default()),
    )
    .unwrap();
    let entry = m.verifier.expect("a verifier entry");
    assert!(
        entry.norm.std > 0.0 && entry.norm.mean.is_finite(),
        "{entry:?}"
    );
    let kws = templates::load(&store, &mut *fe, &norm).unwrap();
    let cascade = Cascade::for_keywords(&kws).unwrap().expect("cascade");

    let seq = [3, 7, 1, 0, 4, 7, 5, 2, 9, 7, 8, 6, 7, 1];
    let clips: Vec<Vec<f32>> = seq
        .iter()
        .enumerate()
        .map(|(i, &d)| common::fsdd(&data, d, "george", 20 + i as u32))
        .collect();
    let (stream, _) = common::concat(&clips, 0.4);
    let wav = dir.path().join("stream.wav");
    wordspot::audio::write_wav(&wav, &stream).unwrap();
    // What the evaluation reads (the WAV holds 16-bit samples).
    let stream = wordspot::audio::read_file(&wav).unwrap();
    // Looser than the default, so that candidates are both kept and rejected.
    let threshold = -3.0;

    let streams = load_streams(std::slice::from_ref(&wav), &cfg, &norm).unwrap();
    let batch = detect(&kws, &[threshold], det, &streams, Some(&cascade))
        .unwrap()
        .remove(0);
    let unfiltered = detect(&kws, &[f32::MAX], det, &streams, Some(&cascade))
        .unwrap()
        .remove(0);

    fe.reset();
    let mut sp = Spotter::new(fe, norm, &kws, &[threshold], det)
        .unwrap()
        .verified(cascade)
        .unwrap();
    assert!(sp.is_verified());
    let mut events = Vec::new();
    let sizes = [1000, 2345, 160, 7000, 1];
    let (mut i, mut j) = (0, 0);
    while i < stream.len() {
        let n = sizes[j % sizes.len()].min(stream.len() - i);
        sp.push(&stream[i..i + n], &mut |e| events.push(e)).unwrap();
        i += n;
        j += 1;
    }
    sp.finish(&mut |e| events.push(e)).unwrap();
    eprintln!("candidates {unfiltered:?}\nbatch {batch:?}\nstreaming {events:?}");
    assert!(!batch.is_empty(), "no verified event to compare");
    assert!(unfiltered.len() > batch.len(), "no candidate rejected");
    assert_eq!(events.len(), batch.len());
    for (e, b) in events.iter().zip(&batch) {
        assert!(
            (e.start - b.start).abs() < 1e-9 && (e.end - b.end).abs() < 1e-9,
            "{e:?} vs {b:?}"
        );
        assert!((e.distance - b.distance).abs() < 1e-4, "{e:?} vs {b:?}");
        // Decided once the audio 0.75 s past the match's centre was in (or at the end).
        let due = (0.5 * (e.start + e.end) + 0.75).min(stream.len() as f64 / 16000.0);
        assert!(e.decided + 1e-3 >= due, "{e:?}");
    }
}

/// The precomputed cohort embeddings (`assets/verifier_cohort.f32`) are what
/// the built-in network gives on the built-in cohort's windows.
#[test]
fn stored_cohort_embeddings_match_the_network() {
    let stored = wordspot::eval::cohort::builtin_cohort_embeddings().unwrap();
    let x =
        wordspot::audio::decode_bytes(wordspot::eval::cohort::BUILTIN_COHORT_FLAC, "cohort.flac")
            .unwrap();
    let mut e = WordEmbedder::builtin().unwrap();
    // Windows every 0.75 s (12 000 samples), each inside the cohort.
    let n = (x.len() - WINDOW) / 12_000 + 1;
    assert_eq!(stored.len(), n);
    let mut buf = vec![0.0; WINDOW];
    let mut out = vec![0.0; DIM];
    for i in [0, n / 2, n - 1] {
        let c = (WINDOW / 2 + 12_000 * i) as i64;
        e.embed_centred(&x, c, &mut buf, &mut out).unwrap();
        let cos: f32 = out.iter().zip(&stored[i]).map(|(a, b)| a * b).sum();
        assert!(cos > 0.9999, "window {i}: cosine {cos}");
    }
}
