//! The review page (`search --report`) driven in headless Chromium (Debian's
//! `chromium`) over the DevTools protocol, spoken on a pipe
//! (`--remote-debugging-pipe`: no port, no driver, no Node): a segment is
//! played, hits are accepted and rejected with the keyboard, the judgements
//! are saved as TSV (checked byte for byte) and fed back to `search
//! --judgements`, and a screenshot is checked for the judged rows' marks.
//! Nothing may touch the network: every request the page makes is checked.
//!
//! Without Chromium the test fails when `CI` is set and is skipped (with a
//! line saying so) otherwise. `WORDSPOT_CHROMIUM` names another binary.

mod common;

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::os::fd::FromRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use wordspot::audio::write_wav;
use wordspot::export::ms;

/// The Chromium binary, or `None` after printing why the test is skipped
/// (panics instead when `CI` is set).
fn chromium() -> Option<PathBuf> {
    let found = match std::env::var_os("WORDSPOT_CHROMIUM") {
        Some(p) => Some(PathBuf::from(p)),
        None => ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file()),
    };
    match found {
        Some(p) if p.is_file() => Some(p),
        _ => {
            let why = "Chromium not found (apt-get install chromium, or set WORDSPOT_CHROMIUM)";
            assert!(std::env::var_os("CI").is_none(), "{why}; CI is set");
            eprintln!("skipping: {why}");
            None
        }
    }
}

/// `../shared/data`, required when `CI` is set.
fn data() -> Option<PathBuf> {
    let d = common::shared_data();
    assert!(
        d.is_some() || std::env::var_os("CI").is_none(),
        "the shared data is missing and CI is set"
    );
    d
}

const TIMEOUT: Duration = Duration::from_secs(30);

/// A headless Chromium spoken to over `--remote-debugging-pipe` (fd 3:
/// commands in, fd 4: replies and events out, each message a JSON text
/// ended by a NUL byte), attached to its one page.
struct Browser {
    child: Child,
    to: File,
    from: Receiver<Value>,
    events: VecDeque<Value>,
    next_id: u64,
    session: String,
    log: PathBuf,
    _profile: tempfile::TempDir,
}

fn pipe() -> (i32, i32) {
    let mut fds = [0i32; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(r, 0, "pipe2: {}", std::io::Error::last_os_error());
    (fds[0], fds[1])
}

impl Browser {
    fn launch(exe: &Path, width: u32, height: u32) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let log = profile.path().join("chromium.log");
        let (cmd_r, cmd_w) = pipe();
        let (ev_r, ev_w) = pipe();
        let mut c = Command::new(exe);
        c.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-dev-shm-usage",
            "--disable-default-apps",
            "--no-default-browser-check",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--autoplay-policy=no-user-gesture-required",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--remote-debugging-pipe",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--window-size={width},{height}"))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&log).unwrap());
        // SAFETY: only async-signal-safe calls (fcntl, dup2) between fork and
        // exec. The pipe ends are first copied above fd 10 so that placing
        // one on 3 cannot close the other; dup2 clears close-on-exec on 3, 4.
        unsafe {
            c.pre_exec(move || {
                let r = libc::fcntl(cmd_r, libc::F_DUPFD_CLOEXEC, 10);
                let w = libc::fcntl(ev_w, libc::F_DUPFD_CLOEXEC, 10);
                if r < 0 || w < 0 || libc::dup2(r, 3) < 0 || libc::dup2(w, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = c
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
        // SAFETY: each descriptor is open, ours, and owned by one File only.
        let (to, from_file) = unsafe {
            drop(File::from_raw_fd(cmd_r));
            drop(File::from_raw_fd(ev_w));
            (File::from_raw_fd(cmd_w), File::from_raw_fd(ev_r))
        };
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(from_file);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match r.read_until(0, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if buf.last() == Some(&0) {
                            buf.pop();
                        }
                        let Ok(v) = serde_json::from_slice::<Value>(&buf) else {
                            break;
                        };
                        if tx.send(v).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        let mut b = Browser {
            child,
            to,
            from: rx,
            events: VecDeque::new(),
            next_id: 0,
            session: String::new(),
            log,
            _profile: profile,
        };
        let targets = b.call("Target.getTargets", json!({}));
        let page = targets["targetInfos"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["type"] == "page"))
            .unwrap_or_else(|| panic!("no page target: {targets}"))["targetId"]
            .clone();
        let s = b.call(
            "Target.attachToTarget",
            json!({"targetId": page, "flatten": true}),
        );
        b.session = s["sessionId"].as_str().unwrap().to_string();
        b
    }

    fn log_tail(&self) -> String {
        let l = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = l.lines().filter(|l| !l.contains("dbus")).collect();
        lines[lines.len().saturating_sub(10)..].join("\n")
    }

    fn recv(&mut self, deadline: Instant) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.from.recv_timeout(left) {
            Ok(v) => v,
            Err(e) => panic!(
                "no message from Chromium ({e}); its log:\n{}",
                self.log_tail()
            ),
        }
    }

    fn send(&mut self, method: &str, params: Value, session: bool) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut m = json!({"id": id, "method": method, "params": params});
        if session {
            m["sessionId"] = json!(self.session);
        }
        let mut bytes = serde_json::to_vec(&m).unwrap();
        bytes.push(0);
        if let Err(e) = self.to.write_all(&bytes) {
            panic!(
                "{method}: cannot write to Chromium ({e}); its log:\n{}",
                self.log_tail()
            );
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let v = self.recv(deadline);
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method}: {}", v["error"]);
                return v["result"].clone();
            }
            self.events.push_back(v);
        }
    }

    /// A browser-level command.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.send(method, params, false)
    }

    /// A command to the page.
    fn page(&mut self, method: &str, params: Value) -> Value {
        self.send(method, params, true)
    }

    /// Waits for the next event `name` for which `pick` holds.
    fn event(&mut self, name: &str, pick: &dyn Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(i) = self
                .events
                .iter()
                .position(|e| e["method"] == name && pick(&e["params"]))
            {
                return self.events.remove(i).unwrap();
            }
            let v = self.recv(deadline);
            self.events.push_back(v);
        }
    }

    /// Evaluates `expr` in the page (awaiting a promise) and returns its value.
    fn eval(&mut self, expr: &str) -> Value {
        let r = self.page(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expr}: {r}");
        r["result"]["value"].clone()
    }

    /// Presses and releases a key, as typed on a keyboard.
    fn key(&mut self, key: &str, code: &str, vk: u32) {
        let text = if key.chars().count() == 1 { key } else { "" };
        self.page(
            "Input.dispatchKeyEvent",
            json!({"type": "keyDown", "key": key, "code": code,
                   "windowsVirtualKeyCode": vk, "text": text}),
        );
        self.page(
            "Input.dispatchKeyEvent",
            json!({"type": "keyUp", "key": key, "code": code, "windowsVirtualKeyCode": vk}),
        );
    }

    /// Every URL the page requested so far (Network domain events).
    fn requested_urls(&mut self) -> Vec<String> {
        // Drain what is already sent without waiting.
        while let Ok(v) = self.from.try_recv() {
            self.events.push_back(v);
        }
        self.events
            .iter()
            .filter(|e| e["method"] == "Network.requestWillBeSent")
            .map(|e| {
                e["params"]["request"]["url"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Standard base64 decoding (the screenshot).
fn unbase64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("bad base64 byte {c}"),
    };
    let b: Vec<u8> = s.bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::with_capacity(b.len() * 3 / 4);
    for c in b.chunks(4) {
        let n = c
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &x)| n | (val(x) as u32) << (18 - 6 * i));
        out.extend_from_slice(&n.to_be_bytes()[1..c.len()]);
    }
    out
}

/// An RGB screenshot.
struct Image {
    w: usize,
    h: usize,
    rgb: Vec<[u8; 3]>,
}

fn decode_png(bytes: Vec<u8>) -> Image {
    let mut d = png::Decoder::new(std::io::Cursor::new(bytes));
    d.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut r = d.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    let ch = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        t => panic!("unexpected screenshot colour type {t:?}"),
    };
    let (w, h) = (info.width as usize, info.height as usize);
    let mut rgb = Vec::with_capacity(w * h);
    for y in 0..h {
        let row = &buf[y * info.line_size..y * info.line_size + w * ch];
        rgb.extend(row.chunks(ch).map(|p| [p[0], p[1], p[2]]));
    }
    Image { w, h, rgb }
}

impl Image {
    /// Pixels inside the CSS-pixel rectangle `[x, y, w, h]` satisfying `f`.
    fn count(&self, rect: &Value, f: impl Fn([u8; 3]) -> bool) -> usize {
        let v = |i: usize| rect[i].as_f64().unwrap();
        let (x0, y0) = (v(0).max(0.0) as usize, v(1).max(0.0) as usize);
        let x1 = ((v(0) + v(2)).ceil() as usize).min(self.w);
        let y1 = ((v(1) + v(3)).ceil() as usize).min(self.h);
        (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .filter(|&(x, y)| f(self.rgb[y * self.w + x]))
            .count()
    }
}

/// "accept" text is #080; "reject" #c00 at 60 % opacity on white.
fn greenish(p: [u8; 3]) -> bool {
    p[1] > 90 && p[0] < 90 && p[2] < 90
}
fn reddish(p: [u8; 3]) -> bool {
    p[0] > 150 && p[0] as i32 - p[1] as i32 > 60 && p[0] as i32 - p[2] as i32 > 60
}
/// The current row's outline, #36c.
fn bluish(p: [u8; 3]) -> bool {
    p[2] > 160 && p[0] < 110 && p[2] as i32 - p[0] as i32 > 90
}

#[test]
fn review_page_in_headless_chromium_plays_judges_saves_and_shows_the_rows() {
    let Some(exe) = chromium() else {
        return;
    };
    let Some(data) = data() else {
        return;
    };
    let t0 = Instant::now();
    // Six recordings of two digits each, by george; three hold a "seven"
    // (other takes than the query's). MFCC: quick.
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    fs::create_dir(&corpus).unwrap();
    for i in 0..6u32 {
        let d = if i < 3 { 7 } else { 3 };
        let clips = [
            common::fsdd(&data, 0, "george", 20 + i),
            common::fsdd(&data, d, "george", 10 + i),
        ];
        let (x, _) = common::concat(&clips, 0.3);
        write_wav(&corpus.join(format!("rec_{i}.wav")), &x).unwrap();
    }
    let query = data.join("fsdd/7_george_5.wav");
    let page = dir.path().join("hits.html");
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let base = [
        "search",
        "--query",
        &s(&query),
        "--word",
        "seven",
        "--frontend",
        "mfcc",
        "--no-cache",
        "--format",
        "jsonl",
    ]
    .map(String::from);
    let mut args = base.to_vec();
    args.extend(["--report".into(), s(&page), s(&corpus)]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let hits: Vec<Value> = common::wordspot_ok(&argv)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(hits.len(), 6, "one hit per recording");

    let (width, height) = (1100, 800);
    let mut b = Browser::launch(&exe, width, height);
    let downloads = dir.path().join("downloads");
    fs::create_dir(&downloads).unwrap();
    b.call(
        "Browser.setDownloadBehavior",
        json!({"behavior": "allow", "downloadPath": s(&downloads), "eventsEnabled": true}),
    );
    b.page(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
    );
    b.page("Network.enable", json!({}));
    b.page("Page.enable", json!({}));
    let url = format!("file://{}", s(&page));
    b.page("Page.navigate", json!({ "url": url }));
    b.event("Page.loadEventFired", &|_| true);

    // The rows are the printed hits, best first.
    let rows = b.eval(
        "Array.from(document.querySelectorAll('tbody tr')).map(r => [r.dataset.word, r.dataset.file, \
         r.dataset.start, r.dataset.end, r.dataset.distance, !!r.querySelector('audio')])",
    );
    let want: Vec<Value> = hits
        .iter()
        .map(|h| {
            let t = |k: &str| format!("{:.3}", ms(h[k].as_f64().unwrap()) as f64 / 1000.0);
            json!([
                h["word"],
                h["file"],
                t("start"),
                t("end"),
                format!("{:.4}", h["distance"].as_f64().unwrap() as f32),
                true
            ])
        })
        .collect();
    assert_eq!(rows, Value::Array(want.clone()));

    // Space plays the current (first) row's segment from its start.
    b.key(" ", "Space", 32);
    let played = b.eval(
        "new Promise(done => { const a = document.querySelector('tr.cur audio'); \
         const t0 = performance.now(); (function poll() { \
         if (a.currentTime > 0.1 || performance.now() - t0 > 5000) \
         done([a.paused, a.currentTime, a.duration, a.readyState]); \
         else setTimeout(poll, 20); })(); })",
    );
    assert_eq!(played[0], false, "the clip plays: {played}");
    assert!(played[1].as_f64().unwrap() > 0.1, "{played}");
    let dur = played[2].as_f64().unwrap();
    let h0 = &hits[0];
    let (hs, he) = (h0["start"].as_f64().unwrap(), h0["end"].as_f64().unwrap());
    let clip = (he + 0.3).min(1e9) - (hs - 0.3).max(0.0);
    assert!(
        (dur - clip).abs() < 0.35 && dur <= 4.0 + 1e-3,
        "clip of {dur} s for a hit of {:.2} s: {played}",
        he - hs
    );

    // a: accept 1 (stops it, moves on); r: reject 2; j: skip 3; r: reject 4;
    // k k: back to 3; a: accept 3; k: back to 3; u: clear 3. Then save.
    for (k, code, vk) in [
        ("a", "KeyA", 65),
        ("r", "KeyR", 82),
        ("j", "KeyJ", 74),
        ("r", "KeyR", 82),
        ("k", "KeyK", 75),
        ("k", "KeyK", 75),
        ("a", "KeyA", 65),
        ("ArrowUp", "ArrowUp", 38),
        ("u", "KeyU", 85),
    ] {
        b.key(k, code, vk);
    }
    let state = b.eval(
        "[Array.from(document.querySelectorAll('tbody tr')).map(r => \
         [r.classList.contains('cur'), r.querySelector('td.j').textContent, \
         r.querySelector('audio').paused]), document.getElementById('counts').textContent]",
    );
    let marks = ["accept", "reject", "", "reject", "", ""];
    let expect: Vec<Value> = (0..6).map(|i| json!([i == 2, marks[i], true])).collect();
    assert_eq!(
        state,
        json!([expect, "1 accepted, 2 rejected, 3 not judged"])
    );
    b.key("s", "KeyS", 83);
    b.event("Browser.downloadProgress", &|p| p["state"] == "completed");
    let saved = downloads.join("judgements.tsv");
    let tsv = fs::read_to_string(&saved).unwrap();
    let mut want_tsv = String::from("word\tfile\tstart\tend\tdistance\tjudgement\n");
    for (i, m) in marks.iter().enumerate().filter(|(_, m)| !m.is_empty()) {
        let r = want[i].as_array().unwrap();
        let f: Vec<&str> = r[..5].iter().map(|v| v.as_str().unwrap()).collect();
        want_tsv += &format!("{}\t{m}\n", f.join("\t"));
    }
    assert_eq!(tsv, want_tsv);

    // The screenshot shows the marks in the judged rows, none in the others,
    // and the outline of the current row.
    let boxes = b.eval(
        "Array.from(document.querySelectorAll('tbody tr')).map(r => { \
         const c = r.querySelector('td.j').getBoundingClientRect(); \
         const o = r.getBoundingClientRect(); \
         return [[c.x, c.y, c.width, c.height], [o.x - 3, o.y - 3, o.width + 6, o.height + 6], \
         [o.x, o.y + 3, o.width, o.height - 6]]; })",
    );
    let shot = b.page("Page.captureScreenshot", json!({"format": "png"}));
    let img = decode_png(unbase64(shot["data"].as_str().unwrap()));
    assert_eq!((img.w, img.h), (width as usize, height as usize));
    let white = img
        .rgb
        .iter()
        .filter(|p| p.iter().all(|&c| c > 245))
        .count();
    let inked = img.rgb.len() - white;
    assert!(
        inked > img.rgb.len() / 100,
        "blank screenshot ({inked} non-white pixels)"
    );
    for (i, m) in marks.iter().enumerate() {
        let cell = &boxes[i][0];
        let (g, r) = (img.count(cell, greenish), img.count(cell, reddish));
        match *m {
            "accept" => assert!(g > 20 && r == 0, "row {}: green {g}, red {r}", i + 1),
            "reject" => assert!(r > 20 && g == 0, "row {}: green {g}, red {r}", i + 1),
            _ => assert!(g == 0 && r == 0, "row {}: green {g}, red {r}", i + 1),
        }
        if i == 2 {
            let outline = img.count(&boxes[i][1], bluish);
            assert!(outline > 200, "current row outline: {outline} px");
        } else {
            let inside = img.count(&boxes[i][2], bluish);
            assert!(inside < 20, "row {}: {inside} blue px", i + 1);
        }
    }
    // Kept for a look: target/tmp/review_page.png.
    let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join("review_page.png");
    fs::write(&keep, unbase64(shot["data"].as_str().unwrap())).unwrap();

    // Nothing but the page itself and its embedded data was requested.
    let urls = b.requested_urls();
    assert!(!urls.is_empty());
    for u in &urls {
        assert!(
            ["file:", "data:", "blob:", "about:"]
                .iter()
                .any(|s| u.starts_with(s)),
            "network request: {u}"
        );
    }
    b.call("Browser.close", json!({}));
    drop(b);

    // Fed back, the saved judgements drop the two rejected hits.
    let mut args = base.to_vec();
    args.extend(["--judgements".into(), s(&saved), s(&corpus)]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let kept: Vec<(Value, Value)> = common::wordspot_ok(&argv)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|h| (h["file"].clone(), h["start"].clone()))
        .collect();
    let expected: Vec<(Value, Value)> = hits
        .iter()
        .enumerate()
        .filter(|(i, _)| marks[*i] != "reject")
        .map(|(_, h)| (h["file"].clone(), h["start"].clone()))
        .collect();
    assert_eq!(kept, expected);
    eprintln!(
        "review page checked in Chromium in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
}
