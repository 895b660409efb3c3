//! Audio in: file decoding, resampling to 16 kHz mono, capture.
//! (placeholder until the audio work item lands)

use std::path::Path;

use crate::{Error, Result};

/// Decodes a whole audio file to 16 kHz mono `f32`.
pub fn read_file(path: &Path) -> Result<Vec<f32>> {
    let mut r = hound::WavReader::open(path).map_err(|e| Error::audio(path, e.to_string()))?;
    let spec = r.spec();
    if spec.sample_rate != 16000 || spec.channels != 1 {
        return Err(Error::audio(path, "only 16 kHz mono for now"));
    }
    r.samples::<i16>()
        .map(|s| {
            s.map(|v| v as f32 / 32768.0)
                .map_err(|e| Error::audio(path, e.to_string()))
        })
        .collect()
}
