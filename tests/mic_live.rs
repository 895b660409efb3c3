//! The microphone path for real: `wordspot listen` with no `--input` captures
//! from ALSA's default device (cpal), which is routed to a private
//! PulseAudio server with a null sink (`.ci/sound-server.sh`); the tests play
//! the demo stream into that sink with `paplay` and read what `listen`
//! prints.
//!
//! - planted words are detected at the times the file path finds them,
//!   shifted by when playback started and by the device latency;
//! - killing the sound server mid-stream and starting it again is survived
//!   (re-opened and counted, no panic, no hang), and Ctrl-C stops `listen`
//!   while the server is down;
//! - CPU starvation loses audio as counted overruns, never as a failure or
//!   a re-open.
//!
//! The server is found in `$WORDSPOT_SOUND_DIR` (default
//! `/tmp/wordspot-sound`), where `.ci/run` starts it; a test that finds none
//! starts one there with `.ci/sound-server.sh` (and stops it afterwards).
//! When that is impossible (pulseaudio, pulseaudio-utils or
//! libasound2-plugins missing) the tests print a skip line, or fail when `CI`
//! is set. They share one device, so they run one at a time.
#![cfg(all(unix, feature = "mic"))]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

const SINK: &str = "wordspot_null";

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

fn sound_dir() -> PathBuf {
    std::env::var_os("WORDSPOT_SOUND_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/wordspot-sound"))
}

fn script(cmd: &str, dir: &Path) -> Output {
    Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/sound-server.sh"))
        .arg(cmd)
        .arg(dir)
        .stdin(Stdio::null())
        .output()
        .expect("running .ci/sound-server.sh")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
    .trim()
    .to_string()
}

/// Makes a command a client of the private server: PulseAudio's socket,
/// no autospawn, and ALSA's `default` routed to it.
fn client_env(c: &mut Command, dir: &Path) {
    c.env(
        "PULSE_SERVER",
        format!("unix:{}", dir.join("native").display()),
    )
    .env("PULSE_CLIENTCONFIG", dir.join("client.conf"))
    .env("XDG_CONFIG_HOME", dir.join("xdg"));
}

/// The sound server, held by one test at a time.
struct Sound {
    dir: PathBuf,
    started_here: bool,
    _lock: MutexGuard<'static, ()>,
}

static DEVICE: Mutex<()> = Mutex::new(());

/// The running sound server (started here if needed), or `None` after a
/// skip line when there is none to be had outside CI.
fn sound_server(test: &str) -> Option<Sound> {
    let lock = DEVICE.lock().unwrap_or_else(|e| e.into_inner());
    let dir = sound_dir();
    let started_here = if script("status", &dir).status.success() {
        false
    } else {
        let o = script("start", &dir);
        if !o.status.success() {
            if in_ci() {
                panic!(
                    "CI is set and the sound server cannot be started: {}",
                    text(&o)
                );
            }
            // Straight to the file descriptor: seen even where the harness
            // captures the test's output.
            let _ = writeln!(
                std::io::stderr(),
                "skipped {test}: no sound server ({}); see README.md, \"Live microphone tests\"",
                text(&o).replace('\n', "; ")
            );
            return None;
        }
        true
    };
    Some(Sound {
        dir,
        started_here,
        _lock: lock,
    })
}

impl Sound {
    fn kill(&self) {
        let o = script("kill", &self.dir);
        assert!(o.status.success(), "{}", text(&o));
        eprintln!("{}", text(&o));
    }

    fn start(&self) {
        let o = script("start", &self.dir);
        assert!(o.status.success(), "{}", text(&o));
        eprintln!("{}", text(&o));
    }

    /// Plays a WAV into the null sink; the child ends when it has played.
    fn play(&self, wav: &Path) -> Child {
        let mut c = Command::new("paplay");
        client_env(&mut c, &self.dir);
        c.arg(format!("--device={SINK}"))
            .arg(wav)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting paplay")
    }

    /// Record streams connected to the server (a capturing `listen` has one).
    fn capture_streams(&self) -> usize {
        let mut c = Command::new("pactl");
        client_env(&mut c, &self.dir);
        match c.args(["list", "short", "source-outputs"]).output() {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| !l.trim().is_empty())
                .count(),
            _ => 0,
        }
    }

    fn wait_capturing(&self, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        while Instant::now() < until {
            if self.capture_streams() > 0 {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// Starts `wordspot listen` on the default device with JSON lines out.
    fn listen(&self, templates: &Path, extra: &[&str]) -> Listen {
        let mut c = common::wordspot_cli();
        client_env(&mut c, &self.dir);
        c.arg("listen")
            .arg("--templates")
            .arg(templates)
            .args(["--format", "jsonl"])
            .args(extra);
        Listen::spawn(c)
    }
}

impl Drop for Sound {
    fn drop(&mut self) {
        // Leave the server as it was found: stopped if this test started it,
        // running (again, after a kill) otherwise.
        let cmd = if self.started_here { "stop" } else { "start" };
        let o = script(cmd, &self.dir);
        if !o.status.success() {
            eprintln!("sound-server {cmd}: {}", text(&o));
        }
    }
}

/// One line printed by `listen`, with when it was read.
#[derive(Debug, Clone)]
struct Line {
    at: Instant,
    stderr: bool,
    text: String,
}

/// A running `wordspot listen`, its output collected as it comes.
struct Listen {
    child: Child,
    lines: Arc<Mutex<Vec<Line>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

/// The counters `listen` prints when it stops.
#[derive(Debug, Clone, Copy)]
struct Stopped {
    overruns: u64,
    dropped_frames: u64,
    reopens: u64,
}

#[derive(Debug, Clone, Copy)]
struct Ev {
    start: f64,
    end: f64,
}

impl Listen {
    fn spawn(mut c: Command) -> Self {
        let mut child = c
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting wordspot listen");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        let out: Box<dyn std::io::Read + Send> = Box::new(child.stdout.take().unwrap());
        let err: Box<dyn std::io::Read + Send> = Box::new(child.stderr.take().unwrap());
        for (pipe, stderr) in [(out, false), (err, true)] {
            let lines = lines.clone();
            readers.push(std::thread::spawn(move || {
                for l in BufReader::new(pipe).lines() {
                    let Ok(text) = l else { break };
                    lines.lock().unwrap().push(Line {
                        at: Instant::now(),
                        stderr,
                        text,
                    });
                }
            }));
        }
        Listen {
            child,
            lines,
            readers,
        }
    }

    fn lines(&self) -> Vec<Line> {
        self.lines.lock().unwrap().clone()
    }

    /// When a stderr line containing `needle` was read, waiting for it.
    fn wait_for(&mut self, needle: &str, timeout: Duration) -> Instant {
        let until = Instant::now() + timeout;
        loop {
            if let Some(l) = self
                .lines()
                .into_iter()
                .find(|l| l.stderr && l.text.contains(needle))
            {
                return l.at;
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(200));
                panic!("listen exited ({st}) before '{needle}':\n{}", self.dump());
            }
            assert!(
                Instant::now() < until,
                "no '{needle}' from listen within {timeout:?}:\n{}",
                self.dump()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn events(&self) -> Vec<Ev> {
        self.lines()
            .iter()
            .filter(|l| !l.stderr)
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(&l.text)
                    .unwrap_or_else(|e| panic!("not a JSON event: {} ({e})", l.text));
                assert_eq!(v["keyword"], "alexa", "{}", l.text);
                Ev {
                    start: v["start"].as_f64().unwrap(),
                    end: v["end"].as_f64().unwrap(),
                }
            })
            .collect()
    }

    fn dump(&self) -> String {
        self.lines()
            .iter()
            .map(|l| format!("{} {}", if l.stderr { "E" } else { "O" }, l.text))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Sends SIGINT (what Ctrl-C sends) and waits up to `timeout` for the
    /// exit; `None` (after killing it) if it hung.
    fn interrupt(&mut self, timeout: Duration) -> (Option<ExitStatus>, Duration) {
        let t = Instant::now();
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGINT) };
        while t.elapsed() < timeout {
            if let Ok(Some(st)) = self.child.try_wait() {
                for r in self.readers.drain(..) {
                    let _ = r.join();
                }
                return (Some(st), t.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        (None, t.elapsed())
    }

    /// Ctrl-C, which must stop listen within 10 s, cleanly and without a
    /// panic; how long it took.
    fn ctrl_c(&mut self) -> Duration {
        let (st, took) = self.interrupt(Duration::from_secs(10));
        let st = st.unwrap_or_else(|| panic!("Ctrl-C did not stop listen:\n{}", self.dump()));
        self.assert_no_panic();
        assert!(st.success(), "{st}:\n{}", self.dump());
        took
    }

    /// The counters of the final `stopped: ...` line.
    fn stopped(&self) -> Stopped {
        let lines = self.lines();
        let l = lines
            .iter()
            .rev()
            .find(|l| l.stderr && l.text.starts_with("stopped:"))
            .unwrap_or_else(|| panic!("no 'stopped:' line:\n{}", self.dump()));
        // "stopped: 75.3 s of audio, 1882 frames, 3 overruns (1536 frames dropped), 0 re-opens, 4 detection(s)"
        let num_before = |suffix: &str| -> u64 {
            let head = &l.text[..l
                .text
                .find(suffix)
                .unwrap_or_else(|| panic!("no '{suffix}' in '{}'", l.text))];
            let digits: String = head
                .chars()
                .rev()
                .skip_while(|c| *c == ' ')
                .take_while(char::is_ascii_digit)
                .collect();
            digits.chars().rev().collect::<String>().parse().unwrap()
        };
        Stopped {
            overruns: num_before(" overruns"),
            dropped_frames: num_before(" frames dropped"),
            reopens: num_before(" re-opens"),
        }
    }

    fn assert_no_panic(&self) {
        let d = self.dump();
        assert!(!d.contains("panicked"), "{d}");
    }
}

impl Drop for Listen {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Demo data: "alexa" enrolled from the demo's three takes (with the
/// built-in cohort, as `wordspot demo` does), and pieces of the demo stream.
struct Fixture {
    templates: PathBuf,
    /// (piece WAV, the "alexa" words in it: start and end in seconds).
    pieces: Vec<(PathBuf, Vec<(f64, f64)>)>,
}

/// The pieces of `examples/demo/stream.flac` the tests play (seconds):
/// 15-55 holds all four "alexa"s; 18-27 the first; 27-37 none; 38-55 the
/// other three.
const PIECES: [(f64, f64); 4] = [(15.0, 55.0), (18.0, 27.0), (27.0, 37.0), (38.0, 55.0)];

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo");
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("mic_live");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let templates = dir.join("templates");
        let o = common::wordspot_cli()
            .args(["enroll", "--name", "alexa", "--out"])
            .arg(&templates)
            .args((0..3).map(|i| demo.join(format!("enroll/alexa_{i}.flac"))))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(o.status.success(), "enroll: {}", text(&o));
        let truth: Vec<(f64, f64)> = std::fs::read_to_string(demo.join("stream.tsv"))
            .unwrap()
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let c: Vec<&str> = l.split('\t').collect();
                (c[2].parse().unwrap(), c[3].parse().unwrap())
            })
            .collect();
        assert_eq!(truth.len(), 4);
        let stream = wordspot::audio::read_file(&demo.join("stream.flac")).unwrap();
        let sr = wordspot::SAMPLE_RATE as f64;
        let pieces = PIECES
            .iter()
            .enumerate()
            .map(|(i, &(a, b))| {
                let p = dir.join(format!("piece{i}.wav"));
                let spec = hound::WavSpec {
                    channels: 1,
                    sample_rate: wordspot::SAMPLE_RATE,
                    bits_per_sample: 16,
                    sample_format: hound::SampleFormat::Int,
                };
                let mut w = hound::WavWriter::create(&p, spec).unwrap();
                for &x in &stream[(a * sr) as usize..(b * sr) as usize] {
                    w.write_sample((x.clamp(-1.0, 1.0) * 32767.0) as i16)
                        .unwrap();
                }
                w.finalize().unwrap();
                let words = truth
                    .iter()
                    .filter(|&&(s, e)| s >= a && e <= b)
                    .map(|&(s, e)| (s - a, e - a))
                    .collect();
                (p, words)
            })
            .collect();
        Fixture { templates, pieces }
    })
}

/// Waits for a player and checks it played to the end.
fn played(mut p: Child) {
    let st = p.wait().unwrap();
    assert!(st.success(), "paplay failed: {st}");
}

/// The words of `truth` (shifted by `shift` s) that some event overlaps
/// within `slack` s, and the events that overlap none.
fn score(events: &[Ev], truth: &[(f64, f64)], shift: f64, slack: f64) -> (usize, usize) {
    let near =
        |e: &Ev, &(s, en): &(f64, f64)| e.start < en + shift + slack && s + shift - slack < e.end;
    let found = truth
        .iter()
        .filter(|t| events.iter().any(|e| near(e, t)))
        .count();
    let false_alarms = events
        .iter()
        .filter(|e| !truth.iter().any(|t| near(e, t)))
        .count();
    (found, false_alarms)
}

const START_TIMEOUT: Duration = Duration::from_secs(120);
/// Time for the detector to decide on the last word after playback ends.
const TAIL: Duration = Duration::from_secs(3);

#[test]
fn planted_words_are_heard_at_their_times() {
    let Some(sound) = sound_server("planted_words_are_heard_at_their_times") else {
        return;
    };
    let fx = fixture();
    let (wav, truth) = &fx.pieces[0];

    // The reference: the same piece read as a file.
    let o = common::wordspot_cli()
        .arg("listen")
        .arg("--templates")
        .arg(&fx.templates)
        .arg("--input")
        .arg(wav)
        .args(["--format", "jsonl"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let reference: Vec<Ev> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            Ev {
                start: v["start"].as_f64().unwrap(),
                end: v["end"].as_f64().unwrap(),
            }
        })
        .collect();
    assert_eq!(
        score(&reference, truth, 0.0, 0.0),
        (truth.len(), 0),
        "the file path itself: {reference:?}"
    );

    let mut listen = sound.listen(&fx.templates, &["--stats-every", "0.5"]);
    listen.wait_for("listening for", START_TIMEOUT);
    assert!(
        sound.wait_capturing(Duration::from_secs(10)),
        "{}",
        listen.dump()
    );
    std::thread::sleep(Duration::from_millis(500));
    let t_play = Instant::now();
    played(sound.play(wav));
    std::thread::sleep(TAIL);
    let took = listen.ctrl_c();

    // Where the piece starts in listen's stream: the health lines tell how
    // much audio had been read when each was printed, so when the stream's
    // time 0 was on this clock (a line is read late, never early: the
    // earliest estimate is the best).
    let t0 = listen
        .lines()
        .iter()
        .filter(|l| l.stderr)
        .filter_map(|l| {
            let secs: f64 = l
                .text
                .strip_prefix("stats: audio ")?
                .split(' ')
                .next()?
                .parse()
                .ok()?;
            l.at.checked_sub(Duration::from_secs_f64(secs))
        })
        .min()
        .unwrap_or_else(|| panic!("no health line:\n{}", listen.dump()));
    let shift = if t_play >= t0 {
        t_play.duration_since(t0).as_secs_f64()
    } else {
        -t0.duration_since(t_play).as_secs_f64()
    };
    let events = listen.events();
    let (found, false_alarms) = score(&events, truth, shift, 1.0);
    // Device latency: each live event against the file path's event for
    // the same word.
    let latencies: Vec<f64> = reference
        .iter()
        .filter_map(|r| {
            events
                .iter()
                .map(|e| e.start - r.start - shift)
                .min_by(|a, b| a.abs().total_cmp(&b.abs()))
        })
        .collect();
    let Stopped {
        overruns, reopens, ..
    } = listen.stopped();
    eprintln!(
        "live: {found} of {} words, {false_alarms} false alarm(s); latency per word {latencies:.3?} s; \
         {overruns} overruns, {reopens} re-opens; Ctrl-C took {took:.2?}",
        truth.len()
    );
    assert_eq!(
        found,
        truth.len(),
        "{events:?} (shift {shift:.3}):\n{}",
        listen.dump()
    );
    assert_eq!(false_alarms, 0, "{events:?} (shift {shift:.3})");
    assert_eq!(latencies.len(), reference.len());
    for &l in &latencies {
        assert!(l.abs() <= 0.75, "latency {l:.3} s: {latencies:?}");
    }
    let spread = latencies.iter().cloned().fold(f64::MIN, f64::max)
        - latencies.iter().cloned().fold(f64::MAX, f64::min);
    assert!(
        spread <= 0.25,
        "the words moved against each other by {spread:.3} s (audio lost or repeated?): {latencies:?}"
    );
    assert_eq!(reopens, 0, "{}", listen.dump());
}

#[test]
fn sound_server_killed_and_restarted_mid_stream() {
    let Some(sound) = sound_server("sound_server_killed_and_restarted_mid_stream") else {
        return;
    };
    let fx = fixture();
    let mut listen = sound.listen(&fx.templates, &[]);
    listen.wait_for("listening for", START_TIMEOUT);
    assert!(
        sound.wait_capturing(Duration::from_secs(10)),
        "{}",
        listen.dump()
    );
    // Before: the first word.
    played(sound.play(&fx.pieces[1].0));
    std::thread::sleep(TAIL);
    let before = listen.events().len();
    // Killed while audio flows (paplay dies with it).
    let player = sound.play(&fx.pieces[2].0);
    std::thread::sleep(Duration::from_secs(2));
    let t_kill = Instant::now();
    sound.kill();
    let _ = { player }.wait();
    std::thread::sleep(Duration::from_secs(3));
    sound.start();
    let back = sound.wait_capturing(Duration::from_secs(40));
    let reopened_after = t_kill.elapsed();
    assert!(
        back,
        "listen did not capture again within 40 s of the restart:\n{}",
        listen.dump()
    );
    // After: the other three words.
    let n_before_after = listen.events().len();
    played(sound.play(&fx.pieces[3].0));
    std::thread::sleep(TAIL);
    let took = listen.ctrl_c();
    let events = listen.events();
    let after = events.len() - n_before_after;
    let Stopped {
        overruns, reopens, ..
    } = listen.stopped();
    eprintln!(
        "before the kill {before} detection(s), after the restart {after}; capturing again {reopened_after:.1?} \
         after the kill; {reopens} re-opens, {overruns} overruns; Ctrl-C took {took:.2?}"
    );
    assert_eq!(before, fx.pieces[1].1.len(), "{}", listen.dump());
    assert_eq!(after, fx.pieces[3].1.len(), "{}", listen.dump());
    assert!(reopens >= 1, "{}", listen.dump());
}

#[test]
fn ctrl_c_stops_listen_while_the_sound_server_is_down() {
    let Some(sound) = sound_server("ctrl_c_stops_listen_while_the_sound_server_is_down") else {
        return;
    };
    let fx = fixture();
    for down_for in [Duration::from_millis(300), Duration::from_secs(3)] {
        let mut listen = sound.listen(&fx.templates, &[]);
        listen.wait_for("listening for", START_TIMEOUT);
        assert!(
            sound.wait_capturing(Duration::from_secs(10)),
            "{}",
            listen.dump()
        );
        let player = sound.play(&fx.pieces[2].0);
        std::thread::sleep(Duration::from_secs(1));
        sound.kill();
        let _ = { player }.wait();
        std::thread::sleep(down_for);
        let (st, took) = listen.interrupt(Duration::from_secs(6));
        let st = st.unwrap_or_else(|| {
            panic!(
                "Ctrl-C did not stop listen {down_for:?} after the sound server died:\n{}",
                listen.dump()
            )
        });
        eprintln!("server down for {down_for:?}: Ctrl-C stopped listen in {took:.2?} ({st})");
        listen.assert_no_panic();
        assert!(st.success(), "{st}:\n{}", listen.dump());
        listen.stopped();
        sound.start();
    }
}

#[test]
fn cpu_starvation_counts_overruns_and_is_never_fatal() {
    let Some(sound) = sound_server("cpu_starvation_counts_overruns_and_is_never_fatal") else {
        return;
    };
    let fx = fixture();
    // listen at the lowest priority against busy loops at the normal one,
    // with a 2 s ring.
    let mut c = Command::new("nice");
    c.args(["-n", "19"]).arg(env!("CARGO_BIN_EXE_wordspot"));
    client_env(&mut c, &sound.dir);
    c.arg("listen").arg("--templates").arg(&fx.templates).args([
        "--format",
        "jsonl",
        "--ring-seconds",
        "2",
    ]);
    let mut listen = Listen::spawn(c);
    listen.wait_for("listening for", START_TIMEOUT);
    assert!(
        sound.wait_capturing(Duration::from_secs(10)),
        "{}",
        listen.dump()
    );
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let n_hogs = 4 * cores;
    let mut hogs: Vec<Child> = (0..n_hogs)
        .map(|_| {
            Command::new("sh")
                .args(["-c", "while :; do :; done"])
                .stdin(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let player = sound.play(&fx.pieces[2].0);
    std::thread::sleep(Duration::from_secs(2));
    // The extreme of starvation: no CPU at all for 6 s (SIGSTOP), longer
    // than the ring; the sound server keeps what it can and hands it over
    // in a burst when listen runs again.
    let pid = listen.child.id() as libc::pid_t;
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    std::thread::sleep(Duration::from_secs(6));
    unsafe { libc::kill(pid, libc::SIGCONT) };
    std::thread::sleep(Duration::from_secs(2));
    for h in &mut hogs {
        let _ = h.kill();
        let _ = h.wait();
    }
    // The stress is over: listen gets its normal priority back (root may
    // lower a niceness; elsewhere this fails and it stays at 19), so the
    // recovery checked below does not depend on other load on the machine.
    // SAFETY: setpriority(2) on our own child's pid.
    unsafe { libc::setpriority(libc::PRIO_PROCESS, pid as libc::id_t, 0) };
    let _ = { player }.wait();
    std::thread::sleep(Duration::from_secs(1));
    let n_before = listen.events().len();
    played(sound.play(&fx.pieces[3].0));
    std::thread::sleep(TAIL);
    let took = listen.ctrl_c();
    let after = listen.events().len() - n_before;
    let s = listen.stopped();
    eprintln!(
        "{n_hogs} busy loops for 10 s, listen (nice 19) stopped for 6 s of them: {} overruns ({} frames dropped), \
         {} re-opens; afterwards {after} detection(s); Ctrl-C took {took:.2?}",
        s.overruns, s.dropped_frames, s.reopens
    );
    assert!(s.overruns > 0, "no overrun counted:\n{}", listen.dump());
    assert!(
        s.dropped_frames > 0,
        "no dropped frame counted:\n{}",
        listen.dump()
    );
    // Re-opens are reported, not asserted: on an otherwise idle machine the
    // starved process is recognised as alive (0 re-opens in every run), but
    // with other load the 500 ms of its own running time that confirms a
    // silent device can itself be starved, and one re-open follows (seen
    // with two builds running beside the test). Either way it must go on.
    assert_eq!(after, fx.pieces[3].1.len(), "{}", listen.dump());
}
