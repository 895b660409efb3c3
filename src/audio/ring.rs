//! The capture ring: the only code that runs in the audio callback.
//!
//! [`capture_ring`] makes a lock-free SPSC ring (ringbuf) and its two ends.
//! [`CaptureWriter::write`] is what a cpal callback calls (and what tests call
//! from a synthetic producer thread): it converts device samples to `f32` in a
//! fixed stack buffer and pushes whole frames into the ring. It never blocks,
//! allocates, locks or panics; when the ring is full the frames that do not
//! fit are dropped and counted. [`RingSource`] is the reading side: it pops
//! frames and converts them to 16 kHz mono.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

use super::resample::Converter;
use super::{Outbox, Source, SourceStats};
use crate::{Error, Result};

/// Samples converted per step inside the callback (stack buffer size).
const STACK_SAMPLES: usize = 512;

/// Most channels a capture stream may have (so a frame fits the stack buffer).
pub const MAX_CHANNELS: usize = 32;

/// A device sample format the callback can convert to `f32` in [-1, 1].
pub trait CaptureSample: Copy + Send + 'static {
    /// The sample as `f32`; non-finite floats become 0.
    fn to_f32(self) -> f32;
}

impl CaptureSample for f32 {
    #[inline]
    fn to_f32(self) -> f32 {
        if self.is_finite() {
            self
        } else {
            0.0
        }
    }
}

impl CaptureSample for f64 {
    #[inline]
    fn to_f32(self) -> f32 {
        (self as f32).to_f32()
    }
}

impl CaptureSample for i16 {
    #[inline]
    fn to_f32(self) -> f32 {
        self as f32 / 32_768.0
    }
}

impl CaptureSample for u16 {
    #[inline]
    fn to_f32(self) -> f32 {
        (self as f32 - 32_768.0) / 32_768.0
    }
}

impl CaptureSample for i32 {
    #[inline]
    fn to_f32(self) -> f32 {
        self as f32 / 2_147_483_648.0
    }
}

impl CaptureSample for i8 {
    #[inline]
    fn to_f32(self) -> f32 {
        self as f32 / 128.0
    }
}

impl CaptureSample for u8 {
    #[inline]
    fn to_f32(self) -> f32 {
        (self as f32 - 128.0) / 128.0
    }
}

/// Counters and flags shared by the callback and the reading side.
#[derive(Debug, Default)]
pub struct CaptureShared {
    /// Device frames dropped because the ring was full.
    pub dropped_frames: AtomicU64,
    /// Callbacks that had to drop frames.
    pub overruns: AtomicU64,
    /// Device frames written into the ring.
    pub frames: AtomicU64,
    /// Set by the stream's error callback; cleared by the reader on re-open.
    pub error: AtomicBool,
    /// Set when the writer is gone (end of stream).
    pub closed: AtomicBool,
}

/// The callback end of the capture ring.
pub struct CaptureWriter {
    prod: HeapProd<f32>,
    shared: Arc<CaptureShared>,
    channels: usize,
}

/// The reading end of the capture ring (raw device frames).
pub struct CaptureReader {
    cons: HeapCons<f32>,
    shared: Arc<CaptureShared>,
    channels: usize,
}

/// A ring holding `capacity_frames` frames of `channels` channels, split into
/// its writer and reader. Returns `None` for 0 or more than [`MAX_CHANNELS`]
/// channels or a zero capacity.
pub fn capture_ring(
    capacity_frames: usize,
    channels: usize,
) -> Option<(CaptureWriter, CaptureReader)> {
    if channels == 0 || channels > MAX_CHANNELS || capacity_frames == 0 {
        return None;
    }
    let (prod, cons) = HeapRb::<f32>::new(capacity_frames * channels).split();
    let shared = Arc::new(CaptureShared::default());
    Some((
        CaptureWriter {
            prod,
            shared: shared.clone(),
            channels,
        },
        CaptureReader {
            cons,
            shared,
            channels,
        },
    ))
}

impl CaptureWriter {
    /// Converts `data` (interleaved device samples) and pushes the whole
    /// frames that fit; the rest is dropped and counted. Real-time safe.
    #[inline]
    pub fn write<T: CaptureSample>(&mut self, data: &[T]) {
        let ch = self.channels;
        let frames = data.len() / ch;
        let fit = (self.prod.vacant_len() / ch).min(frames);
        let mut buf = [0.0f32; STACK_SAMPLES];
        let step = STACK_SAMPLES / ch * ch;
        let mut pushed = 0;
        for block in data[..fit * ch].chunks(step) {
            for (d, s) in buf.iter_mut().zip(block) {
                *d = s.to_f32();
            }
            pushed += self.prod.push_slice(&buf[..block.len()]);
        }
        let pushed_frames = (pushed / ch) as u64;
        self.shared
            .frames
            .fetch_add(pushed_frames, Ordering::Relaxed);
        let dropped = frames as u64 - pushed_frames;
        if dropped > 0 {
            self.shared
                .dropped_frames
                .fetch_add(dropped, Ordering::Relaxed);
            self.shared.overruns.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The counters shared with the reader; a stream's error callback sets
    /// [`CaptureShared::error`] through a clone taken before the stream starts.
    pub fn shared(&self) -> Arc<CaptureShared> {
        self.shared.clone()
    }
}

impl Drop for CaptureWriter {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
    }
}

impl CaptureReader {
    /// Pops up to `buf.len()` samples (whole frames); returns the count.
    pub fn pop(&mut self, buf: &mut [f32]) -> usize {
        let ch = self.channels;
        let avail = self.cons.occupied_len() / ch * ch;
        let n = avail.min(buf.len() / ch * ch);
        self.cons.pop_slice(&mut buf[..n])
    }

    /// Samples waiting in the ring.
    pub fn available(&self) -> usize {
        self.cons.occupied_len()
    }

    /// The counters shared with the writer.
    pub fn shared(&self) -> &Arc<CaptureShared> {
        &self.shared
    }

    /// Interleaved channels per frame.
    pub fn channels(&self) -> usize {
        self.channels
    }
}

/// Reads a capture ring as a 16 kHz mono [`Source`]: pops device frames,
/// downmixes and resamples them. `read` waits (polling every few ms) until
/// at least `min_frames` device frames are in the ring, the writer is gone
/// (end of stream), a stream error is flagged, or `stall` passes with no data.
pub struct RingSource {
    reader: CaptureReader,
    conv: Converter,
    name: String,
    raw: Vec<f32>,
    out: Outbox,
    min_frames: usize,
    stall: Duration,
    finished: bool,
    /// Counters carried over from rings replaced by [`RingSource::replace`].
    base: SourceStats,
}

/// What [`RingSource::wait`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingEvent {
    /// Frames are ready.
    Data,
    /// The writer is gone and the ring is empty.
    Closed,
    /// The stream reported an error.
    Error,
    /// No data arrived within the stall time.
    Stalled,
}

impl RingSource {
    /// A source over `reader`, whose frames are at `rate` Hz.
    pub fn new(reader: CaptureReader, rate: u32, name: &str) -> Result<Self> {
        let conv = Converter::new(rate, reader.channels())
            .ok_or_else(|| Error::Device(format!("{name}: invalid rate {rate} Hz")))?;
        // About 20 ms of device frames per read.
        let min_frames = (rate as usize / 50).max(1);
        Ok(Self {
            raw: vec![0.0; min_frames * 4 * reader.channels()],
            out: Outbox::new(),
            reader,
            conv,
            name: name.to_string(),
            min_frames,
            stall: Duration::from_secs(2),
            finished: false,
            base: SourceStats::default(),
        })
    }

    /// Sets how long `read` waits without any data before treating the stream
    /// as dead (default 2 s).
    pub fn with_stall_timeout(mut self, stall: Duration) -> Self {
        self.stall = stall;
        self
    }

    /// Changes the stall timeout in place.
    pub fn set_stall_timeout(&mut self, stall: Duration) {
        self.stall = stall;
    }

    /// Swaps in a new ring (after a stream re-open), keeping the counters.
    /// The new ring may have another rate or channel count.
    pub fn replace(&mut self, reader: CaptureReader, rate: u32) -> Result<()> {
        let old = self.stats();
        let fresh = Self::new(reader, rate, &self.name)?.with_stall_timeout(self.stall);
        *self = fresh;
        self.base = old;
        Ok(())
    }

    /// The shared counters of the current ring.
    pub fn shared(&self) -> &Arc<CaptureShared> {
        self.reader.shared()
    }

    /// Waits for data as described on [`RingSource`].
    pub fn wait(&self) -> RingEvent {
        let start = Instant::now();
        let want = self.min_frames * self.reader.channels();
        loop {
            let shared = self.reader.shared();
            let avail = self.reader.available();
            if shared.error.load(Ordering::Acquire) {
                // Deliver what the stream captured before it failed.
                return if avail > 0 {
                    RingEvent::Data
                } else {
                    RingEvent::Error
                };
            }
            if avail >= want {
                return RingEvent::Data;
            }
            if shared.closed.load(Ordering::Acquire) {
                return if self.reader.available() > 0 {
                    RingEvent::Data
                } else {
                    RingEvent::Closed
                };
            }
            if start.elapsed() >= self.stall {
                return if avail > 0 {
                    RingEvent::Data
                } else {
                    RingEvent::Stalled
                };
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Hands out up to [`BLOCK`](super::BLOCK) converted samples, waiting for the ring as
    /// described on [`RingSource`]. `Ok(0)` = end of stream; a stream error
    /// or stall comes back as `Err(event)` for the caller to handle.
    pub fn poll(&mut self, out: &mut Vec<f32>) -> std::result::Result<usize, RingEvent> {
        loop {
            if !self.out.is_drained() {
                return Ok(self.out.deliver(out));
            }
            if self.finished {
                return Ok(0);
            }
            match self.wait() {
                RingEvent::Data => {
                    let n = self.reader.pop(&mut self.raw);
                    self.conv.push(&self.raw[..n], self.out.refill());
                }
                RingEvent::Closed => {
                    self.conv.finish(self.out.refill());
                    self.finished = true;
                }
                other => return Err(other),
            }
        }
    }
}

impl Source for RingSource {
    /// Blocks until audio arrives; `Ok(0)` once the writer is gone and all
    /// audio has been delivered. A stream error or stall is reported as an
    /// [`Error::Device`] (a `MicSource` re-opens instead).
    fn read(&mut self, out: &mut Vec<f32>) -> Result<usize> {
        match self.poll(out) {
            Ok(n) => Ok(n),
            Err(RingEvent::Stalled) => Err(Error::Device(format!(
                "{}: no audio for {:.1} s",
                self.name,
                self.stall.as_secs_f32()
            ))),
            Err(_) => Err(Error::Device(format!("{}: stream error", self.name))),
        }
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn stats(&self) -> SourceStats {
        let s = self.reader.shared();
        SourceStats {
            samples: self.base.samples + self.out.delivered(),
            overruns: self.base.overruns + s.overruns.load(Ordering::Relaxed),
            dropped_frames: self.base.dropped_frames + s.dropped_frames.load(Ordering::Relaxed),
            reopens: self.base.reopens,
        }
    }
}

impl RingSource {
    /// Adds one to the re-open counter (used by [`super::MicSource`]).
    pub fn count_reopen(&mut self) {
        self.base.reopens += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_conversions() {
        assert_eq!(i16::MIN.to_f32(), -1.0);
        assert_eq!(0u16.to_f32(), -1.0);
        assert_eq!(32_768u16.to_f32(), 0.0);
        assert_eq!(f32::NAN.to_f32(), 0.0);
        assert_eq!(f32::INFINITY.to_f32(), 0.0);
        assert_eq!(0.25f32.to_f32(), 0.25);
    }

    #[test]
    fn full_ring_drops_whole_frames_and_counts() {
        let (mut w, mut r) = capture_ring(10, 2).unwrap();
        let data: Vec<i16> = (0..30).collect(); // 15 stereo frames
        w.write(&data);
        let s = w.shared();
        assert_eq!(s.dropped_frames.load(Ordering::Relaxed), 5);
        assert_eq!(s.overruns.load(Ordering::Relaxed), 1);
        assert_eq!(s.frames.load(Ordering::Relaxed), 10);
        let mut buf = [0.0f32; 64];
        let n = r.pop(&mut buf);
        assert_eq!(n, 20);
        let want: Vec<f32> = (0..20).map(|v| v as f32 / 32_768.0).collect();
        assert_eq!(&buf[..n], &want[..]);
    }

    #[test]
    fn long_callback_buffer_crosses_stack_chunks() {
        let (mut w, mut r) = capture_ring(4000, 3).unwrap();
        let data: Vec<f32> = (0..3000).map(|v| v as f32 / 4096.0).collect();
        w.write(&data);
        let mut buf = vec![0.0f32; 4000];
        let n = r.pop(&mut buf);
        assert_eq!(&buf[..n], &data[..]);
    }

    #[test]
    fn bad_ring_parameters() {
        assert!(capture_ring(0, 1).is_none());
        assert!(capture_ring(10, 0).is_none());
        assert!(capture_ring(10, MAX_CHANNELS + 1).is_none());
    }
}
