//! Exports checked by other programs' readers: `bench/linguist/run.sh` with
//! this build's binary validates every exported EAF against the EAF 3.0 XSD
//! (from the pympi-ling 1.71 source package on PyPI), reads the EAFs back
//! with pympi-ling and the TextGrids with praatio (times identical to the
//! millisecond), and checks that merging into files those libraries wrote
//! keeps their tiers.
//!
//! Needs python3 (with venv) and, on the first run, PyPI; the venv is kept
//! under `target/tmp`. Without them the test fails when `CI` is set and is
//! skipped (with a line saying so) otherwise. A failed check always fails.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

#[test]
fn exports_validate_against_the_eaf_xsd_and_read_back_in_pympi_and_praatio() {
    let ci = std::env::var_os("CI").is_some();
    let Some(data) = common::shared_data() else {
        assert!(!ci, "the shared data is missing and CI is set");
        return;
    };
    let t0 = Instant::now();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("linguist-venv");
    let out = Command::new("bash")
        .arg(root.join("bench/linguist/run.sh"))
        .arg(env!("CARGO_BIN_EXE_wordspot"))
        .env("WORDSPOT_LINGUIST_VENV", &venv)
        .env("WORDSPOT_SHARED_DATA", &data)
        .output()
        .expect("bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(3) {
        assert!(!ci, "CI is set: {stderr}");
        eprintln!("skipping: {}", stderr.trim());
        return;
    }
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let ok = stdout
        .lines()
        .find(|l| l.starts_with("ok: "))
        .unwrap_or_else(|| panic!("no verdict: {stdout}\n{stderr}"));
    // 24 recordings, each exported once as EAF and once as TextGrid, two of
    // them merged into annotations pympi and praatio wrote.
    assert!(
        ok.contains("24 EAFs valid against EAF 3.0")
            && ok.contains("24 TextGrids read by praatio")
            && ok.contains("2 merges kept the other tiers"),
        "{ok}"
    );
    eprintln!("{ok} ({:.1} s)", t0.elapsed().as_secs_f64());
}
