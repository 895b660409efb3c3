//! The review page: one self-contained HTML file to listen to hits and judge
//! them.
//!
//! Hits are listed best first (lowest distance), each with a player for its
//! audio segment plus a little context (embedded as a 16 kHz 16-bit WAV data
//! URI: no network, no server), its word, recording, times and distance.
//! Keyboard: `Space`/`p` play, `j`/`↓` next, `k`/`↑` previous, `a` accept,
//! `r` reject (both move on), `u` clear, `s` save. "Save judgements" downloads
//! a TSV (`word, file, start, end, distance, judgement`) that
//! `search --judgements` reads back to drop rejected hits from an export.
//!
//! Size is bounded: at most [`ReportOptions::max_hits`] hits, each clip at
//! most [`ReportOptions::max_clip_s`] seconds (about 32 kB per second of
//! audio, 43 kB once base64-encoded).

use std::fmt::Write as _;
use std::path::Path;

use crate::audio;
use crate::export::{ms, write_atomic};
use crate::search::WordHit;
use crate::{Result, SAMPLE_RATE};

/// Settings of the review page.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReportOptions {
    /// Audio kept before and after each hit, seconds.
    pub context_s: f64,
    /// Longest clip, seconds (context included; longer hits are cut).
    pub max_clip_s: f64,
    /// Most hits on the page (the best ones).
    pub max_hits: usize,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            context_s: 0.3,
            max_clip_s: 4.0,
            max_hits: 500,
        }
    }
}

/// What went onto the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportSummary {
    /// Hits on the page.
    pub hits: usize,
    /// Hits left out (over `max_hits`).
    pub left_out: usize,
    /// Hits whose audio could not be read (listed without a player).
    pub without_audio: usize,
    /// Page size in bytes.
    pub bytes: usize,
}

/// Standard base64 (RFC 4648, with padding).
pub fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut o = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = ((c[0] as u32) << 16)
            | ((*c.get(1).unwrap_or(&0) as u32) << 8)
            | (*c.get(2).unwrap_or(&0) as u32);
        o.push(T[(n >> 18) as usize & 63] as char);
        o.push(T[(n >> 12) as usize & 63] as char);
        o.push(if c.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        o.push(if c.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    o
}

/// 16 kHz mono 16-bit PCM WAV bytes of `samples`.
pub fn wav_bytes(samples: &[f32]) -> Vec<u8> {
    wav_bytes_at(samples, SAMPLE_RATE)
}

/// Mono 16-bit PCM WAV bytes of `samples` at `rate` Hz.
fn wav_bytes_at(samples: &[f32], rate: u32) -> Vec<u8> {
    let data = (samples.len() * 2) as u32;
    let mut b = Vec::with_capacity(44 + data as usize);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * 2).to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data.to_le_bytes());
    for &s in samples {
        let v = if s.is_finite() {
            (s.clamp(-1.0, 1.0) * 32_767.0).round() as i16
        } else {
            0
        };
        b.extend_from_slice(&v.to_le_bytes());
    }
    b
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `[a, b)` seconds of a WAV file at 16 kHz mono, read by seeking to `a`
/// (nothing before it is decoded: a hit an hour into a recording costs what
/// one at its start does); `None` when the file is
/// not a WAV that hound reads, or the range is empty. The frames (plus 50 ms
/// either side when the rate is not 16 kHz, for the resampler) are mixed to
/// mono and converted by the decoder every other read uses.
fn wav_segment(path: &Path, a: f64, b: f64) -> Option<Vec<f32>> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    if ext != "wav" && ext != "wave" {
        return None;
    }
    let mut r = hound::WavReader::open(path).ok()?;
    let spec = r.spec();
    let (rate, ch) = (spec.sample_rate, spec.channels as usize);
    if rate == 0 || ch == 0 {
        return None;
    }
    let total = r.duration();
    let b = b.min(total as f64 / rate as f64);
    let pad = if rate == SAMPLE_RATE { 0.0 } else { 0.05 };
    // Start on an instant that is a whole number of samples at both rates,
    // so the resampled clip lies on the whole file's 16 kHz grid.
    let grid = gcd(rate, SAMPLE_RATE) as f64;
    let step = (rate as f64 / grid).round() as u32;
    let first = ((((a - pad).max(0.0) * grid).floor() as u32).saturating_mul(step)).min(total);
    let last = (((b + pad) * rate as f64).ceil() as u32).min(total);
    if b <= a || last <= first {
        return None;
    }
    r.seek(first).ok()?;
    let n = (last - first) as usize * ch;
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => r
            .samples::<f32>()
            .take(n)
            .collect::<std::result::Result<_, _>>()
            .ok()?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            r.samples::<i32>()
                .take(n)
                .map(|x| x.map(|v| v as f32 * scale))
                .collect::<std::result::Result<_, _>>()
                .ok()?
        }
    };
    let mono: Vec<f32> = interleaved
        .chunks_exact(ch)
        .map(|f| f.iter().sum::<f32>() / ch as f32)
        .collect();
    let at16 = if rate == SAMPLE_RATE {
        mono
    } else {
        audio::decode_bytes(&wav_bytes_at(&mono, rate), "clip.wav").ok()?
    };
    let sr = SAMPLE_RATE as f64;
    let off = ((a - first as f64 / rate as f64) * sr).round().max(0.0) as usize;
    let len = ((b - a) * sr).round() as usize;
    let end = (off + len).min(at16.len());
    (end > off).then(|| at16[off..end].to_vec())
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The clip of a hit: `[start - context, end + context]` within the audio,
/// at most `max_clip_s` long; `None` when the audio cannot be read. A WAV is
/// read by seeking ([`wav_segment`]); other formats are decoded from the
/// start up to the clip.
fn clip(h: &WordHit, o: &ReportOptions) -> Option<(f64, Vec<f32>)> {
    let a = (h.start - o.context_s).max(0.0);
    let mut b = (h.end + o.context_s).min(a + o.max_clip_s);
    if let Some(s) = wav_segment(&h.file, a, b) {
        return Some((a, s));
    }
    if let Some(d) = audio::FileSource::open(&h.file)
        .ok()
        .and_then(|s| s.duration())
    {
        b = b.min(d);
    }
    if b <= a {
        return None;
    }
    match audio::read_segment(&h.file, a, b) {
        Ok(s) => Some((a, s)),
        // The header's duration can be off by a frame: read to the end.
        Err(_) => {
            let all = audio::read_file(&h.file).ok()?;
            let sr = SAMPLE_RATE as f64;
            let (i, j) = ((a * sr) as usize, ((b * sr) as usize).min(all.len()));
            (j > i).then(|| (a, all[i..j].to_vec()))
        }
    }
}

/// Writes the review page for `hits` to `path`.
pub fn write_report(path: &Path, hits: &[WordHit], o: &ReportOptions) -> Result<ReportSummary> {
    let mut sorted: Vec<&WordHit> = hits.iter().collect();
    sorted.sort_by(|a, b| {
        a.distance
            .total_cmp(&b.distance)
            .then_with(|| a.file.cmp(&b.file))
            .then(a.start.total_cmp(&b.start))
    });
    let left_out = sorted.len().saturating_sub(o.max_hits);
    sorted.truncate(o.max_hits);
    let mut rows = String::new();
    let mut without_audio = 0;
    for (i, h) in sorted.iter().enumerate() {
        let file = h.file.display().to_string();
        let (start, end) = (ms(h.start) as f64 / 1000.0, ms(h.end) as f64 / 1000.0);
        let player = match clip(h, o) {
            Some((at, s)) => format!(
                "<audio preload=\"auto\" controls data-offset=\"{:.3}\" src=\"data:audio/wav;base64,{}\"></audio>",
                h.start - at,
                base64(&wav_bytes(&s))
            ),
            None => {
                without_audio += 1;
                "<span class=\"na\">audio unavailable</span>".to_string()
            }
        };
        let _ = writeln!(
            rows,
            "<tr data-i=\"{i}\" data-word=\"{w}\" data-file=\"{f}\" data-start=\"{start:.3}\" data-end=\"{end:.3}\" data-distance=\"{d:.4}\"><td>{n}</td><td class=\"w\">{w}</td><td>{d:.4}</td><td>{start:.3}–{end:.3}</td><td class=\"f\">{f}</td><td>{player}</td><td class=\"j\"></td></tr>",
            w = html_escape(&h.word),
            f = html_escape(&file),
            d = h.distance,
            n = i + 1,
        );
    }
    let note = if left_out > 0 {
        format!(
            "<p class=\"note\">The {} best hits are shown; {left_out} more were left out (raise the limit or tighten --max-distance).</p>",
            sorted.len()
        )
    } else {
        String::new()
    };
    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>wordspot hits</title>\n<style>{CSS}</style></head>\n<body>\n<h1>wordspot: {n} hits</h1>\n<p class=\"keys\">Keys: <b>Space</b>/<b>p</b> play · <b>j</b>/<b>↓</b> next · <b>k</b>/<b>↑</b> previous · <b>a</b> accept · <b>r</b> reject · <b>u</b> clear · <b>s</b> save</p>\n{note}<p><button id=\"save\">Save judgements (TSV)</button> <span id=\"counts\"></span></p>\n<table><thead><tr><th>#</th><th>word</th><th>distance</th><th>time (s)</th><th>recording</th><th>listen</th><th>judgement</th></tr></thead><tbody>\n{rows}</tbody></table>\n<script>{JS}</script>\n</body></html>\n",
        n = sorted.len()
    );
    write_atomic(path, page.as_bytes())?;
    Ok(ReportSummary {
        hits: sorted.len(),
        left_out,
        without_audio,
        bytes: page.len(),
    })
}

const CSS: &str = "body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}tr.cur{outline:2px solid #36c}tr.accept td.j{color:#080;font-weight:bold}tr.reject td.j{color:#c00;font-weight:bold}tr.reject{opacity:.6}td.f{font-size:80%;color:#555}audio{height:28px}.keys,.note{color:#444}";

const JS: &str = r#"
const rows = Array.from(document.querySelectorAll('tbody tr'));
let cur = 0;
const judged = {};
function show() {
  rows.forEach((r, i) => {
    r.classList.toggle('cur', i === cur);
    const j = judged[i] || '';
    r.classList.toggle('accept', j === 'accept');
    r.classList.toggle('reject', j === 'reject');
    r.querySelector('td.j').textContent = j;
  });
  const v = Object.values(judged);
  document.getElementById('counts').textContent =
    v.filter(x => x === 'accept').length + ' accepted, ' +
    v.filter(x => x === 'reject').length + ' rejected, ' +
    (rows.length - v.length) + ' not judged';
}
function go(i) {
  if (rows.length === 0) return;
  const a = rows[cur] && rows[cur].querySelector('audio');
  if (a) a.pause();
  cur = Math.max(0, Math.min(rows.length - 1, i));
  rows[cur].scrollIntoView({block: 'nearest'});
  show();
}
function play() {
  const a = rows[cur] && rows[cur].querySelector('audio');
  if (!a) return;
  if (a.paused) { a.currentTime = 0; a.play(); } else { a.pause(); }
}
function judge(j) {
  if (rows.length === 0) return;
  if (j) judged[cur] = j; else delete judged[cur];
  if (j) go(cur + 1); else show();
}
function tsv() {
  let t = 'word\tfile\tstart\tend\tdistance\tjudgement\n';
  rows.forEach((r, i) => {
    if (!judged[i]) return;
    const d = r.dataset;
    t += [d.word, d.file, d.start, d.end, d.distance, judged[i]].join('\t') + '\n';
  });
  return t;
}
function save() {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([tsv()], {type: 'text/tab-separated-values'}));
  a.download = 'judgements.tsv';
  document.body.appendChild(a);
  a.click();
  a.remove();
}
document.getElementById('save').addEventListener('click', save);
rows.forEach((r, i) => r.addEventListener('click', () => go(i)));
document.addEventListener('keydown', e => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const k = e.key;
  if (k === ' ' || k === 'p') play();
  else if (k === 'j' || k === 'ArrowDown') go(cur + 1);
  else if (k === 'k' || k === 'ArrowUp') go(cur - 1);
  else if (k === 'a') judge('accept');
  else if (k === 'r') judge('reject');
  else if (k === 'u') judge(null);
  else if (k === 's') save();
  else return;
  e.preventDefault();
});
show();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn seeking_a_wav_gives_the_decoded_segment() {
        let d = tempfile::tempdir().unwrap();
        // 16 kHz mono (written by the project) and 44.1 kHz stereo 24-bit.
        let x: Vec<f32> = (0..16_000 * 3)
            .map(|i| 0.5 * (i as f32 * 0.013).sin() * (i as f32 * 0.0007).cos())
            .collect();
        let p16 = d.path().join("a.wav");
        audio::write_wav(&p16, &x).unwrap();
        let p44 = d.path().join("b.WAV");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 44_100,
            bits_per_sample: 24,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&p44, spec).unwrap();
        for i in 0..44_100 * 3 {
            let t = i as f64 / 44_100.0;
            let v = 0.4 * (2.0 * std::f64::consts::PI * 440.0 * t).sin();
            w.write_sample((v * 8_388_607.0) as i32).unwrap();
            w.write_sample((v * 0.5 * 8_388_607.0) as i32).unwrap();
        }
        w.finalize().unwrap();
        for (p, tol) in [(&p16, 1e-4f32), (&p44, 2e-3)] {
            for (a, b) in [(0.0, 0.7), (1.2345, 2.1), (2.5, 3.0)] {
                let want = audio::read_segment(p, a, b).unwrap();
                let got = wav_segment(p, a, b).unwrap();
                assert!(got.len().abs_diff(want.len()) <= 1, "{p:?} {a}-{b}");
                let n = got.len().min(want.len());
                let err = got[..n]
                    .iter()
                    .zip(&want[..n])
                    .map(|(g, w)| (g - w).abs())
                    .fold(0f32, f32::max);
                assert!(err <= tol, "{p:?} {a}-{b}: max error {err}");
            }
            // Past the end: cut at the end; wholly past it: nothing.
            assert!(wav_segment(p, 2.9, 3.5).unwrap().len().abs_diff(1600) <= 1);
            assert!(wav_segment(p, 3.5, 4.0).is_none());
        }
        let flac = d.path().join("c.flac");
        std::fs::write(&flac, b"x").unwrap();
        assert!(wav_segment(&flac, 0.0, 1.0).is_none());
    }

    #[test]
    fn wav_header_is_readable() {
        let b = wav_bytes(&[0.0, 0.5, -0.5, f32::NAN]);
        let r = hound::WavReader::new(std::io::Cursor::new(b)).unwrap();
        assert_eq!(r.spec().sample_rate, SAMPLE_RATE);
        let s: Vec<i16> = r.into_samples::<i16>().map(|x| x.unwrap()).collect();
        assert_eq!(s, vec![0, 16384, -16384, 0]);
    }
}
