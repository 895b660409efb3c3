//! From a source of audio to keyword events.
//!
//! [`Spotter`] is the synchronous core: samples in, events out (frontend →
//! normalizer → detector). [`spawn`] runs it on threads connected by
//! crossbeam channels:
//!
//! ```text
//! source thread ──blocks──► processing thread (Spotter) ──events──► caller
//!       ▲                          │
//!       └────── recycled blocks ───┘
//! ```
//!
//! Blocks are recycled, so the steady state allocates nothing.
//!
//! [`spawn_with_tap`] also hands every block and event to a [`Tap`] on the
//! processing thread (clip saving, durable logs: see [`crate::field`]).
//! A source that fails with [`Error::Device`] (device lost) is retried with
//! back-off ([`Retry`]) instead of ending the stream.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use serde::Serialize;

use crate::audio::Source;
use crate::detector::{
    Detection, Detections, Detector, DetectorConfig, KeywordTemplates, MAX_KEYWORDS,
};
use crate::features::Frontend;
use crate::normalize::Normalizer;
use crate::templates::Keyword;
use crate::verify::{centre_sample, Cascade, REACH};
use crate::{Error, Result};

/// A keyword detection, as printed by `wordspot listen`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// The keyword.
    pub keyword: String,
    /// Start of the match, seconds from the start of the stream.
    pub start: f64,
    /// End of the match, seconds from the start of the stream.
    pub end: f64,
    /// Fused path-length-normalized DTW distance.
    pub distance: f32,
    /// The template that matched best (`keyword/N.wav`).
    pub template: String,
    /// Stream time (s) when the event was decided; `decided - end` is the latency.
    #[serde(skip)]
    pub decided: f64,
}

/// The synchronous spotting core.
pub struct Spotter {
    frontend: Box<dyn Frontend>,
    normalizer: Normalizer,
    detector: Detector,
    feats: Vec<f32>,
    normed: Vec<f32>,
    dets: Detections,
    samples: u64,
    verify: Option<Verification>,
}

/// Samples fed through the frontend at a time when verifying, so candidates
/// are verified as soon as their audio is in.
const VERIFY_CHUNK: usize = 1600;

/// The second stage inside a [`Spotter`]: DTW candidates wait until the audio
/// [`REACH`] past their centre is in, then are rescored by the cascade and
/// kept when the verified score is under the keyword's threshold.
#[derive(Debug)]
struct Verification {
    cascade: Cascade,
    /// Thresholds on verified scores.
    thresholds: Vec<f32>,
    /// The last `history.len()` samples, circular: sample `i` at `i % len`.
    history: Vec<f32>,
    /// Samples `[centre - REACH, centre + REACH)` of the candidate being verified.
    scratch: Vec<f32>,
    /// Candidates waiting for their audio, with their centre sample.
    pending: heapless::Deque<(Detection, i64), MAX_KEYWORDS>,
}

impl Verification {
    fn new(cascade: Cascade, thresholds: Vec<f32>, longest_match: usize) -> Self {
        Verification {
            cascade,
            thresholds,
            history: vec![0.0; 2 * REACH + 2 * VERIFY_CHUNK + longest_match],
            scratch: vec![0.0; 2 * REACH],
            pending: heapless::Deque::new(),
        }
    }

    fn record(&mut self, first: u64, samples: &[f32]) {
        let n = self.history.len() as u64;
        for (i, &x) in samples.iter().enumerate() {
            self.history[((first + i as u64) % n) as usize] = x;
        }
    }

    /// Verifies `d` (centre `c`) with the audio up to sample `total`; calls
    /// `sink` when it passes.
    fn verify(
        &mut self,
        det: &Detector,
        d: &Detection,
        c: i64,
        total: u64,
        sink: &mut dyn FnMut(Event),
    ) -> Result<()> {
        let n = self.history.len() as i64;
        let first = c - REACH as i64;
        let held = total as i64 - n;
        for (i, o) in self.scratch.iter_mut().enumerate() {
            let j = first + i as i64;
            *o = if j >= 0 && j >= held && j < total as i64 {
                self.history[(j % n) as usize]
            } else {
                0.0
            };
        }
        let (start, end) = (
            det.frame_start_s(d.start_frame),
            det.frame_end_s(d.end_frame),
        );
        let score =
            self.cascade
                .rescore(d.keyword, d.distance, &self.scratch, first, start, end)?;
        if score <= self.thresholds[d.keyword] {
            sink(Event {
                keyword: det.keyword_name(d.keyword).to_string(),
                start,
                end,
                distance: score,
                template: det.template_name(d.keyword, d.template).to_string(),
                decided: total as f64 / crate::SAMPLE_RATE as f64,
            });
        }
        Ok(())
    }
}

impl Spotter {
    /// A spotter for `keywords` with one threshold each.
    pub fn new(
        frontend: Box<dyn Frontend>,
        normalizer: Normalizer,
        keywords: &[Keyword],
        thresholds: &[f32],
        cfg: DetectorConfig,
    ) -> Result<Self> {
        if normalizer.in_dim() != frontend.dim() {
            return Err(Error::invalid(format!(
                "normalizer expects {}-dimensional frames, the frontend gives {}",
                normalizer.in_dim(),
                frontend.dim()
            )));
        }
        let detector = build_detector(
            keywords,
            thresholds,
            cfg,
            normalizer.out_dim(),
            frontend.hop(),
            frontend.window(),
        )?;
        Ok(Spotter {
            normed: vec![0.0; normalizer.out_dim()],
            feats: Vec::with_capacity(frontend.dim() * 64),
            frontend,
            normalizer,
            detector,
            dets: Detections::new(),
            samples: 0,
            verify: None,
        })
    }

    /// Adds the second stage: the detector now proposes candidates at
    /// [`VerifierConfig::proposal_threshold`] of each keyword's threshold,
    /// the cascade rescores each one, and events are those whose verified
    /// score is under the threshold (the thresholds given to
    /// [`Spotter::new`], which must then be on verified scores). Events come
    /// [`REACH`] samples (0.75 s) after the match's centre at the earliest.
    ///
    /// [`VerifierConfig::proposal_threshold`]: crate::verify::VerifierConfig::proposal_threshold
    pub fn verified(mut self, cascade: Cascade) -> Result<Self> {
        let n = self.detector.num_keywords();
        let thresholds: Vec<f32> = (0..n).map(|k| self.detector.threshold(k)).collect();
        for (k, &t) in thresholds.iter().enumerate() {
            self.detector
                .set_threshold(k, cascade.config(k).proposal_threshold(t))?;
        }
        // A match spans at most twice its template.
        let longest = 2 * self.detector.longest_template() * self.frontend.hop();
        self.verify = Some(Verification::new(cascade, thresholds, longest));
        Ok(self)
    }

    /// Whether events are verified (see [`Spotter::verified`]).
    pub fn is_verified(&self) -> bool {
        self.verify.is_some()
    }

    /// The detector (for names and geometry).
    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    /// Feature frames processed so far.
    pub fn frames(&self) -> u64 {
        self.detector.position()
    }

    /// Samples consumed so far.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Feeds 16 kHz mono samples; calls `sink` for every decided event.
    pub fn push(&mut self, samples: &[f32], sink: &mut dyn FnMut(Event)) -> Result<()> {
        if self.verify.is_none() {
            self.samples += samples.len() as u64;
            self.feats.clear();
            self.frontend.push(samples, &mut self.feats)?;
            return self.run_frames(sink);
        }
        for chunk in samples.chunks(VERIFY_CHUNK) {
            if let Some(v) = self.verify.as_mut() {
                v.record(self.samples, chunk);
            }
            self.samples += chunk.len() as u64;
            self.feats.clear();
            self.frontend.push(chunk, &mut self.feats)?;
            self.run_frames(sink)?;
            self.resolve(false, sink)?;
        }
        Ok(())
    }

    /// Ends the stream: flushes the frontend and the detector (and verifies
    /// the candidates still waiting, the audio past the end counting as silence).
    pub fn finish(&mut self, sink: &mut dyn FnMut(Event)) -> Result<()> {
        self.feats.clear();
        self.frontend.finish(&mut self.feats)?;
        self.run_frames(sink)?;
        self.detector.finish(&mut self.dets);
        self.drain(sink)?;
        self.resolve(true, sink)
    }

    /// Forgets the stream (templates are kept).
    pub fn reset(&mut self) {
        self.frontend.reset();
        self.detector.reset();
        self.samples = 0;
        if let Some(v) = self.verify.as_mut() {
            v.pending.clear();
        }
    }

    fn run_frames(&mut self, sink: &mut dyn FnMut(Event)) -> Result<()> {
        let dim = self.frontend.dim();
        let mut feats = std::mem::take(&mut self.feats);
        let mut res = Ok(());
        for frame in feats.chunks_exact(dim) {
            self.normalizer.apply(frame, &mut self.normed);
            self.detector.push(&self.normed, &mut self.dets);
            res = res.and(self.drain(sink));
        }
        feats.clear();
        self.feats = feats;
        res
    }

    /// Verifies the waiting candidates whose audio is in (all with `all`).
    fn resolve(&mut self, all: bool, sink: &mut dyn FnMut(Event)) -> Result<()> {
        let Some(v) = self.verify.as_mut() else {
            return Ok(());
        };
        while let Some(&(d, c)) = v.pending.front() {
            if !all && c + (REACH as i64) > self.samples as i64 {
                break;
            }
            v.pending.pop_front();
            v.verify(&self.detector, &d, c, self.samples, sink)?;
        }
        Ok(())
    }

    fn drain(&mut self, sink: &mut dyn FnMut(Event)) -> Result<()> {
        if let Some(v) = self.verify.as_mut() {
            for d in self.dets.iter() {
                let det = &self.detector;
                let c = centre_sample(
                    det.frame_start_s(d.start_frame),
                    det.frame_end_s(d.end_frame),
                );
                if v.pending.is_full() {
                    // More candidates in flight than keywords: verify the
                    // oldest now with the audio there is.
                    if let Some((old, oc)) = v.pending.pop_front() {
                        v.verify(det, &old, oc, self.samples, sink)?;
                    }
                }
                let _ = v.pending.push_back((*d, c));
            }
            self.dets.clear();
            return Ok(());
        }
        for d in self.dets.iter() {
            let det = &self.detector;
            sink(Event {
                keyword: det.keyword_name(d.keyword).to_string(),
                start: det.frame_start_s(d.start_frame),
                end: det.frame_end_s(d.end_frame),
                distance: d.distance,
                template: det.template_name(d.keyword, d.template).to_string(),
                decided: det.frame_end_s(d.decided_frame),
            });
        }
        self.dets.clear();
        Ok(())
    }
}

/// A [`Detector`] for loaded keywords, one threshold each, on frames of
/// `dim` values with the given hop and window (samples).
pub fn build_detector(
    keywords: &[Keyword],
    thresholds: &[f32],
    cfg: DetectorConfig,
    dim: usize,
    hop: usize,
    window: usize,
) -> Result<Detector> {
    if keywords.len() != thresholds.len() {
        return Err(Error::invalid("one threshold per keyword is needed"));
    }
    let kts = keywords
        .iter()
        .zip(thresholds)
        .map(|(k, &threshold)| KeywordTemplates {
            name: k.manifest.keyword.clone(),
            templates: k
                .templates
                .iter()
                .map(|(id, f)| (id.clone(), f.data.view()))
                .collect(),
            norms: k.norms.clone(),
            threshold,
        })
        .collect();
    Detector::new(kts, cfg, dim, hop, window)
}

/// Live counters of a running pipeline.
#[derive(Debug, Default)]
pub struct Counters {
    /// Samples read from the source.
    pub samples: AtomicU64,
    /// Feature frames processed.
    pub frames: AtomicU64,
    /// Events emitted.
    pub detections: AtomicU64,
    /// Capture callbacks that found the ring full (audio was dropped).
    pub overruns: AtomicU64,
    /// Device frames dropped by those overruns.
    pub dropped_frames: AtomicU64,
    /// Times the capture stream was re-opened after an error.
    pub reopens: AtomicU64,
    /// Recoverable source errors (device lost) that were retried.
    pub source_errors: AtomicU64,
    /// Microseconds the processing thread spent working (tap + spotter).
    pub busy_us: AtomicU64,
    /// The last recoverable source error.
    pub last_source_error: Mutex<Option<String>>,
}

/// A snapshot of [`Counters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Samples read.
    pub samples: u64,
    /// Feature frames processed.
    pub frames: u64,
    /// Events emitted.
    pub detections: u64,
    /// Capture callbacks that found the ring full.
    pub overruns: u64,
    /// Device frames dropped by overruns.
    pub dropped_frames: u64,
    /// Capture stream re-opens.
    pub reopens: u64,
    /// Recoverable source errors that were retried.
    pub source_errors: u64,
    /// Microseconds of processing-thread work.
    pub busy_us: u64,
}

impl Counters {
    /// A snapshot.
    pub fn summary(&self) -> Summary {
        Summary {
            samples: self.samples.load(Ordering::Relaxed),
            frames: self.frames.load(Ordering::Relaxed),
            detections: self.detections.load(Ordering::Relaxed),
            overruns: self.overruns.load(Ordering::Relaxed),
            dropped_frames: self.dropped_frames.load(Ordering::Relaxed),
            reopens: self.reopens.load(Ordering::Relaxed),
            source_errors: self.source_errors.load(Ordering::Relaxed),
            busy_us: self.busy_us.load(Ordering::Relaxed),
        }
    }

    /// The last recoverable source error, if any.
    pub fn last_source_error(&self) -> Option<String> {
        self.last_source_error
            .lock()
            .map(|g| g.clone())
            .unwrap_or_default()
    }
}

/// Back-off policy for recoverable source errors ([`Error::Device`]).
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Consecutive failed reads tolerated before the pipeline stops with the error.
    pub max_consecutive: u32,
    /// Wait after the first failure; doubled after each further one.
    pub first_backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            max_consecutive: 20,
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// Sees the audio and the events of a running pipeline, on its processing
/// thread (see [`spawn_with_tap`]). Implementations must not block for long
/// and should not allocate in [`Tap::on_audio`].
pub trait Tap: Send {
    /// Every block of 16 kHz samples, before the spotter processes it.
    fn on_audio(&mut self, samples: &[f32]);
    /// Every decided event, before it is sent to [`Pipeline::events`].
    fn on_event(&mut self, e: &Event);
    /// The stream has ended (called once, after the last event).
    fn on_end(&mut self) {}
}

struct NoTap;

impl Tap for NoTap {
    fn on_audio(&mut self, _: &[f32]) {}
    fn on_event(&mut self, _: &Event) {}
}

/// Pipeline options.
#[derive(Debug, Clone, Copy)]
pub struct PipelineOptions {
    /// Pace the source in real time (for files); otherwise as fast as possible.
    pub realtime: bool,
    /// Blocks in flight between the source and processing threads.
    pub queue: usize,
    /// Retrying recoverable source errors.
    pub retry: Retry,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        PipelineOptions {
            realtime: false,
            queue: 16,
            retry: Retry::default(),
        }
    }
}

/// A running pipeline.
pub struct Pipeline {
    /// Decided events, in order.
    pub events: Receiver<Event>,
    /// Live counters.
    pub counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    source: Option<JoinHandle<Result<()>>>,
    process: Option<JoinHandle<Result<()>>>,
}

impl Pipeline {
    /// Asks both threads to stop (the stream is finished cleanly: pending
    /// candidates are still reported).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// A handle that stops the pipeline when set (e.g. from a Ctrl-C handler).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Waits for both threads; returns the counters and the first error.
    pub fn join(mut self) -> Result<Summary> {
        let s = join(self.source.take());
        let p = join(self.process.take());
        s.and(p)?;
        Ok(self.counters.summary())
    }
}

fn join(h: Option<JoinHandle<Result<()>>>) -> Result<()> {
    match h.map(JoinHandle::join) {
        None => Ok(()),
        Some(Ok(r)) => r,
        Some(Err(_)) => Err(Error::invalid("a pipeline thread panicked")),
    }
}

/// Starts the source and processing threads.
pub fn spawn(source: Box<dyn Source>, spotter: Spotter, opts: PipelineOptions) -> Pipeline {
    spawn_with_tap(source, spotter, opts, Box::new(NoTap))
}

/// Like [`spawn`], and `tap` sees every block and event on the processing thread.
pub fn spawn_with_tap(
    mut source: Box<dyn Source>,
    mut spotter: Spotter,
    opts: PipelineOptions,
    mut tap: Box<dyn Tap>,
) -> Pipeline {
    let counters = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    let (block_tx, block_rx) = bounded::<Vec<f32>>(opts.queue.max(1));
    let (free_tx, free_rx) = unbounded::<Vec<f32>>();
    for _ in 0..opts.queue.max(1) + 2 {
        let _ = free_tx.send(Vec::with_capacity(4096));
    }
    let (event_tx, event_rx) = unbounded::<Event>();

    let src = {
        let counters = counters.clone();
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("wordspot-source".into())
            .spawn(move || {
                read_source(
                    &mut *source,
                    &block_tx,
                    &free_rx,
                    &counters,
                    &stop,
                    &opts.retry,
                )
            })
            .expect("spawn source thread")
    };
    let proc = {
        let counters = counters.clone();
        std::thread::Builder::new()
            .name("wordspot-process".into())
            .spawn(move || {
                let r = process(
                    &mut spotter,
                    &mut *tap,
                    &block_rx,
                    &free_tx,
                    &event_tx,
                    &counters,
                );
                tap.on_end();
                r
            })
            .expect("spawn processing thread")
    };
    Pipeline {
        events: event_rx,
        counters,
        stop,
        source: Some(src),
        process: Some(proc),
    }
}

fn read_source(
    source: &mut dyn Source,
    tx: &Sender<Vec<f32>>,
    free: &Receiver<Vec<f32>>,
    counters: &Counters,
    stop: &AtomicBool,
    retry: &Retry,
) -> Result<()> {
    while !stop.load(Ordering::Relaxed) {
        let mut buf = free
            .recv_timeout(Duration::from_millis(100))
            .unwrap_or_default();
        buf.clear();
        let Some(n) = read_retrying(source, &mut buf, counters, stop, retry)? else {
            break; // stopped while waiting to retry
        };
        let st = source.stats();
        counters.overruns.store(st.overruns, Ordering::Relaxed);
        counters
            .dropped_frames
            .store(st.dropped_frames, Ordering::Relaxed);
        counters.reopens.store(st.reopens, Ordering::Relaxed);
        if n == 0 {
            break;
        }
        counters.samples.fetch_add(n as u64, Ordering::Relaxed);
        if tx.send(buf).is_err() {
            break; // processing ended (error); its result tells why
        }
    }
    Ok(())
}

/// One read; recoverable errors are counted and retried with back-off.
/// `Ok(None)` when `stop` was set while waiting.
fn read_retrying(
    source: &mut dyn Source,
    buf: &mut Vec<f32>,
    counters: &Counters,
    stop: &AtomicBool,
    retry: &Retry,
) -> Result<Option<usize>> {
    let mut failures = 0u32;
    let mut wait = retry.first_backoff;
    loop {
        match source.read(buf) {
            Ok(n) => return Ok(Some(n)),
            Err(e @ Error::Device(_)) if failures < retry.max_consecutive => {
                failures += 1;
                counters.source_errors.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut g) = counters.last_source_error.lock() {
                    *g = Some(format!("{}: {e}", source.name()));
                }
                buf.clear();
                let until = Instant::now() + wait;
                while Instant::now() < until {
                    if stop.load(Ordering::Relaxed) {
                        return Ok(None);
                    }
                    std::thread::sleep(Duration::from_millis(10).min(wait));
                }
                wait = (wait * 2).min(retry.max_backoff);
            }
            Err(e) => return Err(e),
        }
    }
}

fn process(
    spotter: &mut Spotter,
    tap: &mut dyn Tap,
    rx: &Receiver<Vec<f32>>,
    free: &Sender<Vec<f32>>,
    events: &Sender<Event>,
    counters: &Counters,
) -> Result<()> {
    let emit = |tap: &mut dyn Tap, e: Event| {
        counters.detections.fetch_add(1, Ordering::Relaxed);
        tap.on_event(&e);
        let _ = events.send(e);
    };
    for block in rx.iter() {
        let t = Instant::now();
        tap.on_audio(&block);
        spotter.push(&block, &mut |e| emit(tap, e))?;
        counters.frames.store(spotter.frames(), Ordering::Relaxed);
        counters
            .busy_us
            .fetch_add(t.elapsed().as_micros() as u64, Ordering::Relaxed);
        let _ = free.send(block);
    }
    spotter.finish(&mut |e| emit(tap, e))?;
    counters.frames.store(spotter.frames(), Ordering::Relaxed);
    Ok(())
}
