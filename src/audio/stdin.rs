//! Audio from a byte stream (standard input): raw PCM in a given layout, or a
//! WAV stream recognised by its `RIFF` header.

use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};

use super::decode::check_finite;
use super::pcm::{read_wav_header, PcmFormat};
use super::resample::Converter;
use super::{emit_warning, AudioWarning, Outbox, Source, SourceStats};
use crate::{Error, Result};

/// A [`Source`] over any byte stream: standard input in the CLI, a `Cursor`
/// in tests. Reads return as soon as some whole frames arrive, so a live
/// pipe (`arecord ... | wordspot listen --input -`) is not delayed.
pub struct StdinSource<R: Read> {
    reader: R,
    name: String,
    format: PcmFormat,
    /// Data bytes still allowed by a WAV header, `None` = until end of stream.
    remaining: Option<u64>,
    declared: Option<u64>,
    bytes: Vec<u8>,
    /// Valid bytes at the start of `bytes` (a partial frame carried over).
    carry: usize,
    conv: Converter,
    input: Vec<f32>,
    /// Converted 16 kHz samples not yet handed out.
    out: Outbox,
    frames_in: u64,
    ended: bool,
    finished: bool,
    is_wav: bool,
    /// Ended by a stop request ([`PipeReader`]), not by the stream.
    stopped: bool,
    warnings: Vec<AudioWarning>,
}

/// What a byte stream is expected to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdinLayout {
    /// A WAV stream: one that does not start with a `RIFF` header is an
    /// error (text or random bytes are not read as audio).
    Wav,
    /// Raw PCM in this layout; a stream that starts with a WAV header is
    /// read as WAV.
    Raw(PcmFormat),
}

/// Standard input as a source named `-`, read on its own thread
/// ([`PipeReader`]): once `stop` is set, a read waiting for a stalled
/// writer returns within [`PipeReader::POLL`] and the source ends (the
/// pipeline then flushes the detections already made).
pub fn stdin(layout: StdinLayout, stop: Arc<AtomicBool>) -> Result<StdinSource<PipeReader>> {
    StdinSource::with_layout(PipeReader::new(std::io::stdin(), stop), layout, "-")
}

/// A byte stream read by a thread of its own, so a reader is never stuck in
/// a blocking `read`: [`Read::read`] waits for data in steps of
/// [`PipeReader::POLL`], and fails with [`std::io::ErrorKind::TimedOut`]
/// once the stop flag is set. Two buffers, allocated at start-up, go back
/// and forth between the threads.
pub struct PipeReader {
    full: Receiver<Chunk>,
    free: Sender<Vec<u8>>,
    cur: Vec<u8>,
    len: usize,
    pos: usize,
    done: bool,
    stop: Arc<AtomicBool>,
}

enum Chunk {
    Data(Vec<u8>, usize),
    Failed(std::io::Error),
}

impl PipeReader {
    /// Longest a read waits before looking at the stop flag.
    pub const POLL: Duration = Duration::from_millis(100);
    /// Bytes per read of the underlying stream.
    const CHUNK: usize = 16 * 1024;

    /// Starts the thread reading `inner`.
    pub fn new<R: Read + Send + 'static>(mut inner: R, stop: Arc<AtomicBool>) -> Self {
        let (full_tx, full) = bounded::<Chunk>(2);
        let (free, free_rx) = bounded::<Vec<u8>>(2);
        for _ in 0..2 {
            let _ = free.send(vec![0u8; Self::CHUNK]);
        }
        std::thread::Builder::new()
            .name("wordspot-stdin".into())
            .spawn(move || {
                while let Ok(mut buf) = free_rx.recv() {
                    let msg = loop {
                        match inner.read(&mut buf) {
                            Ok(n) => break Chunk::Data(buf, n),
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                            Err(e) => break Chunk::Failed(e),
                        }
                    };
                    let last = !matches!(msg, Chunk::Data(_, n) if n > 0);
                    if full_tx.send(msg).is_err() || last {
                        break;
                    }
                }
            })
            .expect("spawn the standard-input reader thread");
        PipeReader {
            full,
            free,
            cur: Vec::new(),
            len: 0,
            pos: 0,
            done: false,
            stop,
        }
    }
}

impl Read for PipeReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.len {
            if self.done || out.is_empty() {
                return Ok(0);
            }
            let msg = loop {
                match self.full.recv_timeout(Self::POLL) {
                    Ok(m) => break Some(m),
                    Err(RecvTimeoutError::Disconnected) => break None,
                    Err(RecvTimeoutError::Timeout) if self.stop.load(Ordering::SeqCst) => {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "stopped while waiting for input",
                        ));
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                }
            };
            match msg {
                Some(Chunk::Data(buf, n)) if n > 0 => {
                    let old = std::mem::replace(&mut self.cur, buf);
                    if !old.is_empty() {
                        let _ = self.free.send(old);
                    }
                    self.len = n;
                    self.pos = 0;
                }
                Some(Chunk::Failed(e)) => {
                    self.done = true;
                    return Err(e);
                }
                _ => self.done = true,
            }
        }
        let n = (self.len - self.pos).min(out.len());
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl<R: Read> StdinSource<R> {
    /// Wraps `reader`. If the stream starts with `RIFF` its WAV header gives
    /// the layout; otherwise it is raw PCM in the `raw` layout. `name` names
    /// the stream in errors (`-` for standard input).
    pub fn new(reader: R, raw: PcmFormat, name: &str) -> Result<Self> {
        Self::with_layout(reader, StdinLayout::Raw(raw), name)
    }

    /// Wraps `reader`, expecting `layout`: with [`StdinLayout::Wav`] a
    /// stream without a `RIFF` header is an error naming the stream.
    pub fn with_layout(mut reader: R, layout: StdinLayout, name: &str) -> Result<Self> {
        let path = Path::new(name);
        let mut head = [0u8; 4];
        let got = read_full(&mut reader, &mut head).map_err(|e| Error::io(path, e))?;
        if got == 0 {
            return Err(Error::audio(path, "empty stream: no audio data"));
        }
        let (format, remaining, carry_bytes): (PcmFormat, Option<u64>, &[u8]) =
            match layout {
                _ if got == 4 && &head == b"RIFF" => {
                    let h = read_wav_header(&mut reader).map_err(|m| Error::audio(path, m))?;
                    (h.format, h.data_len, &[])
                }
                StdinLayout::Raw(raw) => (raw, None, &head[..got]),
                StdinLayout::Wav => {
                    return Err(Error::audio(
                        path,
                        "not a WAV stream (it does not start with a RIFF header); raw PCM needs its layout given",
                    ))
                }
            };
        if format.rate == 0 || format.channels == 0 {
            return Err(Error::invalid(format!(
                "{name}: raw input needs a rate and channel count (got {} Hz, {} channels)",
                format.rate, format.channels
            )));
        }
        let conv = Converter::new(format.rate, format.channels as usize).ok_or_else(|| {
            Error::audio(
                path,
                format!(
                    "unsupported layout: {} channels at {} Hz",
                    format.channels, format.rate
                ),
            )
        })?;
        // About 50 ms of input per read.
        let frames = (format.rate as usize / 20).clamp(1, 8192);
        let mut bytes = vec![0u8; frames * format.frame_bytes()];
        bytes[..carry_bytes.len()].copy_from_slice(carry_bytes);
        Ok(Self {
            reader,
            name: name.to_string(),
            format,
            remaining,
            declared: remaining,
            carry: carry_bytes.len(),
            bytes,
            conv,
            input: Vec::new(),
            out: Outbox::new(),
            frames_in: 0,
            ended: false,
            finished: false,
            is_wav: got == 4 && &head == b"RIFF",
            stopped: false,
            warnings: Vec::new(),
        })
    }

    /// The stream's layout (from its WAV header, or the raw layout given).
    pub fn format(&self) -> PcmFormat {
        self.format
    }

    /// What was wrong with the stream but read anyway (a WAV stream that
    /// ends before the length its header declares).
    pub fn warnings(&self) -> &[AudioWarning] {
        &self.warnings
    }

    /// Whether the stream carried a WAV header.
    pub fn is_wav(&self) -> bool {
        self.is_wav
    }

    /// Reads what is available (at least one byte unless the stream ends)
    /// and converts the whole frames in it.
    fn refill(&mut self) -> Result<()> {
        let pending = self.out.refill();
        while pending.is_empty() && !self.finished {
            if self.ended {
                self.conv.finish(pending);
                self.finished = true;
                break;
            }
            let mut room = self.bytes.len() - self.carry;
            if let Some(rem) = self.remaining {
                room = room.min(rem as usize);
            }
            let n = if room == 0 {
                0
            } else {
                loop {
                    match self
                        .reader
                        .read(&mut self.bytes[self.carry..self.carry + room])
                    {
                        Ok(n) => break n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                            // Asked to stop while the writer stalls: end
                            // here, with what was read.
                            self.stopped = true;
                            self.remaining = None;
                            break 0;
                        }
                        Err(e) => return Err(Error::io(&self.name, e)),
                    }
                }
            };
            if let Some(rem) = self.remaining.as_mut() {
                *rem -= n as u64;
            }
            if n == 0 {
                self.ended = true;
                if let (Some(rem), Some(total)) = (self.remaining, self.declared) {
                    if rem > 0 {
                        // The writer stopped early: keep what came, as for files.
                        let fb = self.format.frame_bytes() as f64 * self.format.rate as f64;
                        let w = AudioWarning::Truncated {
                            path: self.name.clone().into(),
                            read_s: (total - rem) as f64 / fb,
                            declared_s: Some(total as f64 / fb),
                        };
                        emit_warning(&w);
                        self.warnings.push(w);
                    }
                }
                // A trailing partial frame is dropped.
                continue;
            }
            let have = self.carry + n;
            let fb = self.format.frame_bytes();
            let whole = have / fb * fb;
            self.input.clear();
            let enc = self.format.encoding;
            self.input.extend(
                self.bytes[..whole]
                    .chunks_exact(enc.bytes())
                    .map(|b| enc.decode(b)),
            );
            let ch = self.format.channels as usize;
            if enc.is_float() {
                check_finite(&self.input, ch, self.frames_in, self.format.rate)
                    .map_err(|m| Error::audio(&self.name, m))?;
            }
            self.frames_in += (whole / fb) as u64;
            self.bytes.copy_within(whole..have, 0);
            self.carry = have - whole;
            self.conv.push(&self.input, pending);
        }
        Ok(())
    }
}

impl<R: Read + Send> Source for StdinSource<R> {
    fn read(&mut self, out: &mut Vec<f32>) -> Result<usize> {
        if self.out.is_drained() {
            self.refill()?;
        }
        let n = self.out.deliver(out);
        if n == 0 && self.out.delivered() == 0 && !self.stopped {
            return Err(Error::audio(&self.name, "no audio samples in the stream"));
        }
        Ok(n)
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn stats(&self) -> SourceStats {
        SourceStats {
            samples: self.out.delivered(),
            ..SourceStats::default()
        }
    }
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::pcm::Encoding;
    use std::io::Cursor;

    const RAW16: PcmFormat = PcmFormat {
        encoding: Encoding::S16,
        rate: 16_000,
        channels: 1,
    };

    /// A reader that returns at most `step` bytes per call.
    struct Dribble<'a>(&'a [u8], usize);
    impl Read for Dribble<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(self.1).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn drain(s: &mut dyn Source) -> Result<Vec<f32>> {
        let mut v = Vec::new();
        while s.read(&mut v)? > 0 {}
        Ok(v)
    }

    #[test]
    fn raw_s16_passthrough_any_read_size() {
        let samples: Vec<i16> = (0..5000).map(|i| (i * 7 % 3000) as i16 - 1500).collect();
        let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let want: Vec<f32> = samples.iter().map(|&s| s as f32 / 32768.0).collect();
        for step in [1, 3, 4096, 1 << 20] {
            let mut s = StdinSource::new(Dribble(&bytes, step), RAW16, "-").unwrap();
            assert_eq!(drain(&mut s).unwrap(), want, "step {step}");
        }
    }

    #[test]
    fn raw_f32_stereo_downmixed() {
        let fmt = PcmFormat {
            encoding: Encoding::F32,
            rate: 16_000,
            channels: 2,
        };
        let bytes: Vec<u8> = [0.5f32, -0.5, 1.0, 0.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let mut s = StdinSource::new(Cursor::new(bytes), fmt, "-").unwrap();
        assert_eq!(drain(&mut s).unwrap(), vec![0.0, 0.5]);
    }

    #[test]
    fn nan_in_raw_float_is_an_error_with_position() {
        let fmt = PcmFormat {
            encoding: Encoding::F32,
            rate: 16_000,
            channels: 1,
        };
        let mut v = vec![0.0f32; 8000];
        v[4000] = f32::NAN;
        let bytes: Vec<u8> = v.iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut s = StdinSource::new(Cursor::new(bytes), fmt, "-").unwrap();
        let e = drain(&mut s).unwrap_err().to_string();
        assert!(e.starts_with("-: NaN sample at 0.250 s"), "{e}");
    }

    #[test]
    fn empty_stream_is_an_error() {
        let e = StdinSource::new(Cursor::new(Vec::new()), RAW16, "-")
            .err()
            .unwrap();
        assert!(e.to_string().contains("empty stream"), "{e}");
    }
}
