//! The smallest configuration of the cross-speaker detection benchmark
//! (`wordspot::eval::bench`, `bench/README.md`): 3 minutes of speech with
//! 6 planted occurrences of each of 4 keywords by speakers not enrolled,
//! enrolled from 3 takes with the default (cohort-normalised) scores and threshold, scored by
//! `wordspot eval stream`. Ceilings on misses and false alarms make a
//! regression fail. Needs ../shared/data and fails without it.

mod common;

use wordspot::eval::bench::{build, BenchSpec};

#[test]
fn small_benchmark_default_thresholds_stay_under_ceilings() {
    let data = common::shared_data().expect("this test needs ../shared/data");
    let dir = tempfile::tempdir().unwrap();
    let layout = build(&data, dir.path(), &BenchSpec::small()).unwrap();
    let store = dir.path().join("templates");
    for (kw, takes) in &layout.enroll {
        let mut args = vec![
            "enroll".to_string(),
            "--name".into(),
            kw.clone(),
            "--out".into(),
            store.display().to_string(),
        ];
        args.extend(takes.iter().map(|(p, _)| p.display().to_string()));
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        eprint!("{}", common::wordspot_ok(&a));
    }
    let out = common::wordspot_ok(&[
        "eval",
        "stream",
        "--labels",
        layout.labels.to_str().unwrap(),
        "--templates",
        store.to_str().unwrap(),
    ]);
    eprintln!("{out}");
    // The pooled row: occ | thresh hits miss FA FA/h | miss@1 (thr) | miss@0.1 (thr)
    let row: Vec<&str> = out
        .lines()
        .find(|l| l.starts_with("all (pooled)"))
        .expect("a pooled row")
        .split_whitespace()
        .collect();
    let num = |s: &str| s.trim_end_matches('%').parse::<f64>().unwrap();
    let (occ, hits, fa_per_h, miss_at_1) = (num(row[2]), num(row[5]), num(row[8]), num(row[10]));
    let miss_default = 1.0 - hits / occ;
    eprintln!(
        "default thresholds: miss {:.1}% at {fa_per_h:.1} FA/h per keyword; best miss at <= 1 FA/h {miss_at_1:.1}%",
        100.0 * miss_default
    );
    // Regression ceilings, set from the measurement with cohort-normalised
    // scores and takes padded to 0.6 s (33.3% miss at 9.7 FA/h per keyword,
    // 2 false alarms in all; 45.8% at <= 1 FA/h; before normalisation: 41.7%
    // at 106.7 FA/h, 87.5%)
    // with a margin: far from the goal (issue 12: miss <= 10% at <= 1 FA/h),
    // they stop things getting worse. 3 minutes resolve 19.4 FA/h per
    // keyword: the FA ceiling allows 4 false alarms over the 4 keywords.
    assert!(
        miss_default <= 0.55,
        "miss {miss_default} at the default thresholds"
    );
    assert!(
        fa_per_h <= 20.0,
        "{fa_per_h} FA/h at the default thresholds"
    );
    assert!(miss_at_1 <= 60.0, "best miss at <= 1 FA/h {miss_at_1}%");
}
