//! `wordspot enroll`: store templates for a keyword.

use std::path::PathBuf;

use std::io::Write;

use anyhow::{bail, Result};
use clap::Args;
use wordspot::eval::cohort::{normalise_keyword, CohortReport};
use wordspot::features::Frontend;
use wordspot::normalize::Normalizer;
use wordspot::templates::{enroll, Enrollment, Manifest, TakeAudio};
use wordspot::verify::VerifierConfig;

use crate::common::{parse_buffer_seconds, parse_time, read_audio, DetectorArgs, FrontendArgs};

/// Options of `wordspot enroll`.
#[derive(Debug, Args)]
pub struct EnrollArgs {
    /// The keyword (used as its folder name).
    #[arg(long)]
    pub name: String,
    /// Template store folder.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Recordings of the keyword, one take each.
    #[arg(value_name = "AUDIO")]
    pub audio: Vec<PathBuf>,
    /// Cut one take out of a longer recording (with --start, and --end).
    #[arg(long, value_name = "FILE", requires = "start")]
    pub from: Option<PathBuf>,
    /// Start of the take in --from (seconds or MM:SS.s).
    #[arg(long, value_parser = parse_time, requires = "from")]
    pub start: Option<f64>,
    /// End of the take in --from (default: the end of the file).
    #[arg(long, value_parser = parse_time, requires = "from")]
    pub end: Option<f64>,
    /// Record N takes from the microphone.
    #[arg(long, value_name = "N")]
    pub record: Option<usize>,
    /// Seconds per recorded take (at most 60).
    #[arg(long, default_value_t = 2.0, value_parser = |s: &str| parse_buffer_seconds(s, 60.0))]
    pub seconds: f32,
    /// Input device for --record (default device when absent).
    #[arg(long)]
    pub device: Option<String>,
    /// Fixed threshold instead of the default. It is on normalised scores
    /// (standard deviations closer than other speech, e.g. -4) unless
    /// --no-cohort is given, then on the raw DTW distance.
    #[arg(long, allow_negative_numbers = true)]
    pub threshold: Option<f32>,
    /// Keep leading/trailing silence.
    #[arg(long)]
    pub no_trim: bool,
    /// Score raw DTW distances with the leave-one-out threshold, instead of
    /// normalising each take's scores on the built-in background cohort.
    #[arg(long)]
    pub no_cohort: bool,
    /// Seconds of audio the verifier hears on each side of a candidate's
    /// match (0 to 0.75); the rest of its 1.5 s window is silenced, as around
    /// the takes. Without it the verifier hears the whole window.
    #[arg(long, value_name = "S", value_parser = |s: &str| crate::common::seconds_in(s, 0.0, 0.75, false))]
    pub verify_margin: Option<f32>,
    #[command(flatten)]
    pub det: DetectorArgs,
    #[command(flatten)]
    pub fe: FrontendArgs,
}

/// Runs `wordspot enroll`.
pub fn run(a: EnrollArgs) -> Result<()> {
    check_threshold(a.threshold, a.no_cohort)?;
    let mut takes = Vec::new();
    for p in &a.audio {
        takes.push(TakeAudio {
            samples: read_audio(p, None, None)?,
            source: p.display().to_string(),
        });
    }
    if let (Some(f), Some(s)) = (&a.from, a.start) {
        if let Some(e) = a.end.filter(|&e| e <= s) {
            bail!("--end ({e}) must be after --start ({s})");
        }
        let samples = read_audio(f, Some(s), a.end)?;
        let e = a
            .end
            .unwrap_or(s + samples.len() as f64 / wordspot::SAMPLE_RATE as f64);
        takes.push(TakeAudio {
            samples,
            source: format!("{}@{s:.3}-{e:.3}", f.display()),
        });
    }
    if let Some(n) = a.record {
        takes.extend(crate::record::record_takes(
            n,
            a.seconds,
            a.device.as_deref(),
        )?);
    }
    if takes.is_empty() {
        bail!("nothing to enroll: give AUDIO files, --from FILE --start S --end E, or --record N");
    }
    let (mut fe, norm) = a.fe.build()?;
    let mut m = enroll(
        &a.out,
        &a.name,
        &takes,
        Enrollment {
            frontend: &mut *fe,
            normalizer: &norm,
            normalize_spec: &a.fe.normalize,
            metric: a.fe.metric,
            trim: !a.no_trim,
            threshold: a.threshold,
        },
    )?;
    if !a.no_cohort {
        normalise_on_cohort(&a, &mut m, &mut *fe, &norm)?;
    }
    writeln!(
        std::io::stdout(),
        "enrolled '{}' in {}: {} take(s), threshold {:.4} ({})",
        m.keyword,
        a.out.join(&m.keyword).display(),
        m.takes.len(),
        m.threshold,
        m.threshold_source
    )?;
    for t in &m.takes {
        let loo = t
            .loo_distance
            .map_or("-".to_string(), |d| format!("{d:.4}"));
        writeln!(
            std::io::stdout(),
            "  {:<8} {:>5.2} s  nearest other take {loo}  ({})",
            t.file,
            t.duration_s,
            t.source
        )?;
    }
    Ok(())
}

/// Refuses thresholds no detection can meet. With the cohort (the default)
/// a threshold is a normalised score: any finite number is valid (-4 is the
/// default; 0 or above alarms on typical other speech, so it is allowed but
/// warned about). With `--no-cohort` it is a raw DTW distance, which is
/// never negative: a negative one would detect nothing, and 0 only an exact
/// copy of a take.
fn check_threshold(t: Option<f32>, no_cohort: bool) -> Result<()> {
    let Some(t) = t else { return Ok(()) };
    if !t.is_finite() {
        bail!("--threshold must be a finite number, got {t}");
    }
    if no_cohort && t < 0.0 {
        bail!(
            "--threshold {t}: with --no-cohort it is a raw DTW distance, never negative, so nothing would be \
             detected (negative thresholds are normalised scores: drop --no-cohort)"
        );
    }
    if no_cohort && t == 0.0 {
        eprintln!("warning: --threshold 0 with --no-cohort only detects exact copies of the takes");
    } else if !no_cohort && t >= 0.0 {
        eprintln!(
            "warning: --threshold {t} is a normalised score: 0 or above matches typical speech of other words \
             and will alarm often (the default is -4)"
        );
    }
    Ok(())
}

/// Normalises the keyword's scores on the built-in cohort (the library does
/// it) and reports what it found.
fn normalise_on_cohort(
    a: &EnrollArgs,
    m: &mut Manifest,
    fe: &mut dyn Frontend,
    norm: &Normalizer,
) -> Result<()> {
    let dir = a.out.join(&m.keyword);
    let report = normalise_keyword(
        &dir,
        m,
        fe,
        norm,
        a.threshold,
        a.det.config(&a.fe),
        (!a.det.no_verify).then(|| VerifierConfig {
            margin: a.verify_margin,
            ..VerifierConfig::default()
        }),
    )?;
    match report {
        CohortReport::Unmatched => eprintln!(
            "warning: '{}': a take is too long to be scored against the built-in cohort; \
             keeping raw distances and the {} threshold",
            m.keyword, m.threshold_source
        ),
        // The takes' scores against each other are not a guide: on the
        // benchmark isolated takes by different speakers scored -1.9 to -3.9
        // against each other while in-stream occurrences scored down to -9.
        // They are kept in the manifest only.
        CohortReport::Normalised { closest_cohort, .. } => {
            let t = m.threshold;
            if let Some(c) = closest_cohort.filter(|&c| c <= t) {
                eprintln!(
                    "warning: '{}': the built-in cohort (other words by other speakers) has a match scoring \
                     {c:.2}, under the threshold {t:.2}: the word may sound like one in the cohort; run \
                     `wordspot calibrate` on your own background to check",
                    m.keyword
                );
            }
        }
    }
    Ok(())
}
