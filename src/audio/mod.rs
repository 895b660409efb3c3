//! Audio in: file decoding, standard input, microphone capture, all turned
//! into one stream of 16 kHz mono `f32` samples behind the [`Source`] trait.
//!
//! - [`FileSource`]: WAV (hound: 8/16/24/32-bit integer, 32-bit float; other
//!   WAV encodings via symphonia), FLAC, OGG Vorbis, MP3 (symphonia), read in
//!   blocks.
//! - [`StdinSource`]: raw s16le / f32le (or any [`Encoding`]) at a given rate
//!   and channel count, or a WAV stream recognised by its `RIFF` header
//!   ([`StdinLayout`]); standard input is read on a thread ([`PipeReader`])
//!   so a stalled writer never keeps a stop request waiting.
//! - `MicSource` (cargo feature `mic`): cpal capture into a lock-free ring
//!   ([`ring`]), re-opened with back-off after stream errors.
//!
//! Every source downmixes by averaging channels and resamples with rubato
//! ([`Converter`]); the output does not depend on read or block sizes.

#[cfg(feature = "mic")]
mod capture;
mod decode;
mod paced;
mod pcm;
mod reopen;
mod resample;
pub mod ring;
mod stdin;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

#[cfg(feature = "mic")]
pub use capture::{list_devices, DeviceInfo, MicSource};
pub use decode::FileSource;
pub use paced::Paced;
pub use pcm::{Encoding, PcmFormat};
pub use reopen::{Backoff, Opened, Opener, ReopeningSource};
pub use resample::{Converter, RATE_RANGE};
pub use ring::RingSource;
pub use stdin::{stdin, PipeReader, StdinLayout, StdinSource};

use crate::{Error, Result, SAMPLE_RATE};

/// Most samples one [`Source::read`] call appends (100 ms at 16 kHz).
pub const BLOCK: usize = 1600;

/// Converted 16 kHz samples waiting to be handed out by a [`Source`] in
/// blocks of at most [`BLOCK`]; counts what it has delivered. The file,
/// standard-input and ring sources convert input in chunks into `buf` and
/// deliver from it.
#[derive(Debug)]
pub(crate) struct Outbox {
    buf: Vec<f32>,
    pos: usize,
    delivered: u64,
}

impl Outbox {
    pub(crate) fn new() -> Self {
        Self {
            buf: Vec::with_capacity(BLOCK * 2),
            pos: 0,
            delivered: 0,
        }
    }

    /// Whether everything converted so far has been handed out.
    pub(crate) fn is_drained(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Empties the buffer (drained or not) and returns it for refilling.
    pub(crate) fn refill(&mut self) -> &mut Vec<f32> {
        self.buf.clear();
        self.pos = 0;
        &mut self.buf
    }

    /// Appends up to [`BLOCK`] waiting samples to `out`; returns how many.
    pub(crate) fn deliver(&mut self, out: &mut Vec<f32>) -> usize {
        let avail = &self.buf[self.pos..];
        let n = avail.len().min(BLOCK);
        out.extend_from_slice(&avail[..n]);
        self.pos += n;
        self.delivered += n as u64;
        n
    }

    /// Samples handed out so far.
    pub(crate) fn delivered(&self) -> u64 {
        self.delivered
    }
}

/// Something wrong with an input that was read anyway, as players do: the
/// audio that is there is used and the problem reported. A [`FileSource`]
/// keeps the warnings it raised ([`FileSource::warnings`]) and also hands
/// each to the process-wide sink ([`set_warning_sink`]), so commands that
/// read files deep inside the library can still tell the user.
#[derive(Debug, Clone, PartialEq)]
pub enum AudioWarning {
    /// The WAV header's data length is 0 or `0xFFFFFFFF` (what a recorder
    /// leaves when it stops before finishing the file): the data up to the
    /// end of the file was read.
    UnknownLength {
        /// The file.
        path: PathBuf,
        /// The data length the header declares.
        declared: u64,
        /// Seconds of audio the file actually holds.
        found_s: f64,
    },
    /// The file ends before its header says it should: the readable part
    /// was used.
    Truncated {
        /// The file.
        path: PathBuf,
        /// Seconds of audio read.
        read_s: f64,
        /// Seconds the header declares, when it does.
        declared_s: Option<f64>,
    },
    /// Damaged packets (lost sync, bad CRC) were skipped.
    DamagedPackets {
        /// The file.
        path: PathBuf,
        /// How many were skipped.
        count: u64,
    },
}

impl AudioWarning {
    /// The file the warning is about.
    pub fn path(&self) -> &Path {
        match self {
            AudioWarning::UnknownLength { path, .. }
            | AudioWarning::Truncated { path, .. }
            | AudioWarning::DamagedPackets { path, .. } => path,
        }
    }

    /// A short name of the kind of problem (to summarise many of one kind).
    pub fn kind(&self) -> &'static str {
        match self {
            AudioWarning::UnknownLength { .. } => "WAV header without a data length",
            AudioWarning::Truncated { .. } => "truncated file",
            AudioWarning::DamagedPackets { .. } => "damaged packets skipped",
        }
    }
}

impl std::fmt::Display for AudioWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AudioWarning::UnknownLength {
                path,
                declared,
                found_s,
            } => write!(
                f,
                "{}: the WAV header declares a data length of {declared:#x} (unfinished recording?); read the {found_s:.3} s the file holds",
                path.display()
            ),
            AudioWarning::Truncated {
                path,
                read_s,
                declared_s: Some(d),
            } => write!(
                f,
                "{}: truncated: the audio ends at {read_s:.3} s but the header declares {d:.3} s; using the readable part",
                path.display()
            ),
            AudioWarning::Truncated {
                path,
                read_s,
                declared_s: None,
            } => write!(
                f,
                "{}: truncated: the file ends inside a packet at {read_s:.3} s; using the readable part",
                path.display()
            ),
            AudioWarning::DamagedPackets { path, count } => write!(
                f,
                "{}: {count} damaged packet(s) skipped",
                path.display()
            ),
        }
    }
}

type WarningSink = Box<dyn Fn(&AudioWarning) + Send + Sync>;

static WARNING_SINK: OnceLock<WarningSink> = OnceLock::new();

/// Installs the process-wide receiver of [`AudioWarning`]s (once; later
/// calls are ignored and return `false`). Without one, warnings are only
/// kept on the [`FileSource`] that raised them.
pub fn set_warning_sink(sink: impl Fn(&AudioWarning) + Send + Sync + 'static) -> bool {
    WARNING_SINK.set(Box::new(sink)).is_ok()
}

/// Hands `w` to the sink, if one is installed.
pub(crate) fn emit_warning(w: &AudioWarning) {
    if let Some(sink) = WARNING_SINK.get() {
        sink(w);
    }
}

/// Counters a source keeps; all zero where they do not apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceStats {
    /// 16 kHz samples delivered so far.
    pub samples: u64,
    /// Capture callbacks that found the ring full (each dropped audio).
    pub overruns: u64,
    /// Device frames dropped by those overruns.
    pub dropped_frames: u64,
    /// Times the capture stream was re-opened after an error.
    pub reopens: u64,
}

/// A stream of 16 kHz mono `f32` audio for the streaming pipeline.
pub trait Source: Send {
    /// Appends up to one block ([`BLOCK`] samples at most, typically
    /// 10-100 ms) to `out` and returns how many samples were appended;
    /// `Ok(0)` means the end of the stream. Live sources block until audio
    /// arrives.
    fn read(&mut self, out: &mut Vec<f32>) -> Result<usize>;

    /// What the source reads (a path, `-`, or a device name), for messages.
    fn name(&self) -> &str;

    /// Counters (samples delivered, overruns, re-opens).
    fn stats(&self) -> SourceStats {
        SourceStats::default()
    }
}

impl<S: Source + ?Sized> Source for Box<S> {
    fn read(&mut self, out: &mut Vec<f32>) -> Result<usize> {
        (**self).read(out)
    }
    fn name(&self) -> &str {
        (**self).name()
    }
    fn stats(&self) -> SourceStats {
        (**self).stats()
    }
}

/// Reads a source to its end.
pub fn drain(source: &mut dyn Source) -> Result<Vec<f32>> {
    let mut out = Vec::new();
    while source.read(&mut out)? > 0 {}
    Ok(out)
}

/// Decodes a whole audio file to 16 kHz mono `f32`.
pub fn read_file(path: &Path) -> Result<Vec<f32>> {
    drain(&mut FileSource::open(path)?)
}

/// Decodes the part of `path` from `start_s` to `end_s` seconds;
/// `end_s = f64::INFINITY` means "to the end of the file".
/// Errors if the times are NaN, `start_s` is not finite or negative,
/// `end_s <= start_s`, or the range reaches past the end of the file. The
/// range is checked against the duration the header states before anything
/// is allocated, so an absurd `end_s` (`1e9`) is a clear error, not an
/// out-of-memory abort.
pub fn read_segment(path: &Path, start_s: f64, end_s: f64) -> Result<Vec<f32>> {
    if !start_s.is_finite() || end_s.is_nan() || start_s < 0.0 {
        return Err(Error::invalid(format!(
            "{}: invalid segment {start_s}-{end_s} s",
            path.display()
        )));
    }
    if end_s <= start_s {
        return Err(Error::invalid(format!(
            "{}: segment end {end_s} s is not after its start {start_s} s",
            path.display()
        )));
    }
    let to_end = end_s == f64::INFINITY;
    let rate = SAMPLE_RATE as f64;
    let past_end = |seen: f64, start_s: f64, end_s: f64| {
        let what = if to_end {
            format!("segment start {start_s:.3} s is")
        } else {
            format!("segment {start_s:.3}-{end_s:.3} s reaches")
        };
        Error::audio(
            path,
            format!("{what} past the end of the audio ({seen:.3} s)"),
        )
    };
    let mut src = FileSource::open(path)?;
    // Half a 16 kHz sample of slack for the header's rounding.
    let slack = 0.5 / rate;
    let duration = src.duration();
    if let Some(d) = duration {
        if (!to_end && end_s > d + slack) || start_s >= d {
            return Err(past_end(d, start_s, end_s));
        }
    }
    // Float to integer casts saturate: an end of 1e300 s is usize::MAX.
    let first = (start_s * rate).round() as usize;
    let last = if to_end {
        usize::MAX
    } else {
        (end_s * rate).round() as usize
    };
    // Never reserve more than the file holds (or a minute when unknown).
    let known = duration.map_or(60 * SAMPLE_RATE as usize, |d| {
        (d * rate).ceil() as usize + 1
    });
    let mut buf = Vec::with_capacity(last.saturating_sub(first).min(known));
    let mut seen = 0usize;
    let mut block = Vec::with_capacity(BLOCK);
    while seen < last {
        block.clear();
        let n = src.read(&mut block)?;
        if n == 0 {
            break;
        }
        let lo = first.saturating_sub(seen).min(n);
        let hi = last.saturating_sub(seen).min(n);
        buf.extend_from_slice(&block[lo..hi]);
        seen += n;
    }
    if (!to_end && seen < last) || buf.is_empty() {
        return Err(past_end(seen as f64 / rate, start_s, end_s));
    }
    Ok(buf)
}

/// Decodes audio held in memory as if it were a file named `name_hint`
/// (its extension picks the decoder). A hint of `-` or ending in `.raw`
/// reads it as a standard-input stream: WAV if it starts with `RIFF`, else
/// raw s16le 16 kHz mono. Never panics on any input.
pub fn decode_bytes(bytes: &[u8], name_hint: &str) -> Result<Vec<f32>> {
    if name_hint == "-" || name_hint.ends_with(".raw") {
        let raw = PcmFormat {
            encoding: Encoding::S16,
            rate: SAMPLE_RATE,
            channels: 1,
        };
        return drain(&mut StdinSource::new(bytes, raw, name_hint)?);
    }
    drain(&mut FileSource::from_bytes(bytes.to_vec(), name_hint)?)
}

/// Writes 16 kHz mono 16-bit PCM WAV (saved clips and templates). Samples
/// are clipped to [-1, 1]; a non-finite sample is an error.
pub fn write_wav(path: &Path, samples: &[f32]) -> Result<()> {
    if let Some(i) = samples.iter().position(|v| !v.is_finite()) {
        return Err(Error::invalid(format!(
            "{}: refusing to write a non-finite sample at {:.3} s",
            path.display(),
            i as f64 / SAMPLE_RATE as f64
        )));
    }
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let to_err = |e: hound::Error| match e {
        hound::Error::IoError(io) => Error::io(path, io),
        other => Error::audio(path, format!("cannot write WAV: {other}")),
    };
    let mut w = hound::WavWriter::create(path, spec).map_err(to_err)?;
    for &s in samples {
        let v = (s.clamp(-1.0, 1.0) * 32_767.0).round() as i16;
        w.write_sample(v).map_err(to_err)?;
    }
    w.finalize().map_err(to_err)
}

/// An in-memory source delivering fixed-size blocks (tests, synthetic input).
pub struct MemorySource {
    samples: Vec<f32>,
    pos: usize,
    block: usize,
    name: String,
}

impl MemorySource {
    /// A source over 16 kHz mono `samples`, `block` samples at a time
    /// (clamped to 1..=[`BLOCK`]).
    pub fn new(samples: Vec<f32>, block: usize, name: impl Into<String>) -> Self {
        MemorySource {
            samples,
            pos: 0,
            block: block.clamp(1, BLOCK),
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
    fn stats(&self) -> SourceStats {
        SourceStats {
            samples: self.pos as u64,
            ..SourceStats::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_read_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("clip.wav");
        let x: Vec<f32> = (0..1234)
            .map(|i| ((i % 200) as f32 - 100.0) / 128.0)
            .collect();
        write_wav(&p, &x).unwrap();
        let y = read_file(&p).unwrap();
        assert_eq!(y.len(), x.len());
        for (a, b) in x.iter().zip(&y) {
            assert!((a - b).abs() < 1.0 / 16_000.0, "{a} vs {b}");
        }
    }

    #[test]
    fn write_rejects_nan() {
        let dir = tempfile::tempdir().unwrap();
        let e = write_wav(&dir.path().join("x.wav"), &[0.0, f32::NAN]).unwrap_err();
        assert!(e.to_string().contains("non-finite"), "{e}");
    }

    #[test]
    fn segment_bounds_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.wav");
        let x: Vec<f32> = (0..16_000).map(|i| (i % 100) as f32 / 200.0).collect();
        write_wav(&p, &x).unwrap();
        let seg = read_segment(&p, 0.25, 0.5).unwrap();
        assert_eq!(seg.len(), 4000);
        assert_eq!(seg, read_file(&p).unwrap()[4000..8000].to_vec());
        assert!(read_segment(&p, 0.5, 0.5).is_err());
        assert!(read_segment(&p, 0.5, 0.2).is_err());
        assert!(read_segment(&p, -1.0, 0.2).is_err());
        assert!(read_segment(&p, 0.5, f64::NAN).is_err());
        let e = read_segment(&p, 0.5, 1.5).unwrap_err().to_string();
        assert!(e.contains("past the end"), "{e}");
        assert_eq!(read_segment(&p, 0.9, 1.0).unwrap().len(), 1600);
    }
}
