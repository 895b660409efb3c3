//! Keyword detection on top of streaming DTW: per-keyword template fusion,
//! thresholds, and one event per occurrence.
//!
//! Every frame, each template's [`StreamingDtw`] reports the best match ending
//! there. A keyword's score is the fusion of its templates' scores (minimum, or
//! mean of the k best). While the score is under the keyword's threshold the
//! best match seen so far is held as a candidate; it is reported once the DTW
//! shows that no overlapping path can still end with a lower distance (a
//! lower bound that assumes the unseen frames cost nothing), or at the latest
//! `max_delay` after its end, which bounds the latency. After an event, matches
//! that overlap it or end within the refractory time are suppressed.
//!
//! [`Detector::push`] allocates nothing: detections are small `Copy` values
//! written to a fixed-capacity `heapless::Vec`.

use ndarray::ArrayView2;

use crate::dtw::{Metric, StreamingDtw};
use crate::{Error, Result, SAMPLE_RATE};

/// Most templates one keyword may have.
pub const MAX_TEMPLATES: usize = 64;
/// Most keywords one detector may watch.
pub const MAX_KEYWORDS: usize = 64;

/// How the scores of one keyword's templates are combined.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fusion {
    /// The best (lowest) template distance.
    Min,
    /// The mean of the `k` best template distances (all when fewer).
    Mean(usize),
}

impl std::str::FromStr for Fusion {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "min" => Ok(Fusion::Min),
            _ => match s.strip_prefix("mean:").map(str::parse::<usize>) {
                Some(Ok(k)) if k > 0 => Ok(Fusion::Mean(k)),
                _ => Err(Error::invalid(format!(
                    "unknown fusion '{s}' (expected 'min' or 'mean:K' with K >= 1)"
                ))),
            },
        }
    }
}

/// Detector settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectorConfig {
    /// Template fusion.
    pub fusion: Fusion,
    /// Frame distance.
    pub metric: Metric,
    /// Longest wait after a candidate's end before it is reported, in seconds.
    pub max_delay_s: f32,
    /// Time after an event's end during which new matches are suppressed, in seconds.
    pub refractory_s: f32,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            fusion: Fusion::Min,
            metric: Metric::Cosine,
            max_delay_s: 0.1,
            refractory_s: 0.25,
        }
    }
}

/// Per-template score normalisation: a template's DTW distance `d` is scored
/// as `(d - mean) / std`, where `mean` and `std` describe its best-match
/// distances over keyword-free speech by many speakers (a background
/// cohort). Scores of different templates and keywords are then on one scale,
/// "standard deviations closer than other speech", so one threshold means
/// about the same false-alarm rate for every keyword.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScoreNorm {
    /// Mean best-match distance on background speech.
    pub mean: f32,
    /// Standard deviation of those distances (> 0).
    pub std: f32,
}

impl ScoreNorm {
    /// Raw distances (`mean` 0, `std` 1).
    pub const IDENTITY: ScoreNorm = ScoreNorm {
        mean: 0.0,
        std: 1.0,
    };

    /// Mean and standard deviation of the finite values of `distances`, or
    /// `None` with fewer than two finite values or no spread.
    pub fn fit(distances: impl IntoIterator<Item = f32>) -> Option<ScoreNorm> {
        let (mut n, mut sum, mut sq) = (0usize, 0f64, 0f64);
        for d in distances.into_iter().filter(|d| d.is_finite()) {
            n += 1;
            sum += d as f64;
            sq += d as f64 * d as f64;
        }
        if n < 2 {
            return None;
        }
        let mean = sum / n as f64;
        let std = (sq / n as f64 - mean * mean).max(0.0).sqrt();
        (std > 1e-9).then_some(ScoreNorm {
            mean: mean as f32,
            std: std as f32,
        })
    }

    /// The normalised score of distance `d` (infinite stays infinite).
    #[inline]
    pub fn apply(&self, d: f32) -> f32 {
        (d - self.mean) / self.std
    }

    fn is_valid(&self) -> bool {
        self.mean.is_finite() && self.std.is_finite() && self.std > 0.0
    }
}

/// One keyword to watch for: its templates' features and threshold.
#[derive(Debug, Clone)]
pub struct KeywordTemplates<'a> {
    /// Keyword name.
    pub name: String,
    /// Template identifiers (e.g. `"k/2.wav"`) and features (frames × dims).
    pub templates: Vec<(String, ArrayView2<'a, f32>)>,
    /// Score normalisation per template (empty: raw distances).
    pub norms: Vec<ScoreNorm>,
    /// Detection threshold on the fused score (a distance, or a normalised
    /// score when `norms` are given, which is usually negative).
    pub threshold: f32,
}

/// A detection, in frames. Names are looked up with [`Detector::keyword_name`]
/// and [`Detector::template_name`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// Index of the keyword.
    pub keyword: usize,
    /// Index of the best template within the keyword.
    pub template: usize,
    /// First frame of the match.
    pub start_frame: u64,
    /// Last frame of the match (inclusive).
    pub end_frame: u64,
    /// Fused score: the path-length-normalized distance, or its normalised
    /// form when the keyword has [`ScoreNorm`]s (lower is closer).
    pub distance: f32,
    /// Frame index at which the detection was decided (latency = this − end).
    pub decided_frame: u64,
}

/// Detections produced by one call.
pub type Detections = heapless::Vec<Detection, MAX_KEYWORDS>;

#[derive(Debug, Clone)]
struct Keyword {
    name: String,
    template_names: Vec<String>,
    dtws: Vec<StreamingDtw>,
    norms: Vec<ScoreNorm>,
    threshold: f32,
    ends: Vec<(f32, u64)>,
    candidate: Option<Detection>,
    /// Matches must start after this frame and end at or after `quiet_until`.
    last_end: Option<u64>,
    quiet_until: u64,
}

/// Streaming keyword detector over feature frames.
#[derive(Debug, Clone)]
pub struct Detector {
    keywords: Vec<Keyword>,
    cfg: DetectorConfig,
    frame: Vec<f32>,
    dim: usize,
    hop: usize,
    window: usize,
    t: u64,
    max_delay: u64,
    refractory: u64,
}

impl Detector {
    /// A detector for `keywords`, fed frames of `dim` values with hop/window in samples.
    pub fn new(
        keywords: Vec<KeywordTemplates<'_>>,
        cfg: DetectorConfig,
        dim: usize,
        hop: usize,
        window: usize,
    ) -> Result<Self> {
        if keywords.is_empty() {
            return Err(Error::invalid("no keyword to detect"));
        }
        if keywords.len() > MAX_KEYWORDS {
            return Err(Error::invalid(format!(
                "{} keywords given, at most {MAX_KEYWORDS} supported",
                keywords.len()
            )));
        }
        let mut kws = Vec::with_capacity(keywords.len());
        for k in keywords {
            if k.name.trim().is_empty() {
                return Err(Error::invalid("empty keyword name"));
            }
            if k.templates.is_empty() {
                return Err(Error::invalid(format!(
                    "keyword '{}' has no template",
                    k.name
                )));
            }
            if k.templates.len() > MAX_TEMPLATES {
                return Err(Error::invalid(format!(
                    "keyword '{}' has {} templates, at most {MAX_TEMPLATES} supported",
                    k.name,
                    k.templates.len()
                )));
            }
            if !k.threshold.is_finite() {
                return Err(Error::invalid(format!(
                    "keyword '{}': threshold must be a finite number, got {}",
                    k.name, k.threshold
                )));
            }
            let norms = if k.norms.is_empty() {
                vec![ScoreNorm::IDENTITY; k.templates.len()]
            } else if k.norms.len() != k.templates.len() {
                return Err(Error::invalid(format!(
                    "keyword '{}': {} score norms for {} templates",
                    k.name,
                    k.norms.len(),
                    k.templates.len()
                )));
            } else if let Some(n) = k.norms.iter().find(|n| !n.is_valid()) {
                return Err(Error::invalid(format!(
                    "keyword '{}': invalid score norm (mean {}, std {})",
                    k.name, n.mean, n.std
                )));
            } else {
                k.norms.clone()
            };
            let mut names = Vec::new();
            let mut dtws = Vec::new();
            for (id, f) in &k.templates {
                if f.nrows() == 0 {
                    return Err(Error::invalid(format!("template {id} has no frames")));
                }
                if f.ncols() != dim {
                    return Err(Error::invalid(format!(
                        "template {id} has {}-dimensional frames, the frontend gives {dim}",
                        f.ncols()
                    )));
                }
                names.push(id.clone());
                dtws.push(StreamingDtw::new(*f, cfg.metric));
            }
            kws.push(Keyword {
                name: k.name,
                ends: vec![(f32::INFINITY, 0); dtws.len()],
                template_names: names,
                dtws,
                norms,
                threshold: k.threshold,
                candidate: None,
                last_end: None,
                quiet_until: 0,
            });
        }
        let frames = |s: f32| ((s.max(0.0) * SAMPLE_RATE as f32) / hop as f32).ceil() as u64;
        Ok(Detector {
            keywords: kws,
            frame: vec![0.0; dim],
            dim,
            hop,
            window,
            t: 0,
            max_delay: frames(cfg.max_delay_s),
            refractory: frames(cfg.refractory_s),
            cfg,
        })
    }

    /// Name of keyword `k`.
    pub fn keyword_name(&self, k: usize) -> &str {
        &self.keywords[k].name
    }

    /// The threshold of keyword `k`.
    pub fn threshold(&self, k: usize) -> f32 {
        self.keywords[k].threshold
    }

    /// Sets the threshold of keyword `k` (a finite number).
    pub fn set_threshold(&mut self, k: usize, threshold: f32) -> Result<()> {
        if !threshold.is_finite() {
            return Err(Error::invalid(format!(
                "keyword '{}': threshold must be a finite number, got {threshold}",
                self.keywords[k].name
            )));
        }
        self.keywords[k].threshold = threshold;
        Ok(())
    }

    /// Identifier of template `t` of keyword `k`.
    pub fn template_name(&self, k: usize, t: usize) -> &str {
        &self.keywords[k].template_names[t]
    }

    /// Number of keywords.
    pub fn num_keywords(&self) -> usize {
        self.keywords.len()
    }

    /// Frames consumed so far.
    pub fn position(&self) -> u64 {
        self.t
    }

    /// Start time (s) of frame `f`.
    pub fn frame_start_s(&self, f: u64) -> f64 {
        (f * self.hop as u64) as f64 / SAMPLE_RATE as f64
    }

    /// End time (s) of frame `f`.
    pub fn frame_end_s(&self, f: u64) -> f64 {
        (f * self.hop as u64 + self.window as u64) as f64 / SAMPLE_RATE as f64
    }

    /// The longest template, in frames.
    pub fn longest_template(&self) -> usize {
        self.keywords
            .iter()
            .flat_map(|k| k.dtws.iter().map(StreamingDtw::len))
            .max()
            .unwrap_or(0)
    }

    /// Consumes one frame (`dim` values); appends decided detections to `out`.
    pub fn push(&mut self, frame: &[f32], out: &mut Detections) {
        debug_assert_eq!(frame.len(), self.dim);
        self.frame.copy_from_slice(frame);
        self.cfg.metric.prepare(&mut self.frame);
        let t = self.t;
        self.t += 1;
        for (ki, kw) in self.keywords.iter_mut().enumerate() {
            for ((dtw, end), norm) in kw.dtws.iter_mut().zip(kw.ends.iter_mut()).zip(&kw.norms) {
                let (d, start) = dtw.push_prepared(&self.frame);
                *end = (norm.apply(d), start);
            }
            let Some((score, tpl)) = fuse(&kw.ends, self.cfg.fusion) else {
                continue;
            };
            let start = kw.ends[tpl].1;
            let allowed = kw.last_end.is_none_or(|e| start > e) && t >= kw.quiet_until;
            if score <= kw.threshold && allowed {
                let new = Detection {
                    keyword: ki,
                    template: tpl,
                    start_frame: start,
                    end_frame: t,
                    distance: score,
                    decided_frame: t,
                };
                match kw.candidate {
                    None => kw.candidate = Some(new),
                    Some(c) if start > c.end_frame => {
                        // A separate occurrence begins: the old one is final.
                        emit(kw, c, t, self.refractory, out);
                        kw.candidate = Some(new);
                    }
                    Some(c) if score < c.distance => kw.candidate = Some(new),
                    Some(_) => {}
                }
            }
            if let Some(c) = kw.candidate {
                let timed_out = t >= c.end_frame + self.max_delay;
                let settled = kw
                    .dtws
                    .iter()
                    .zip(&kw.norms)
                    .all(|(d, n)| n.apply(d.lower_bound(c.end_frame)) >= c.distance);
                if timed_out || settled {
                    emit(kw, c, t, self.refractory, out);
                }
            }
        }
    }

    /// Ends the stream: reports candidates still pending.
    pub fn finish(&mut self, out: &mut Detections) {
        let t = self.t;
        for kw in &mut self.keywords {
            if let Some(c) = kw.candidate {
                emit(kw, c, t, self.refractory, out);
            }
        }
    }

    /// Forgets the stream (templates and thresholds are kept).
    pub fn reset(&mut self) {
        self.t = 0;
        for kw in &mut self.keywords {
            kw.dtws.iter_mut().for_each(StreamingDtw::reset);
            kw.candidate = None;
            kw.last_end = None;
            kw.quiet_until = 0;
        }
    }
}

fn emit(kw: &mut Keyword, mut c: Detection, now: u64, refractory: u64, out: &mut Detections) {
    c.decided_frame = now;
    kw.candidate = None;
    kw.last_end = Some(c.end_frame);
    kw.quiet_until = c.end_frame + refractory;
    // Capacity is one per keyword per frame, so this cannot overflow.
    let _ = out.push(c);
}

/// Fused score and the index of the best template, or `None` when no template
/// has a match ending here.
fn fuse(ends: &[(f32, u64)], fusion: Fusion) -> Option<(f32, usize)> {
    let (best, &(d0, _)) = ends
        .iter()
        .enumerate()
        .min_by(|a, b| a.1 .0.total_cmp(&b.1 .0))?;
    if !d0.is_finite() {
        return None;
    }
    match fusion {
        Fusion::Min => Some((d0, best)),
        Fusion::Mean(k) => {
            // k smallest finite distances, without allocation.
            let mut top: heapless::Vec<f32, MAX_TEMPLATES> = heapless::Vec::new();
            for &(d, _) in ends.iter().filter(|e| e.0.is_finite()) {
                let pos = top.iter().position(|&x| d < x).unwrap_or(top.len());
                if pos < k {
                    if top.len() == k {
                        top.pop();
                    }
                    let _ = top.insert(pos, d);
                }
            }
            let n = top.len().max(1) as f32;
            Some((top.iter().sum::<f32>() / n, best))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{s, Array2};

    fn noise(n: usize, d: usize, seed: u64) -> Array2<f32> {
        let mut st = seed;
        Array2::from_shape_fn((n, d), |_| {
            st = st
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((st >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        })
    }

    fn run(det: &mut Detector, stream: &Array2<f32>) -> Vec<Detection> {
        let mut all = Vec::new();
        let mut out = Detections::new();
        for row in stream.rows() {
            det.push(row.as_slice().unwrap(), &mut out);
            all.extend(out.iter().copied());
            out.clear();
        }
        det.finish(&mut out);
        all.extend(out.iter().copied());
        all
    }

    #[test]
    fn one_event_per_planted_occurrence() {
        let d = 8;
        let word = noise(30, d, 1);
        let mut stream = noise(400, d, 2);
        for at in [50usize, 200, 330] {
            stream.slice_mut(s![at..at + 30, ..]).assign(&word);
        }
        let kw = KeywordTemplates {
            name: "w".into(),
            templates: vec![("w/1.wav".into(), word.view())],
            norms: vec![],
            threshold: 0.2,
        };
        let mut det = Detector::new(vec![kw], DetectorConfig::default(), d, 160, 400).unwrap();
        let ev = run(&mut det, &stream);
        let spans: Vec<(u64, u64)> = ev.iter().map(|e| (e.start_frame, e.end_frame)).collect();
        assert_eq!(spans, vec![(50, 79), (200, 229), (330, 359)]);
        for e in &ev {
            assert!(e.decided_frame - e.end_frame <= 15, "latency {:?}", e);
        }
    }

    #[test]
    fn normalised_scores_give_the_same_events_at_the_mapped_threshold() {
        // z = (d - mean) / std is monotone per template, so with one template a
        // raw threshold t and a normalised threshold (t - mean) / std must
        // give the same events, their scores mapped.
        let d = 8;
        let word = noise(30, d, 1);
        let mut stream = noise(400, d, 2);
        for at in [50usize, 200, 330] {
            stream.slice_mut(s![at..at + 30, ..]).assign(&word);
        }
        let norm = ScoreNorm {
            mean: 0.9,
            std: 0.05,
        };
        let mk = |norms: Vec<ScoreNorm>, threshold: f32| KeywordTemplates {
            name: "w".into(),
            templates: vec![("w/1.wav".into(), word.view())],
            norms,
            threshold,
        };
        let cfg = DetectorConfig::default();
        let raw = run(
            &mut Detector::new(vec![mk(vec![], 0.2)], cfg, d, 160, 400).unwrap(),
            &stream,
        );
        let z = run(
            &mut Detector::new(vec![mk(vec![norm], norm.apply(0.2))], cfg, d, 160, 400).unwrap(),
            &stream,
        );
        assert_eq!(raw.len(), 3);
        assert_eq!(raw.len(), z.len());
        for (a, b) in raw.iter().zip(&z) {
            assert_eq!((a.start_frame, a.end_frame), (b.start_frame, b.end_frame));
            assert!(
                (norm.apply(a.distance) - b.distance).abs() < 1e-4,
                "{a:?} {b:?}"
            );
            assert!(b.distance < 0.0);
        }
    }

    #[test]
    fn score_norm_fit_ignores_unreachable_ends() {
        let n = ScoreNorm::fit([1.0, f32::INFINITY, 3.0]).unwrap();
        assert_eq!((n.mean, n.std), (2.0, 1.0));
        assert!(ScoreNorm::fit([1.0, f32::INFINITY]).is_none());
        assert!(ScoreNorm::fit([2.0, 2.0, 2.0]).is_none());
        assert_eq!(n.apply(f32::INFINITY), f32::INFINITY);
    }

    #[test]
    fn mean_fusion_takes_k_best() {
        let ends = [(0.3, 0), (0.1, 0), (f32::INFINITY, 0), (0.2, 0)];
        let (s, b) = fuse(&ends, Fusion::Mean(2)).unwrap();
        assert!((s - 0.15).abs() < 1e-6);
        assert_eq!(b, 1);
        assert_eq!(fuse(&ends, Fusion::Min).unwrap(), (0.1, 1));
        assert!(fuse(&[(f32::INFINITY, 0)], Fusion::Min).is_none());
    }

    #[test]
    fn bad_configuration_is_rejected() {
        let w = noise(5, 4, 3);
        let mk = |name: &str, thr: f32, dim_ok: bool| KeywordTemplates {
            name: name.into(),
            templates: vec![(
                "t".into(),
                if dim_ok {
                    w.view()
                } else {
                    w.slice(s![.., ..2])
                },
            )],
            norms: vec![],
            threshold: thr,
        };
        assert!(Detector::new(vec![], DetectorConfig::default(), 4, 160, 400).is_err());
        assert!(Detector::new(
            vec![mk("", 0.2, true)],
            DetectorConfig::default(),
            4,
            160,
            400
        )
        .is_err());
        assert!(Detector::new(
            vec![mk("a", f32::NAN, true)],
            DetectorConfig::default(),
            4,
            160,
            400
        )
        .is_err());
        assert!(Detector::new(
            vec![mk("a", 0.2, false)],
            DetectorConfig::default(),
            4,
            160,
            400
        )
        .is_err());
        let bad_norm = KeywordTemplates {
            norms: vec![ScoreNorm {
                mean: 0.5,
                std: 0.0,
            }],
            ..mk("a", -3.0, true)
        };
        assert!(Detector::new(vec![bad_norm], DetectorConfig::default(), 4, 160, 400).is_err());
        let two_norms = KeywordTemplates {
            norms: vec![ScoreNorm::IDENTITY; 2],
            ..mk("a", -3.0, true)
        };
        assert!(Detector::new(vec![two_norms], DetectorConfig::default(), 4, 160, 400).is_err());
        assert!("mean:0".parse::<Fusion>().is_err());
        assert_eq!("mean:3".parse::<Fusion>().unwrap(), Fusion::Mean(3));
    }
}
