//! The command line on bad input: one-line errors naming the file, non-zero
//! exit, no panic; a bad corpus file is skipped and the rest still ranked.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use wordspot::audio::write_wav;

fn wordspot(args: &[&str]) -> Output {
    common::wordspot_cli()
        .args(args)
        .env(
            "WORDSPOT_CACHE",
            std::env::temp_dir().join("wordspot-cli-test-cache"),
        )
        .output()
        .expect("run wordspot")
}

/// Runs wordspot with its standard output a pipe whose reader is already
/// gone (as in `wordspot ... | head -0`).
fn wordspot_into_closed_pipe(args: &[&str]) -> Output {
    let mut child = common::wordspot_cli()
        .args(args)
        .env(
            "WORDSPOT_CACHE",
            std::env::temp_dir().join("wordspot-cli-test-cache"),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run wordspot");
    drop(child.stdout.take());
    child.wait_with_output().expect("wait for wordspot")
}

/// Asserts a clean failure: non-zero exit, no panic, one `error:` line that
/// mentions `needle`.
fn fails_with(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected failure, stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "stderr: {err}");
    assert!(lines[0].contains(needle), "'{needle}' not in: {}", lines[0]);
}

fn tone(seconds: f32, freq: f32) -> Vec<f32> {
    let n = (seconds * 16000.0) as usize;
    (0..n)
        .map(|i| {
            let t = i as f32 / 16000.0;
            // A "word": a burst in the middle, quiet around it.
            let env = if (0.3..seconds - 0.3).contains(&t) {
                0.5
            } else {
                0.001
            };
            env * (2.0 * std::f32::consts::PI * freq * t * (1.0 + t)).sin()
        })
        .collect()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn wav(&self, name: &str, x: &[f32]) -> PathBuf {
        let p = self.path(name);
        write_wav(&p, x).unwrap();
        p
    }
    fn bytes(&self, name: &str, b: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, b).unwrap();
        p
    }
}

#[test]
fn bad_queries_fail_cleanly() {
    let f = Fixture::new();
    let good = f.wav("good.wav", &tone(1.5, 300.0));
    let corpus = f.path("corpus");
    std::fs::create_dir(&corpus).unwrap();
    f.wav("corpus/a.wav", &tone(2.0, 300.0));

    let empty = f.bytes("empty.wav", b"");
    fails_with(
        &wordspot(&["search", "--query", s(&empty), s(&corpus)]),
        "empty.wav",
    );

    let mut wav = std::fs::read(&good).unwrap();
    wav.truncate(30);
    let trunc = f.bytes("truncated.wav", &wav);
    fails_with(
        &wordspot(&["search", "--query", s(&trunc), s(&corpus)]),
        "truncated.wav",
    );

    let junk = f.bytes("junk.wav", &[0x55; 3000]);
    fails_with(
        &wordspot(&["search", "--query", s(&junk), s(&corpus)]),
        "junk.wav",
    );

    let unknown = f.bytes("notes.xyz", b"hello");
    fails_with(
        &wordspot(&["search", "--query", s(&unknown), s(&corpus)]),
        "notes.xyz",
    );

    let missing = f.path("missing.wav");
    fails_with(
        &wordspot(&["search", "--query", s(&missing), s(&corpus)]),
        "missing.wav",
    );

    // Zero-length query cut.
    fails_with(
        &wordspot(&[
            "search",
            "--query",
            s(&good),
            "--start",
            "1.0",
            "--end",
            "1.0",
            s(&corpus),
        ]),
        "good.wav",
    );

    // NaN samples in a float WAV.
    let nan = f.path("nan.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(&nan, spec).unwrap();
    for (i, x) in tone(1.0, 200.0).into_iter().enumerate() {
        w.write_sample(if i == 5000 { f32::NAN } else { x })
            .unwrap();
    }
    w.finalize().unwrap();
    fails_with(
        &wordspot(&["search", "--query", s(&nan), s(&corpus)]),
        "nan.wav",
    );

    // Query longer than every target: nothing can be ranked.
    let long = f.wav("long.wav", &tone(6.0, 300.0));
    let short_dir = f.path("short");
    std::fs::create_dir(&short_dir).unwrap();
    f.wav("short/tiny.wav", &tone(0.7, 300.0));
    fails_with(
        &wordspot(&["search", "--query", s(&long), "--no-trim", s(&short_dir)]),
        "searched",
    );
}

#[test]
fn one_bad_corpus_file_is_skipped() {
    let f = Fixture::new();
    let q = f.wav("q.wav", &tone(1.2, 300.0));
    let corpus = f.path("corpus");
    std::fs::create_dir(&corpus).unwrap();
    f.wav("corpus/a.wav", &tone(2.0, 300.0));
    f.wav("corpus/b.wav", &tone(2.0, 900.0));
    f.bytes("corpus/broken.wav", b"RIFF\x10\x00\x00\x00WAVEfmt ");
    let out = wordspot(&[
        "search",
        "--query",
        s(&q),
        "--format",
        "jsonl",
        "--no-cache",
        s(&corpus),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("broken.wav"), "{err}");
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["rank"], 1);
    assert!(lines[0]["file"].as_str().unwrap().ends_with("a.wav"));
    for k in ["start", "end", "distance"] {
        assert!(lines[0][k].is_number(), "{k}");
    }
}

#[cfg(unix)]
#[test]
fn unreadable_folder_is_reported() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::new();
    let q = f.wav("q.wav", &tone(1.2, 300.0));
    let locked = f.path("locked");
    std::fs::create_dir(&locked).unwrap();
    f.wav("locked/a.wav", &tone(2.0, 300.0));
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read_dir(&locked).is_ok() {
        // Running as root: permissions do not apply.
        eprintln!("skipping: running with privileges that ignore folder permissions");
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
        return;
    }
    fails_with(
        &wordspot(&["search", "--query", s(&q), s(&locked)]),
        "no audio file",
    );
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn listen_rejects_bad_setups() {
    let f = Fixture::new();
    let input = f.wav("in.wav", &tone(2.0, 300.0));
    fails_with(
        &wordspot(&[
            "listen",
            "--templates",
            s(&f.path("nope")),
            "--input",
            s(&input),
        ]),
        "nope",
    );
    fails_with(
        &wordspot(&["enroll", "--name", "", "--out", s(&f.path("t")), s(&input)]),
        "keyword",
    );
    // A template longer than the microphone's ring buffer (checked before
    // the device is opened; a file input has no ring, see tests/bad_input.rs).
    let long = f.wav("long.wav", &tone(3.0, 300.0));
    let out = wordspot(&[
        "enroll",
        "--name",
        "long",
        "--out",
        s(&f.path("t")),
        "--no-trim",
        s(&long),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    fails_with(
        &wordspot(&[
            "listen",
            "--templates",
            s(&f.path("t")),
            "--ring-seconds",
            "1",
        ]),
        "ring buffer",
    );
    fails_with(
        &wordspot(&[
            "listen",
            "--templates",
            s(&f.path("t")),
            "--input",
            s(&input),
            "--threshold",
            "nan",
        ]),
        "threshold",
    );
    // No such input device (the template store is fine).
    fails_with(
        &wordspot(&[
            "listen",
            "--templates",
            s(&f.path("t")),
            "--device",
            "no-such-device-xyz",
        ]),
        "no-such-device-xyz",
    );
    fails_with(
        &wordspot(&[
            "listen",
            "--templates",
            s(&f.path("t")),
            "--input",
            "-",
            "--stdin-format",
            "u7",
        ]),
        "u7",
    );
}

#[test]
fn enroll_then_listen_on_a_file_prints_json_events() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let f = Fixture::new();
    let t = f.path("templates");
    let take = |d: u32, k: u32| data.join(format!("fsdd/{d}_jackson_{k}.wav"));
    let out = wordspot(&[
        "enroll",
        "--name",
        "seven",
        "--out",
        s(&t),
        s(&take(7, 0)),
        s(&take(7, 1)),
        s(&take(7, 2)),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let clips: Vec<Vec<f32>> = [(1, 30), (7, 30), (2, 30)]
        .iter()
        .map(|&(d, k)| common::fsdd(&data, d, "jackson", k))
        .collect();
    let (x, spans) = common::concat(&clips, 0.5);
    let input = f.wav("stream.wav", &x);
    let log = f.path("events.jsonl");
    let out = wordspot(&[
        "listen",
        "--templates",
        s(&t),
        "--input",
        s(&input),
        "--format",
        "jsonl",
        "--threshold",
        "0.45",
        "--log",
        s(&log),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("detection"), "counters missing: {err}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let hit = events.iter().any(|e| {
        e["keyword"] == "seven"
            && e["start"].as_f64().unwrap() < spans[1].1
            && e["end"].as_f64().unwrap() > spans[1].0
    });
    assert!(
        hit,
        "no event on the planted 'seven' at {:?}: {stdout}",
        spans[1]
    );
    for k in ["keyword", "start", "end", "distance", "template"] {
        assert!(!events[0][k].is_null(), "{k} missing");
    }
    // The durable log holds the same events, with a sequence number and wall-clock time.
    let logged: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(logged.len(), events.len());
    for (i, (l, e)) in logged.iter().zip(&events).enumerate() {
        assert_eq!(l["seq"], (i + 1) as u64);
        assert!(l["time"].as_str().is_some_and(|t| t.ends_with('Z')));
        for k in ["keyword", "start", "end", "distance", "template"] {
            assert_eq!(l[k], e[k], "{k}");
        }
    }

    // A reader that goes away (`| head`) ends the program quietly: exit 0,
    // no panic, and the detection already made is in the durable log.
    let t2 = f.path("templates2");
    let out = wordspot_into_closed_pipe(&[
        "enroll",
        "--name",
        "seven",
        "--out",
        s(&t2),
        s(&take(7, 0)),
        s(&take(7, 1)),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.is_empty(), "{err}");
    assert!(
        t2.join("seven").is_dir(),
        "enroll did not store the keyword"
    );
    let log2 = f.path("events2.jsonl");
    let out = wordspot_into_closed_pipe(&[
        "listen",
        "--templates",
        s(&t),
        "--input",
        s(&input),
        "--threshold",
        "0.45",
        "--log",
        s(&log2),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("error:"),
        "{err}"
    );
    let logged2 = std::fs::read_to_string(&log2).unwrap();
    assert!(logged2.lines().count() >= 1, "nothing logged: {err}");
}
