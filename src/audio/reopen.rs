//! A capture source that re-opens its stream after errors, with back-off.
//!
//! The opener is a closure, so the re-open logic is the same for the cpal
//! microphone (`MicSource`) and for synthetic streams in tests.

use std::time::Duration;

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
        })
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

    fn reopen(&mut self, why: &str) -> Result<()> {
        self.last_error = Some(why.to_string());
        self.guard = None;
        let mut delay = self.backoff.first;
        let mut last = String::new();
        for _ in 0..self.backoff.attempts {
            std::thread::sleep(delay);
            match (self.opener)() {
                Ok(o) => {
                    self.ring.replace(o.reader, o.rate)?;
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
        Err(Error::Device(format!(
            "{}: {why}; re-opening failed {} times (last: {last})",
            self.ring.name(),
            self.backoff.attempts
        )))
    }
}

impl Source for ReopeningSource {
    /// Blocks until audio arrives, re-opening the stream as needed; errors
    /// only when re-opening fails `attempts` times in a row.
    fn read(&mut self, out: &mut Vec<f32>) -> Result<usize> {
        loop {
            match self.ring.poll(out) {
                Ok(n) if n > 0 => return Ok(n),
                Ok(_) => self.reopen("stream closed")?,
                Err(RingEvent::Stalled) => self.reopen("no audio from the device")?,
                Err(_) => self.reopen("stream error")?,
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
