//! Real-time pacing for file and stdin sources (`--realtime`).

use std::time::{Duration, Instant};

use super::{Source, SourceStats};
use crate::{Result, SAMPLE_RATE};

/// Wraps a source so audio is delivered no faster than real time: each
/// `read` sleeps until the wall clock has caught up with the audio already
/// handed out. Used to replay a recording as if it came from a microphone.
pub struct Paced<S> {
    inner: S,
    start: Option<Instant>,
    delivered: u64,
}

impl<S: Source> Paced<S> {
    /// Paces `inner`; the clock starts at the first `read`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            start: None,
            delivered: 0,
        }
    }

    /// The wrapped source.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Source> Source for Paced<S> {
    fn read(&mut self, out: &mut Vec<f32>) -> Result<usize> {
        let start = *self.start.get_or_insert_with(Instant::now);
        let due = Duration::from_secs_f64(self.delivered as f64 / SAMPLE_RATE as f64);
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
        let n = self.inner.read(out)?;
        self.delivered += n as u64;
        Ok(n)
    }

    fn name(&self) -> &str {
        self.inner.name()
    }

    fn stats(&self) -> SourceStats {
        self.inner.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::{Encoding, PcmFormat, StdinSource};

    #[test]
    fn paced_source_takes_real_time() {
        // 0.3 s of audio: the last block is due at >= 0.2 s.
        let bytes = vec![0u8; 2 * 4800];
        let fmt = PcmFormat {
            encoding: Encoding::S16,
            rate: 16_000,
            channels: 1,
        };
        let mut p = Paced::new(StdinSource::new(&bytes[..], fmt, "-").unwrap());
        let t = Instant::now();
        let mut out = Vec::new();
        while p.read(&mut out).unwrap() > 0 {}
        assert_eq!(out.len(), 4800);
        assert!(
            t.elapsed() >= Duration::from_millis(200),
            "{:?}",
            t.elapsed()
        );
    }
}
