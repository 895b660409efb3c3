//! Detection evaluation (`wordspot eval stream`) and threshold calibration
//! (`wordspot calibrate`) on long recordings.
//!
//! Features are computed once per recording the way `wordspot listen` computes
//! them (the frontend fed 0.1 s blocks, then the normalizer), and the real
//! [`Detector`] is run over them as often as needed.
//!
//! # Threshold sweep
//! The detector's event selection depends on the threshold (a candidate only
//! exists while the score is under it, and each event suppresses overlapping
//! and refractory matches), so the events of a run at a very high threshold,
//! filtered by distance, are *not* the events of a run at a lower threshold.
//! The sweep is therefore exact: one detector run per threshold of a grid.
//! The grid is built from a first run that keeps every candidate (threshold
//! `f32::MAX`): quantiles of its event distances, plus the distances of its
//! lowest-scoring false alarms and the values just under them, where the curve
//! changes at low false-alarm rates. Operating points between grid thresholds
//! are not measured; `miss rate at R FA/h` is the best grid point with at most
//! R false alarms per hour.
//!
//! # Verified detection
//! With a [`Cascade`] (the second-stage verifier, [`crate::verify`]) the
//! detector proposes candidates at each keyword's candidate threshold, every
//! candidate is rescored once (its recording is read again for the audio),
//! and thresholds apply to the verified scores. That candidate set does not
//! depend on the final threshold, so the sweep filters one run's rescored
//! candidates instead of rerunning the detector; the operating thresholds and
//! calibration run the detector at each threshold's own proposal threshold
//! ([`crate::verify::VerifierConfig::proposal_threshold`]), as `listen` does.

use std::path::{Path, PathBuf};

use ndarray::Array2;
use rayon::prelude::*;
use serde::Serialize;

use super::labels::{Labels, Occurrence};
use super::metrics::{miss_rate_at, quantiles, score_at, DetPoint, Scored};
use crate::audio;
use crate::detector::{Detections, Detector, DetectorConfig, Fusion};
use crate::dtw::subsequence;
use crate::features::{Features, Frontend, FrontendConfig};
use crate::normalize::Normalizer;
use crate::pipeline::build_detector;
use crate::templates::Keyword;
use crate::verify::Cascade;
use crate::{Error, Result, SAMPLE_RATE};

/// Samples per block fed to the frontend (as `wordspot listen` reads files).
pub const BLOCK: usize = 1600;

/// A recording's streamed, normalized features.
#[derive(Debug, Clone)]
pub struct StreamFeatures {
    /// The recording.
    pub file: PathBuf,
    /// Normalized frames (in memory, or on disk for a long recording).
    pub features: Frames,
    /// Duration in seconds.
    pub seconds: f64,
}

/// Frames kept in memory up to this many; a longer recording's frames are
/// written to a temporary file and read back in blocks of [`FRAME_BLOCK`], so
/// the memory of evaluation and calibration does not grow with its length.
pub const SPILL_FRAMES: usize = 4096;

/// Frames read back at a time from a spilled recording.
pub const FRAME_BLOCK: usize = 256;

/// A recording's normalized frames, in memory or spilled to a temporary file
/// (removed when the last clone is dropped).
#[derive(Debug, Clone)]
pub enum Frames {
    /// Held in memory.
    Memory(Features),
    /// On disk: `rows × cols` little-endian `f32`, row-major.
    Disk {
        /// The temporary file.
        file: std::sync::Arc<tempfile::NamedTempFile>,
        /// Frames.
        rows: usize,
        /// Values per frame.
        cols: usize,
        /// Hop in samples at 16 kHz.
        hop: usize,
        /// Window in samples at 16 kHz.
        window: usize,
    },
}

impl From<Features> for Frames {
    fn from(f: Features) -> Self {
        Frames::Memory(f)
    }
}

impl Frames {
    /// Number of frames.
    pub fn len(&self) -> usize {
        match self {
            Frames::Memory(f) => f.len(),
            Frames::Disk { rows, .. } => *rows,
        }
    }
    /// True when there are no frames.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Values per frame.
    pub fn dim(&self) -> usize {
        match self {
            Frames::Memory(f) => f.dim(),
            Frames::Disk { cols, .. } => *cols,
        }
    }
    /// Hop in samples at 16 kHz.
    pub fn hop(&self) -> usize {
        match self {
            Frames::Memory(f) => f.hop,
            Frames::Disk { hop, .. } => *hop,
        }
    }
    /// Window in samples at 16 kHz.
    pub fn window(&self) -> usize {
        match self {
            Frames::Memory(f) => f.window,
            Frames::Disk { window, .. } => *window,
        }
    }

    /// Hands the frames to `f` in order, in blocks of at most [`FRAME_BLOCK`]
    /// frames when on disk (the whole matrix at once when in memory).
    pub fn for_each_block(
        &self,
        f: &mut dyn FnMut(ndarray::ArrayView2<f32>) -> Result<()>,
    ) -> Result<()> {
        match self {
            Frames::Memory(x) => f(x.data.view()),
            Frames::Disk {
                file, rows, cols, ..
            } => {
                use std::io::Read;
                let path = file.path();
                let mut r = std::io::BufReader::new(
                    std::fs::File::open(path).map_err(|e| Error::io(path, e))?,
                );
                let mut bytes = vec![0u8; FRAME_BLOCK * cols * 4];
                let mut vals = vec![0f32; FRAME_BLOCK * cols];
                let mut left = *rows;
                while left > 0 {
                    let n = left.min(FRAME_BLOCK);
                    let b = &mut bytes[..n * cols * 4];
                    r.read_exact(b).map_err(|e| Error::io(path, e))?;
                    for (v, c) in vals.iter_mut().zip(b.chunks_exact(4)) {
                        *v = f32::from_le_bytes(c.try_into().expect("4 bytes"));
                    }
                    let view = ndarray::ArrayView2::from_shape((n, *cols), &vals[..n * cols])
                        .map_err(|e| Error::invalid(e.to_string()))?;
                    f(view)?;
                    left -= n;
                }
                Ok(())
            }
        }
    }

    /// All the frames in memory (for plots).
    pub fn load(&self) -> Result<Features> {
        match self {
            Frames::Memory(f) => Ok(f.clone()),
            Frames::Disk { rows, cols, .. } => {
                let mut data = Vec::with_capacity(rows * cols);
                self.for_each_block(&mut |b| {
                    data.extend(b.iter().copied());
                    Ok(())
                })?;
                Ok(Features {
                    data: Array2::from_shape_vec((*rows, *cols), data)
                        .map_err(|e| Error::invalid(e.to_string()))?,
                    hop: self.hop(),
                    window: self.window(),
                })
            }
        }
    }
}

/// Collects normalized frames, spilling them to a temporary file past
/// [`SPILL_FRAMES`].
struct FrameSink {
    cols: usize,
    mem: Vec<f32>,
    disk: Option<std::io::BufWriter<tempfile::NamedTempFile>>,
    rows: usize,
    /// The most frames held in memory at once.
    peak: usize,
}

impl FrameSink {
    fn new(cols: usize) -> Self {
        FrameSink {
            cols,
            mem: Vec::new(),
            disk: None,
            rows: 0,
            peak: 0,
        }
    }

    /// Appends whole frames.
    fn push(&mut self, frames: &[f32]) -> Result<()> {
        use std::io::Write;
        self.rows += frames.len() / self.cols.max(1);
        self.mem.extend_from_slice(frames);
        self.peak = self.peak.max(self.mem.len() / self.cols.max(1));
        let spill = |e: std::io::Error| Error::io(std::env::temp_dir(), e);
        if self.disk.is_none() && self.mem.len() > SPILL_FRAMES * self.cols {
            let f = tempfile::Builder::new()
                .prefix("wordspot-frames")
                .tempfile()
                .map_err(spill)?;
            self.disk = Some(std::io::BufWriter::new(f));
        }
        if let Some(w) = self.disk.as_mut() {
            for x in &self.mem {
                w.write_all(&x.to_le_bytes()).map_err(spill)?;
            }
            self.mem.clear();
        }
        Ok(())
    }

    fn finish(self, hop: usize, window: usize) -> Result<(Frames, usize)> {
        let peak = self.peak;
        let frames = match self.disk {
            None => Frames::Memory(Features {
                data: Array2::from_shape_vec((self.rows, self.cols), self.mem)
                    .map_err(|e| Error::invalid(e.to_string()))?,
                hop,
                window,
            }),
            Some(w) => {
                let file = w
                    .into_inner()
                    .map_err(|e| Error::io(std::env::temp_dir(), e.into_error()))?;
                Frames::Disk {
                    file: std::sync::Arc::new(file),
                    rows: self.rows,
                    cols: self.cols,
                    hop,
                    window,
                }
            }
        };
        Ok((frames, peak))
    }
}

/// A detector event in seconds, with the keyword as an index.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Detected {
    /// Index of the keyword.
    pub keyword: usize,
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
    /// Fused distance.
    pub distance: f32,
}

/// Streams `samples` through `frontend` in [`BLOCK`]-sample blocks and normalizes
/// the frames (the frames `wordspot listen` would score).
pub fn stream_features(
    frontend: &mut dyn Frontend,
    normalizer: &Normalizer,
    samples: &[f32],
) -> Result<Features> {
    frontend.reset();
    let mut raw = Vec::new();
    for b in samples.chunks(BLOCK) {
        frontend.push(b, &mut raw)?;
    }
    frontend.finish(&mut raw)?;
    let dim = frontend.dim();
    let n = raw.len() / dim;
    let mut out = vec![0.0f32; n * normalizer.out_dim()];
    for (i, o) in raw
        .chunks_exact(dim)
        .zip(out.chunks_exact_mut(normalizer.out_dim()))
    {
        normalizer.apply(i, o);
    }
    Ok(Features {
        data: Array2::from_shape_vec((n, normalizer.out_dim()), out)
            .map_err(|e| Error::invalid(e.to_string()))?,
        hop: frontend.hop(),
        window: frontend.window(),
    })
}

/// Reads and featurizes `files` in parallel (one frontend per worker). Each
/// file is decoded block by block into the frontend (its samples are never
/// held whole); the normalized frames of a long recording go to a temporary
/// file ([`Frames::Disk`]), so memory does not grow with its length.
pub fn load_streams(
    files: &[PathBuf],
    frontend: &FrontendConfig,
    normalizer: &Normalizer,
) -> Result<Vec<StreamFeatures>> {
    super::frontend_pool(files, frontend, |p, fe| {
        let mut src = audio::FileSource::open(p)?;
        let (features, samples, _) = source_frames(fe, normalizer, &mut src)?;
        Ok(StreamFeatures {
            file: p.clone(),
            features,
            seconds: samples as f64 / SAMPLE_RATE as f64,
        })
    })
}

/// [`stream_features`] of a source read block by block (the frontend's
/// frames do not depend on the block sizes), spilled past [`SPILL_FRAMES`];
/// also returns the samples read and the most frames held in memory at once.
pub fn source_frames(
    frontend: &mut dyn Frontend,
    normalizer: &Normalizer,
    src: &mut dyn audio::Source,
) -> Result<(Frames, u64, usize)> {
    frontend.reset();
    let dim = frontend.dim();
    let od = normalizer.out_dim();
    let mut block = Vec::with_capacity(audio::BLOCK);
    let mut raw = Vec::new();
    let mut normed = Vec::new();
    let mut sink = FrameSink::new(od);
    let mut seen = 0u64;
    let mut take = |raw: &mut Vec<f32>, sink: &mut FrameSink| -> Result<()> {
        let n = raw.len() / dim;
        normed.clear();
        normed.resize(n * od, 0.0);
        for (i, o) in raw.chunks_exact(dim).zip(normed.chunks_exact_mut(od)) {
            normalizer.apply(i, o);
        }
        raw.drain(..n * dim);
        sink.push(&normed)
    };
    loop {
        block.clear();
        let n = src.read(&mut block)?;
        if n == 0 {
            break;
        }
        seen += n as u64;
        frontend.push(&block, &mut raw)?;
        take(&mut raw, &mut sink)?;
    }
    frontend.finish(&mut raw)?;
    take(&mut raw, &mut sink)?;
    let (frames, peak) = sink.finish(frontend.hop(), frontend.window())?;
    Ok((frames, seen, peak))
}

/// Runs the detector over `f` with one threshold per keyword.
pub fn run_detector(
    keywords: &[Keyword],
    thresholds: &[f32],
    cfg: DetectorConfig,
    f: &Features,
) -> Result<Vec<Detected>> {
    detect_blocks(
        keywords,
        thresholds,
        cfg,
        f.dim(),
        f.hop,
        f.window,
        |each| each(f.data.view()),
    )
}

/// [`run_detector`] over frames in memory or on disk (read in blocks).
pub fn run_detector_frames(
    keywords: &[Keyword],
    thresholds: &[f32],
    cfg: DetectorConfig,
    f: &Frames,
) -> Result<Vec<Detected>> {
    detect_blocks(
        keywords,
        thresholds,
        cfg,
        f.dim(),
        f.hop(),
        f.window(),
        |each| f.for_each_block(each),
    )
}

/// Runs the detector over the frames `blocks` hands on, in order.
fn detect_blocks(
    keywords: &[Keyword],
    thresholds: &[f32],
    cfg: DetectorConfig,
    dim: usize,
    hop: usize,
    window: usize,
    blocks: impl FnOnce(&mut dyn FnMut(ndarray::ArrayView2<f32>) -> Result<()>) -> Result<()>,
) -> Result<Vec<Detected>> {
    let mut det = build_detector(keywords, thresholds, cfg, dim, hop, window)?;
    let mut out = Vec::new();
    let mut dets = Detections::new();
    let mut take = |det: &Detector, dets: &mut Detections| {
        for d in dets.iter() {
            out.push(Detected {
                keyword: d.keyword,
                start: det.frame_start_s(d.start_frame),
                end: det.frame_end_s(d.end_frame),
                distance: d.distance,
            });
        }
        dets.clear();
    };
    blocks(&mut |block| {
        for row in block.rows() {
            match row.as_slice() {
                Some(s) => det.push(s, &mut dets),
                None => det.push(&row.to_vec(), &mut dets),
            }
            take(&det, &mut dets);
        }
        Ok(())
    })?;
    det.finish(&mut dets);
    take(&det, &mut dets);
    Ok(out)
}

/// The audio of a stream as a block source (the built-in cohort is decoded
/// from the binary).
fn stream_source(s: &StreamFeatures) -> Result<Box<dyn audio::Source>> {
    if s.file == Path::new(super::cohort::COHORT_NAME) {
        let x = audio::decode_bytes(super::cohort::BUILTIN_COHORT_FLAC, "cohort.flac")?;
        Ok(Box::new(audio::MemorySource::new(
            x,
            audio::BLOCK,
            "cohort.flac",
        )))
    } else {
        Ok(Box::new(audio::FileSource::open(&s.file)?))
    }
}

/// The audio of a stream, whole (calibration refits the verifier on it).
fn stream_audio(s: &StreamFeatures) -> Result<Vec<f32>> {
    let mut src = stream_source(s)?;
    let mut all = Vec::new();
    let mut block = Vec::with_capacity(audio::BLOCK);
    loop {
        block.clear();
        if src.read(&mut block)? == 0 {
            return Ok(all);
        }
        all.extend_from_slice(&block);
    }
}

/// Rescores every event with the cascade (one list of events per stream):
/// each event's distance becomes its verified score. Each recording is read
/// again block by block, holding only the audio from the next event's
/// window on (memory does not grow with the recording's length).
pub fn verify_events(
    cascade: &Cascade,
    streams: &[StreamFeatures],
    events: &mut [Vec<Detected>],
) -> Result<()> {
    streams
        .par_iter()
        .zip(events.par_iter_mut())
        .filter(|(_, ev)| !ev.is_empty())
        .try_for_each_init(
            || cascade.clone(),
            |c, (s, ev)| {
                let centre = |e: &Detected| crate::verify::centre_sample(e.start, e.end);
                let mut order: Vec<usize> = (0..ev.len()).collect();
                order.sort_by_key(|&i| centre(&ev[i]));
                let reach = crate::verify::REACH as i64;
                let mut src = stream_source(s)?;
                // `held[0]` is stream sample `first`.
                let (mut held, mut first) = (Vec::new(), 0i64);
                let mut block = Vec::with_capacity(audio::BLOCK);
                let mut next = 0;
                let mut done = false;
                while next < order.len() {
                    if !done {
                        block.clear();
                        done = src.read(&mut block)? == 0;
                        held.extend_from_slice(&block);
                    }
                    let end = first + held.len() as i64;
                    while next < order.len() && (done || centre(&ev[order[next]]) + reach <= end) {
                        let e = &mut ev[order[next]];
                        e.distance =
                            c.rescore(e.keyword, e.distance, &held, first, e.start, e.end)?;
                        next += 1;
                    }
                    // Keep the audio from the next event's window on.
                    let keep = order
                        .get(next)
                        .map_or(end, |&i| centre(&ev[i]) - reach)
                        .clamp(first, end);
                    held.drain(..(keep - first) as usize);
                    first = keep;
                }
                Ok(())
            },
        )
}

/// The events of every stream at `thresholds` (one per keyword; `f32::MAX`:
/// every candidate), verified when `cascade` is given: the detector then runs
/// at the proposal thresholds (the candidate threshold for `f32::MAX`) and
/// events whose verified score is over the threshold are dropped.
pub fn detect(
    keywords: &[Keyword],
    thresholds: &[f32],
    cfg: DetectorConfig,
    streams: &[StreamFeatures],
    cascade: Option<&Cascade>,
) -> Result<Vec<Vec<Detected>>> {
    detect_reusing(None, keywords, thresholds, cfg, streams, cascade)
}

/// The detector thresholds [`detect`] runs at for `thresholds`.
fn proposals(thresholds: &[f32], cascade: Option<&Cascade>) -> Vec<f32> {
    match cascade {
        None => thresholds.to_vec(),
        Some(c) => thresholds
            .iter()
            .enumerate()
            .map(|(k, &t)| {
                let v = c.config(k);
                if t == f32::MAX {
                    v.candidate
                } else {
                    v.proposal_threshold(t)
                }
            })
            .collect(),
    }
}

/// [`detect`], reusing `every` (the verified events of a run at `f32::MAX`)
/// when `thresholds` propose the same candidates: verification, the costly
/// part, then runs once per evaluation.
fn detect_reusing(
    every: Option<&[Vec<Detected>]>,
    keywords: &[Keyword],
    thresholds: &[f32],
    cfg: DetectorConfig,
    streams: &[StreamFeatures],
    cascade: Option<&Cascade>,
) -> Result<Vec<Vec<Detected>>> {
    let props = proposals(thresholds, cascade);
    let mut runs: Vec<Vec<Detected>> = match every {
        Some(e)
            if cascade.is_some()
                && props == proposals(&vec![f32::MAX; thresholds.len()], cascade) =>
        {
            e.to_vec()
        }
        _ => {
            let mut r: Vec<Vec<Detected>> = streams
                .par_iter()
                .map(|s| run_detector_frames(keywords, &props, cfg, &s.features))
                .collect::<Result<_>>()?;
            if let Some(c) = cascade {
                verify_events(c, streams, &mut r)?;
            }
            r
        }
    };
    if cascade.is_some() {
        for ev in &mut runs {
            ev.retain(|e| e.distance <= thresholds[e.keyword]);
        }
    }
    Ok(runs)
}

/// The fused distance curve of each keyword over `f` (one value per frame,
/// `INFINITY` where no match can end), computed with the batch DTW (identical
/// to the streaming one) and the detector's fusion rule. For plots.
pub fn distance_curves(
    keywords: &[Keyword],
    fusion: Fusion,
    cfg: DetectorConfig,
    f: &Features,
) -> Vec<Vec<f32>> {
    keywords
        .iter()
        .map(|k| {
            let per: Vec<Vec<(f32, usize)>> = k
                .templates
                .iter()
                .map(|(_, t)| subsequence(t.data.view(), f.data.view(), cfg.metric))
                .collect();
            (0..f.len())
                .map(|j| {
                    let mut ds: Vec<f32> = per
                        .iter()
                        .map(|c| c[j].0)
                        .filter(|d| d.is_finite())
                        .collect();
                    ds.sort_by(f32::total_cmp);
                    let n = match fusion {
                        Fusion::Min => 1,
                        Fusion::Mean(k) => k,
                    }
                    .min(ds.len());
                    if n == 0 {
                        f32::INFINITY
                    } else {
                        ds[..n].iter().sum::<f32>() / n as f32
                    }
                })
                .collect()
        })
        .collect()
}

/// The largest `f32` under `x`, so `≤ threshold` excludes `x` (scores may be
/// negative: normalised scores are).
fn just_under(x: f32) -> f32 {
    if !x.is_finite() {
        x
    } else if x == 0.0 {
        -f32::from_bits(1)
    } else if x > 0.0 {
        f32::from_bits(x.to_bits() - 1)
    } else {
        f32::from_bits(x.to_bits() + 1)
    }
}

/// Matches `events` of keyword `kw` in `file` against the labelled occurrences:
/// each event hits the occurrence of the keyword it overlaps most (index into
/// `occs`), else it is a false alarm.
fn score_events(events: &[Detected], kw: usize, file: &Path, occs: &[&Occurrence]) -> Vec<Scored> {
    events
        .iter()
        .filter(|e| e.keyword == kw)
        .map(|e| {
            let hit = occs
                .iter()
                .enumerate()
                .filter(|(_, o)| o.file == file && o.overlaps(e.start, e.end))
                .max_by(|a, b| {
                    a.1.overlap(e.start, e.end)
                        .total_cmp(&b.1.overlap(e.start, e.end))
                })
                .map(|(i, _)| i);
            Scored {
                distance: e.distance,
                hit,
            }
        })
        .collect()
}

/// Detection results of one keyword (or all keywords pooled).
#[derive(Debug, Clone, Serialize)]
pub struct KeywordResult {
    /// Keyword name (`*` for the pooled result).
    pub keyword: String,
    /// Labelled occurrences.
    pub occurrences: usize,
    /// Counts at the stored (or given) thresholds.
    pub at_threshold: DetPoint,
    /// Best grid point with at most 1 false alarm per hour.
    pub at_1_fa_per_hour: Option<DetPoint>,
    /// Best grid point with at most 0.1 false alarms per hour.
    pub at_0_1_fa_per_hour: Option<DetPoint>,
    /// The DET curve: one point per grid threshold, ascending.
    pub curve: Vec<DetPoint>,
}

/// The outcome of a detection evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct StreamReport {
    /// Hours of audio.
    pub hours: f64,
    /// Recordings.
    pub files: usize,
    /// Thresholds swept (detector runs).
    pub grid: usize,
    /// Per keyword.
    pub keywords: Vec<KeywordResult>,
    /// All keywords pooled (false alarms per hour per keyword).
    pub pooled: KeywordResult,
    /// Events per recording at the stored thresholds.
    #[serde(skip)]
    pub events: Vec<Vec<Detected>>,
}

/// Sweep settings.
#[derive(Debug, Clone, Copy)]
pub struct SweepOptions {
    /// Detector settings.
    pub detector: DetectorConfig,
    /// Quantiles of the candidate distances in the grid.
    pub quantiles: usize,
    /// Lowest-scoring false alarms whose distances (and the values just under) join the grid.
    pub low_false_alarms: usize,
}

impl Default for SweepOptions {
    fn default() -> Self {
        SweepOptions {
            detector: DetectorConfig::default(),
            quantiles: 40,
            low_false_alarms: 20,
        }
    }
}

/// Runs the detector over every stream at each of `grid` (one threshold for
/// all keywords per run), in parallel.
fn run_grid(
    keywords: &[Keyword],
    grid: &[f32],
    cfg: DetectorConfig,
    streams: &[StreamFeatures],
) -> Result<Vec<Vec<Vec<Detected>>>> {
    let jobs: Vec<(usize, usize)> = (0..grid.len())
        .flat_map(|g| (0..streams.len()).map(move |s| (g, s)))
        .collect();
    let flat: Vec<Vec<Detected>> = jobs
        .par_iter()
        .map(|&(g, s)| {
            run_detector_frames(
                keywords,
                &vec![grid[g]; keywords.len()],
                cfg,
                &streams[s].features,
            )
        })
        .collect::<Result<_>>()?;
    let mut it = flat.into_iter();
    Ok((0..grid.len())
        .map(|_| it.by_ref().take(streams.len()).collect())
        .collect())
}

/// Evaluates detection of `keywords` on `streams` against `labels`.
/// `thresholds` are the operating thresholds (stored or given), one per keyword.
pub fn evaluate(
    labels: &Labels,
    streams: &[StreamFeatures],
    keywords: &[Keyword],
    thresholds: &[f32],
    opts: SweepOptions,
    cascade: Option<&Cascade>,
) -> Result<StreamReport> {
    let hours: f64 = streams.iter().map(|s| s.seconds).sum::<f64>() / 3600.0;
    if hours <= 0.0 {
        return Err(Error::invalid("no audio to evaluate"));
    }
    let names: Vec<&str> = keywords
        .iter()
        .map(|k| k.manifest.keyword.as_str())
        .collect();
    let occs: Vec<Vec<&Occurrence>> = names
        .iter()
        .map(|n| {
            labels
                .occurrences
                .iter()
                .filter(|o| o.word == *n && streams.iter().any(|s| s.file == o.file))
                .collect()
        })
        .collect();
    // Scores every keyword's events of one run (all streams).
    let score = |runs: &[Vec<Detected>]| -> Vec<Vec<Scored>> {
        (0..keywords.len())
            .map(|k| {
                streams
                    .iter()
                    .zip(runs)
                    .flat_map(|(s, ev)| score_events(ev, k, &s.file, &occs[k]))
                    .collect()
            })
            .collect()
    };
    // 1. Every candidate, to place the grid.
    let all = detect(
        keywords,
        &vec![f32::MAX; keywords.len()],
        opts.detector,
        streams,
        cascade,
    )?;
    let scored_all = score(&all);
    let mut dists: Vec<f32> = scored_all.iter().flatten().map(|e| e.distance).collect();
    let mut fas: Vec<f32> = scored_all
        .iter()
        .flatten()
        .filter(|e| e.hit.is_none())
        .map(|e| e.distance)
        .collect();
    fas.sort_by(f32::total_cmp);
    dists.sort_by(f32::total_cmp);
    let qs: Vec<f64> = (0..opts.quantiles.max(2))
        .map(|i| i as f64 / (opts.quantiles.max(2) - 1) as f64)
        .collect();
    let mut grid: Vec<f32> = quantiles(&dists, &qs)
        .into_iter()
        .filter(|x| x.is_finite())
        .collect();
    for &d in fas.iter().take(opts.low_false_alarms) {
        grid.push(d);
        grid.push(just_under(d));
    }
    grid.retain(|&x| x.is_finite());
    grid.sort_by(f32::total_cmp);
    grid.dedup();
    // 2. One exact run per grid threshold, plus the operating thresholds.
    // (Verified: the rescored candidates, filtered by `score_at`.)
    let scored_runs: Vec<Vec<Vec<Scored>>> = match cascade {
        None => run_grid(keywords, &grid, opts.detector, streams)?
            .iter()
            .map(|r| score(r))
            .collect(),
        Some(_) => vec![scored_all.clone(); grid.len()],
    };
    let stored = detect_reusing(
        Some(&all),
        keywords,
        thresholds,
        opts.detector,
        streams,
        cascade,
    )?;
    let scored_stored = score(&stored);
    let mut results = Vec::new();
    for (k, name) in names.iter().enumerate() {
        let n = occs[k].len();
        let curve: Vec<DetPoint> = grid
            .iter()
            .zip(&scored_runs)
            .map(|(&t, sr)| score_at(&sr[k], n, hours, t))
            .collect();
        results.push(KeywordResult {
            keyword: name.to_string(),
            occurrences: n,
            at_threshold: DetPoint {
                threshold: thresholds[k],
                ..score_at(&scored_stored[k], n, hours, f32::MAX)
            },
            at_1_fa_per_hour: miss_rate_at(&curve, 1.0),
            at_0_1_fa_per_hour: miss_rate_at(&curve, 0.1),
            curve,
        });
    }
    let pooled = pool(&results, &grid, hours);
    Ok(StreamReport {
        hours,
        files: streams.len(),
        grid: grid.len(),
        keywords: results,
        pooled,
        events: stored,
    })
}

/// Pools per-keyword counts: misses over all occurrences, false alarms per
/// hour per keyword.
fn pool(results: &[KeywordResult], grid: &[f32], hours: f64) -> KeywordResult {
    let kh = hours * results.len() as f64;
    let n: usize = results.iter().map(|r| r.occurrences).sum();
    let merge = |pts: Vec<&DetPoint>, threshold: f32| {
        let hits: usize = pts.iter().map(|p| p.hits).sum();
        let fa: usize = pts.iter().map(|p| p.false_alarms).sum();
        DetPoint {
            threshold,
            hits,
            misses: n - hits,
            false_alarms: fa,
            miss_rate: if n > 0 {
                (n - hits) as f64 / n as f64
            } else {
                0.0
            },
            fa_per_hour: fa as f64 / kh,
        }
    };
    let curve: Vec<DetPoint> = grid
        .iter()
        .enumerate()
        .map(|(i, &t)| merge(results.iter().map(|r| &r.curve[i]).collect(), t))
        .collect();
    KeywordResult {
        keyword: "*".into(),
        occurrences: n,
        at_threshold: merge(results.iter().map(|r| &r.at_threshold).collect(), f32::NAN),
        at_1_fa_per_hour: miss_rate_at(&curve, 1.0),
        at_0_1_fa_per_hour: miss_rate_at(&curve, 0.1),
        curve,
    }
}

/// A keyword's calibrated threshold and the background score distribution.
#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    /// Keyword name.
    pub keyword: String,
    /// The chosen threshold.
    pub threshold: f32,
    /// False alarms on the background at that threshold (verified by a run).
    pub false_alarms: usize,
    /// `false_alarms / hours`.
    pub fa_per_hour: f64,
    /// The requested rate.
    pub target_fa_per_hour: f64,
    /// False alarms allowed: `floor(target × hours)`.
    pub allowed: usize,
    /// Hours of background audio.
    pub hours: f64,
    /// Resolution of the FA rate, `1 / hours` per hour.
    pub resolution_per_hour: f64,
    /// Candidate events on the background (run at an unbounded threshold).
    pub events: usize,
    /// Quantiles of the candidates' distances: `[q, value]` for q in 0, .01, .05, .1, .25, .5, .75, .9, 1.
    pub distance_quantiles: Vec<(f64, f32)>,
    /// False when the background gave no more candidates than allowed (the threshold is then not constrained by it).
    pub constrained: bool,
    /// With verification: the verifier entry refitted on the background
    /// (the threshold is on its scores).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verifier: Option<crate::verify::VerifierEntry>,
}

/// Quantile levels stored in a calibration summary.
pub const CAL_QUANTILES: [f64; 9] = [0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0];

/// Chooses per keyword the highest threshold found that gives at most
/// `floor(fa_per_hour × hours)` false alarms on `background` (audio without
/// the keywords): first guess just under the (n+1)-th lowest candidate distance
/// of an unbounded run, then lowered until a real detector run at that
/// threshold gives at most n events. `current` thresholds are kept for
/// keywords the background cannot constrain.
pub fn calibrate(
    background: &[StreamFeatures],
    keywords: &[Keyword],
    current: &[f32],
    fa_per_hour: f64,
    cfg: DetectorConfig,
    cascade: Option<&Cascade>,
) -> Result<Vec<Calibration>> {
    if !(fa_per_hour.is_finite() && fa_per_hour >= 0.0) {
        return Err(Error::invalid(format!(
            "--fa-per-hour must be a non-negative number, got {fa_per_hour}"
        )));
    }
    let hours: f64 = background.iter().map(|s| s.seconds).sum::<f64>() / 3600.0;
    if hours <= 0.0 {
        return Err(Error::invalid("no background audio"));
    }
    let allowed = (fa_per_hour * hours + 1e-9).floor() as usize;
    // The verifier's similarity norms refitted on this background.
    let refitted = match cascade {
        Some(c) => {
            let audio: Vec<Vec<f32>> =
                background.iter().map(stream_audio).collect::<Result<_>>()?;
            let mut c = c.clone();
            c.refit(&audio)?;
            Some(c)
        }
        None => None,
    };
    let cascade = refitted.as_ref();
    let per_kw = |runs: &[Vec<Detected>]| -> Vec<Vec<f32>> {
        (0..keywords.len())
            .map(|k| {
                let mut d: Vec<f32> = runs
                    .iter()
                    .flatten()
                    .filter(|e| e.keyword == k)
                    .map(|e| e.distance)
                    .collect();
                d.sort_by(f32::total_cmp);
                d
            })
            .collect()
    };
    let every = detect(
        keywords,
        &vec![f32::MAX; keywords.len()],
        cfg,
        background,
        cascade,
    )?;
    let run = |th: &[f32]| -> Result<Vec<Vec<f32>>> {
        Ok(per_kw(&detect_reusing(
            Some(&every),
            keywords,
            th,
            cfg,
            background,
            cascade,
        )?))
    };
    let cand = per_kw(&every);
    let mut th: Vec<f32> = cand
        .iter()
        .zip(current)
        .map(|(d, &cur)| {
            if d.len() > allowed {
                just_under(d[allowed])
            } else {
                cur
            }
        })
        .collect();
    let mut fa = run(&th)?;
    for _ in 0..200 {
        let mut changed = false;
        for k in 0..keywords.len() {
            if fa[k].len() > allowed {
                th[k] = just_under(fa[k][allowed]);
                changed = true;
            }
        }
        if !changed {
            break;
        }
        fa = run(&th)?;
    }
    Ok(keywords
        .iter()
        .enumerate()
        .map(|(k, kw)| {
            let q = quantiles(&cand[k], &CAL_QUANTILES);
            Calibration {
                keyword: kw.manifest.keyword.clone(),
                threshold: th[k],
                false_alarms: fa[k].len(),
                fa_per_hour: fa[k].len() as f64 / hours,
                target_fa_per_hour: fa_per_hour,
                allowed,
                hours,
                resolution_per_hour: 1.0 / hours,
                events: cand[k].len(),
                distance_quantiles: CAL_QUANTILES.iter().copied().zip(q).collect(),
                constrained: cand[k].len() > allowed,
                verifier: cascade.map(|c| c.entry(k)),
            }
        })
        .collect())
}

/// Writes a calibration into the keyword's manifest: the threshold, its source
/// (`calibrated`), the frontend, normalizer and metric it holds for, and the
/// summary as `calibration`.
pub fn write_calibration(
    kw: &Keyword,
    cal: &Calibration,
    frontend: &FrontendConfig,
    normalize: &str,
    metric: crate::dtw::Metric,
    background: &[PathBuf],
) -> Result<()> {
    let mut m = crate::templates::read_manifest(&kw.dir)?;
    let mut summary = serde_json::to_value(cal).map_err(|e| Error::invalid(e.to_string()))?;
    if let Some(o) = summary.as_object_mut() {
        o.insert(
            "background".into(),
            background.iter().map(|p| p.display().to_string()).collect(),
        );
        o.insert("frontend".into(), frontend.name().into());
    }
    m.threshold = cal.threshold;
    m.threshold_source = "calibrated".into();
    m.frontend = frontend.clone();
    m.normalize = normalize.to_string();
    m.metric = metric;
    m.calibration = Some(summary);
    m.verifier = cal.verifier;
    crate::templates::write_manifest(&kw.dir, &m)
}

#[cfg(test)]
mod tests {

    /// A long recording's frames go to disk: the frames in memory stay
    /// bounded (counted) whatever its length, and reading them back gives the
    /// in-memory frames bit for bit.
    #[test]
    fn long_recordings_spill_with_bounded_frames_in_memory() {
        use crate::features::{FrontendConfig, MfccConfig};
        let cfg = FrontendConfig::Mfcc(MfccConfig::default());
        let mut fe = cfg.build().unwrap();
        let norm = Normalizer::identity(fe.dim());
        let mut x = 7u32;
        let one: Vec<f32> = (0..16000 * 50)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x as f32 / u32::MAX as f32 - 0.5) * 0.1 + (i as f32 * 0.05).sin() * 0.2
            })
            .collect();
        let mut peaks = Vec::new();
        for reps in [1usize, 4] {
            let samples = one.repeat(reps);
            let want = stream_features(&mut *fe, &norm, &samples).unwrap();
            let mut src = audio::MemorySource::new(samples.clone(), audio::BLOCK, "x");
            let (frames, n, peak) = source_frames(&mut *fe, &norm, &mut src).unwrap();
            assert_eq!(n as usize, samples.len());
            assert!(
                matches!(frames, Frames::Disk { .. }),
                "{} frames",
                frames.len()
            );
            let got = frames.load().unwrap();
            assert_eq!(got.data.shape(), want.data.shape());
            assert!(got
                .data
                .iter()
                .zip(want.data.iter())
                .all(|(a, b)| a.to_bits() == b.to_bits()));
            peaks.push(peak);
        }
        assert!(peaks[1] <= SPILL_FRAMES + 64, "{peaks:?}");
        assert!(peaks[1] <= peaks[0] + 64, "{peaks:?}");
    }
    use super::*;

    #[test]
    fn just_under_is_the_previous_float() {
        let x = 0.25f32;
        assert!(just_under(x) < x);
        assert!(just_under(x) > 0.2499999);
        assert!(just_under(0.0) < 0.0);
        assert!(just_under(-4.0) < -4.0 && just_under(-4.0) > -4.000001);
    }
}

/// Energy of one 20 ms frame (320 samples), dB re full scale.
fn frame_db(f: &[f32]) -> f64 {
    let e = f.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>() / 320.0;
    10.0 * (e + 1e-12).log10()
}

/// How speech-like a background recording is, from its 20 ms frame energies.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SpeechCheck {
    /// Loudest 20 ms frame, dB re full scale (RMS).
    pub peak_dbfs: f64,
    /// Spread (standard deviation, dB) of the frame energies above the noise
    /// floor: speech rises and falls by tens of dB, stationary noise by a few.
    pub modulation_db: f64,
}

impl SpeechCheck {
    /// Below this modulation a recording is taken for noise or silence.
    pub const MIN_MODULATION_DB: f64 = 4.0;
    /// Below this level a recording is taken for silence.
    pub const MIN_PEAK_DBFS: f64 = -50.0;

    /// Measures `samples` (16 kHz).
    pub fn of(samples: &[f32]) -> SpeechCheck {
        Self::of_frame_db(samples.chunks_exact(320).map(frame_db).collect())
    }

    /// [`SpeechCheck::of`] of a whole source read block by block: only the
    /// 20 ms energies are kept (8 bytes per 320 samples), not the samples. The
    /// frames and their sums are those of [`SpeechCheck::of`] over the same
    /// samples, so the result is the same.
    pub fn of_source(src: &mut dyn audio::Source) -> Result<SpeechCheck> {
        let mut db = Vec::new();
        let mut buf = Vec::with_capacity(audio::BLOCK + 320);
        loop {
            let n = src.read(&mut buf)?;
            let whole = buf.len() / 320 * 320;
            db.extend(buf[..whole].chunks_exact(320).map(frame_db));
            buf.drain(..whole);
            if n == 0 {
                return Ok(Self::of_frame_db(db));
            }
        }
    }

    fn of_frame_db(db: Vec<f64>) -> SpeechCheck {
        if db.is_empty() {
            return SpeechCheck {
                peak_dbfs: -120.0,
                modulation_db: 0.0,
            };
        }
        let peak = db.iter().copied().fold(f64::MIN, f64::max);
        let above: Vec<f64> = db.iter().copied().filter(|&d| d > peak - 60.0).collect();
        let mean = above.iter().sum::<f64>() / above.len() as f64;
        let var = above.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / above.len() as f64;
        SpeechCheck {
            peak_dbfs: peak,
            modulation_db: var.sqrt(),
        }
    }

    /// True when the recording looks like speech (or other modulated sound).
    pub fn is_speech_like(&self) -> bool {
        self.peak_dbfs >= Self::MIN_PEAK_DBFS && self.modulation_db >= Self::MIN_MODULATION_DB
    }
}

#[cfg(test)]
mod speech_check_tests {
    use super::SpeechCheck;

    #[test]
    fn noise_and_silence_are_not_speech_like_and_bursts_are() {
        let mut s = 1u64;
        let mut noise = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let white: Vec<f32> = (0..32000).map(|_| 0.2 * noise()).collect();
        assert!(
            !SpeechCheck::of(&white).is_speech_like(),
            "{:?}",
            SpeechCheck::of(&white)
        );
        assert!(!SpeechCheck::of(&[0.0; 32000]).is_speech_like());
        // Syllable-like bursts: 150 ms on, 100 ms off, varying level.
        let bursts: Vec<f32> = (0..32000)
            .map(|i| {
                let seg = i / 4000;
                let on = (i % 4000) < 2400;
                let level = [0.3, 0.05, 0.2, 0.02][seg % 4];
                if on {
                    level * noise()
                } else {
                    0.0005 * noise()
                }
            })
            .collect();
        assert!(
            SpeechCheck::of(&bursts).is_speech_like(),
            "{:?}",
            SpeechCheck::of(&bursts)
        );
    }

    #[test]
    fn speech_check_of_a_source_in_blocks_is_that_of_the_samples() {
        let mut s = 5u64;
        let x: Vec<f32> = (0..16000 * 3 + 123)
            .map(|i| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let burst = if (i / 2000) % 3 == 0 { 0.3 } else { 0.003 };
                burst * ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5)
            })
            .collect();
        for block in [1, 319, 1000, 1600] {
            let mut src = crate::audio::MemorySource::new(x.clone(), block, "x");
            let got = SpeechCheck::of_source(&mut src).unwrap();
            let want = SpeechCheck::of(&x);
            assert_eq!(got.peak_dbfs.to_bits(), want.peak_dbfs.to_bits(), "{block}");
            assert_eq!(
                got.modulation_db.to_bits(),
                want.modulation_db.to_bits(),
                "{block}"
            );
        }
    }
}
