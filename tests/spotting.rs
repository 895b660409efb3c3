//! The streaming spotter on real recordings: a stream made by concatenating
//! FSDD digits with known positions, templates enrolled from other takes.

mod common;

use wordspot::detector::DetectorConfig;
use wordspot::dtw::Metric;
use wordspot::features::{FrontendConfig, MfccConfig};
use wordspot::normalize::Normalizer;
use wordspot::pipeline::{Event, Spotter};
use wordspot::templates::{self, enroll, Enrollment, TakeAudio};

/// Events, true spans of the keyword, threshold.
type Outcome = (Vec<Event>, Vec<(f64, f64)>, f32);

const SEQ: [u32; 12] = [3, 7, 1, 0, 4, 7, 5, 2, 9, 7, 8, 6];

/// Runs a spotter with `threshold` over `samples`; returns the events.
fn spot(kws: &[templates::Keyword], threshold: f32, samples: &[f32]) -> Vec<Event> {
    let fe = FrontendConfig::Mfcc(MfccConfig::default()).build().unwrap();
    let norm = Normalizer::identity(fe.dim());
    let mut sp = Spotter::new(fe, norm, kws, &[threshold], DetectorConfig::default()).unwrap();
    let mut events = Vec::new();
    for block in samples.chunks(1000) {
        sp.push(block, &mut |e| events.push(e)).unwrap();
    }
    sp.finish(&mut |e| events.push(e)).unwrap();
    events
}

/// Enrolls "seven" from three takes of `speaker_templates`, calibrates the
/// threshold for no false alarm on background speech (other digits by the
/// stream's speaker, takes not used in the stream), and spots a stream of
/// digits by `speaker_stream`. Returns the events, the true spans of "seven"
/// and the threshold.
fn run_stream(speaker_templates: &str, speaker_stream: &str) -> Option<Outcome> {
    let data = common::shared_data()?;
    let dir = tempfile::tempdir().unwrap();
    let cfg = FrontendConfig::Mfcc(MfccConfig::default());
    let mut fe = cfg.build().unwrap();
    let norm = Normalizer::identity(fe.dim());
    let takes: Vec<TakeAudio> = (0..3)
        .map(|t| TakeAudio {
            samples: common::fsdd(&data, 7, speaker_templates, t),
            source: format!("7_{speaker_templates}_{t}"),
        })
        .collect();
    let m = enroll(
        dir.path(),
        "seven",
        &takes,
        Enrollment {
            frontend: &mut *fe,
            normalizer: &norm,
            normalize_spec: "none",
            metric: Metric::Cosine,
            trim: true,
            threshold: None,
        },
    )
    .unwrap();
    assert!(m.threshold > 0.0);
    let kws = templates::load(dir.path(), &mut *fe, &norm).unwrap();
    let clips: Vec<Vec<f32>> = SEQ
        .iter()
        .enumerate()
        .map(|(i, &d)| common::fsdd(&data, d, speaker_stream, 20 + i as u32))
        .collect();
    let (stream, spans) = common::concat(&clips, 0.5);
    let sevens: Vec<(f64, f64)> = SEQ
        .iter()
        .zip(&spans)
        .filter(|(d, _)| **d == 7)
        .map(|(_, s)| *s)
        .collect();
    let background: Vec<Vec<f32>> = [0, 1, 2, 3, 4, 5, 6, 8, 9]
        .iter()
        .flat_map(|&d| (40..43).map(move |t| (d, t)))
        .map(|(d, t)| common::fsdd(&data, d, speaker_stream, t))
        .collect();
    let (bg, _) = common::concat(&background, 0.3);
    let closest = spot(&kws, 1.0, &bg)
        .iter()
        .map(|e| e.distance)
        .fold(f32::INFINITY, f32::min);
    let threshold = 0.98 * closest;
    Some((spot(&kws, threshold, &stream), sevens, threshold))
}

#[test]
fn every_planted_occurrence_is_reported_once_on_time() {
    let Some((events, sevens, thr)) = run_stream("jackson", "jackson") else {
        return;
    };
    eprintln!("threshold {thr}: {events:?}");
    for &(s, en) in &sevens {
        let hits: Vec<&Event> = events
            .iter()
            .filter(|e| e.start < en && s < e.end)
            .collect();
        assert_eq!(hits.len(), 1, "occurrence {s:.2}-{en:.2}: {hits:?}");
        let (err, latency) = (hits[0].end - en, hits[0].decided - en);
        eprintln!("occurrence {s:.2}-{en:.2}: end error {err:+.3} s, latency {latency:.3} s");
        assert!(err.abs() <= 0.1, "end {:.3} vs true {en:.3}", hits[0].end);
        assert!(latency <= 0.2, "latency {latency:.3}");
        // Decided within max_delay (0.1 s) of the match's own end.
        assert!(hits[0].decided - hits[0].end <= 0.1 + 1e-9);
    }
    for e in &events {
        assert!(
            sevens.iter().any(|&(s, en)| e.start < en && s < e.end),
            "false alarm {e:?}"
        );
    }
}
