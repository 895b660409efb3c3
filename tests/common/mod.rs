//! Helpers shared by the integration tests: the shared data folder and
//! streams built from real recordings with known word positions.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use wordspot::templates::voiced_span;
use wordspot::SAMPLE_RATE;

/// `../shared/data` (or `$WORDSPOT_SHARED_DATA`, for checkouts elsewhere),
/// or `None` after printing why the test is skipped.
pub fn shared_data() -> Option<PathBuf> {
    let p = std::env::var_os("WORDSPOT_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("skipping: {} not found", p.display());
        None
    }
}

/// A command running the `wordspot` binary built for these tests. Where the
/// tests run under emulation (`cross/build.sh TARGET --test`), the binary is
/// started through `$WORDSPOT_TEST_RUNNER` (e.g. `qemu-aarch64`), since the
/// host kernel cannot execute it directly.
pub fn wordspot_cli() -> Command {
    let exe = env!("CARGO_BIN_EXE_wordspot");
    match std::env::var("WORDSPOT_TEST_RUNNER") {
        Ok(runner) if !runner.trim().is_empty() => {
            let mut words = runner.split_whitespace();
            let mut c = Command::new(words.next().unwrap_or_default());
            c.args(words).arg(exe);
            c
        }
        _ => Command::new(exe),
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
    let mut placed = Vec::new();
    for c in clips {
        noise(gap, &mut out);
        placed.push((out.len(), c.len()));
        out.extend_from_slice(c);
    }
    noise(gap, &mut out);
    // The VAD sees each clip with the quiet gaps around it, so its noise floor
    // is real silence (clips are cut tight: their own quietest frames are speech).
    for (at, len) in placed {
        let lo = at.saturating_sub(gap);
        let hi = (at + len + gap).min(out.len());
        let (a, b) = voiced_span(&out[lo..hi]).unwrap_or((at - lo, at - lo + len));
        spans.push((
            (lo + a) as f64 / SAMPLE_RATE as f64,
            (lo + b) as f64 / SAMPLE_RATE as f64,
        ));
    }
    (out, spans)
}

/// Runs the `wordspot` binary and returns its standard output; fails the test,
/// with the command and its standard error, when it does not succeed.
pub fn wordspot_ok(args: &[&str]) -> String {
    let out = wordspot_cli().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "wordspot {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}
