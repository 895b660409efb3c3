//! The wav2vec2 frontend on the committed tiny model (tests/data/models, made by
//! models/make_test_fixture.py) and on real recordings from ../shared/data.

#![cfg(feature = "wav2vec2")]

mod common;

use std::path::{Path, PathBuf};

use wordspot::features::wav2vec2::{Wav2vec2, Wav2vec2Model};
use wordspot::features::{extract, Frontend, FrontendConfig, Wav2vec2Config};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/models")
        .join(name)
}

fn cfg(model: &str, layer: Option<usize>) -> Wav2vec2Config {
    Wav2vec2Config {
        model: fixture(model),
        layer,
        chunk_s: 1.0,
        context_s: 1.0,
        lookahead_s: 0.5,
    }
}

fn input() -> Vec<f32> {
    wordspot::audio::read_file(&fixture("input.wav")).expect("fixture input.wav")
}

/// A reference output: (shape, data) from reference.json + the raw f32 file.
fn reference(name: &str) -> (Vec<usize>, Vec<f32>) {
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("reference.json")).unwrap()).unwrap();
    let shape: Vec<usize> = manifest["references"][name]["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let bytes = std::fs::read(fixture(name)).unwrap();
    let data: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_eq!(data.len(), shape.iter().product::<usize>());
    (shape, data)
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        ab += *x as f64 * *y as f64;
        aa += *x as f64 * *x as f64;
        bb += *y as f64 * *y as f64;
    }
    ab / (aa.sqrt() * bb.sqrt()).max(1e-30)
}

/// Per-frame cosine (min, mean) and max abs difference relative to max |b|.
fn compare(a: &[f32], b: &[f32], dim: usize) -> (f64, f64, f64) {
    assert_eq!(a.len(), b.len());
    let cos: Vec<f64> = a
        .chunks(dim)
        .zip(b.chunks(dim))
        .map(|(x, y)| cosine(x, y))
        .collect();
    let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())) as f64;
    let diff = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs())) as f64;
    let min = cos.iter().cloned().fold(f64::INFINITY, f64::min);
    let mean = cos.iter().sum::<f64>() / cos.len() as f64;
    (min, mean, diff / scale)
}

#[test]
fn fp32_matches_onnxruntime() {
    let mut fe = Wav2vec2::new(cfg("tiny-L2.onnx", None)).unwrap();
    let got = fe.infer(&input()).unwrap();
    let (shape, want) = reference("ref-L2.f32");
    assert_eq!(&shape[1..], got.shape());
    let (min, mean, rel) = compare(got.as_slice().unwrap(), &want, shape[2]);
    eprintln!("tract fp32 vs onnxruntime: max|diff|/max|ref| {rel:.2e}, cosine min {min:.6} mean {mean:.6}");
    assert!(rel <= 1e-4, "relative max diff {rel}");
}

#[test]
fn int8_matches_onnxruntime_and_fp32() {
    let x = input();
    let mut q = Wav2vec2::new(cfg("tiny-L2.int8.onnx", None)).unwrap();
    assert_eq!(q.model().sidecar().quantization, "dynamic-int8");
    let got = q.infer(&x).unwrap();
    let (_, ort_int8) = reference("ref-L2-int8.f32");
    let (_, fp32) = reference("ref-L2.f32");
    let (min, mean, rel) = compare(got.as_slice().unwrap(), &ort_int8, 32);
    eprintln!(
        "tract int8 vs onnxruntime int8: max|diff|/max|ref| {rel:.2e}, cosine min {min:.6} mean {mean:.6}"
    );
    assert!(
        min >= 0.99,
        "tract and onnxruntime int8 disagree: cosine {min}"
    );
    let (min, mean, rel) = compare(got.as_slice().unwrap(), &fp32, 32);
    eprintln!("tract int8 vs fp32: per-frame cosine min {min:.5} mean {mean:.5}, max|diff|/max|ref| {rel:.2e}");
    assert!(min >= 0.99, "int8 per-frame cosine {min} < 0.99");
}

#[test]
fn all_layers_model_selects_layers() {
    let x = input();
    let (shape, want) = reference("ref-all.f32");
    let mut all = Wav2vec2::new(cfg("tiny-all.onnx", Some(2))).unwrap();
    let every = all.infer_all(&x).unwrap();
    assert_eq!(every.shape(), &shape[..]);
    let (_, _, rel) = compare(every.as_slice().unwrap(), &want, shape[2]);
    assert!(rel <= 1e-4, "all-layers relative diff {rel}");
    // Layer 2 of the all-layers model is the cut layer-2 model (same seeded weights).
    let l2 = all.infer(&x).unwrap();
    let cut = Wav2vec2::new(cfg("tiny-L2.onnx", Some(2)))
        .unwrap()
        .infer(&x)
        .unwrap();
    let (min, _, rel) = compare(l2.as_slice().unwrap(), cut.as_slice().unwrap(), 32);
    assert!(min > 0.99999 && rel < 1e-4, "{min} {rel}");
    // No layer given: the last one.
    let last = Wav2vec2::new(cfg("tiny-all.onnx", None)).unwrap();
    assert_eq!(last.layer(), 3);
}

/// Streams `x` in blocks of `block` samples through `fe`.
fn stream_with(fe: &mut Wav2vec2, x: &[f32], block: usize) -> Vec<f32> {
    let mut out = Vec::new();
    for b in x.chunks(block) {
        fe.push(b, &mut out).unwrap();
    }
    fe.finish(&mut out).unwrap();
    out
}

/// Streamed (incremental or chunked) vs one-pass frames; returns (min cos over
/// frames with full context, mean cos, max rel diff, mean abs diff).
fn streaming_vs_whole(c: &Wav2vec2Config, x: &[f32], incremental: bool) -> (f64, f64, f64, f64) {
    let mut fe = Wav2vec2::new(c.clone()).unwrap();
    let whole = fe.infer(x).unwrap();
    assert_eq!(fe.set_incremental(incremental), incremental);
    let dim = whole.ncols();
    let w = whole.as_slice().unwrap();
    // Any push size gives every frame (the chunker's unit tests cover the
    // window plan; this is the end-to-end check, on the incremental path).
    if incremental {
        for block in [160, 16000 * 3] {
            let s = stream_with(&mut fe, x, block);
            assert_eq!(s.len(), w.len(), "streamed frame count (block {block})");
        }
    }
    let s = stream_with(&mut fe, x, 1234);
    // Frames with full context: at least context_s of past audio.
    let skip = (c.context_s * 50.0) as usize * dim;
    let (min, mean, rel) = compare(&s[skip..], &w[skip..], dim);
    let mean_abs = s
        .iter()
        .zip(w)
        .map(|(a, b)| (a - b).abs() as f64)
        .sum::<f64>()
        / s.len() as f64;
    (min, mean, rel, mean_abs)
}

/// A copy of `model` (+ sidecar) in `dir` whose sidecar says `normalize_waveform: false`.
fn without_waveform_normalization(dir: &Path, model: &str) -> PathBuf {
    let dst = dir.join(model);
    std::fs::copy(fixture(model), &dst).unwrap();
    let side = fixture(model).with_extension("json");
    let mut s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(side).unwrap()).unwrap();
    s["normalize_waveform"] = false.into();
    std::fs::write(dst.with_extension("json"), s.to_string()).unwrap();
    dst
}

#[test]
fn fixture_models_are_cut_at_the_transformer_input() {
    for m in ["tiny-L2.onnx", "tiny-L2.int8.onnx", "tiny-all.onnx"] {
        let model = Wav2vec2Model::load(&fixture(m)).unwrap();
        assert!(model.is_split(), "{m}: {:?}", model.split_note());
        assert_eq!(model.conv_dim(), Some(32), "{m}");
    }
}

/// Incremental streaming computes each conv frame once; without waveform
/// normalization the tiny model's conv encoder is local (per-frame LayerNorm), so
/// its streamed frames equal chunked streaming's (which re-encodes every window).
#[test]
fn incremental_streaming_equals_chunked_streaming() {
    let dir = tempfile::tempdir().unwrap();
    let x = long_signal();
    for model in ["tiny-L2.onnx", "tiny-L2.int8.onnx"] {
        let path = without_waveform_normalization(dir.path(), model);
        for (chunk, ctx, look) in [(1.0, 1.0, 0.5), (0.32, 0.5, 0.1)] {
            let c = Wav2vec2Config {
                model: path.clone(),
                layer: None,
                chunk_s: chunk,
                context_s: ctx,
                lookahead_s: look,
            };
            let mut fe = Wav2vec2::new(c).unwrap();
            assert!(fe.is_incremental());
            let inc = stream_with(&mut fe, &x, 1234);
            assert!(!fe.set_incremental(false));
            let chunked = stream_with(&mut fe, &x, 1234);
            assert_eq!(inc.len(), chunked.len());
            let (min, _, rel) = compare(&inc, &chunked, 32);
            eprintln!(
                "{model} (no waveform normalization), chunk {chunk} s, context {ctx} s, look-ahead {look} s: \
                 incremental vs chunked max|diff|/max {rel:.2e}, cosine min {min:.7}"
            );
            if model.contains("int8") {
                // Activations are quantized per call with the range of that call's
                // tensor, so a conv frame computed in a different call can differ
                // by a quantization step.
                assert!(min >= 0.999, "{model}: incremental vs chunked cosine {min}");
            } else {
                assert!(
                    rel <= 1e-5,
                    "{model}: incremental differs from chunked: {rel}"
                );
            }
        }
    }
}

/// A deterministic 8 s speech-like signal (the fixture input with variations).
fn long_signal() -> Vec<f32> {
    let base = input();
    let mut x = Vec::new();
    for k in 0..5 {
        let g = 0.5 + 0.25 * k as f32;
        x.extend(base.iter().map(|v| v * g));
        x.extend((0..1600).map(|i| ((i * 7919 + k) % 97) as f32 * 1e-4));
    }
    x
}

/// Streaming settings: (incremental, context s, look-ahead s, required per-frame
/// min cosine, required mean cosine) over frames with full context.
/// Self-attention sees only the window, so only long context and look-ahead reach
/// 0.99 per frame. Incremental streaming scales the waveform per window while
/// the whole-file pass scales it once (see the module doc), which costs the tiny
/// model (conv bias + per-frame LayerNorm: scale-sensitive) about 0.01–0.03 of
/// min cosine against chunked streaming; measured minima are in the test output.
const STREAM_SETTINGS: [(bool, f32, f32, f64, f64); 3] = [
    (true, 2.0, 2.0, 0.96, 0.997),
    (true, 1.0, 0.5, 0.94, 0.995),
    (false, 2.0, 2.0, 0.99, 0.999),
];

#[test]
fn streaming_matches_whole_file() {
    let x = long_signal();
    for (inc, ctx, look, want_min, want_mean) in STREAM_SETTINGS {
        let mut c = cfg("tiny-L2.onnx", None);
        c.context_s = ctx;
        c.lookahead_s = look;
        let (min, mean, rel, mean_abs) = streaming_vs_whole(&c, &x, inc);
        eprintln!(
            "tiny, synthetic 8 s: streaming (incremental {inc}, chunk 1 s, context {ctx} s, look-ahead {look} s) vs whole: cosine min {min:.5} mean {mean:.5}, max|diff|/max {rel:.3}, mean|diff| {mean_abs:.4}"
        );
        assert!(min >= want_min, "streamed cosine min {min} < {want_min}");
        assert!(
            mean >= want_mean,
            "streamed cosine mean {mean} < {want_mean}"
        );
    }
}

#[test]
fn extract_and_config_build() {
    let c = FrontendConfig::Wav2vec2(cfg("tiny-L2.int8.onnx", None));
    let mut fe = c.build().unwrap();
    assert_eq!((fe.dim(), fe.hop(), fe.window()), (32, 320, 400));
    let x = input();
    let f = extract(fe.as_mut(), &x, Path::new("input.wav")).unwrap();
    assert_eq!(f.len(), (x.len() - 400) / 320 + 1);
    assert_eq!(fe.config(), c);
    // Too short for one frame: an error naming the input.
    let e = extract(fe.as_mut(), &x[..300], Path::new("short.wav")).unwrap_err();
    assert!(e.to_string().contains("short.wav"), "{e}");
}

fn err_of(c: Wav2vec2Config) -> String {
    Wav2vec2::new(c).unwrap_err().to_string()
}

#[test]
fn bad_models_give_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let copy = |src: &str, dst: &str| {
        std::fs::copy(fixture(src), dir.path().join(dst)).unwrap();
        dir.path().join(dst)
    };
    let with = |p: PathBuf| Wav2vec2Config {
        model: p,
        ..cfg("tiny-L2.onnx", None)
    };

    // Missing model file.
    let e = err_of(with(dir.path().join("nope.onnx")));
    assert!(e.contains("nope.onnx") && e.contains("not found"), "{e}");

    // Missing sidecar.
    let m = copy("tiny-L2.onnx", "nosidecar.onnx");
    let e = err_of(with(m));
    assert!(e.contains("nosidecar.json") && e.contains("sidecar"), "{e}");

    // Corrupt ONNX.
    let m = dir.path().join("corrupt.onnx");
    let bytes = std::fs::read(fixture("tiny-L2.onnx")).unwrap();
    std::fs::write(&m, &bytes[..bytes.len() / 3]).unwrap();
    copy("tiny-L2.json", "corrupt.json");
    let e = err_of(with(m));
    assert!(e.contains("corrupt.onnx"), "{e}");
    assert!(!e.contains('\n'));

    // Malformed sidecar.
    let m = copy("tiny-L2.onnx", "badjson.onnx");
    std::fs::write(dir.path().join("badjson.json"), "{ not json").unwrap();
    let e = err_of(with(m));
    assert!(e.contains("badjson.json") && e.contains("malformed"), "{e}");

    // Sidecar disagrees with the model (dim, then all-layers).
    let side: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("tiny-L2.json")).unwrap()).unwrap();
    let m = copy("tiny-L2.onnx", "wrongdim.onnx");
    let mut s = side.clone();
    s["dim"] = 768.into();
    std::fs::write(dir.path().join("wrongdim.json"), s.to_string()).unwrap();
    let e = err_of(with(m));
    assert!(e.contains("wrongdim.json") && e.contains("768"), "{e}");
    let m = copy("tiny-L2.onnx", "wronglayers.onnx");
    let mut s = side.clone();
    s["all_layers"] = true.into();
    s["layer"] = serde_json::Value::Null;
    std::fs::write(dir.path().join("wronglayers.json"), s.to_string()).unwrap();
    let e = err_of(with(m));
    assert!(
        e.contains("wronglayers.json") && e.contains("axis 0"),
        "{e}"
    );

    // A model without the expected input name.
    let m = copy("tiny-L2.onnx", "wronginput.onnx");
    let mut s = side.clone();
    s["input_name"] = "audio".into();
    std::fs::write(dir.path().join("wronginput.json"), s.to_string()).unwrap();
    let e = err_of(with(m));
    assert!(
        e.contains("wronginput.onnx") && e.contains("input_values"),
        "{e}"
    );

    // Valid ONNX files that are not waveform encoders.
    let m = copy("foreign-name.onnx", "foreign-name.onnx");
    copy("tiny-L2.json", "foreign-name.json");
    let e = err_of(with(m));
    assert!(
        e.contains("foreign-name.onnx") && e.contains("\"x\""),
        "{e}"
    );
    let m = copy("foreign-shape.onnx", "foreign-shape.onnx");
    copy("tiny-L2.json", "foreign-shape.json");
    let e = err_of(with(m));
    assert!(
        e.contains("foreign-shape.onnx") && e.contains("waveform"),
        "{e}"
    );

    // Layer out of range (all-layers and single-layer models).
    let e = err_of(cfg("tiny-all.onnx", Some(4)));
    assert!(e.contains("tiny-all.onnx") && e.contains("0..=3"), "{e}");
    let e = err_of(cfg("tiny-L2.onnx", Some(3)));
    assert!(
        e.contains("tiny-L2.onnx") && e.contains("layer 2 only"),
        "{e}"
    );
}

#[test]
fn bad_streaming_settings_are_rejected() {
    let mut c = cfg("tiny-L2.onnx", None);
    c.chunk_s = 0.0;
    assert!(err_of(c).contains("chunk_s"));
}

#[test]
fn model_is_shared_between_frontends() {
    let m = Wav2vec2Model::load(&fixture("tiny-L2.onnx")).unwrap();
    let x = input();
    let a = Wav2vec2::with_model(cfg("tiny-L2.onnx", None), m.clone())
        .unwrap()
        .infer(&x)
        .unwrap();
    // Different input lengths run on the same optimized plan.
    let b = Wav2vec2::with_model(cfg("tiny-L2.onnx", None), m)
        .unwrap()
        .infer(&x[..8000])
        .unwrap();
    assert_eq!(b.nrows(), (8000 - 400) / 320 + 1);
    assert!(a.nrows() > b.nrows());
}

/// Real speech: speech_commands clips concatenated into one stream.
#[test]
fn real_recordings_stream_like_whole_file() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let dir = data.join("speech_commands/nine");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wav"))
        .collect();
    files.sort();
    let mut x = Vec::new();
    for f in files.iter().take(8) {
        x.extend(wordspot::audio::read_file(f).unwrap());
    }
    assert!(x.len() > 16000 * 6);
    for model in ["tiny-L2.onnx", "tiny-L2.int8.onnx"] {
        for (inc, ctx, look, want_min, want_mean) in STREAM_SETTINGS {
            let mut c = cfg(model, None);
            c.context_s = ctx;
            c.lookahead_s = look;
            let (min, mean, rel, mean_abs) = streaming_vs_whole(&c, &x, inc);
            eprintln!(
                "{model} on {:.1} s of speech_commands: streaming (incremental {inc}, context {ctx} s, look-ahead {look} s) vs whole: cosine min {min:.5} mean {mean:.5}, max|diff|/max {rel:.3}, mean|diff| {mean_abs:.4}",
                x.len() as f64 / 16000.0
            );
            assert!(
                min >= want_min,
                "{model}: streamed cosine min {min} < {want_min}"
            );
            assert!(
                mean >= want_mean,
                "{model}: streamed cosine mean {mean} < {want_mean}"
            );
        }
    }
    // A single real recording through the generic extract path.
    let mut fe = FrontendConfig::Wav2vec2(cfg("tiny-L2.int8.onnx", None))
        .build()
        .unwrap();
    let clip = wordspot::audio::read_file(&files[0]).unwrap();
    let f = extract(fe.as_mut(), &clip, &files[0]).unwrap();
    assert_eq!(f.len(), (clip.len() - 400) / 320 + 1);
    assert!(f.data.iter().all(|v| v.is_finite()));
}

/// Thread count: without the `wav2vec2-threads` feature only 1 is accepted; with
/// it, 2 threads give the same frames as 1.
#[test]
fn threads_option() {
    let m = Wav2vec2Model::load(&fixture("tiny-L2.onnx")).unwrap();
    assert!(m.clone().with_threads(0).is_err());
    assert_eq!(m.clone().with_threads(1).unwrap().threads(), 1);
    let two = m.clone().with_threads(2);
    if cfg!(feature = "wav2vec2-threads") {
        let x = input();
        let one = Wav2vec2::with_model(cfg("tiny-L2.onnx", None), m)
            .unwrap()
            .infer(&x)
            .unwrap();
        let got = Wav2vec2::with_model(cfg("tiny-L2.onnx", None), two.unwrap())
            .unwrap()
            .infer(&x)
            .unwrap();
        let (min, _, rel) = compare(got.as_slice().unwrap(), one.as_slice().unwrap(), 32);
        assert!(rel <= 1e-6 && min > 0.999999, "{rel} {min}");
    } else {
        let e = two.unwrap_err().to_string();
        assert!(e.contains("wav2vec2-threads"), "{e}");
    }
}
