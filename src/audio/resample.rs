//! Downmix to mono and resample to 16 kHz, in blocks.
//!
//! [`Converter`] is the one place where any rate / channel count becomes the
//! 16 kHz mono `f32` stream every frontend consumes. It is fed interleaved
//! frames in blocks of any size and produces the same output whatever the
//! block sizes (the resampler works on fixed internal chunks), so a file read
//! in one go and the same file streamed give identical samples.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler};

use crate::SAMPLE_RATE;

/// Input frames per resampler chunk (about 20 ms at 48 kHz).
const CHUNK_FRAMES: usize = 1024;

/// Streaming conversion of interleaved audio at any rate and channel count to
/// 16 kHz mono: channels are averaged, then resampled with rubato's FFT
/// resampler (skipped when the input is already 16 kHz).
pub struct Converter {
    channels: usize,
    rate: u32,
    resampler: Option<Resample>,
    mono: Vec<f32>,
}

impl Converter {
    /// A converter from `rate` Hz with `channels` interleaved channels.
    /// Returns `None` when `rate` or `channels` is zero.
    pub fn new(rate: u32, channels: usize) -> Option<Self> {
        if rate == 0 || channels == 0 {
            return None;
        }
        let resampler = if rate == SAMPLE_RATE {
            None
        } else {
            Some(Resample::new(rate)?)
        };
        Some(Self {
            channels,
            rate,
            resampler,
            mono: Vec::with_capacity(CHUNK_FRAMES),
        })
    }

    /// Input sample rate in Hz.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Input channel count.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Converts `interleaved` (whole frames; a trailing partial frame is
    /// ignored) and appends the 16 kHz mono result to `out`.
    pub fn push(&mut self, interleaved: &[f32], out: &mut Vec<f32>) {
        let ch = self.channels;
        if self.resampler.is_none() {
            downmix_into(interleaved, ch, out);
            return;
        }
        for block in interleaved.chunks(CHUNK_FRAMES * ch) {
            self.mono.clear();
            downmix_into(block, ch, &mut self.mono);
            if let Some(r) = self.resampler.as_mut() {
                r.push(&self.mono, out);
            }
        }
    }

    /// Flushes the resampler at the end of the stream: appends the remaining
    /// output so the total length is `round(frames_in * 16000 / rate)`.
    pub fn finish(&mut self, out: &mut Vec<f32>) {
        if let Some(r) = self.resampler.as_mut() {
            r.finish(out);
        }
    }

    /// Forgets all state, ready for a new stream at the same rate.
    pub fn reset(&mut self) {
        if let Some(r) = self.resampler.as_mut() {
            r.reset();
        }
    }
}

/// Averages the channels of each whole frame of `interleaved` into `out`.
pub fn downmix_into(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
    if channels == 1 {
        out.extend_from_slice(interleaved);
        return;
    }
    let scale = 1.0 / channels as f32;
    out.extend(
        interleaved
            .chunks_exact(channels)
            .map(|f| f.iter().sum::<f32>() * scale),
    );
}

/// Mono FFT resampler to 16 kHz with its start-up delay trimmed and its tail
/// flushed, fed in blocks of any size.
struct Resample {
    fft: Fft<f32>,
    rate: u32,
    /// Pending input, exactly `chunk` long; `filled` of it valid.
    inbuf: Vec<f32>,
    filled: usize,
    outbuf: Vec<f32>,
    /// Output frames still to drop (the resampler's delay).
    to_skip: usize,
    frames_in: u64,
    frames_out: u64,
}

impl Resample {
    fn new(rate: u32) -> Option<Self> {
        let fft = Fft::<f32>::new(
            rate as usize,
            SAMPLE_RATE as usize,
            CHUNK_FRAMES,
            1,
            FixedSync::Input,
        )
        .ok()?;
        let chunk = fft.input_frames_max();
        let out_max = fft.output_frames_max();
        let to_skip = fft.output_delay();
        Some(Self {
            fft,
            rate,
            inbuf: vec![0.0; chunk],
            filled: 0,
            outbuf: vec![0.0; out_max],
            to_skip,
            frames_in: 0,
            frames_out: 0,
        })
    }

    fn push(&mut self, mut mono: &[f32], out: &mut Vec<f32>) {
        self.frames_in += mono.len() as u64;
        while !mono.is_empty() {
            let need = self.fft.input_frames_next() - self.filled;
            let take = need.min(mono.len());
            self.inbuf[self.filled..self.filled + take].copy_from_slice(&mono[..take]);
            self.filled += take;
            mono = &mono[take..];
            if self.filled == self.fft.input_frames_next() {
                self.process(None, out);
            }
        }
    }

    /// Runs one chunk (`partial` valid frames, rest silence) and appends the
    /// output past the start-up delay to `out`; returns the frames appended.
    fn process(&mut self, partial: Option<usize>, out: &mut Vec<f32>) -> usize {
        let frames = self.inbuf.len();
        let cap = self.outbuf.len();
        let indexing = partial.map(|p| Indexing::new().partial_len(p));
        let (Ok(input), Ok(mut output)) = (
            InterleavedSlice::new(&self.inbuf[..], 1, frames),
            InterleavedSlice::new_mut(&mut self.outbuf[..], 1, cap),
        ) else {
            return 0;
        };
        // Buffers are sized from the resampler's own maxima, so this cannot fail.
        let written = match self
            .fft
            .process_into_buffer(&input, &mut output, indexing.as_ref())
        {
            Ok((_, w)) => w,
            Err(_) => 0,
        };
        self.filled = 0;
        let skip = self.to_skip.min(written);
        self.to_skip -= skip;
        let produced = &self.outbuf[skip..written];
        out.extend_from_slice(produced);
        self.frames_out += produced.len() as u64;
        produced.len()
    }

    fn expected_out(&self) -> u64 {
        let r = self.rate as u64;
        (self.frames_in * SAMPLE_RATE as u64 + r / 2) / r
    }

    fn finish(&mut self, out: &mut Vec<f32>) {
        let expected = self.expected_out();
        let start = out.len();
        // Feed the partial chunk, then silence, until the tail is out.
        let mut guard = 0;
        while self.frames_out < expected && guard < 64 {
            let valid = self.filled;
            for v in &mut self.inbuf[valid..] {
                *v = 0.0;
            }
            self.process(Some(valid), out);
            guard += 1;
        }
        if self.frames_out > expected {
            let extra = (self.frames_out - expected) as usize;
            let keep = out.len().saturating_sub(extra).max(start);
            out.truncate(keep);
            self.frames_out = expected;
        }
    }

    fn reset(&mut self) {
        self.fft.reset();
        self.filled = 0;
        self.to_skip = self.fft.output_delay();
        self.frames_in = 0;
        self.frames_out = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, freq: f32, secs: f32, channels: usize) -> Vec<f32> {
        let n = (rate as f32 * secs) as usize;
        let mut v = Vec::with_capacity(n * channels);
        for i in 0..n {
            let s = (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin() * 0.5;
            for _ in 0..channels {
                v.push(s);
            }
        }
        v
    }

    fn convert(rate: u32, ch: usize, data: &[f32], block: usize) -> Vec<f32> {
        let mut c = Converter::new(rate, ch).unwrap();
        let mut out = Vec::new();
        for b in data.chunks(block * ch) {
            c.push(b, &mut out);
        }
        c.finish(&mut out);
        out
    }

    #[test]
    fn passthrough_at_16k_is_exact() {
        let x = sine(16_000, 440.0, 0.3, 1);
        assert_eq!(convert(16_000, 1, &x, 37), x);
    }

    #[test]
    fn downmix_averages() {
        let mut out = Vec::new();
        downmix_into(&[1.0, 0.0, 0.5, 0.5, -1.0, 1.0], 2, &mut out);
        assert_eq!(out, vec![0.5, 0.5, 0.0]);
    }

    #[test]
    fn length_is_rounded_ratio() {
        for &(rate, secs) in &[
            (8_000u32, 0.5f32),
            (44_100, 1.0),
            (48_000, 0.77),
            (22_050, 0.1),
        ] {
            let x = sine(rate, 300.0, secs, 2);
            let frames = x.len() / 2;
            let y = convert(rate, 2, &x, 500);
            let want = (frames as u64 * 16_000 + rate as u64 / 2) / rate as u64;
            assert_eq!(y.len() as u64, want, "rate {rate}");
        }
    }

    #[test]
    fn block_size_does_not_change_output() {
        let x = sine(44_100, 440.0, 0.4, 2);
        let a = convert(44_100, 2, &x, 1);
        let b = convert(44_100, 2, &x, 333);
        let c = convert(44_100, 2, &x, 100_000);
        assert_eq!(a, b);
        assert_eq!(a, c);
    }

    #[test]
    fn resampled_sine_keeps_phase_and_amplitude() {
        // No delay: output sample k matches the analytic sine at k / 16000 s.
        let x = sine(48_000, 440.0, 0.5, 1);
        let y = convert(48_000, 1, &x, 256);
        let mut max_err = 0.0f32;
        for (k, v) in y.iter().enumerate().skip(200).take(7000) {
            let t = k as f32 / 16_000.0;
            let want = (2.0 * std::f32::consts::PI * 440.0 * t).sin() * 0.5;
            max_err = max_err.max((v - want).abs());
        }
        assert!(max_err < 0.01, "max error {max_err}");
    }

    #[test]
    fn zero_rate_or_channels_rejected() {
        assert!(Converter::new(0, 1).is_none());
        assert!(Converter::new(16_000, 0).is_none());
    }
}
