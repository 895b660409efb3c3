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
