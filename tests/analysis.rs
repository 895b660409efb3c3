//! Anisotropy analysis and normalizers end to end on real recorded speech
//! (`../shared/data/`): library API on log-power spectra, and the
//! `wordspot fit-stats` / `wordspot analyze` commands with the MFCC frontend.

mod common;

use std::path::{Path, PathBuf};

use ndarray::Array2;
use realfft::RealFftPlanner;
use wordspot::analysis::{analyze_layers, plot, AnalysisConfig};
use wordspot::features::{FrontendConfig, MfccConfig};
use wordspot::normalize::{NormSpec, Normalizer, Stats, StatsAccumulator};

/// The first `n` `.wav` files of a folder, sorted.
fn wavs(dir: &Path, n: usize) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wav"))
        .collect();
    v.sort();
    v.truncate(n);
    v
}

/// Log-power spectrum frames (25 ms Hann window, 10 ms hop, 201 bins): a
/// strongly anisotropic representation, since every bin has a large negative mean.
fn log_spectra(samples: &[f32]) -> Array2<f32> {
    let (win, hop) = (400usize, 160usize);
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(win);
    let hann: Vec<f32> = (0..win)
        .map(|i| 0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / win as f32).cos())
        .collect();
    let n = if samples.len() >= win {
        (samples.len() - win) / hop + 1
    } else {
        0
    };
    let mut out = Array2::zeros((n, win / 2 + 1));
    let mut buf = vec![0.0f32; win];
    let mut spec = fft.make_output_vec();
    for f in 0..n {
        for (b, (&s, &w)) in buf.iter_mut().zip(samples[f * hop..].iter().zip(&hann)) {
            *b = s * w;
        }
        fft.process(&mut buf, &mut spec).unwrap();
        for (o, c) in out.row_mut(f).iter_mut().zip(&spec) {
            *o = (c.norm_sqr() + 1e-10).ln();
        }
    }
    out
}

fn speech_commands(root: &Path, per_word: usize) -> Vec<PathBuf> {
    ["nine", "right", "zero"]
        .iter()
        .flat_map(|w| wavs(&root.join("speech_commands").join(w), per_word))
        .collect()
}

#[test]
fn log_spectra_of_real_speech_are_anisotropic_until_normalized() {
    let Some(root) = common::shared_data() else {
        return;
    };
    let files = speech_commands(&root, 8);
    assert_eq!(files.len(), 24);
    let recs: Vec<Array2<f32>> = files
        .iter()
        .map(|p| log_spectra(&wordspot::audio::read_file(p).unwrap()))
        .collect();
    let specs = NormSpec::parse_list("none,standardize,drop:2,pca:2").unwrap();
    let cfg = AnalysisConfig {
        pairs: 2000,
        seed: 1,
        sample_frames: 3000,
    };
    let reports = analyze_layers(
        &[(0, recs.clone())],
        &specs,
        &FrontendConfig::Mfcc(MfccConfig::default()),
        &cfg,
    )
    .unwrap();
    assert_eq!(reports.len(), 4);
    let by = |n: &str| reports.iter().find(|r| r.normalizer == n).unwrap();
    let raw = by("none");
    let a_raw = raw.different.as_ref().unwrap().mean;
    let a_std = by("standardize").different.as_ref().unwrap().mean;
    let a_pca = by("pca:2").different.as_ref().unwrap().mean;
    eprintln!(
        "log-spectra A(different): none {a_raw:.3}, standardize {a_std:.3}, pca:2 {a_pca:.3}"
    );
    // Every log-power bin is far below zero: random frames point the same way.
    assert!(a_raw < 0.2, "A = {a_raw}");
    assert!(a_std > 2.0 * a_raw && a_std > 0.5, "standardize: {a_std}");
    assert!(a_pca > 2.0 * a_raw, "pca:2: {a_pca}");
    // Same-recording pairs are at least as similar as cross-recording ones.
    assert!(raw.same.as_ref().unwrap().mean <= a_raw + 0.05);
    let rogue = raw.rogue.as_ref().unwrap();
    assert!(rogue.mean1 > rogue.median_mean);
    let iso = raw.isoscore.unwrap();
    assert!((0.0..=1.0).contains(&iso));

    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("cos.png");
    plot::plot_cosines(&reports, &png).unwrap();
    assert!(std::fs::metadata(&png).unwrap().len() > 1000);

    // Statistics fitted on other recordings normalize these the same way.
    let mut acc = StatsAccumulator::with_covariance(201);
    for p in speech_commands(&root, 20).iter().skip(8) {
        acc.push_array(log_spectra(&wordspot::audio::read_file(p).unwrap()).view())
            .unwrap();
    }
    let stats = acc
        .fit(&FrontendConfig::Mfcc(MfccConfig::default()), 4)
        .unwrap();
    let n = Normalizer::from_stats(NormSpec::Standardize, &stats).unwrap();
    let normed: Vec<Array2<f32>> = recs.iter().map(|r| n.apply_array(r.view())).collect();
    let r = analyze_layers(
        &[(0, normed)],
        &[NormSpec::None],
        &FrontendConfig::Mfcc(MfccConfig::default()),
        &cfg,
    )
    .unwrap();
    let a = r[0].different.as_ref().unwrap().mean;
    assert!(a > 2.0 * a_raw, "background-fitted standardize: {a}");
}

fn wordspot(args: &[&str]) -> std::process::Output {
    common::wordspot_cli()
        .args(args)
        .output()
        .expect("run wordspot")
}

#[test]
fn fit_stats_and_analyze_commands_with_mfcc() {
    let Some(root) = common::shared_data() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let stats = dir.path().join("stats.json");
    let bg = root.join("spanish_one_speaker/heycomputer/es");
    let out = wordspot(&[
        "fit-stats",
        "--frontend",
        "mfcc",
        "--out",
        stats.to_str().unwrap(),
        "--components",
        "4",
        bg.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("frames") && err.contains(" h of audio"),
        "{err}"
    );
    let st = Stats::load(&stats).unwrap();
    assert_eq!(st.dim, 39);
    assert_eq!(st.components.len(), 4);
    assert!(st.frames > 1000);

    let words = root.join("speech_commands/nine");
    let plot = dir.path().join("cos.svg");
    let out = wordspot(&[
        "analyze",
        "--frontend",
        "mfcc",
        "--format",
        "jsonl",
        "--pairs",
        "500",
        "--plot",
        plot.to_str().unwrap(),
        words.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let norms: Vec<&str> = lines
        .iter()
        .map(|l| l["normalizer"].as_str().unwrap())
        .collect();
    assert_eq!(norms, ["none", "standardize", "drop:2", "pca:2"]);
    for l in &lines {
        let a = l["different"]["mean"].as_f64().unwrap();
        assert!((0.0..=2.0).contains(&a), "{l}");
        assert_eq!(l["different"]["pairs"], 500);
        assert!(l["rogue"]["dim1"].as_u64().unwrap() < 39);
    }
    assert!(std::fs::read_to_string(&plot).unwrap().contains("<svg"));

    // Statistics from the background file, and a table.
    let out = wordspot(&[
        "analyze",
        "--frontend",
        "mfcc",
        "--stats",
        stats.to_str().unwrap(),
        "--normalizers",
        "none,pca:4",
        words.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("IsoScore") && text.contains("pca:4"),
        "{text}"
    );
    assert!(
        text.contains(&format!("from {}", stats.display())),
        "{text}"
    );

    // Asking for more directions than stored is a one-line error naming the file.
    let out = wordspot(&[
        "analyze",
        "--frontend",
        "mfcc",
        "--stats",
        stats.to_str().unwrap(),
        "--normalizers",
        "pca:8",
        words.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("stats.json") && err.contains("--components 8"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn command_errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    let wav = dir.path().join("x.wav");
    std::fs::write(&wav, b"not a wav").unwrap();
    // Statistics file that does not exist: checked before any audio is read.
    let out = wordspot(&[
        "analyze",
        "--stats",
        missing.to_str().unwrap(),
        "--normalizers",
        "standardize",
        wav.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("missing.json"), "{err}");
    // Audio path that does not exist.
    let nowhere = dir.path().join("nowhere");
    let out = wordspot(&["analyze", nowhere.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nowhere"));
    // Only unreadable audio: skipped with a warning, then a clear error.
    let stats = dir.path().join("s.json");
    let out = wordspot(&[
        "fit-stats",
        "--out",
        stats.to_str().unwrap(),
        wav.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("x.wav") && err.contains("s.json"), "{err}");
    assert!(!stats.exists());
    // Unknown normalizer.
    let out = wordspot(&[
        "analyze",
        "--normalizers",
        "none,zscore",
        wav.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("zscore"));
    assert!(!out.status.success());
}

#[cfg(feature = "wav2vec2")]
#[test]
fn analyze_every_layer_of_the_tiny_all_layers_model() {
    let models = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/models"));
    let model = models.join("tiny-all.onnx");
    let wav = models.join("input.wav");
    let (m, w) = (model.to_str().unwrap(), wav.to_str().unwrap());
    let out = wordspot(&[
        "analyze",
        "--frontend",
        "wav2vec2",
        "--model",
        m,
        "--format",
        "jsonl",
        "--pairs",
        "200",
        "--normalizers",
        "none,pca:1",
        w,
        w,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // hidden_states 0..=3, two normalizers each.
    assert_eq!(lines.len(), 8);
    let layers: Vec<u64> = lines.iter().map(|l| l["layer"].as_u64().unwrap()).collect();
    assert_eq!(layers, [0, 0, 1, 1, 2, 2, 3, 3]);
    for l in &lines {
        assert_eq!(l["dim"], 32);
        assert_eq!(l["recordings"], 2);
        assert!(l["isoscore"].as_f64().is_some(), "{l}");
    }
    let out = wordspot(&[
        "analyze",
        "--frontend",
        "wav2vec2",
        "--model",
        m,
        "--layers",
        "2",
        w,
        w,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert_eq!(
        text.lines()
            .filter(|l| l.trim_start().starts_with("2 "))
            .count(),
        4,
        "{text}"
    );
    let out = wordspot(&[
        "analyze",
        "--frontend",
        "wav2vec2",
        "--model",
        m,
        "--layers",
        "7",
        w,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("tiny-all.onnx") && err.contains("out of range"),
        "{err}"
    );
}
