//! wordspot: query-by-example keyword spotting.
//!
//! A user gives a few spoken examples of a word; wordspot finds that word in
//! live audio and in recordings without transcription or training.
//!
//! Data flows through the modules in this order:
//! [`audio`] (decode, resample to 16 kHz mono, capture) →
//! [`features`] (a [`features::Frontend`]: MFCC or wav2vec2) →
//! [`normalize`] (optional rogue-dimension removal) →
//! [`dtw`] (subsequence DTW, batch and streaming; one recursion) →
//! [`detector`] (thresholds, fusion, one event per occurrence) →
//! [`pipeline`] (threads and channels from a source to events).
//! [`search`], [`eval`] and [`analysis`] sit on top; [`query`],
//! [`annotations`], [`export`] and [`report`] serve the linguist's workflow
//! (queries from annotations, hits back into ELAN/Praat, a review page).

pub mod analysis;
pub mod annotations;
pub mod audio;
pub mod detector;
pub mod dtw;
pub mod error;
pub mod eval;
pub mod export;
pub mod features;
pub mod field;
pub mod normalize;
pub mod pipeline;
mod plot;
pub mod query;
pub mod report;
pub mod search;
pub mod templates;
pub mod verify;

pub use error::{Error, Result};

/// The sample rate every frontend consumes, in Hz.
pub const SAMPLE_RATE: u32 = 16_000;
