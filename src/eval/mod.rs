//! Evaluation and calibration: labels, retrieval metrics (P@k, R@k), detection
//! metrics (miss rate vs false alarms per hour), threshold calibration, plots.
//!
//! * [`labels`]: TSV and Praat TextGrid word labels.
//! * [`metrics`]: P@k / R@k, DET points, miss rate at a false-alarm rate.
//! * [`retrieval`]: the seed paper's query-by-example retrieval protocol.
//! * [`stream`]: detection evaluation and calibration on long recordings.
//! * [`cohort`]: the built-in background cohort enrollment checks thresholds against.
//! * [`bench`]: the cross-speaker detection benchmark built from ../shared/data.
//! * [`plot`]: DET curves and per-file waveform + distance plots (PNG/SVG).

pub mod bench;
pub mod cohort;
pub mod labels;
pub mod metrics;
pub mod plot;
pub mod retrieval;
pub mod stream;

use std::sync::Mutex;

use rayon::prelude::*;

use crate::features::{Frontend, FrontendConfig};
use crate::{Error, Result};

/// Runs `f` over `items` in parallel, each worker borrowing a frontend built
/// from `cfg` (models can be expensive to load, so they are pooled).
pub(crate) fn frontend_pool<T: Sync, R: Send>(
    items: &[T],
    cfg: &FrontendConfig,
    f: impl Fn(&T, &mut dyn Frontend) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let pool: Mutex<Vec<Box<dyn Frontend>>> = Mutex::new(Vec::new());
    items
        .par_iter()
        .map(|it| {
            let fe = pool
                .lock()
                .map_err(|_| Error::invalid("frontend pool poisoned"))?
                .pop();
            let mut fe = match fe {
                Some(f) => f,
                None => cfg.build()?,
            };
            let r = f(it, &mut *fe);
            if let Ok(mut p) = pool.lock() {
                p.push(fe);
            }
            r
        })
        .collect()
}
