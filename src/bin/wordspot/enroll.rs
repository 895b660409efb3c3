//! `wordspot enroll`: store templates for a keyword.

use std::path::PathBuf;

use std::io::Write;

use anyhow::{bail, Result};
use clap::Args;
use wordspot::eval::cohort::{builtin_cohort, cohort_threshold, COHORT_NAME};
use wordspot::templates::{self, enroll, write_manifest, Enrollment, TakeAudio};

use crate::common::{parse_time, read_audio, DetectorArgs, FrontendArgs};

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
    /// Cut one take out of a longer recording (with --start and --end).
    #[arg(long, value_name = "FILE", requires_all = ["start", "end"])]
    pub from: Option<PathBuf>,
    /// Start of the take in --from (seconds or MM:SS.s).
    #[arg(long, value_parser = parse_time, requires = "from")]
    pub start: Option<f64>,
    /// End of the take in --from.
    #[arg(long, value_parser = parse_time, requires = "from")]
    pub end: Option<f64>,
    /// Record N takes from the microphone.
    #[arg(long, value_name = "N")]
    pub record: Option<usize>,
    /// Seconds per recorded take.
    #[arg(long, default_value_t = 2.0)]
    pub seconds: f32,
    /// Input device for --record (default device when absent).
    #[arg(long)]
    pub device: Option<String>,
    /// Fixed threshold instead of the leave-one-out estimate.
    #[arg(long)]
    pub threshold: Option<f32>,
    /// Keep leading/trailing silence.
    #[arg(long)]
    pub no_trim: bool,
    /// Keep the leave-one-out threshold instead of checking it against the
    /// built-in background cohort.
    #[arg(long)]
    pub no_cohort: bool,
    #[command(flatten)]
    pub det: DetectorArgs,
    #[command(flatten)]
    pub fe: FrontendArgs,
}

/// Runs `wordspot enroll`.
pub fn run(a: EnrollArgs) -> Result<()> {
    let mut takes = Vec::new();
    for p in &a.audio {
        takes.push(TakeAudio {
            samples: read_audio(p, None, None)?,
            source: p.display().to_string(),
        });
    }
    if let (Some(f), Some(s), Some(e)) = (&a.from, a.start, a.end) {
        if e <= s {
            bail!("--end ({e}) must be after --start ({s})");
        }
        takes.push(TakeAudio {
            samples: read_audio(f, Some(s), Some(e))?,
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
    if a.threshold.is_none() && !a.no_cohort {
        // The threshold of take-to-take distances says nothing about other speech:
        // use the highest with no detection on the built-in cohort of many speakers.
        let dir = a.out.join(&m.keyword);
        let kw = templates::load(&a.out, &mut *fe, &norm)?
            .into_iter()
            .find(|k| k.dir == dir)
            .ok_or_else(|| {
                anyhow::anyhow!("{}: keyword not found after enrolling", dir.display())
            })?;
        let cohort = builtin_cohort(&mut *fe, &norm)?;
        let cal = cohort_threshold(
            &cohort,
            std::slice::from_ref(&kw),
            &[m.threshold],
            a.det.config(&a.fe),
        )?
        .remove(0);
        let loo: Vec<f32> = m.takes.iter().filter_map(|t| t.loo_distance).collect();
        if let Some(worst) = loo.iter().copied().reduce(f32::max) {
            if cal.threshold < worst {
                eprintln!(
                    "warning: '{}': the built-in cohort (other words by other speakers) comes closer ({:.4}) \
                     than your takes are to each other ({worst:.4}): the word may sound like one in the cohort, \
                     so the threshold is strict; run `wordspot calibrate` on your own background",
                    m.keyword, cal.threshold
                );
            }
        }
        m.threshold = cal.threshold;
        m.threshold_source = "cohort".into();
        m.calibration = Some(serde_json::json!({
            "background": COHORT_NAME,
            "summary": serde_json::to_value(&cal)?,
        }));
        write_manifest(&dir, &m)?;
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
