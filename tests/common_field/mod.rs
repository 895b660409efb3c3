//! Shared helpers for the field-capture tests: a spotter for "seven" enrolled
//! from FSDD takes 0-2 of speaker george (../shared/data) and the demo stream
//! (speaker jackson, "seven" three times). Audio: Free Spoken Digit Dataset,
//! CC BY-SA 4.0, bundled in examples/demo.

#![allow(dead_code)]

#[path = "../common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use wordspot::audio::read_file;
use wordspot::detector::DetectorConfig;
use wordspot::features::{FrontendConfig, MfccConfig};
use wordspot::normalize::Normalizer;
use wordspot::pipeline::{Event, Spotter};
use wordspot::templates::{self, enroll, Enrollment, TakeAudio};

/// Detection threshold for these tests, calibrated once on george's other
/// digits so that it does not depend on the frontend's distance scale: 90 %
/// of the closest distance any non-"seven" word gets (no false alarm by
/// construction; the "seven" takes score well below it).
pub fn threshold(store: &Path) -> f32 {
    static T: OnceLock<f32> = OnceLock::new();
    *T.get_or_init(|| {
        let fsdd = fsdd().expect("calibration needs the FSDD data");
        let gap = vec![0.0f32; 4800];
        let mut x = gap.clone();
        for d in [0, 1, 2, 3, 4, 5, 6, 8, 9] {
            for take in 40..44 {
                x.extend(read_file(&fsdd.join(format!("{d}_george_{take}.wav"))).unwrap());
                x.extend_from_slice(&gap);
            }
        }
        let mut sp = spotter_with(store, Some(1e3));
        let mut closest = f32::INFINITY;
        let mut note = |e: Event| closest = closest.min(e.distance);
        sp.push(&x, &mut note).unwrap();
        sp.finish(&mut note).unwrap();
        assert!(closest.is_finite(), "calibration found no candidate");
        0.9 * closest
    })
}

/// The bundled demo folder.
pub fn demo() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo")).to_path_buf()
}

/// The demo stream's samples and its "seven" intervals (s).
pub fn stream() -> (Vec<f32>, Vec<(f64, f64)>) {
    let x = read_file(&demo().join("stream.wav")).expect("demo stream");
    let truth = std::fs::read_to_string(demo().join("stream.tsv"))
        .expect("stream.tsv")
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[2].parse().unwrap(), f[3].parse().unwrap())
        })
        .collect();
    (x, truth)
}

/// The shared FSDD folder (`common::shared_data()` + `fsdd`), or `None`
/// with the skip message printed.
pub fn fsdd() -> Option<PathBuf> {
    common::shared_data().map(|d| d.join("fsdd"))
}

/// A stream of george's digits (takes 10.., not the enrolled 0-2), 0.3 s of
/// silence between words, "seven" at every third word: samples and the
/// "seven" intervals (s). `words` words in all.
pub fn george_stream(fsdd: &Path, words: usize) -> (Vec<f32>, Vec<(f64, f64)>) {
    let gap = vec![0.0f32; 4800];
    let mut x = gap.clone();
    let mut truth = Vec::new();
    for i in 0..words {
        let take = 10 + i % 30;
        let digit = if i % 3 == 1 { 7 } else { (i * 7 + 3) % 10 % 7 };
        let w = read_file(&fsdd.join(format!("{digit}_george_{take}.wav"))).expect("fsdd take");
        let s = x.len() as f64 / 16000.0;
        x.extend_from_slice(&w);
        if digit == 7 {
            truth.push((s, x.len() as f64 / 16000.0));
        }
        x.extend_from_slice(&gap);
    }
    (x, truth)
}

/// A fresh MFCC spotter for "seven" (templates enrolled into `store`).
pub fn spotter(store: &Path) -> Spotter {
    spotter_with(store, Some(threshold(store)))
}

/// Like [`spotter`] with a chosen threshold (`None`: the enrolled one).
pub fn spotter_with(store: &Path, threshold: Option<f32>) -> Spotter {
    let cfg = FrontendConfig::Mfcc(MfccConfig::default());
    let mut fe = cfg.build().unwrap();
    let norm = Normalizer::identity(fe.dim());
    if !store.join("seven").exists() {
        let takes: Vec<TakeAudio> = (0..3)
            .map(|i| {
                let p = fsdd()
                    .expect("enrollment needs the FSDD data")
                    .join(format!("7_george_{i}.wav"));
                TakeAudio {
                    samples: read_file(&p).unwrap(),
                    source: p.display().to_string(),
                }
            })
            .collect();
        enroll(
            store,
            "seven",
            &takes,
            Enrollment {
                frontend: &mut *fe,
                normalizer: &norm,
                normalize_spec: "none",
                metric: Default::default(),
                trim: true,
                threshold: None,
            },
        )
        .unwrap();
    }
    let kws = templates::load(store, &mut *fe, &norm).unwrap();
    let th: Vec<f32> = kws
        .iter()
        .map(|k| threshold.unwrap_or(k.manifest.threshold))
        .collect();
    fe.reset();
    Spotter::new(fe, norm, &kws, &th, DetectorConfig::default()).unwrap()
}

/// Whether `[s, e]` overlaps a truth interval.
pub fn hits(truth: &[(f64, f64)], s: f64, e: f64) -> bool {
    truth.iter().any(|&(a, b)| s < b && a < e)
}
