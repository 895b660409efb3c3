//! The built-in background cohort: 81 s of keyword-free speech by many
//! speakers (English command words, "computer" wake-word clips, Spanish words;
//! `examples/demo/make_data.py` builds it from ../shared/data), compiled into
//! the binary so an enrollment gets a threshold checked against real speech
//! without the user's own background audio.
//!
//! The threshold it gives is the highest with no detection on the cohort
//! ([`cohort_threshold`]). A keyword that occurs in the cohort ("computer") or
//! sounds like one of its words gets a threshold that is too strict; the
//! result reports how close the cohort came, and `wordspot calibrate` on the
//! user's own background replaces it.

use std::path::Path;

use super::stream::{calibrate, stream_features, Calibration, StreamFeatures};
use crate::detector::DetectorConfig;
use crate::features::Frontend;
use crate::normalize::Normalizer;
use crate::templates::Keyword;
use crate::{audio, Result, SAMPLE_RATE};

/// The cohort audio (FLAC, 16 kHz mono).
pub static BUILTIN_COHORT_FLAC: &[u8] = include_bytes!("../../examples/demo/background.flac");

/// Name the cohort goes by in messages and manifests.
pub const COHORT_NAME: &str = "<built-in cohort>";

/// Features of the built-in cohort with `frontend` and `normalizer`.
pub fn builtin_cohort(
    frontend: &mut dyn Frontend,
    normalizer: &Normalizer,
) -> Result<StreamFeatures> {
    let samples = audio::decode_bytes(BUILTIN_COHORT_FLAC, "cohort.flac")?;
    Ok(StreamFeatures {
        file: Path::new(COHORT_NAME).to_path_buf(),
        features: stream_features(frontend, normalizer, &samples)?,
        seconds: samples.len() as f64 / SAMPLE_RATE as f64,
    })
}

/// Per keyword, the highest threshold giving no detection on the cohort
/// (`current` is kept for a keyword the cohort cannot constrain).
pub fn cohort_threshold(
    cohort: &StreamFeatures,
    keywords: &[Keyword],
    current: &[f32],
    cfg: DetectorConfig,
) -> Result<Vec<Calibration>> {
    calibrate(std::slice::from_ref(cohort), keywords, current, 0.0, cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cohort_decodes_to_over_a_minute_of_audio() {
        let x = audio::decode_bytes(BUILTIN_COHORT_FLAC, "cohort.flac").unwrap();
        assert!(x.len() > 60 * SAMPLE_RATE as usize, "{}", x.len());
        assert!(x.iter().all(|v| v.is_finite()));
    }
}
