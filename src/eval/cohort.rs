//! The built-in background cohort: 81 s of keyword-free speech by many
//! speakers (English command words, "computer" wake-word clips, Spanish words;
//! `examples/demo/make_data.py` builds it from ../shared/data), compiled into
//! the binary so an enrollment gets a threshold checked against real speech
//! without the user's own background audio.
//!
//! Enrollment fits each template's score normalisation on it
//! ([`score_norms`]): scores become "standard deviations closer than other
//! speech", comparable across keywords, and the default threshold is
//! [`crate::templates::DEFAULT_NORMED_THRESHOLD`] on that scale.
//!
//! [`cohort_threshold`] gives instead the highest threshold with no detection
//! on the cohort. A keyword that occurs in the cohort ("computer") or
//! sounds like one of its words gets a threshold that is too strict; the
//! result reports how close the cohort came, and `wordspot calibrate` on the
//! user's own background replaces it.

use std::path::Path;

use super::stream::{calibrate, detect, stream_features, Calibration, StreamFeatures};
use crate::detector::{DetectorConfig, ScoreNorm};
use crate::dtw::{subsequence, Metric};
use crate::features::{Features, Frontend};
use crate::normalize::Normalizer;
use crate::templates::{write_manifest, Keyword, Manifest, DEFAULT_NORMED_THRESHOLD};
use crate::verify::{
    background_embeddings, fit_norm_on, take_refs, Cascade, VerifierConfig, VerifierEntry,
    WordEmbedder, DEFAULT_VERIFIED_THRESHOLD, DIM,
};
use crate::{audio, Error, Result, SAMPLE_RATE};

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
        features: stream_features(frontend, normalizer, &samples)?.into(),
        seconds: samples.len() as f64 / SAMPLE_RATE as f64,
    })
}

/// Score normalisation of each template against `cohort` (keyword-free
/// speech): the mean and standard deviation of the template's best-match
/// distance ending at every cohort frame ([`ScoreNorm::fit`]). `None` for a
/// template that cannot be matched in the cohort (longer than twice it).
pub fn score_norms(
    cohort: &StreamFeatures,
    templates: &[&Features],
    metric: Metric,
) -> Vec<Option<ScoreNorm>> {
    let Ok(f) = cohort.features.load() else {
        return vec![None; templates.len()];
    };
    templates
        .iter()
        .map(|t| {
            let curve = subsequence(t.data.view(), f.data.view(), metric);
            ScoreNorm::fit(curve.into_iter().map(|(d, _)| d))
        })
        .collect()
}

/// Per keyword, the highest threshold giving no detection on the cohort
/// (`current` is kept for a keyword the cohort cannot constrain).
pub fn cohort_threshold(
    cohort: &StreamFeatures,
    keywords: &[Keyword],
    current: &[f32],
    cfg: DetectorConfig,
) -> Result<Vec<Calibration>> {
    calibrate(
        std::slice::from_ref(cohort),
        keywords,
        current,
        0.0,
        cfg,
        None,
    )
}

/// What [`normalise_keyword`] found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CohortReport {
    /// Some take could not be matched in the cohort: nothing was changed.
    Unmatched,
    /// Every take was normalised and the threshold set.
    Normalised {
        /// The highest normalised score of a take against the other takes
        /// (leave-one-out); above the threshold, the takes would not find
        /// each other.
        worst_take: Option<f32>,
        /// The lowest normalised score of a cohort match (the cohort holds
        /// other words, wake words among them); at or under the threshold,
        /// the word may sound like one of them.
        closest_cohort: Option<f32>,
    },
}

/// Normalises the scores of the keyword enrolled in `dir` (manifest `m`,
/// already written by [`crate::templates::enroll`]) on the built-in cohort:
/// each take gets its [`ScoreNorm`]; with `verify` (and a build with the
/// verifier) the keyword also gets its verifier entry with those settings
/// ([`fit_verifier`]); the
/// threshold becomes `threshold` or the default of its scale
/// ([`DEFAULT_VERIFIED_THRESHOLD`] or [`DEFAULT_NORMED_THRESHOLD`]; source
/// `manual` or `cohort-normalised`), the manifest is rewritten and `m`
/// updated. `cfg` is the detector the cohort's closest match is measured with.
pub fn normalise_keyword(
    dir: &Path,
    m: &mut Manifest,
    frontend: &mut dyn Frontend,
    normalizer: &Normalizer,
    threshold: Option<f32>,
    cfg: DetectorConfig,
    verify: Option<VerifierConfig>,
) -> Result<CohortReport> {
    // A keyword folder loads as a store of one keyword.
    let mut kw: Keyword = crate::templates::load(dir, &mut *frontend, normalizer)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::invalid(format!("{}: keyword not found", dir.display())))?;
    let cohort = builtin_cohort(&mut *frontend, normalizer)?;
    let feats: Vec<&Features> = kw.templates.iter().map(|(_, f)| f).collect();
    let Some(norms) = score_norms(&cohort, &feats, m.metric)
        .into_iter()
        .collect::<Option<Vec<ScoreNorm>>>()
    else {
        return Ok(CohortReport::Unmatched);
    };
    for (t, n) in m.takes.iter_mut().zip(&norms) {
        t.score_norm = Some(*n);
    }
    m.verifier = match verify {
        Some(config) => fit_verifier(&kw, config)?,
        None => None,
    };
    kw.manifest.verifier = m.verifier;
    let default = if m.verifier.is_some() {
        DEFAULT_VERIFIED_THRESHOLD
    } else {
        DEFAULT_NORMED_THRESHOLD
    };
    m.threshold = threshold.unwrap_or(default);
    m.threshold_source = if threshold.is_some() {
        "manual"
    } else {
        "cohort-normalised"
    }
    .into();
    let worst_take = m
        .takes
        .iter()
        .filter_map(|t| Some(t.score_norm?.apply(t.loo_distance?)))
        .reduce(f32::max);
    // The cohort's closest match, for the record and the caller's warning,
    // with the loaded templates now scored on the new scale.
    kw.norms = norms;
    let kws = std::slice::from_ref(&kw);
    let cascade = Cascade::for_keywords(kws)?;
    let all = detect(
        kws,
        &[f32::MAX],
        cfg,
        std::slice::from_ref(&cohort),
        cascade.as_ref(),
    )?;
    let closest_cohort = all.iter().flatten().map(|e| e.distance).reduce(f32::min);
    m.calibration = Some(serde_json::json!({
        "background": COHORT_NAME,
        "score_norm": "per take: mean and std of its best-match distance over the cohort",
        "verifier": m.verifier.map(|_| "cohort windows every 0.75 s: median and 1.4826 x MAD of the best similarity to the takes"),
        "closest_cohort_match": closest_cohort,
        "worst_take_vs_others": worst_take,
    }));
    write_manifest(dir, m)?;
    Ok(CohortReport::Normalised {
        worst_take,
        closest_cohort,
    })
}

/// The verifier entry of a keyword whose takes are stored, with settings
/// `config`: the built-in model embeds the takes and windows of the built-in
/// cohort (masked as candidates will be when `config` has a margin), and the
/// similarity norm is fitted on those windows. `None` in a build without the
/// verifier or when the cohort gives too few windows.
pub fn fit_verifier(kw: &Keyword, config: VerifierConfig) -> Result<Option<VerifierEntry>> {
    if !cfg!(feature = "embedding") {
        return Ok(None);
    }
    let mut e = WordEmbedder::builtin()?;
    let (refs, take_len) = take_refs(&mut e, kw)?;
    let background = match config.norm_span(take_len) {
        // Candidates are heard masked to their match: so are the cohort's
        // windows, to the median take plus the margins.
        Some(keep) => {
            let x = audio::decode_bytes(BUILTIN_COHORT_FLAC, "cohort.flac")?;
            background_embeddings(&mut e, &x, Some(keep))?
        }
        None => builtin_cohort_embeddings()?,
    };
    Ok(fit_norm_on(&background, &refs).map(|norm| VerifierEntry { norm, config }))
}

/// The built-in model's embeddings of the cohort's background windows
/// ([`background_embeddings`] of the cohort), precomputed so enrollment
/// does not run the network 107 times: `assets/verifier_cohort.f32`
/// (little-endian f32, one row of [`DIM`] per window), written by
/// `cargo run --release --example verifier_cohort` and checked against the
/// network by `tests/verify.rs`.
pub fn builtin_cohort_embeddings() -> Result<Vec<Vec<f32>>> {
    let name = "assets/verifier_cohort.f32";
    let bytes = BUILTIN_VERIFIER_COHORT;
    if bytes.is_empty() || bytes.len() % (4 * DIM) != 0 {
        return Err(Error::model(
            name,
            format!("{} bytes, not whole rows of {DIM} f32", bytes.len()),
        ));
    }
    Ok(bytes
        .chunks_exact(4 * DIM)
        .map(|row| {
            row.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        })
        .collect())
}

/// See [`builtin_cohort_embeddings`].
static BUILTIN_VERIFIER_COHORT: &[u8] = include_bytes!("../../assets/verifier_cohort.f32");

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
