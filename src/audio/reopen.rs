//! A capture source that re-opens its stream after errors, with back-off.
//!
//! The opener is a closure, so the re-open logic is the same for the cpal
//! microphone (`MicSource`) and for synthetic streams in tests.
//!
//! Nothing here waits forever on a dead stream: a stream is closed on a
//! helper thread and abandoned (left to finish or hang on its own) when it
//! does not close within [`CLOSE_TIMEOUT`] (a sound server killed
//! mid-stream can leave its client library deadlocked inside the close);
//! and a stop flag ([`ReopeningSource::with_stop`]) ends the re-open
//! back-off within milliseconds.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::ring::{CaptureReader, RingEvent};
use super::{RingSource, Source, SourceStats};
use crate::{Error, Result};

/// A freshly opened capture stream.
pub struct Opened {
    /// Keeps the stream running while held (a `cpal::Stream`, or a test
    /// producer's handle); dropped before re-opening.
    pub guard: Box<dyn Send>,
    /// The reading end of the stream's ring.
    pub reader: CaptureReader,
    /// The stream's frame rate in Hz.
    pub rate: u32,
    /// What to call the stream in messages.
    pub name: String,
}

/// Opens (or re-opens) a capture stream.
pub type Opener = Box<dyn FnMut() -> Result<Opened> + Send>;

/// Longest wait for a stream to close before it is abandoned.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a stream that seemed to stall is watched, counting only time
/// this process was actually running, before it is re-opened.
const STALL_CONFIRM: Duration = Duration::from_millis(500);

/// Longest one step of the stall watch may count (a longer step means the
/// process was not scheduled: starved, or stopped).
const WATCH_STEP: Duration = Duration::from_millis(20);

/// Drops `guard` (closing its stream) on a helper thread and waits at most
/// `timeout` for it. Returns `true` if it closed in time; otherwise the
/// helper thread is left behind, still trying, and `false` is returned.
pub fn close_within(guard: Box<dyn Send>, timeout: Duration) -> bool {
    let (tx, rx) = crossbeam_channel::bounded::<()>(1);
    let spawned = std::thread::Builder::new()
        .name("wordspot-close".into())
        .spawn(move || {
            drop(guard);
            let _ = tx.send(());
        });
    match spawned {
        Ok(_) => rx.recv_timeout(timeout).is_ok(),
        // No thread to be had: better to leak the stream than to risk
        // blocking forever on it here.
        Err(_) => false,
    }
}

/// Re-open policy: wait `first`, doubling up to `max`, for at most
/// `attempts` tries before `read` fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay before the first re-open attempt.
    pub first: Duration,
    /// Longest delay between attempts.
    pub max: Duration,
    /// Attempts before giving up.
    pub attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            first: Duration::from_millis(100),
            max: Duration::from_secs(5),
            attempts: 8,
        }
    }
}

/// A 16 kHz mono [`Source`] over a capture stream that is re-opened when it
/// reports an error, closes, or stalls; re-opens are counted in
/// [`SourceStats::reopens`].
pub struct ReopeningSource {
    opener: Opener,
    guard: Option<Box<dyn Send>>,
    ring: RingSource,
    backoff: Backoff,
    stall: Duration,
    rate: u32,
    last_error: Option<String>,
    stop: Option<Arc<AtomicBool>>,
    abandoned: u64,
}

/// Why a re-open did not give a stream.
enum NotReopened {
    Stopped,
    Failed(Error),
}

impl ReopeningSource {
    /// Opens the stream once (errors are returned, not retried).
    pub fn new(mut opener: Opener) -> Result<Self> {
        let o = opener()?;
        let ring = RingSource::new(o.reader, o.rate, &o.name)?;
        Ok(Self {
            opener,
            guard: Some(o.guard),
            ring,
            backoff: Backoff::default(),
            stall: Duration::from_secs(2),
            rate: o.rate,
            last_error: None,
            stop: None,
            abandoned: 0,
        })
    }

    /// Ends the stream when `stop` is set: `read` then returns `Ok(0)` (end
    /// of stream) instead of waiting out a re-open back-off.
    pub fn with_stop(mut self, stop: Arc<AtomicBool>) -> Self {
        self.stop = Some(stop);
        self
    }

    /// Streams that did not close within [`CLOSE_TIMEOUT`] and were left
    /// behind.
    pub fn abandoned_streams(&self) -> u64 {
        self.abandoned
    }

    fn stopped(&self) -> bool {
        self.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst))
    }

    /// Sleeps `d`, in short steps so a stop request ends it early; `false`
    /// when stopped.
    fn sleep_unless_stopped(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        loop {
            if self.stopped() {
                return false;
            }
            let now = Instant::now();
            if now >= until {
                return true;
            }
            std::thread::sleep((until - now).min(Duration::from_millis(10)));
        }
    }

    /// After the ring saw no audio for the stall time, watches the stream
    /// for [`STALL_CONFIRM`] of time this process was running: a process
    /// starved of CPU (or stopped) sees no audio for a while although the
    /// device is fine, and re-opening would throw away what it buffered.
    /// `true` if the stream is still silent (dead).
    fn stall_confirmed(&self) -> bool {
        let shared = self.ring.shared().clone();
        let seen = |s: &super::ring::CaptureShared| {
            (
                s.frames.load(Ordering::Relaxed),
                s.overruns.load(Ordering::Relaxed),
            )
        };
        let before = seen(&shared);
        let mut watched = Duration::ZERO;
        let mut last = Instant::now();
        while watched < STALL_CONFIRM {
            if self.stopped() {
                return false;
            }
            if seen(&shared) != before
                || shared.error.load(Ordering::Acquire)
                || shared.closed.load(Ordering::Acquire)
            {
                // Alive after all, or failed for a reason `poll` reports.
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
            let now = Instant::now();
            watched += (now - last).min(WATCH_STEP);
            last = now;
        }
        seen(&shared) == before
    }

    /// Closes the current stream, abandoning it after [`CLOSE_TIMEOUT`].
    fn close(&mut self) {
        if let Some(g) = self.guard.take() {
            if !close_within(g, CLOSE_TIMEOUT) {
                self.abandoned += 1;
            }
        }
    }

    /// Sets the re-open policy.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets how long silence from the stream lasts before it is re-opened
    /// (default 2 s).
    pub fn with_stall_timeout(mut self, stall: Duration) -> Self {
        self.stall = stall;
        self.ring.set_stall_timeout(stall);
        self
    }

    /// The current stream's frame rate in Hz.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Why the stream was last re-opened, if it was.
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    fn reopen(&mut self, why: &str) -> std::result::Result<(), NotReopened> {
        self.last_error = Some(why.to_string());
        self.close();
        let mut delay = self.backoff.first;
        let mut last = String::new();
        for _ in 0..self.backoff.attempts {
            if !self.sleep_unless_stopped(delay) {
                return Err(NotReopened::Stopped);
            }
            match (self.opener)() {
                Ok(o) => {
                    if self.stopped() {
                        // Asked to stop while opening: close the new stream too.
                        self.guard = Some(o.guard);
                        return Err(NotReopened::Stopped);
                    }
                    self.ring
                        .replace(o.reader, o.rate)
                        .map_err(NotReopened::Failed)?;
                    self.ring.set_stall_timeout(self.stall);
                    self.ring.count_reopen();
                    self.guard = Some(o.guard);
                    self.rate = o.rate;
                    return Ok(());
                }
                Err(e) => last = e.to_string(),
            }
            delay = (delay * 2).min(self.backoff.max);
        }
        Err(NotReopened::Failed(Error::Device(format!(
            "{}: {why}; re-opening failed {} times (last: {last})",
            self.ring.name(),
            self.backoff.attempts
        ))))
    }
}

impl Drop for ReopeningSource {
    fn drop(&mut self) {
        self.close();
    }
}

impl Source for ReopeningSource {
    /// Blocks until audio arrives, re-opening the stream as needed; errors
    /// only when re-opening fails `attempts` times in a row. `Ok(0)` once
    /// the stop flag ([`ReopeningSource::with_stop`]) is set.
    fn read(&mut self, out: &mut Vec<f32>) -> Result<usize> {
        loop {
            if self.stopped() {
                return Ok(0);
            }
            let why = match self.ring.poll(out) {
                Ok(n) if n > 0 => return Ok(n),
                Ok(_) => "stream closed",
                Err(RingEvent::Stalled) if !self.stall_confirmed() => continue,
                Err(RingEvent::Stalled) => "no audio from the device",
                Err(_) => "stream error",
            };
            match self.reopen(why) {
                Ok(()) => {}
                Err(NotReopened::Stopped) => return Ok(0),
                Err(NotReopened::Failed(e)) => return Err(e),
            }
        }
    }

    fn name(&self) -> &str {
        self.ring.name()
    }

    fn stats(&self) -> SourceStats {
        self.ring.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::ring::capture_ring;
    use std::sync::atomic::AtomicUsize;

    /// A stream guard whose close hangs for `secs` (as a client library
    /// deadlocked on a killed sound server does).
    struct HangingClose(u64);

    impl Drop for HangingClose {
        fn drop(&mut self) {
            std::thread::sleep(Duration::from_secs(self.0));
        }
    }

    fn quick() -> Backoff {
        Backoff {
            first: Duration::from_millis(5),
            max: Duration::from_millis(10),
            attempts: 5,
        }
    }

    #[test]
    fn a_stream_that_does_not_close_is_abandoned() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let opener: Opener = Box::new(move || {
            let call = c.fetch_add(1, Ordering::SeqCst);
            let (mut w, reader) = capture_ring(16_000, 1).unwrap();
            let guard: Box<dyn Send> = if call == 0 {
                // Fails at once, and hangs on close.
                w.shared().error.store(true, Ordering::Release);
                Box::new((w, HangingClose(30)))
            } else {
                w.write(&[0.25f32; 800]);
                Box::new(w)
            };
            Ok(Opened {
                guard,
                reader,
                rate: 16_000,
                name: "hangs".into(),
            })
        });
        let mut src = ReopeningSource::new(opener).unwrap().with_backoff(quick());
        let t = Instant::now();
        let mut got = Vec::new();
        assert!(src.read(&mut got).unwrap() > 0);
        let took = t.elapsed();
        assert!(
            took < CLOSE_TIMEOUT + Duration::from_millis(700),
            "{took:?}"
        );
        assert_eq!(src.abandoned_streams(), 1);
        assert_eq!(src.stats().reopens, 1);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn stop_ends_the_reopen_backoff() {
        let mut first = true;
        let opener: Opener = Box::new(move || {
            if !first {
                return Err(Error::Device("gone".into()));
            }
            first = false;
            let (w, reader) = capture_ring(100, 1).unwrap();
            w.shared().error.store(true, Ordering::Release);
            Ok(Opened {
                guard: Box::new(w),
                reader,
                rate: 16_000,
                name: "dying".into(),
            })
        });
        let stop = Arc::new(AtomicBool::new(false));
        let mut src = ReopeningSource::new(opener)
            .unwrap()
            .with_backoff(Backoff {
                first: Duration::from_secs(10),
                max: Duration::from_secs(10),
                attempts: 8,
            })
            .with_stop(stop.clone());
        let s = stop.clone();
        let setter = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            s.store(true, Ordering::SeqCst);
        });
        let t = Instant::now();
        assert_eq!(
            src.read(&mut Vec::new()).unwrap(),
            0,
            "stopped = end of stream"
        );
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
        setter.join().unwrap();
    }

    /// A writer that goes quiet for `pause` (a process not scheduled) after
    /// 1600 frames, then delivers 1600 more.
    fn pausing_opener(pause: Duration, calls: Arc<AtomicUsize>) -> Opener {
        Box::new(move || {
            calls.fetch_add(1, Ordering::SeqCst);
            let (mut w, reader) = capture_ring(16_000, 1).unwrap();
            let producer = std::thread::spawn(move || {
                w.write(&[0.5f32; 1600]);
                std::thread::sleep(pause);
                w.write(&[0.5f32; 1600]);
                std::thread::sleep(Duration::from_secs(5));
            });
            Ok(Opened {
                guard: Box::new(producer),
                reader,
                rate: 16_000,
                name: "pausing".into(),
            })
        })
    }

    #[test]
    fn a_short_silence_past_the_stall_time_is_not_a_dead_device() {
        let calls = Arc::new(AtomicUsize::new(0));
        let mut src =
            ReopeningSource::new(pausing_opener(Duration::from_millis(400), calls.clone()))
                .unwrap()
                .with_backoff(quick())
                .with_stall_timeout(Duration::from_millis(200));
        let mut got = Vec::new();
        while got.len() < 3200 {
            src.read(&mut got).unwrap();
        }
        assert_eq!(got.len(), 3200);
        assert_eq!(src.stats().reopens, 0);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_silent_stream_is_reopened_after_the_stall_and_its_confirmation() {
        let calls = Arc::new(AtomicUsize::new(0));
        let mut src = ReopeningSource::new(pausing_opener(Duration::from_secs(3), calls.clone()))
            .unwrap()
            .with_backoff(quick())
            .with_stall_timeout(Duration::from_millis(200));
        let mut got = Vec::new();
        while got.len() < 1600 {
            src.read(&mut got).unwrap();
        }
        let t = Instant::now();
        while got.len() < 3200 {
            src.read(&mut got).unwrap();
        }
        // 0.2 s stall + 0.5 s watch, then the new stream's first 1600 frames.
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        assert_eq!(src.stats().reopens, 1);
        assert_eq!(src.last_error(), Some("no audio from the device"));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
