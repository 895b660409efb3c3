//! Helpers shared by the integration tests: the shared data folder and
//! streams built from real recordings with known word positions.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use wordspot::templates::voiced_span;
use wordspot::SAMPLE_RATE;

/// `../shared/data`, or `None` after printing why the test is skipped.
pub fn shared_data() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("skipping: ../shared/data not found");
        None
    }
}

/// One FSDD take (`digit_speaker_take.wav`) at 16 kHz.
pub fn fsdd(data: &Path, digit: u32, speaker: &str, take: u32) -> Vec<f32> {
    let p = data.join(format!("fsdd/{digit}_{speaker}_{take}.wav"));
    wordspot::audio::read_file(&p).unwrap_or_else(|e| panic!("{e}"))
}

/// A stream of `clips` separated by `gap_s` of low noise; returns the samples
/// and each clip's voiced span (energy VAD, no padding) in seconds.
pub fn concat(clips: &[Vec<f32>], gap_s: f64) -> (Vec<f32>, Vec<(f64, f64)>) {
    let gap = (gap_s * SAMPLE_RATE as f64) as usize;
    let mut out = Vec::new();
    let mut spans = Vec::new();
    let mut seed = 12345u32;
    let mut noise = |n: usize, out: &mut Vec<f32>| {
        for _ in 0..n {
            seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
            out.push(((seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 1e-3);
        }
    };
    for c in clips {
        noise(gap, &mut out);
        let (a, b) = voiced_span(c).unwrap_or((0, c.len()));
        let at = out.len();
        spans.push((
            (at + a) as f64 / SAMPLE_RATE as f64,
            (at + b) as f64 / SAMPLE_RATE as f64,
        ));
        out.extend_from_slice(c);
    }
    noise(gap, &mut out);
    (out, spans)
}
