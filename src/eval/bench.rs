//! A reproducible cross-speaker detection benchmark built from the shared
//! speech data (`/work/shared/data`, see its README).
//!
//! [`build`] writes into an output folder:
//!
//! * `streams/stream_K.wav` (16 kHz mono) and `streams/labels.tsv` (the
//!   `wordspot eval stream` labels format, file names relative to it);
//! * `enroll/KEYWORD/take_N.wav`: 3 takes per keyword;
//! * `calibration/cal_K.wav`: keyword-free audio made of clips used in no stream;
//! * `bench.json`: the spec, keywords, per-stream durations and occurrences
//!   (with each occurrence's source clip), and the sources of every part.
//!
//! Keywords: `alexa` and `computer` (wake-word clips, no speaker ids: enroll
//! clips are disjoint from planted clips), `nine` (Speech Commands: enroll
//! speakers, by hash, are in no stream) and `seven` (FSDD: one speaker enrolls,
//! the other three are planted and their other digits are background).
//! Background speech: the Spanish clips, Speech Commands `right`/`zero` and
//! FSDD non-keyword digits; each background source is split by clip into a
//! stream pool and a disjoint calibration pool. Planted words are trimmed
//! with an energy VAD ([`crate::templates::voiced_span`]) and labelled with
//! their voiced extent; each keyword clip is planted at most once. Planted
//! words come isolated in low-noise silence, right next to other speech
//! (gap 0–0.3 s), mixed over quieter speech, or in synthetic noise; the
//! stream also holds stretches of white/pink/brown noise and near-silence.
//! Everything is determined by [`BenchSpec::seed`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::analysis::Rng;
use crate::audio::{read_file, write_wav};
use crate::templates::voiced_span;
use crate::{Error, Result, SAMPLE_RATE};

const SR: f64 = SAMPLE_RATE as f64;

/// What to build.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchSpec {
    /// Seed of every random choice.
    pub seed: u64,
    /// Minutes per stream.
    pub stream_minutes: f64,
    /// Number of streams.
    pub n_streams: usize,
    /// Planted occurrences of each keyword per stream.
    pub occurrences_per_keyword: usize,
    /// Minutes of calibration (keyword-free) audio.
    pub calibration_minutes: f64,
    /// Minutes per calibration file.
    pub calibration_file_minutes: f64,
    /// Share of each background source's clips kept for calibration (the rest feeds the streams).
    pub calibration_share: f64,
    /// Peak level range of planted words, dBFS `(low, high)`.
    pub keyword_peak_dbfs: (f64, f64),
    /// The FSDD digit used as a keyword (0–9).
    pub fsdd_digit: u32,
}

impl BenchSpec {
    /// A few minutes of audio, for CI (`cargo test`).
    pub fn small() -> Self {
        BenchSpec {
            seed: 12,
            stream_minutes: 3.0,
            n_streams: 1,
            occurrences_per_keyword: 6,
            calibration_minutes: 2.0,
            calibration_file_minutes: 1.0,
            calibration_share: 0.3,
            keyword_peak_dbfs: (-26.0, -6.0),
            fsdd_digit: 7,
        }
    }
    /// Two 30-minute streams, 20 occurrences of each keyword per stream (Speech
    /// Commands holds only ~45 "nine" clips by non-enrollment speakers).
    pub fn full() -> Self {
        BenchSpec {
            stream_minutes: 30.0,
            n_streams: 2,
            occurrences_per_keyword: 20,
            calibration_minutes: 12.0,
            calibration_file_minutes: 3.0,
            ..Self::small()
        }
    }
}

/// One labelled (planted) occurrence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Planted {
    /// Keyword.
    pub keyword: String,
    /// Start of the voiced part, seconds.
    pub start: f64,
    /// End of the voiced part, seconds.
    pub end: f64,
    /// Source clip, relative to the data folder.
    pub source: String,
    /// Peak level, dBFS.
    pub peak_dbfs: f64,
    /// `isolated`, `adjacent`, `over_speech` or `in_noise`.
    pub context: String,
}

/// One built stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamInfo {
    /// The WAV file.
    pub file: PathBuf,
    /// Duration, seconds.
    pub seconds: f64,
    /// Planted occurrences, by start.
    pub occurrences: Vec<Planted>,
}

/// What [`build`] wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchLayout {
    /// The output folder.
    pub out_dir: PathBuf,
    /// The spec it was built from.
    pub spec: BenchSpec,
    /// Keywords, sorted.
    pub keywords: Vec<String>,
    /// The streams.
    pub streams: Vec<StreamInfo>,
    /// `streams/labels.tsv`.
    pub labels: PathBuf,
    /// Enrollment takes per keyword: (written file, source clip).
    pub enroll: BTreeMap<String, Vec<(PathBuf, String)>>,
    /// Calibration files.
    pub calibration: Vec<PathBuf>,
    /// Seconds of calibration audio.
    pub calibration_seconds: f64,
    /// Source clips of the calibration audio.
    pub calibration_sources: Vec<String>,
    /// Source clips of the streams' background speech.
    pub stream_background_sources: Vec<String>,
    /// `bench.json`.
    pub manifest: PathBuf,
}

/// A keyword's clips: enrollment (3) and the pool to plant from.
struct KeywordPool {
    name: String,
    enroll: Vec<String>,
    plant: Vec<String>,
}

fn list(dir: &Path, ext: &str) -> Result<Vec<String>> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .filter(|n| n.ends_with(ext))
        .collect();
    v.sort();
    Ok(v)
}

fn shuffle<T>(rng: &mut Rng, v: &mut [T]) {
    for i in (1..v.len()).rev() {
        let j = rng.below(i + 1);
        v.swap(i, j);
    }
}

fn range(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.uniform()
}

fn db(x: f64) -> f32 {
    10f64.powf(x / 20.0) as f32
}

fn peak(x: &[f32]) -> f32 {
    x.iter().fold(0.0f32, |m, v| m.max(v.abs()))
}

/// Synthetic noise: `kind` 0 white, 1 pink, 2 brown; RMS `rms_dbfs`.
fn noise(rng: &mut Rng, n: usize, kind: usize, rms_dbfs: f64) -> Vec<f32> {
    let mut out = Vec::with_capacity(n);
    let (mut b0, mut b1, mut b2, mut br) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for _ in 0..n {
        let w = rng.gaussian();
        let v = match kind {
            0 => w,
            1 => {
                b0 = 0.99765 * b0 + w * 0.0990460;
                b1 = 0.96300 * b1 + w * 0.2965164;
                b2 = 0.57000 * b2 + w * 1.0526913;
                b0 + b1 + b2 + w * 0.1848
            }
            _ => {
                br = 0.998 * br + w * 0.05;
                br
            }
        };
        out.push(v as f32);
    }
    let rms = (out.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / n.max(1) as f64).sqrt();
    let g = if rms > 0.0 {
        db(rms_dbfs) / rms as f32
    } else {
        0.0
    };
    out.iter_mut().for_each(|x| *x *= g);
    out
}

/// Decoded clips, cached by path relative to the data folder.
struct Clips<'a> {
    data: &'a Path,
    cache: HashMap<String, Vec<f32>>,
}

impl Clips<'_> {
    fn get(&mut self, rel: &str) -> Result<&[f32]> {
        if !self.cache.contains_key(rel) {
            let x = read_file(&self.data.join(rel))?;
            self.cache.insert(rel.to_string(), x);
        }
        Ok(&self.cache[rel])
    }
    /// The clip's voiced part padded by 0.1 s, and the voiced span inside it (samples).
    fn voiced(&mut self, rel: &str) -> Result<(Vec<f32>, usize, usize)> {
        let path = self.data.join(rel);
        let x = self.get(rel)?;
        let (a, b) = voiced_span(x).ok_or_else(|| Error::audio(path, "no voiced part found"))?;
        let pad = (0.1 * SR) as usize;
        let lo = a.saturating_sub(pad);
        let hi = (b + pad).min(x.len());
        Ok((x[lo..hi].to_vec(), a - lo, b - lo))
    }
}

/// Adds `x` into `buf` at `at` (growing it).
fn mix(buf: &mut Vec<f32>, at: usize, x: &[f32], gain: f32) {
    if buf.len() < at + x.len() {
        buf.resize(at + x.len(), 0.0);
    }
    for (o, v) in buf[at..].iter_mut().zip(x) {
        *o += v * gain;
    }
}

fn keyword_pools(data: &Path, spec: &BenchSpec, rng: &mut Rng) -> Result<Vec<KeywordPool>> {
    let mut pools = Vec::new();
    for w in ["alexa", "computer"] {
        let mut v: Vec<String> = list(&data.join("wake_words").join(w), ".flac")?
            .into_iter()
            .map(|f| format!("wake_words/{w}/{f}"))
            .collect();
        shuffle(rng, &mut v);
        let plant = v.split_off(3.min(v.len()));
        pools.push(KeywordPool {
            name: w.into(),
            enroll: v,
            plant,
        });
    }
    // nine: 3 enrollment speakers (one take each), all their clips kept out of the streams.
    let nine = list(&data.join("speech_commands/nine"), ".wav")?;
    let mut speakers: Vec<String> = nine.iter().map(|f| speaker_hash(f)).collect();
    speakers.dedup();
    shuffle(rng, &mut speakers);
    let enroll_spk: BTreeSet<String> = speakers.iter().take(3).cloned().collect();
    let mut enroll = Vec::new();
    let mut plant = Vec::new();
    for f in &nine {
        let rel = format!("speech_commands/nine/{f}");
        if enroll_spk.contains(&speaker_hash(f)) {
            if !enroll.iter().any(|e: &String| e.contains(&speaker_hash(f))) {
                enroll.push(rel);
            }
        } else {
            plant.push(rel);
        }
    }
    shuffle(rng, &mut plant);
    pools.push(KeywordPool {
        name: "nine".into(),
        enroll,
        plant,
    });
    // FSDD digit: one enrollment speaker, the other three planted.
    let spk = FSDD_SPEAKERS[rng.below(FSDD_SPEAKERS.len())];
    let d = spec.fsdd_digit;
    let mut takes: Vec<u32> = (0..50).collect();
    shuffle(rng, &mut takes);
    let enroll = takes[..3]
        .iter()
        .map(|t| format!("fsdd/{d}_{spk}_{t}.wav"))
        .collect();
    let mut plant: Vec<String> = FSDD_SPEAKERS
        .iter()
        .filter(|s| **s != spk)
        .flat_map(|s| (0..50).map(move |t| format!("fsdd/{d}_{s}_{t}.wav")))
        .collect();
    shuffle(rng, &mut plant);
    pools.push(KeywordPool {
        name: FSDD_NAMES[d as usize % 10].into(),
        enroll,
        plant,
    });
    Ok(pools)
}

const FSDD_SPEAKERS: [&str; 4] = ["george", "jackson", "lucas", "nicolas"];
const FSDD_NAMES: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];

fn speaker_hash(file: &str) -> String {
    file.split("_nohash_").next().unwrap_or(file).to_string()
}

/// Background sources, split into (stream pool, calibration pool).
fn background_pools(
    data: &Path,
    spec: &BenchSpec,
    pools: &[KeywordPool],
    rng: &mut Rng,
) -> Result<(Vec<String>, Vec<String>)> {
    let enroll_fsdd: BTreeSet<String> = pools
        .iter()
        .flat_map(|p| p.enroll.iter())
        .filter(|e| e.starts_with("fsdd/"))
        .filter_map(|e| e.split('_').nth(1).map(String::from))
        .collect();
    let enroll_sc: BTreeSet<String> = pools
        .iter()
        .flat_map(|p| p.enroll.iter())
        .filter(|e| e.starts_with("speech_commands/"))
        .filter_map(|e| e.rsplit('/').next().map(speaker_hash))
        .collect();
    let mut sources: Vec<Vec<String>> = Vec::new();
    for sub in [
        "spanish_one_speaker/heycomputer/es",
        "spanish_one_speaker/not-wake-words/es",
    ] {
        sources.push(
            list(&data.join(sub), ".wav")?
                .into_iter()
                .map(|f| format!("{sub}/{f}"))
                .collect(),
        );
    }
    let mut cal_only = Vec::new();
    for w in ["right", "zero"] {
        let mut v = Vec::new();
        for f in list(&data.join("speech_commands").join(w), ".wav")? {
            let rel = format!("speech_commands/{w}/{f}");
            if enroll_sc.contains(&speaker_hash(&f)) {
                cal_only.push(rel);
            } else {
                v.push(rel);
            }
        }
        sources.push(v);
    }
    let mut fsdd = Vec::new();
    for f in list(&data.join("fsdd"), ".wav")? {
        let mut parts = f.split('_');
        let digit: Option<u32> = parts.next().and_then(|d| d.parse().ok());
        let spk = parts.next().unwrap_or("");
        // Digits whose names are keywords ("nine") are not background.
        let is_keyword =
            digit.is_none_or(|d| pools.iter().any(|p| p.name == FSDD_NAMES[d as usize % 10]));
        if is_keyword {
            continue;
        }
        let rel = format!("fsdd/{f}");
        if enroll_fsdd.contains(spk) {
            cal_only.push(rel);
        } else {
            fsdd.push(rel);
        }
    }
    sources.push(fsdd);
    let (mut stream, mut cal) = (Vec::new(), cal_only);
    for mut s in sources {
        shuffle(rng, &mut s);
        let k = ((s.len() as f64) * spec.calibration_share).round() as usize;
        let rest = s.split_off(k.min(s.len()));
        cal.extend(s);
        stream.extend(rest);
    }
    stream.sort();
    cal.sort();
    Ok((stream, cal))
}

/// Appends a background speech clip at `peak_dbfs` after `gap_s` of floor.
fn push_speech(buf: &mut Vec<f32>, clip: &[f32], gap_s: f64, peak_dbfs: f64) {
    let at = buf.len() + (gap_s * SR) as usize;
    let g = db(peak_dbfs) / peak(clip).max(1e-6);
    mix(buf, at, clip, g);
}

fn validate(spec: &BenchSpec) -> Result<()> {
    let ok = spec.stream_minutes.is_finite()
        && spec.stream_minutes > 0.0
        && spec.n_streams > 0
        && spec.occurrences_per_keyword > 0
        && spec.calibration_minutes.is_finite()
        && spec.calibration_minutes > 0.0
        && spec.calibration_file_minutes.is_finite()
        && spec.calibration_file_minutes > 0.0
        && (0.05..=0.9).contains(&spec.calibration_share)
        && spec.keyword_peak_dbfs.0 <= spec.keyword_peak_dbfs.1
        && spec.keyword_peak_dbfs.1 <= 0.0
        && spec.fsdd_digit <= 9;
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!("invalid benchmark spec: {spec:?}")))
    }
}

/// Builds the benchmark described by `spec` from the shared data in
/// `data_dir` into `out_dir` (created; existing files are overwritten).
pub fn build(data_dir: &Path, out_dir: &Path, spec: &BenchSpec) -> Result<BenchLayout> {
    validate(spec)?;
    if !data_dir.is_dir() {
        return Err(Error::invalid(format!(
            "shared data folder {} not found",
            data_dir.display()
        )));
    }
    let mut rng = Rng::new(spec.seed ^ 0x5eed_be7c);
    let mut pools = keyword_pools(data_dir, spec, &mut rng)?;
    let need = spec.occurrences_per_keyword * spec.n_streams;
    for p in &pools {
        if p.enroll.len() < 3 || p.plant.len() < need {
            return Err(Error::invalid(format!(
                "keyword {}: {} enrollment and {} plantable clips, need 3 and {need}",
                p.name,
                p.enroll.len(),
                p.plant.len()
            )));
        }
    }
    let (bg_stream, bg_cal) = background_pools(data_dir, spec, &pools, &mut rng)?;
    if bg_stream.is_empty() || bg_cal.is_empty() {
        return Err(Error::invalid("no background speech found"));
    }
    let mut clips = Clips {
        data: data_dir,
        cache: HashMap::new(),
    };
    for d in ["streams", "enroll", "calibration"] {
        fs::create_dir_all(out_dir.join(d)).map_err(|e| Error::io(out_dir.join(d), e))?;
    }
    // Enrollment takes: the clips as they are.
    let mut enroll = BTreeMap::new();
    for p in &pools {
        let dir = out_dir.join("enroll").join(&p.name);
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut v = Vec::new();
        for (i, src) in p.enroll.iter().enumerate() {
            let f = dir.join(format!("take_{}.wav", i + 1));
            write_wav(&f, clips.get(src)?)?;
            v.push((f, src.clone()));
        }
        enroll.insert(p.name.clone(), v);
    }
    // Streams.
    let mut streams = Vec::new();
    let (lo, hi) = spec.keyword_peak_dbfs;
    for s in 0..spec.n_streams {
        let total = (spec.stream_minutes * 60.0 * SR) as usize;
        let mut items: Vec<(usize, String)> = Vec::new();
        for (k, p) in pools.iter_mut().enumerate() {
            for _ in 0..spec.occurrences_per_keyword {
                if let Some(c) = p.plant.pop() {
                    items.push((k, c));
                }
            }
        }
        shuffle(&mut rng, &mut items);
        let n = items.len();
        let mut buf: Vec<f32> = Vec::with_capacity(total + SAMPLE_RATE as usize * 10);
        let mut occ = Vec::new();
        for (i, (k, src)) in items.iter().enumerate() {
            // Filler up to this occurrence's slot.
            let slot = ((i as f64 + range(&mut rng, 0.2, 0.8)) / n as f64 * total as f64) as usize;
            let margin = (0.5 * SR) as usize;
            while buf.len() + margin < slot {
                match rng.below(10) {
                    0..=5 => {
                        let c = bg_stream[rng.below(bg_stream.len())].clone();
                        let x = clips.get(&c)?.to_vec();
                        let lvl = range(&mut rng, -30.0, -8.0);
                        let gap = range(&mut rng, 0.0, 0.6);
                        push_speech(&mut buf, &x, gap, lvl);
                    }
                    6 | 7 => {
                        let len = (range(&mut rng, 1.0, 8.0) * SR) as usize;
                        let kind = rng.below(3);
                        let lvl = range(&mut rng, -50.0, -22.0);
                        let x = noise(&mut rng, len, kind, lvl);
                        let at = buf.len();
                        mix(&mut buf, at, &x, 1.0);
                    }
                    _ => {
                        let len = (range(&mut rng, 0.5, 5.0) * SR) as usize;
                        buf.resize(buf.len() + len, 0.0);
                    }
                }
            }
            let (x, a, b) = clips.voiced(src)?;
            let lvl = range(&mut rng, lo, hi);
            let g = db(lvl) / peak(&x).max(1e-6);
            let context = match rng.below(4) {
                0 => {
                    buf.resize(buf.len() + (range(&mut rng, 0.5, 1.5) * SR) as usize, 0.0);
                    "isolated"
                }
                1 => {
                    // Right after other speech.
                    let c = bg_stream[rng.below(bg_stream.len())].clone();
                    let y = clips.get(&c)?;
                    let (ya, yb) = voiced_span(y).unwrap_or((0, y.len()));
                    let y = y[ya..yb].to_vec();
                    let l = range(&mut rng, -24.0, -8.0);
                    push_speech(&mut buf, &y, range(&mut rng, 0.2, 0.6), l);
                    let gap = range(&mut rng, 0.0, 0.3);
                    buf.resize(buf.len() + (gap * SR) as usize, 0.0);
                    "adjacent"
                }
                2 => "over_speech",
                _ => "in_noise",
            };
            // The 0.1 s pad before the voiced part overlaps what precedes it
            // (near-silent), so an adjacent word starts `gap` after the speech.
            let at = if context == "adjacent" {
                buf.len().saturating_sub(a)
            } else {
                buf.len()
            };
            mix(&mut buf, at, &x, g);
            occ.push(Planted {
                keyword: pools[*k].name.clone(),
                start: (at + a) as f64 / SR,
                end: (at + b) as f64 / SR,
                source: src.clone(),
                peak_dbfs: lvl,
                context: context.into(),
            });
            match context {
                "over_speech" => {
                    let c = bg_stream[rng.below(bg_stream.len())].clone();
                    let y = clips.get(&c)?.to_vec();
                    let l = lvl - range(&mut rng, 8.0, 18.0);
                    let off = rng.below((x.len() / 2).max(1));
                    let gy = db(l) / peak(&y).max(1e-6);
                    mix(&mut buf, at.saturating_sub(off), &y, gy);
                }
                "in_noise" => {
                    let pre = (range(&mut rng, 0.3, 1.0) * SR) as usize;
                    let len = pre + x.len() + (range(&mut rng, 0.3, 1.0) * SR) as usize;
                    let kind = rng.below(3);
                    let nl = lvl - range(&mut rng, 15.0, 30.0);
                    let y = noise(&mut rng, len, kind, nl);
                    mix(&mut buf, at.saturating_sub(pre), &y, 1.0);
                }
                "adjacent" => {
                    // Followed closely by more speech.
                    let c = bg_stream[rng.below(bg_stream.len())].clone();
                    let y = clips.get(&c)?;
                    let (ya, yb) = voiced_span(y).unwrap_or((0, y.len()));
                    let y = y[ya..yb].to_vec();
                    let l = range(&mut rng, -24.0, -8.0);
                    let at2 = at + b + (range(&mut rng, 0.0, 0.3) * SR) as usize;
                    let g2 = db(l) / peak(&y).max(1e-6);
                    mix(&mut buf, at2, &y, g2);
                }
                _ => {}
            }
        }
        if buf.len() < total {
            buf.resize(total, 0.0);
        }
        // Low noise floor everywhere (no digital silence).
        let floor = noise(&mut rng, buf.len(), 0, -70.0);
        buf.iter_mut().zip(&floor).for_each(|(o, f)| *o += f);
        let file = out_dir.join(format!("streams/stream_{}.wav", s + 1));
        write_wav(&file, &buf)?;
        occ.sort_by(|a, b| a.start.total_cmp(&b.start));
        streams.push(StreamInfo {
            file,
            seconds: buf.len() as f64 / SR,
            occurrences: occ,
        });
    }
    // Labels.
    let mut tsv = String::from("file\tword\tstart\tend\n");
    for s in &streams {
        let name = s
            .file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        tsv.push_str(&format!("{name}\n"));
        for o in &s.occurrences {
            tsv.push_str(&format!(
                "{name}\t{}\t{:.3}\t{:.3}\n",
                o.keyword, o.start, o.end
            ));
        }
    }
    let labels = out_dir.join("streams/labels.tsv");
    fs::write(&labels, tsv).map_err(|e| Error::io(&labels, e))?;
    // Calibration: the calibration pool, shuffled and concatenated (reused when short).
    let mut cal_files = Vec::new();
    let mut used = BTreeSet::new();
    let cal_total = (spec.calibration_minutes * 60.0 * SR) as usize;
    let per_file = ((spec.calibration_file_minutes * 60.0 * SR) as usize).max(1);
    let mut order = bg_cal.clone();
    shuffle(&mut rng, &mut order);
    let mut written = 0usize;
    let mut idx = 0usize;
    while written < cal_total {
        let len = per_file.min(cal_total - written);
        let mut buf = Vec::with_capacity(len + SAMPLE_RATE as usize * 2);
        while buf.len() < len {
            if rng.below(8) == 0 {
                let n = (range(&mut rng, 1.0, 5.0) * SR) as usize;
                let kind = rng.below(3);
                let l = range(&mut rng, -50.0, -22.0);
                let x = noise(&mut rng, n, kind, l);
                let at = buf.len();
                mix(&mut buf, at, &x, 1.0);
                continue;
            }
            let c = &order[idx % order.len()];
            idx += 1;
            used.insert(c.clone());
            let x = clips.get(c)?.to_vec();
            let lvl = range(&mut rng, -30.0, -8.0);
            push_speech(&mut buf, &x, range(&mut rng, 0.0, 0.8), lvl);
        }
        buf.truncate(len);
        let floor = noise(&mut rng, buf.len(), 0, -70.0);
        buf.iter_mut().zip(&floor).for_each(|(o, f)| *o += f);
        let f = out_dir.join(format!("calibration/cal_{}.wav", cal_files.len() + 1));
        write_wav(&f, &buf)?;
        written += len;
        cal_files.push(f);
    }
    let mut keywords: Vec<String> = pools.iter().map(|p| p.name.clone()).collect();
    keywords.sort();
    let layout = BenchLayout {
        out_dir: out_dir.to_path_buf(),
        spec: spec.clone(),
        keywords,
        streams,
        labels,
        enroll,
        calibration: cal_files,
        calibration_seconds: written as f64 / SR,
        calibration_sources: used.into_iter().collect(),
        stream_background_sources: bg_stream,
        manifest: out_dir.join("bench.json"),
    };
    let json = serde_json::to_string_pretty(&layout).map_err(|e| Error::invalid(e.to_string()))?;
    fs::write(&layout.manifest, json).map_err(|e| Error::io(&layout.manifest, e))?;
    Ok(layout)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shared data folder; fails (does not skip) when it is absent.
    fn data() -> PathBuf {
        let p = std::env::var_os("WORDSPOT_SHARED_DATA")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
        assert!(
            p.is_dir(),
            "eval::bench tests need the shared speech data: {} not found (set WORDSPOT_SHARED_DATA)",
            p.display()
        );
        p
    }

    fn built() -> &'static (tempfile::TempDir, BenchLayout) {
        static B: std::sync::OnceLock<(tempfile::TempDir, BenchLayout)> =
            std::sync::OnceLock::new();
        B.get_or_init(|| {
            let d = tempfile::tempdir().expect("tempdir");
            let l = build(&data(), d.path(), &BenchSpec::small()).expect("build");
            (d, l)
        })
    }

    #[test]
    fn deterministic_for_a_seed() {
        let (_, a) = built();
        let d = tempfile::tempdir().expect("tempdir");
        let b = build(&data(), d.path(), &BenchSpec::small()).expect("build");
        assert_eq!(a.streams.len(), b.streams.len());
        for (x, y) in a.streams.iter().zip(&b.streams) {
            assert_eq!(x.occurrences, y.occurrences);
            assert_eq!(fs::read(&x.file).ok(), fs::read(&y.file).ok());
        }
        assert_eq!(fs::read(&a.labels).ok(), fs::read(&b.labels).ok());
        assert_eq!(a.calibration_sources, b.calibration_sources);
        let c = build(
            &data(),
            d.path(),
            &BenchSpec {
                seed: 99,
                ..BenchSpec::small()
            },
        )
        .expect("build");
        assert_ne!(a.streams[0].occurrences, c.streams[0].occurrences);
    }

    #[test]
    fn labels_in_bounds_and_keyword_occurrences_disjoint() {
        let (_, l) = built();
        let labels = crate::eval::labels::read_labels(&l.labels, None).expect("labels parse");
        assert_eq!(labels.words(), l.keywords);
        for s in &l.streams {
            assert_eq!(
                s.occurrences.len(),
                l.keywords.len() * l.spec.occurrences_per_keyword
            );
            for o in &s.occurrences {
                assert!(
                    0.0 <= o.start && o.start < o.end && o.end <= s.seconds,
                    "{o:?}"
                );
            }
            for k in &l.keywords {
                let v: Vec<&Planted> = s.occurrences.iter().filter(|o| &o.keyword == k).collect();
                for w in v.windows(2) {
                    assert!(w[0].end <= w[1].start, "{:?} overlaps {:?}", w[0], w[1]);
                }
            }
        }
    }

    #[test]
    fn enrollment_and_calibration_disjoint_from_streams() {
        let (_, l) = built();
        let planted: BTreeSet<&str> = l
            .streams
            .iter()
            .flat_map(|s| s.occurrences.iter().map(|o| o.source.as_str()))
            .collect();
        let n: usize = l.streams.iter().map(|s| s.occurrences.len()).sum();
        assert_eq!(planted.len(), n, "a clip was planted twice");
        let stream_bg: BTreeSet<&str> = l
            .stream_background_sources
            .iter()
            .map(|s| s.as_str())
            .collect();
        // Speakers in the streams (where ids exist).
        let spk = |s: &str| -> Option<String> {
            let f = s.rsplit('/').next()?;
            if s.starts_with("fsdd/") {
                f.split('_').nth(1).map(String::from)
            } else if s.starts_with("speech_commands/") {
                Some(speaker_hash(f))
            } else {
                None
            }
        };
        let stream_spk: BTreeSet<String> = planted
            .iter()
            .chain(stream_bg.iter())
            .filter_map(|s| spk(s))
            .collect();
        for (k, takes) in &l.enroll {
            assert_eq!(takes.len(), 3, "{k}");
            for (f, src) in takes {
                assert!(f.is_file());
                assert!(
                    !planted.contains(src.as_str()),
                    "{src} enrolled and planted"
                );
                if let Some(s) = spk(src) {
                    assert!(
                        !stream_spk.contains(&s),
                        "{k}: enrollment speaker {s} in a stream"
                    );
                }
            }
        }
        for c in &l.calibration_sources {
            assert!(
                !stream_bg.contains(c.as_str()) && !planted.contains(c.as_str()),
                "{c}"
            );
            assert!(
                !c.starts_with("wake_words/") && !c.contains("/nine/"),
                "{c}"
            );
        }
        assert!(l.calibration_seconds >= 60.0);
        let x = read_file(&l.streams[0].file).expect("stream reads back");
        assert!((x.len() as f64 / SR - l.streams[0].seconds).abs() < 0.01);
    }
}
