//! Shared helpers for the field-capture tests: a spotter for "seven" enrolled
//! from the bundled FSDD demo takes (speaker george) and the demo stream
//! (speaker jackson, "seven" three times). Audio: Free Spoken Digit Dataset,
//! CC BY-SA 4.0, bundled in examples/demo.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use wordspot::audio::read_file;
use wordspot::detector::DetectorConfig;
use wordspot::features::FrontendConfig;
use wordspot::normalize::Normalizer;
use wordspot::pipeline::Spotter;
use wordspot::templates::{self, enroll, Enrollment, TakeAudio};

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

/// A fresh MFCC spotter for "seven" (templates enrolled into `store`).
pub fn spotter(store: &Path) -> Spotter {
    let cfg = FrontendConfig::default();
    let mut fe = cfg.build().unwrap();
    let norm = Normalizer::identity(fe.dim());
    if !store.join("seven").exists() {
        let takes: Vec<TakeAudio> = (0..3)
            .map(|i| {
                let p = demo().join(format!("enroll/seven_{i}.wav"));
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
    let th: Vec<f32> = kws.iter().map(|k| k.manifest.threshold).collect();
    fe.reset();
    Spotter::new(fe, norm, &kws, &th, DetectorConfig::default()).unwrap()
}

/// Whether `[s, e]` overlaps a truth interval.
pub fn hits(truth: &[(f64, f64)], s: f64, e: f64) -> bool {
    truth.iter().any(|&(a, b)| s < b && a < e)
}
