//! End to end on real speech (../shared/data/fsdd): `wordspot eval retrieval`
//! on a labelled FSDD subset, `wordspot eval stream` on a labelled stream of
//! digits, and `wordspot calibrate` on background audio followed by
//! `wordspot listen` giving no more false alarms than the target allows.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

const DIGITS: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];

/// `../shared/data/fsdd`, or `None` if the shared data is missing.
fn fsdd() -> Option<PathBuf> {
    common::shared_data().map(|d| d.join("fsdd"))
}

fn wordspot(args: &[&str], cache: &Path) -> Output {
    common::wordspot_cli()
        .args(args)
        .env("WORDSPOT_CACHE", cache)
        .output()
        .expect("run wordspot")
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "wordspot failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn jsonl(s: &str) -> Vec<serde_json::Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn read_i16(p: &Path) -> (u32, Vec<i16>) {
    let mut r = hound::WavReader::open(p).unwrap();
    let rate = r.spec().sample_rate;
    (rate, r.samples::<i16>().map(|s| s.unwrap()).collect())
}

/// Concatenates FSDD takes (digit, speaker, take) with silences between them
/// into `out` (8 kHz WAV); returns the TSV rows `file, word, start, end`.
fn make_stream(dir: &Path, items: &[(usize, &str, usize)], out: &Path) -> Vec<String> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(out, spec).unwrap();
    let mut n = 0usize;
    let mut rows = Vec::new();
    for (i, &(d, spk, take)) in items.iter().enumerate() {
        let gap = 1600 + (i * 2333) % 3200; // 0.2-0.6 s
        for _ in 0..gap {
            w.write_sample(0i16).unwrap();
        }
        n += gap;
        let (rate, x) = read_i16(&dir.join(format!("{d}_{spk}_{take}.wav")));
        assert_eq!(rate, 8000);
        rows.push(format!(
            "{}\t{}\t{:.4}\t{:.4}",
            out.file_name().unwrap().to_string_lossy(),
            DIGITS[d],
            n as f64 / 8000.0,
            (n + x.len()) as f64 / 8000.0
        ));
        for s in &x {
            w.write_sample(*s).unwrap();
        }
        n += x.len();
    }
    for _ in 0..4000 {
        w.write_sample(0i16).unwrap();
    }
    w.finalize().unwrap();
    rows
}

#[test]
fn retrieval_on_fsdd_subset() {
    let Some(dir) = fsdd() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let mut tsv = String::from("file\tword\tstart\tend\n");
    for (d, word) in DIGITS.iter().enumerate() {
        for spk in ["george", "jackson"] {
            for take in 0..3 {
                let p = dir.join(format!("{d}_{spk}_{take}.wav"));
                let (rate, x) = read_i16(&p);
                let dur = x.len() as f64 / rate as f64;
                tsv += &format!("{}\t{word}\t0\t{dur:.4}\n", p.display());
            }
        }
    }
    let labels = tmp.path().join("fsdd.tsv");
    std::fs::write(&labels, tsv).unwrap();
    let l = labels.to_str().unwrap();
    let cache = tmp.path().join("cache");
    let out = ok(wordspot(
        &[
            "eval",
            "retrieval",
            "--labels",
            l,
            "--trim",
            "--format",
            "jsonl",
        ],
        &cache,
    ));
    let rows = jsonl(&out);
    let ks: Vec<u64> = rows.iter().map(|r| r["k"].as_u64().unwrap()).collect();
    assert_eq!(ks, vec![1, 2, 3, 5, 10, 20, 50, 100]);
    for r in &rows {
        assert_eq!(r["queries"], 60);
        assert_eq!(r["recordings"], 60);
    }
    let p1 = rows[0]["precision"].as_f64().unwrap();
    // 5 of the 59 other recordings hold the query's digit: chance P@1 is 0.085.
    assert!(p1 > 0.5, "P@1 {p1}");
    // Every other recording is ranked within 100: recall is exactly 1 and P@100 = 5/100.
    assert!((rows[7]["recall"].as_f64().unwrap() - 1.0).abs() < 1e-9);
    assert!((rows[7]["precision"].as_f64().unwrap() - 0.05).abs() < 1e-9);
    // R@k never decreases with k.
    for w in rows.windows(2) {
        assert!(w[1]["recall"].as_f64() >= w[0]["recall"].as_f64());
    }
    eprintln!("MFCC retrieval (cut queries):\n{out}");
    // Contextual queries and a word filter run too (features now come from the cache).
    let out = ok(wordspot(
        &[
            "eval",
            "retrieval",
            "--labels",
            l,
            "--context",
            "--words",
            "seven,three",
        ],
        &cache,
    ));
    assert!(
        out.contains("60 queries") || out.contains("12 queries"),
        "{out}"
    );
    eprintln!("MFCC retrieval (contextual queries, seven+three):\n{out}");
    // A layer sweep with the tiny wav2vec2 fixture (random weights: a pipeline
    // check) marks exactly one best layer per k.
    let model = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/models/tiny-all.onnx"
    );
    let out = ok(wordspot(
        &[
            "eval",
            "retrieval",
            "--labels",
            l,
            "--words",
            "seven,three",
            "--frontend",
            "wav2vec2",
            "--model",
            model,
            "--layers",
            "1-2",
            "--format",
            "jsonl",
        ],
        &cache,
    ));
    let rows = jsonl(&out);
    assert_eq!(rows.len(), 16);
    for k in [1, 2, 3, 5, 10, 20, 50, 100] {
        let at_k: Vec<_> = rows.iter().filter(|r| r["k"] == k).collect();
        assert_eq!(at_k.len(), 2);
        assert_eq!(at_k.iter().filter(|r| r["best_f1"] == true).count(), 1);
        let best = at_k.iter().find(|r| r["best_f1"] == true).unwrap();
        assert!(at_k.iter().all(|r| r["f1"].as_f64() <= best["f1"].as_f64()));
    }
    assert_eq!(rows[0]["layer"], 1);
    assert_eq!(rows[8]["layer"], 2);
    // MFCC has no layers to sweep.
    let o = wordspot(
        &["eval", "retrieval", "--labels", l, "--layers", "1-3"],
        &cache,
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--frontend wav2vec2"));
    // Bad labels: a clear error with the line number.
    std::fs::write(&labels, "x.wav\tseven\t0\t1\n").unwrap();
    let o = wordspot(&["eval", "retrieval", "--labels", l], &cache);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("line 1: unknown file"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn stream_eval_and_calibration_on_fsdd() {
    let Some(dir) = fsdd() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let cache = t.join("cache");
    // A labelled stream: george says every digit twice (takes 5 and 6).
    let mut items: Vec<(usize, &str, usize)> = (0..10)
        .flat_map(|d| [(d, "george", 5), (d, "george", 6)])
        .collect();
    items.sort_by_key(|&(d, _, take)| (d * 7 + take * 3) % 20);
    let stream = t.join("stream.wav");
    let rows = make_stream(&dir, &items, &stream);
    let labels = t.join("stream.tsv");
    std::fs::write(
        &labels,
        format!("file\tword\tstart\tend\n{}\n", rows.join("\n")),
    )
    .unwrap();
    // Templates of "seven" from another speaker (lucas), and from george's other takes.
    let store = t.join("templates");
    for (store, spk) in [(&store, "lucas"), (&t.join("same"), "george")] {
        let takes: Vec<String> = (0..3)
            .map(|k| dir.join(format!("7_{spk}_{k}.wav")).display().to_string())
            .collect();
        let mut args = vec![
            "enroll",
            "--name",
            "seven",
            "--out",
            store.to_str().unwrap(),
        ];
        args.extend(takes.iter().map(String::as_str));
        ok(wordspot(&args, &cache));
    }
    let det_svg = t.join("det.svg");
    let files = t.join("plots");
    let same_store = t.join("same");
    // With the verifier (the default) and without: DTW candidates are then
    // unbounded, so the sweep's top threshold misses nothing.
    for (name, st, mode) in [
        ("cross-speaker (lucas)", &store, "--no-verify"),
        ("same speaker", &same_store, "--no-verify"),
        ("cross-speaker (lucas), verified", &store, ""),
        ("same speaker, verified", &same_store, ""),
    ] {
        let mut args = vec![
            "eval",
            "stream",
            "--labels",
            labels.to_str().unwrap(),
            "--templates",
            st.to_str().unwrap(),
            "--quantiles",
            "12",
            "--low-fa",
            "6",
            "--format",
            "jsonl",
            "--plot",
            det_svg.to_str().unwrap(),
            "--plot-files",
            files.to_str().unwrap(),
        ];
        if !mode.is_empty() {
            args.push(mode);
        }
        let out = ok(wordspot(&args, &cache));
        let v = jsonl(&out);
        assert_eq!(v.len(), 2, "{out}"); // seven + pooled
        let r = &v[0];
        assert_eq!(r["keyword"], "seven");
        assert_eq!(r["occurrences"], 2);
        let at = &r["at_threshold"];
        assert_eq!(
            at["hits"].as_u64().unwrap() + at["misses"].as_u64().unwrap(),
            2
        );
        let curve = r["curve"].as_array().unwrap();
        assert!(!curve.is_empty(), "{name}: {r}");
        if !mode.is_empty() {
            assert!(curve.len() >= 5, "{name}: {r}");
            // The highest swept threshold keeps every candidate: nothing is missed.
            assert_eq!(curve.last().unwrap()["misses"], 0, "{name}: {r}");
        }
        // The operating point equals what `wordspot listen` reports at that threshold.
        let mut args = vec![
            "listen",
            "--templates",
            st.to_str().unwrap(),
            "--input",
            stream.to_str().unwrap(),
            "--format",
            "jsonl",
        ];
        if !mode.is_empty() {
            args.push(mode);
        }
        let listen = ok(wordspot(&args, &cache));
        let events = jsonl(&listen).len() as u64;
        assert_eq!(
            at["hits"].as_u64().unwrap() + at["false_alarms"].as_u64().unwrap(),
            events,
            "{name}: eval {at} vs listen {listen}"
        );
        eprintln!(
            "eval stream, {name}: at stored threshold {at}; miss @1 FA/h {}; hours {}",
            r["at_1_fa_per_hour"], r["hours"]
        );
        assert!(std::fs::read_to_string(&det_svg).unwrap().contains("<svg"));
        assert!(files.join("001_stream.png").is_file());
    }

    // Calibration on background speech without "seven" (george, takes 10-12).
    let bg_items: Vec<(usize, &str, usize)> = (0..10)
        .filter(|&d| d != 7)
        .flat_map(|d| [(d, "george", 10), (d, "george", 11), (d, "george", 12)])
        .collect();
    let bg = t.join("background.wav");
    make_stream(&dir, &bg_items, &bg);
    let (_, x) = read_i16(&bg);
    let hours = x.len() as f64 / 8000.0 / 3600.0;
    let target = 400.0; // FA/h: allows floor(400 × hours) false alarms here
    let allowed = (target * hours).floor() as usize;
    assert!(allowed >= 1, "background too short for the test: {hours} h");
    let same = t.join("same");
    let out = ok(wordspot(
        &[
            "calibrate",
            "--templates",
            same.to_str().unwrap(),
            "--background",
            bg.to_str().unwrap(),
            "--fa-per-hour",
            &target.to_string(),
        ],
        &cache,
    ));
    eprintln!("{out}");
    assert!(out.contains("seven") && out.contains("threshold"), "{out}");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(same.join("seven/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(m["threshold_source"], "calibrated");
    let cal = &m["calibration"];
    assert_eq!(cal["allowed"].as_u64().unwrap() as usize, allowed);
    assert!((cal["hours"].as_f64().unwrap() - hours).abs() < 1e-6);
    assert!(cal["distance_quantiles"].as_array().unwrap().len() == 9);
    // Listening to the background with the calibrated threshold stays within the target.
    let listen = ok(wordspot(
        &[
            "listen",
            "--templates",
            same.to_str().unwrap(),
            "--input",
            bg.to_str().unwrap(),
            "--format",
            "jsonl",
        ],
        &cache,
    ));
    let fa = jsonl(&listen).len();
    assert!(fa <= allowed, "{fa} false alarms, {allowed} allowed");
    assert!(fa as f64 / hours <= target);
    // At the calibrated threshold, eval stream's operating point is what listen reports.
    let out = ok(wordspot(
        &[
            "eval",
            "stream",
            "--labels",
            labels.to_str().unwrap(),
            "--templates",
            same.to_str().unwrap(),
            "--quantiles",
            "8",
            "--low-fa",
            "4",
            "--format",
            "jsonl",
        ],
        &cache,
    ));
    let at = &jsonl(&out)[0]["at_threshold"];
    let th = m["threshold"].as_f64().unwrap();
    assert!(
        (at["threshold"].as_f64().unwrap() - th).abs() < 1e-6,
        "{at}"
    );
    let listen = ok(wordspot(
        &[
            "listen",
            "--templates",
            same.to_str().unwrap(),
            "--input",
            stream.to_str().unwrap(),
            "--format",
            "jsonl",
        ],
        &cache,
    ));
    let events = jsonl(&listen);
    assert_eq!(
        at["hits"].as_u64().unwrap() + at["false_alarms"].as_u64().unwrap(),
        events.len() as u64,
        "eval {at} vs listen {listen}"
    );
    eprintln!("after calibration (threshold {th:.4}): {at}");
}
