//! Builds the cross-speaker detection benchmark (`wordspot::eval::bench`).
//!
//! ```sh
//! cargo run --release --example detection_bench -- --out DIR [--small|--full] [--seed N] [--data DIR]
//! ```
//!
//! `--data` defaults to `$WORDSPOT_SHARED_DATA`, else `../shared/data` next to the crate.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use wordspot::eval::bench::{build, BenchSpec};

fn main() -> Result<()> {
    let mut out: Option<PathBuf> = None;
    let mut spec = BenchSpec::full();
    let mut seed: Option<u64> = None;
    let mut data: Option<PathBuf> = std::env::var_os("WORDSPOT_SHARED_DATA").map(PathBuf::from);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out = Some(args.next().context("--out needs a folder")?.into()),
            "--data" => data = Some(args.next().context("--data needs a folder")?.into()),
            "--small" => spec = BenchSpec::small(),
            "--full" => spec = BenchSpec::full(),
            "--seed" => {
                seed = Some(
                    args.next()
                        .context("--seed needs a number")?
                        .parse()
                        .context("--seed needs a number")?,
                )
            }
            "-h" | "--help" => {
                println!(
                    "usage: detection_bench --out DIR [--small|--full] [--seed N] [--data DIR]"
                );
                return Ok(());
            }
            other => bail!("unknown argument {other} (see --help)"),
        }
    }
    if let Some(s) = seed {
        spec.seed = s;
    }
    let Some(out) = out else {
        bail!("--out DIR is required (see --help)");
    };
    let data = data.unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    let t = Instant::now();
    let l = build(&data, &out, &spec)?;
    println!(
        "built in {:.1} s from {}: seed {}",
        t.elapsed().as_secs_f64(),
        data.display(),
        spec.seed
    );
    println!("keywords: {}", l.keywords.join(", "));
    for s in &l.streams {
        let mut per: std::collections::BTreeMap<&str, usize> = Default::default();
        for o in &s.occurrences {
            *per.entry(o.keyword.as_str()).or_default() += 1;
        }
        println!(
            "{}: {:.1} min, occurrences {:?}",
            s.file.display(),
            s.seconds / 60.0,
            per
        );
    }
    println!("labels: {}", l.labels.display());
    for (k, takes) in &l.enroll {
        let src: Vec<&str> = takes.iter().map(|t| t.1.as_str()).collect();
        println!("enroll/{k}: {}", src.join(" "));
    }
    println!(
        "calibration: {} file(s), {:.1} min from {} clips (stream background pool: {} clips)",
        l.calibration.len(),
        l.calibration_seconds / 60.0,
        l.calibration_sources.len(),
        l.stream_background_sources.len()
    );
    println!("manifest: {}", l.manifest.display());
    Ok(())
}
