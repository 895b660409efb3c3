//! The built-in speech-embedding frontend against onnxruntime references
//! (`models/speech_embedding/make_reference.py`, committed in
//! `tests/data/embedding/`), block-split invariance, and bad input.
#![cfg(feature = "embedding")]

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use wordspot::features::embedding::{
    EmbeddingConfig, EmbeddingModelFiles, EmbeddingModels, SpeechEmbedding, BATCH, DIM, MEL_BANDS,
    WINDOW_FRAMES,
};
use wordspot::features::{extract, extract_utterance, Frontend};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/embedding")
        .join(name)
}

fn read_f32(name: &str) -> Vec<f32> {
    let b = std::fs::read(data(name)).expect("committed reference");
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn clip() -> Vec<f32> {
    wordspot::audio::read_file(&data("clip.wav")).expect("committed clip")
}

fn frontend(hop: usize) -> SpeechEmbedding {
    SpeechEmbedding::new(EmbeddingConfig {
        hop_frames: hop,
        models: None,
    })
    .expect("built-in models load")
}

fn max_rel_diff(a: &[f32], b: &[f32]) -> (f32, f32) {
    assert_eq!(a.len(), b.len(), "lengths differ");
    let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
    let d = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    (d, d / scale)
}

/// The frontend's output at `hop` (the native incremental network; tract's
/// when `tract` is set) against the onnxruntime reference (every window,
/// `embedding_hop1.f32`, subsampled): max |diff| at most 1e-4 of the output scale.
fn frontend_matches_onnxruntime(hop: usize, tract: bool) {
    let x = clip();
    let reference = read_f32("embedding_hop1.f32");
    let windows = reference.len() / DIM;
    let mut fe = if tract {
        let mut m = EmbeddingModels::from_bytes(
            wordspot::features::embedding::BUILTIN_MEL_MODEL,
            Path::new("mel"),
            wordspot::features::embedding::BUILTIN_EMBEDDING_MODEL,
            Path::new("emb"),
        )
        .unwrap();
        m.disable_native();
        SpeechEmbedding::with_models(
            EmbeddingConfig {
                hop_frames: hop,
                models: None,
            },
            std::sync::Arc::new(m),
        )
    } else {
        assert!(EmbeddingModels::builtin().unwrap().native());
        frontend(hop)
    };
    let f = extract(&mut fe, &x, &data("clip.wav")).unwrap();
    let want: Vec<f32> = reference
        .chunks_exact(DIM)
        .step_by(hop)
        .flatten()
        .copied()
        .collect();
    assert_eq!(f.len(), windows.div_ceil(hop), "hop {hop}: frame count");
    let (abs, rel) = max_rel_diff(f.data.as_slice().unwrap(), &want);
    println!(
        "hop {hop} ({}): {} frames, max |diff| {abs:.3e} = {rel:.3e} of the output scale",
        if tract { "tract" } else { "native" },
        f.len()
    );
    assert!(rel <= 1e-4, "hop {hop}: max |diff| {abs} ({rel} of scale)");
}

// One test per hop, so that CI under qemu can run the cheapest (hop 8: the
// same kernels on an eighth of the windows) and skip the others.
#[test]
fn frontend_matches_onnxruntime_at_hop_1() {
    frontend_matches_onnxruntime(1, false);
}

#[test]
fn frontend_matches_onnxruntime_at_hop_2() {
    frontend_matches_onnxruntime(2, false);
}

#[test]
fn frontend_matches_onnxruntime_at_hop_4() {
    frontend_matches_onnxruntime(4, false);
}

#[test]
fn frontend_matches_onnxruntime_at_hop_8() {
    frontend_matches_onnxruntime(8, false);
}

/// The tract path (used when a user-supplied model is not the chain the
/// native network knows) stays checked too.
#[test]
fn tract_frontend_matches_onnxruntime_at_hop_4() {
    frontend_matches_onnxruntime(4, true);
}

#[test]
fn hop_8_equals_openwakewords_own_features() {
    // make_reference.py checked these against openWakeWord 0.6.0's AudioFeatures
    // fed 1280-sample chunks; wordspot must give the same frames.
    let x = clip();
    let oww = read_f32("openwakeword_hop8.f32");
    let mut fe = frontend(8);
    let f = extract(&mut fe, &x, &data("clip.wav")).unwrap();
    let n = oww.len() / DIM;
    let ours = &f.data.as_slice().unwrap()[..n * DIM];
    let (abs, rel) = max_rel_diff(ours, &oww);
    assert!(rel <= 1e-4, "max |diff| {abs} ({rel} of scale)");
}

#[test]
fn batched_windows_equal_single_windows_exactly() {
    let models = EmbeddingModels::builtin().unwrap();
    let per = WINDOW_FRAMES * MEL_BANDS;
    let mut rng = 12345u64;
    let windows: Vec<f32> = (0..BATCH * per)
        .map(|_| {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((rng >> 40) as f32 / (1u64 << 24) as f32) * 8.0 - 4.0
        })
        .collect();
    let mut batched = Vec::new();
    models.run_embedding(&windows, &mut batched).unwrap();
    let mut single = Vec::new();
    for w in windows.chunks_exact(per) {
        models.run_embedding(w, &mut single).unwrap();
    }
    assert_eq!(batched, single);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
    /// Streaming in random blocks gives exactly the whole-file frames.
    #[test]
    fn any_block_split_gives_the_whole_file_frames(
        cuts in proptest::collection::vec(1usize..9000, 1..12),
        hop in prop::sample::select(vec![2usize, 4, 8]),
    ) {
        let x = clip();
        let mut whole = Vec::new();
        let mut fe = frontend(hop);
        fe.push(&x, &mut whole).unwrap();
        fe.finish(&mut whole).unwrap();

        let mut streamed = Vec::new();
        let mut fe = frontend(hop);
        let mut at = 0;
        for c in cuts.iter().cycle() {
            if at >= x.len() { break; }
            let b = (at + c).min(x.len());
            let n = fe.push(&x[at..b], &mut streamed).unwrap();
            prop_assert_eq!(n * DIM, streamed.len() - (streamed.len() - n * DIM));
            at = b;
        }
        fe.finish(&mut streamed).unwrap();
        prop_assert_eq!(streamed, whole);
    }
}

#[test]
fn audio_shorter_than_one_frame_gives_a_clear_error() {
    let mut fe = frontend(4);
    let err = extract(&mut fe, &[0.1; 1000], Path::new("short.wav")).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("short.wav") && msg.contains("too short"),
        "{msg}"
    );
    // Exactly one frame's worth (1152 samples) gives one frame.
    let f = extract(&mut fe, &[0.1; 1152], Path::new("one.wav")).unwrap();
    assert_eq!(f.len(), 1);
    // As a template or query it is padded to 0.6 s: several frames, no
    // start-of-stream frames; shorter than one frame it stays an error.
    let u = extract_utterance(&mut fe, &[0.1; 1152], Path::new("one.wav")).unwrap();
    assert_eq!(u.len(), 10, "{}", u.len());
    let e = extract_utterance(&mut fe, &[0.1; 1000], Path::new("short.wav")).unwrap_err();
    assert!(e.to_string().contains("too short"), "{e}");
}

#[test]
fn missing_and_corrupt_model_files_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.onnx");
    std::fs::write(&junk, b"this is not an onnx model").unwrap();
    let good = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/speech_embedding");
    let cases = [
        (
            dir.path().join("missing.onnx"),
            good.join("embedding_model.onnx"),
            "missing.onnx",
        ),
        (good.join("melspectrogram.onnx"), junk.clone(), "junk.onnx"),
        // The two models swapped: each has the wrong input.
        (
            good.join("embedding_model.onnx"),
            good.join("melspectrogram.onnx"),
            "embedding_model.onnx",
        ),
    ];
    for (mel, emb, name) in cases {
        let cfg = EmbeddingConfig {
            hop_frames: 8,
            models: Some(EmbeddingModelFiles {
                melspectrogram: mel,
                embedding: emb,
            }),
        };
        let err = SpeechEmbedding::new(cfg).unwrap_err().to_string();
        assert!(err.contains(name), "{err}");
        assert!(!err.contains('\n'), "one line: {err}");
    }
}

#[test]
fn bad_hop_is_refused() {
    let err = SpeechEmbedding::new(EmbeddingConfig {
        hop_frames: 3,
        models: None,
    })
    .unwrap_err();
    assert!(err.to_string().contains("hop"), "{err}");
}
