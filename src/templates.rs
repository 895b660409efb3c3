//! Enrollment and the on-disk template store.
//!
//! A store is a folder with one sub-folder per keyword:
//!
//! ```text
//! templates/
//!   hello/
//!     manifest.json     keyword, frontend settings, threshold, per-take stats
//!     1.wav 2.wav ...   the trimmed takes (16 kHz mono)
//! ```
//!
//! The audio is kept so templates can be re-featurized with another frontend;
//! the manifest's threshold only applies to the frontend it was estimated with.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::audio;
use crate::detector::ScoreNorm;
use crate::dtw::{best_match, Metric};
use crate::features::{extract_utterance, Features, Frontend, FrontendConfig};
use crate::normalize::Normalizer;
use crate::verify::{VerifierEntry, DEFAULT_VERIFIED_THRESHOLD};
use crate::{Error, Result, SAMPLE_RATE};

/// Name of the manifest file inside a keyword folder.
pub const MANIFEST: &str = "manifest.json";

/// One stored take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Take {
    /// File name inside the keyword folder.
    pub file: String,
    /// Duration after trimming, in seconds.
    pub duration_s: f64,
    /// Where the take came from (a file, `file@start-end`, or `mic`).
    pub source: String,
    /// Distance to the closest other take (leave-one-out), if there are others.
    pub loo_distance: Option<f32>,
    /// Score normalisation of this take against background speech (see
    /// [`ScoreNorm`]); with it on every take, the keyword's threshold is on
    /// normalised scores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_norm: Option<ScoreNorm>,
}

/// The manifest of one keyword folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The keyword.
    pub keyword: String,
    /// Frontend the threshold was estimated with.
    pub frontend: FrontendConfig,
    /// Normalizer spec in use at enrollment (`none`, `standardize`...).
    #[serde(default = "none_spec")]
    pub normalize: String,
    /// Frame distance.
    pub metric: Metric,
    /// Detection threshold on the normalized DTW distance, or on normalised
    /// scores when the takes have [`Take::score_norm`]. A value that is not a
    /// number (hand-edited, `null`) reads as NaN: the keyword still loads and
    /// commands fall back to [`Keyword::default_threshold`] with a warning.
    #[serde(deserialize_with = "lenient_threshold")]
    pub threshold: f32,
    /// How the threshold was obtained (`leave-one-out`, `default`, `calibrated`, `manual`).
    pub threshold_source: String,
    /// The takes.
    pub takes: Vec<Take>,
    /// Free-form score statistics (filled by calibration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<serde_json::Value>,
    /// The second-stage verifier's norm and settings ([`crate::verify`]);
    /// with it, `threshold` is on verified scores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verifier: Option<VerifierEntry>,
}

/// A threshold that is not a finite number reads as NaN instead of failing
/// the whole manifest (and with it the store).
fn lenient_threshold<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f32, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(v.as_f64()
        .map(|x| x as f32)
        .filter(|x| x.is_finite())
        .unwrap_or(f32::NAN))
}

fn none_spec() -> String {
    "none".into()
}

/// A loaded keyword: its manifest and the features of its takes.
#[derive(Debug, Clone)]
pub struct Keyword {
    /// Folder of the keyword.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// `(template id, features)` per take; ids look like `"hello/2.wav"`.
    pub templates: Vec<(String, Features)>,
    /// Score normalisation per take: the stored ones when every take has one
    /// and the store was enrolled with the frontend and normalizer in use,
    /// else empty (raw distances).
    pub norms: Vec<ScoreNorm>,
}

impl Keyword {
    /// Threshold to use with `frontend`: the manifest's when it was estimated
    /// with the same frontend and normalizer, and on the same scale
    /// (`verified`: scores of the second-stage verifier, which the manifest
    /// has when it holds a verifier entry), else `None`.
    pub fn threshold_for(
        &self,
        frontend: &FrontendConfig,
        normalize: &str,
        verified: bool,
    ) -> Option<f32> {
        (&self.manifest.frontend == frontend
            && self.manifest.normalize == normalize
            && self.manifest.verifier.is_some() == verified)
            .then_some(self.manifest.threshold)
            .filter(|t| t.is_finite())
    }

    /// Threshold when the stored one does not apply: on verified scores
    /// ([`DEFAULT_VERIFIED_THRESHOLD`]) when `verified`, on normalised scores
    /// when the keyword has score norms, else [`default_threshold`].
    pub fn default_threshold(&self, frontend: &FrontendConfig, verified: bool) -> f32 {
        if verified {
            DEFAULT_VERIFIED_THRESHOLD
        } else if self.norms.is_empty() {
            default_threshold(frontend)
        } else {
            DEFAULT_NORMED_THRESHOLD
        }
    }
}

/// Default threshold on normalised scores ([`ScoreNorm`]): a match must be
/// 4 standard deviations closer than the template's typical match in other
/// speech. On the cross-speaker benchmark (`eval::bench`, 1 h, speech
/// embedding) this gave 0.5 false alarms per hour per keyword.
pub const DEFAULT_NORMED_THRESHOLD: f32 = -4.0;

/// Default thresholds (normalized cosine DTW distance) when nothing better is known.
pub fn default_threshold(frontend: &FrontendConfig) -> f32 {
    match frontend {
        FrontendConfig::Embedding(_) => 0.2,
        FrontendConfig::Mfcc(_) => 0.25,
        FrontendConfig::Wav2vec2(_) => 0.35,
    }
}

/// Silence kept before the voiced part when trimming: 50 ms (the MFCC
/// frontend's sliding mean normalization needs a little lead-in).
pub const TRIM_LEAD: usize = 800;
/// Silence kept after the voiced part when trimming: 50 ms.
pub const TRIM_TAIL: usize = 800;

/// Energy-based voice activity detection: the `[start, end)` sample range
/// from the first to the last voiced 10 ms frame (no padding), or `None` when
/// nothing stands out from the noise floor. Voiced: 10 dB above the noise
/// floor (the 10th percentile of frame energies) and within 40 dB of the
/// peak. The benchmark builder labels planted words with it.
pub fn voiced_span(samples: &[f32]) -> Option<(usize, usize)> {
    energy_span(samples, 40.0, false)
}

/// Frames of exact digital silence (zero padding) sit at about -100 dB; they
/// are not the recording's noise floor.
const DIGITAL_SILENCE_DB: f32 = -95.0;

/// How far below its loudest 10 ms frame a take's word is taken to reach
/// when enrolled ([`word_span`]).
pub const WORD_RANGE_DB: f32 = 25.0;

/// The span of the word in an enrollment take: like
/// [`voiced_span`], but the noise floor ignores digital silence and voiced
/// frames must be within [`WORD_RANGE_DB`] of the peak. Takes cut from field
/// recordings carry room noise and neighbouring sounds 30-40 dB under the word,
/// which [`voiced_span`] keeps (a 0.8 s "alexa" kept as 3.25 s). Measured on
/// the cross-speaker detection benchmark (`eval::bench`, 1 h, 160 planted
/// words), miss at <= 1 FA/h with the default frontend: seed 12 27.5% -> 26.9%,
/// seed 7 (held out) 39.4% -> 30.6%.
pub fn word_span(samples: &[f32]) -> Option<(usize, usize)> {
    energy_span(samples, WORD_RANGE_DB, true)
}

fn energy_span(
    samples: &[f32],
    range_db: f32,
    skip_digital_silence: bool,
) -> Option<(usize, usize)> {
    const FRAME: usize = 160;
    let energies: Vec<f32> = samples
        .chunks(FRAME)
        .map(|c| 10.0 * (c.iter().map(|x| x * x).sum::<f32>() / c.len() as f32 + 1e-10).log10())
        .collect();
    let mut sorted: Vec<f32> = energies
        .iter()
        .copied()
        .filter(|&e| !skip_digital_silence || e > DIGITAL_SILENCE_DB)
        .collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f32::total_cmp);
    let floor = sorted[sorted.len() / 10];
    let peak = sorted[sorted.len() - 1];
    let thr = (floor + 10.0).max(peak - range_db);
    if peak < -60.0 || peak - floor < 10.0 {
        return None;
    }
    let first = energies.iter().position(|&e| e > thr)?;
    let last = energies.iter().rposition(|&e| e > thr)?;
    Some((first * FRAME, ((last + 1) * FRAME).min(samples.len())))
}

/// [`voiced_span`] widened by [`TRIM_LEAD`] before and [`TRIM_TAIL`] after (within the signal).
pub fn voiced_range(samples: &[f32]) -> Option<(usize, usize)> {
    let (a, b) = voiced_span(samples)?;
    Some((
        a.saturating_sub(TRIM_LEAD),
        (b + TRIM_TAIL).min(samples.len()),
    ))
}

/// Trims leading and trailing silence ([`voiced_range`]); `what` names the audio in errors.
pub fn trim_silence<'a>(samples: &'a [f32], what: &str) -> Result<&'a [f32]> {
    match voiced_range(samples) {
        Some((a, b)) => Ok(&samples[a..b]),
        None => Err(Error::audio(what, "no speech found (silent or too quiet)")),
    }
}

/// Trims an enrollment take to its word ([`word_span`], widened by
/// [`TRIM_LEAD`] and [`TRIM_TAIL`]); `what` names the audio in errors.
pub fn trim_take<'a>(samples: &'a [f32], what: &str) -> Result<&'a [f32]> {
    match word_span(samples) {
        Some((a, b)) => {
            Ok(&samples[a.saturating_sub(TRIM_LEAD)..(b + TRIM_TAIL).min(samples.len())])
        }
        None => Err(Error::audio(what, "no speech found (silent or too quiet)")),
    }
}

/// Validates a keyword name: non-empty, usable as a folder name.
pub fn check_keyword(name: &str) -> Result<()> {
    let ok =
        !name.trim().is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0']);
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid keyword name '{name}': it must be non-empty and usable as a folder name"
        )))
    }
}

/// Audio of one take to enroll, already 16 kHz mono.
#[derive(Debug, Clone)]
pub struct TakeAudio {
    /// Samples (16 kHz mono).
    pub samples: Vec<f32>,
    /// Where it came from (for the manifest and error messages).
    pub source: String,
}

/// Enrollment settings.
pub struct Enrollment<'a> {
    /// Frontend used to estimate the threshold.
    pub frontend: &'a mut dyn Frontend,
    /// Normalizer applied before scoring.
    pub normalizer: &'a Normalizer,
    /// Its spec, recorded in the manifest.
    pub normalize_spec: &'a str,
    /// Frame distance.
    pub metric: Metric,
    /// Trim silence from each take.
    pub trim: bool,
    /// Explicit threshold (else estimated).
    pub threshold: Option<f32>,
}

/// Stores `takes` as keyword `name` under `out` (appending to existing takes)
/// and writes the manifest. Returns the manifest.
pub fn enroll(
    out: &Path,
    name: &str,
    takes: &[TakeAudio],
    opts: Enrollment<'_>,
) -> Result<Manifest> {
    check_keyword(name)?;
    if takes.is_empty() {
        return Err(Error::invalid("no audio given to enroll"));
    }
    if let Some(t) = opts.threshold.filter(|t| !t.is_finite()) {
        return Err(Error::invalid(format!(
            "--threshold must be a finite number, got {t}"
        )));
    }
    let dir = out.join(name);
    let created = !dir.exists();
    fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let result = enroll_into(&dir, name, takes, opts);
    if result.is_err() && created {
        // Only removes the folder if nothing else is in it.
        let _ = fs::remove_dir(&dir);
    }
    result
}

/// [`enroll`] into the existing folder `dir`. New takes are written to
/// hidden temporary files, renamed into place only once every take has been
/// featurized, then the manifest is replaced atomically; on failure the
/// files written are removed, so a failed enroll leaves the store as it was.
fn enroll_into(
    dir: &Path,
    name: &str,
    takes: &[TakeAudio],
    opts: Enrollment<'_>,
) -> Result<Manifest> {
    let mut manifest = match read_manifest(dir) {
        Ok(m) => m,
        Err(_) if !dir.join(MANIFEST).exists() => Manifest {
            keyword: name.to_string(),
            frontend: opts.frontend.config(),
            normalize: opts.normalize_spec.to_string(),
            metric: opts.metric,
            threshold: 0.0,
            threshold_source: String::new(),
            takes: Vec::new(),
            calibration: None,
            verifier: None,
        },
        Err(e) => return Err(e),
    };
    let mut paths: Vec<PathBuf> = manifest.takes.iter().map(|t| dir.join(&t.file)).collect();
    // (temporary file, final file) of each new take.
    let mut pending = Pending::default();
    let mut next = manifest.takes.len() + 1;
    for t in takes {
        let samples = if opts.trim {
            trim_take(&t.samples, &t.source)?
        } else {
            &t.samples[..]
        };
        if samples.is_empty() {
            return Err(Error::audio(&t.source, "empty take"));
        }
        let file = loop {
            let f = format!("{next}.wav");
            next += 1;
            if !dir.join(&f).exists() {
                break f;
            }
        };
        // Hidden, and still a `.wav` for the decoder.
        let tmp = dir.join(format!(".tmp-{file}"));
        pending.temps.push(tmp.clone());
        audio::write_wav(&tmp, samples)?;
        paths.push(tmp.clone());
        pending.moves.push((tmp, dir.join(&file)));
        manifest.takes.push(Take {
            file,
            duration_s: samples.len() as f64 / SAMPLE_RATE as f64,
            source: t.source.clone(),
            loo_distance: None,
            score_norm: None,
        });
    }
    manifest.frontend = opts.frontend.config();
    manifest.normalize = opts.normalize_spec.to_string();
    manifest.metric = opts.metric;
    // Leave-one-out distances among all takes, with the enrollment frontend.
    let feats = featurize_paths(&paths, opts.frontend, opts.normalizer)?;
    let loo = leave_one_out(&feats, opts.metric);
    for (t, d) in manifest.takes.iter_mut().zip(&loo) {
        t.loo_distance = *d;
    }
    let (threshold, source) = match opts.threshold {
        Some(t) => (t, "manual"),
        None => match estimate_threshold(&loo) {
            Some(t) => (t, "leave-one-out"),
            None => (default_threshold(&manifest.frontend), "default"),
        },
    };
    manifest.threshold = threshold;
    manifest.threshold_source = source.into();
    pending.commit()?;
    write_manifest(dir, &manifest)?;
    pending.done();
    Ok(manifest)
}

/// Take files written by an enrollment that is not finished: removed when
/// dropped unless [`Pending::done`] was called.
#[derive(Default)]
struct Pending {
    temps: Vec<PathBuf>,
    moves: Vec<(PathBuf, PathBuf)>,
    moved: Vec<PathBuf>,
}

impl Pending {
    /// Renames every temporary file to its final name.
    fn commit(&mut self) -> Result<()> {
        for (tmp, fin) in &self.moves {
            fs::rename(tmp, fin).map_err(|e| Error::io(fin, e))?;
            self.moved.push(fin.clone());
        }
        Ok(())
    }

    /// The enrollment succeeded: keep the files.
    fn done(mut self) {
        self.temps.clear();
        self.moved.clear();
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        for p in self.temps.iter().chain(&self.moved) {
            let _ = fs::remove_file(p);
        }
    }
}

/// Distance from each take to its closest other take (`None` with one take).
pub fn leave_one_out(feats: &[Features], metric: Metric) -> Vec<Option<f32>> {
    (0..feats.len())
        .map(|i| {
            (0..feats.len())
                .filter(|&j| j != i)
                .filter_map(|j| pair_distance(&feats[i], &feats[j], metric))
                .min_by(f32::total_cmp)
        })
        .collect()
}

/// DTW distance between two isolated takes (the shorter one searched in the longer).
pub fn pair_distance(a: &Features, b: &Features, metric: Metric) -> Option<f32> {
    let (q, t) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    best_match(q.data.view(), t.data.view(), metric).map(|m| m.distance)
}

/// Threshold from leave-one-out distances: a margin above the worst take-to-take
/// distance, so that every enrolled take would have been detected by the others.
/// `None` when there is no spread to go by: fewer than two takes, or takes
/// that are copies of each other (every distance 0, a threshold of 0 would
/// only detect the same recording again).
pub fn estimate_threshold(loo: &[Option<f32>]) -> Option<f32> {
    let d: Vec<f32> = loo.iter().flatten().copied().collect();
    if d.is_empty() {
        return None;
    }
    let max = d.iter().copied().fold(f32::MIN, f32::max);
    let mean = d.iter().sum::<f32>() / d.len() as f32;
    let var = d.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / d.len() as f32;
    Some(max.max(mean + 2.0 * var.sqrt()) * 1.1).filter(|t| *t > 0.0 && t.is_finite())
}

fn featurize_takes(
    dir: &Path,
    manifest: &Manifest,
    frontend: &mut dyn Frontend,
    normalizer: &Normalizer,
) -> Result<Vec<Features>> {
    let paths: Vec<PathBuf> = manifest.takes.iter().map(|t| dir.join(&t.file)).collect();
    featurize_paths(&paths, frontend, normalizer)
}

fn featurize_paths(
    paths: &[PathBuf],
    frontend: &mut dyn Frontend,
    normalizer: &Normalizer,
) -> Result<Vec<Features>> {
    paths
        .iter()
        .map(|path| {
            let samples = audio::read_file(path)?;
            let f = extract_utterance(frontend, &samples, path)?;
            Ok(normalizer.apply_features(&f))
        })
        .collect()
}

/// Reads a keyword folder's manifest.
pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join(MANIFEST);
    let text = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    Manifest::parse(&text, &path)
}

impl Manifest {
    /// Parses and checks manifest JSON; `path` names it in errors. A take
    /// file must be a plain name inside the keyword folder.
    pub fn parse(text: &str, path: &Path) -> Result<Manifest> {
        let m: Manifest =
            serde_json::from_str(text).map_err(|e| Error::format(path, e.to_string()))?;
        check_keyword(&m.keyword).map_err(|e| Error::format(path, e.to_string()))?;
        if m.takes.is_empty() {
            return Err(Error::format(path, "manifest lists no takes"));
        }
        if let Some(t) = m.takes.iter().find(|t| check_keyword(&t.file).is_err()) {
            return Err(Error::format(
                path,
                format!(
                    "take file '{}' is not a file name inside the keyword folder",
                    t.file
                ),
            ));
        }
        Ok(m)
    }
}

/// Writes a keyword folder's manifest (atomically: temp file + rename).
pub fn write_manifest(dir: &Path, m: &Manifest) -> Result<()> {
    let path = dir.join(MANIFEST);
    let tmp = dir.join(".manifest.json.tmp");
    let text = serde_json::to_string_pretty(m).expect("manifest serializes");
    fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
}

/// Keyword folders under `dir`: `dir` itself when it holds a manifest, else its
/// sub-folders that do (sorted by name).
pub fn keyword_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Err(Error::format(dir, "template folder not found"));
    }
    if dir.join(MANIFEST).is_file() {
        return Ok(vec![dir.to_path_buf()]);
    }
    let mut out = Vec::new();
    for e in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let p = e.map_err(|e| Error::io(dir, e))?.path();
        if p.join(MANIFEST).is_file() {
            out.push(p);
        }
    }
    out.sort();
    if out.is_empty() {
        return Err(Error::format(
            dir,
            "no keyword here (expected KEYWORD/manifest.json; create one with `wordspot enroll`)",
        ));
    }
    Ok(out)
}

/// Loads every keyword under `dir` and featurizes its takes with `frontend`;
/// fails on the first keyword that cannot be loaded (see [`load_store`] to
/// skip it instead).
pub fn load(
    dir: &Path,
    frontend: &mut dyn Frontend,
    normalizer: &Normalizer,
) -> Result<Vec<Keyword>> {
    keyword_dirs(dir)?
        .into_iter()
        .map(|d| load_keyword(d, frontend, normalizer))
        .collect()
}

/// A template store as loaded by [`load_store`].
#[derive(Debug)]
pub struct Store {
    /// The keywords that loaded, sorted by folder name.
    pub keywords: Vec<Keyword>,
    /// Why each other keyword folder was skipped (a corrupt manifest, a
    /// missing or unreadable take...), each error naming the file.
    pub skipped: Vec<Error>,
}

/// Loads the keywords under `dir` that can be loaded: one bad keyword is
/// reported in [`Store::skipped`] and the others still load. Errors only
/// when `dir` holds no keyword folder at all.
pub fn load_store(
    dir: &Path,
    frontend: &mut dyn Frontend,
    normalizer: &Normalizer,
) -> Result<Store> {
    let mut store = Store {
        keywords: Vec::new(),
        skipped: Vec::new(),
    };
    for d in keyword_dirs(dir)? {
        match load_keyword(d, frontend, normalizer) {
            Ok(k) => store.keywords.push(k),
            Err(e) => store.skipped.push(e),
        }
    }
    Ok(store)
}

fn load_keyword(
    d: PathBuf,
    frontend: &mut dyn Frontend,
    normalizer: &Normalizer,
) -> Result<Keyword> {
    let manifest = read_manifest(&d)?;
    let feats = featurize_takes(&d, &manifest, frontend, normalizer)?;
    let same_space = manifest.frontend == frontend.config()
        && crate::normalize::NormSpec::parse(&manifest.normalize)
            .is_ok_and(|s| s == normalizer.spec());
    let norms = match manifest.takes.iter().map(|t| t.score_norm).collect() {
        Some(n) if same_space => n,
        _ => Vec::new(),
    };
    let templates = manifest
        .takes
        .iter()
        .zip(feats)
        .map(|(t, f)| (format!("{}/{}", manifest.keyword, t.file), f))
        .collect();
    Ok(Keyword {
        dir: d,
        manifest,
        templates,
        norms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_threshold_reads_as_nan_and_the_keyword_still_loads() {
        let dir = tempfile::tempdir().unwrap();
        let k = dir.path().join("w");
        fs::create_dir_all(&k).unwrap();
        for bad in ["\"oops\"", "null", "-1e39"] {
            let text = format!(
                r#"{{"keyword":"w","frontend":{{"kind":"embedding","hop_frames":4}},"normalize":"none",
                "metric":"cosine","threshold":{bad},"threshold_source":"manual",
                "takes":[{{"file":"1.wav","duration_s":0.5,"source":"x","loo_distance":null}}]}}"#
            );
            fs::write(k.join(MANIFEST), text).unwrap();
            let m = read_manifest(&k).unwrap();
            assert!(m.threshold.is_nan(), "{bad}: {}", m.threshold);
            let kw = Keyword {
                dir: k.clone(),
                manifest: m,
                templates: Vec::new(),
                norms: Vec::new(),
            };
            assert_eq!(
                kw.threshold_for(&kw.manifest.frontend.clone(), "none", false),
                None
            );
        }
    }

    #[test]
    fn trims_silence_around_a_tone() {
        let mut x = vec![0.0f32; 16000];
        for (i, s) in x[6000..9000].iter_mut().enumerate() {
            *s = 0.5 * (i as f32 * 0.1).sin();
        }
        // A little noise so the floor is not -100 dB.
        for (i, s) in x.iter_mut().enumerate() {
            *s += 1e-4 * ((i * 7919 % 101) as f32 / 101.0 - 0.5);
        }
        let (a, b) = voiced_range(&x).unwrap();
        assert!((5000..=6000).contains(&a), "{a}");
        assert!((9000..=9960).contains(&b), "{b}");
        let (a, b) = voiced_span(&x).unwrap();
        assert!((5840..=6000).contains(&a), "{a}");
        assert!((9000..=9160).contains(&b), "{b}");
        assert!(voiced_range(&vec![0.0; 16000]).is_none());
        assert!(trim_silence(&[], "x.wav").is_err());
    }

    #[test]
    fn word_span_ignores_zero_padding_and_quiet_noise() {
        // 1 s of noise 32 dB under a 0.3 s tone, then 0.5 s of zeros (padding).
        let mut x = vec![0.0f32; 24000];
        let mut st = 1u32;
        for s in x[..16000].iter_mut() {
            st = st.wrapping_mul(1664525).wrapping_add(1013904223);
            *s = 0.03 * ((st >> 8) as f32 / (1u32 << 24) as f32 - 0.5);
        }
        for (i, s) in x[6000..10800].iter_mut().enumerate() {
            *s += 0.5 * (i as f32 * 0.1).sin();
        }
        // The old rule keeps the noise (the zeros make the floor -100 dB).
        let (a, b) = voiced_span(&x).unwrap();
        assert!(a < 1000 && b > 15000, "{a}..{b}");
        let (a, b) = word_span(&x).unwrap();
        assert!((5840..=6000).contains(&a), "{a}");
        assert!((10800..=10960).contains(&b), "{b}");
        let t = trim_take(&x, "x.wav").unwrap();
        assert_eq!(t.len(), (b + TRIM_TAIL) - (a - TRIM_LEAD));
        assert!(word_span(&vec![0.0; 16000]).is_none());
    }

    #[test]
    fn keyword_names_are_checked() {
        assert!(check_keyword("hello").is_ok());
        for bad in ["", "  ", "a/b", "..", "."] {
            assert!(check_keyword(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn threshold_estimate_covers_every_take() {
        let loo = [Some(0.1), Some(0.2), Some(0.15), None];
        let t = estimate_threshold(&loo).unwrap();
        assert!(t > 0.2);
        assert!(estimate_threshold(&[None]).is_none());
    }

    #[test]
    fn missing_store_is_a_clear_error() {
        let e = keyword_dirs(Path::new("/nonexistent/templates")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/templates"));
        let tmp = std::env::temp_dir().join(format!("ws-empty-{}", std::process::id()));
        fs::create_dir_all(&tmp).unwrap();
        let e = keyword_dirs(&tmp).unwrap_err().to_string();
        assert!(e.contains("no keyword"), "{e}");
        fs::remove_dir_all(&tmp).ok();
    }
}
