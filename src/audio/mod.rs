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

/// Writes 16 kHz mono samples as a 16-bit WAV file.
pub fn write_wav(path: &Path, samples: &[f32]) -> Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w =
        hound::WavWriter::create(path, spec).map_err(|e| Error::audio(path, e.to_string()))?;
    for &s in samples {
        let v = (s.clamp(-1.0, 1.0) * 32767.0).round() as i16;
        w.write_sample(v)
            .map_err(|e| Error::audio(path, e.to_string()))?;
    }
    w.finalize().map_err(|e| Error::audio(path, e.to_string()))
}

/// A stream of 16 kHz mono audio (placeholder trait until the audio module lands).
pub trait Source: Send {
    /// Appends up to one block of samples to `out`; `Ok(0)` ends the stream.
    fn read(&mut self, out: &mut Vec<f32>) -> Result<usize>;
    /// A name for messages (file path, device name, `-`).
    fn name(&self) -> &str;
    /// Samples dropped because the consumer was too slow (capture overruns).
    fn overruns(&self) -> u64 {
        0
    }
}

/// An in-memory source delivering fixed-size blocks (tests, synthetic input).
pub struct MemorySource {
    samples: Vec<f32>,
    pos: usize,
    block: usize,
    name: String,
}

impl MemorySource {
    /// A source over `samples`, `block` samples at a time.
    pub fn new(samples: Vec<f32>, block: usize, name: impl Into<String>) -> Self {
        MemorySource {
            samples,
            pos: 0,
            block: block.max(1),
            name: name.into(),
        }
    }
}

impl Source for MemorySource {
    fn read(&mut self, out: &mut Vec<f32>) -> Result<usize> {
        let end = (self.pos + self.block).min(self.samples.len());
        out.extend_from_slice(&self.samples[self.pos..end]);
        let n = end - self.pos;
        self.pos = end;
        Ok(n)
    }
    fn name(&self) -> &str {
        &self.name
    }
}

/// Reads `[start_s, end_s)` of a file (placeholder until the audio module lands).
pub fn read_segment(path: &Path, start_s: f64, end_s: f64) -> Result<Vec<f32>> {
    let x = read_file(path)?;
    let a = (start_s * 16000.0) as usize;
    let b = ((end_s * 16000.0) as usize).min(x.len());
    if a >= b {
        return Err(Error::audio(path, "empty segment"));
    }
    Ok(x[a..b].to_vec())
}
