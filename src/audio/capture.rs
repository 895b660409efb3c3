//! Microphone capture with cpal (cargo feature `mic`).
//!
//! The cpal data callback does nothing but [`CaptureWriter::write`]; the
//! error callback only sets an atomic flag. [`MicSource`] reads the ring on
//! the processing thread, resamples to 16 kHz mono, and re-opens the stream
//! with back-off when it fails or goes silent.

use std::sync::atomic::Ordering;
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::SampleFormat;

use super::ring::{
    capture_ring, CaptureReader, CaptureSample, CaptureWriter, RingEvent, MAX_CHANNELS,
};
use super::{RingSource, Source, SourceStats};
use crate::{Error, Result};

/// Re-open attempts after a stream failure before `read` gives up.
const MAX_REOPEN_ATTEMPTS: u32 = 8;
/// First back-off delay; doubled per failed attempt up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// An input device as listed by `wordspot devices`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// The name `--device` matches against.
    pub name: String,
    /// Whether it is the host's default input device.
    pub is_default: bool,
    /// Default input rate in Hz, if the device reports one.
    pub rate: Option<u32>,
    /// Default input channel count, if reported.
    pub channels: Option<u16>,
    /// Default sample format (`i16`, `f32`...), if reported.
    pub sample_format: Option<String>,
}

/// Lists the input devices of the default audio host.
pub fn list_devices() -> Result<Vec<DeviceInfo>> {
    let host = cpal::default_host();
    let default_name = host.default_input_device().and_then(|d| device_name(&d));
    let devices = host
        .input_devices()
        .map_err(|e| Error::Device(format!("cannot list input devices: {e}")))?;
    Ok(devices
        .filter_map(|d| {
            let name = device_name(&d)?;
            let cfg = d.default_input_config().ok();
            Some(DeviceInfo {
                is_default: default_name.as_deref() == Some(name.as_str()),
                rate: cfg.as_ref().map(|c| c.sample_rate()),
                channels: cfg.as_ref().map(|c| c.channels()),
                sample_format: cfg.as_ref().map(|c| c.sample_format().to_string()),
                name,
            })
        })
        .collect())
}

fn device_name(d: &cpal::Device) -> Option<String> {
    d.description().ok().map(|desc| desc.name().to_string())
}

/// Picks the device for `query` among `names`: an exact match first, then a
/// unique case-insensitive substring match.
pub(crate) fn match_device(names: &[String], query: &str) -> std::result::Result<usize, String> {
    if let Some(i) = names.iter().position(|n| n == query) {
        return Ok(i);
    }
    let q = query.to_lowercase();
    let hits: Vec<usize> = (0..names.len())
        .filter(|&i| names[i].to_lowercase().contains(&q))
        .collect();
    match hits.as_slice() {
        [i] => Ok(*i),
        [] => Err(format!(
            "no input device matches '{query}' (available: {})",
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        )),
        many => Err(format!(
            "'{query}' matches several input devices: {}",
            many.iter()
                .map(|&i| names[i].as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Live microphone audio as a 16 kHz mono [`Source`].
pub struct MicSource {
    device_query: Option<String>,
    ring_seconds: f32,
    stream: Option<cpal::Stream>,
    ring: RingSource,
    rate: u32,
    channels: u16,
    last_error: Option<String>,
}

impl std::fmt::Debug for MicSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MicSource")
            .field("device", &self.ring.name())
            .field("rate", &self.rate)
            .field("channels", &self.channels)
            .finish()
    }
}

impl MicSource {
    /// Opens the default input device (`None`) or the one matching
    /// `device_name` (exact name, then case-insensitive substring) with its
    /// default configuration, and starts capturing into a ring holding
    /// `ring_seconds` of audio.
    pub fn open(device_name: Option<&str>, ring_seconds: f32) -> Result<Self> {
        if !(ring_seconds.is_finite() && ring_seconds > 0.0 && ring_seconds <= 600.0) {
            return Err(Error::invalid(format!(
                "ring buffer length must be in (0, 600] seconds, got {ring_seconds}"
            )));
        }
        let opened = open_stream(device_name, ring_seconds)?;
        let ring = RingSource::new(opened.reader, opened.rate, &opened.name)?;
        Ok(Self {
            device_query: device_name.map(str::to_string),
            ring_seconds,
            stream: Some(opened.stream),
            ring,
            rate: opened.rate,
            channels: opened.channels,
            last_error: None,
        })
    }

    /// The device's capture rate in Hz.
    pub fn device_rate(&self) -> u32 {
        self.rate
    }

    /// The device's channel count.
    pub fn device_channels(&self) -> u16 {
        self.channels
    }

    /// The last stream failure that caused a re-open, if any.
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// Drops the failed stream and opens a new one, retrying with doubling
    /// back-off; errors after [`MAX_REOPEN_ATTEMPTS`] failures.
    fn reopen(&mut self, why: &str) -> Result<()> {
        self.last_error = Some(why.to_string());
        self.stream = None;
        let mut delay = FIRST_BACKOFF;
        let mut last = String::new();
        for _ in 0..MAX_REOPEN_ATTEMPTS {
            std::thread::sleep(delay);
            match open_stream(self.device_query.as_deref(), self.ring_seconds) {
                Ok(o) => {
                    self.ring.replace(o.reader, o.rate)?;
                    self.ring.count_reopen();
                    self.stream = Some(o.stream);
                    self.rate = o.rate;
                    self.channels = o.channels;
                    return Ok(());
                }
                Err(e) => last = e.to_string(),
            }
            delay = (delay * 2).min(MAX_BACKOFF);
        }
        Err(Error::Device(format!(
            "{}: {why}; re-opening failed {MAX_REOPEN_ATTEMPTS} times ({last})",
            self.ring.name()
        )))
    }
}

impl Source for MicSource {
    /// Blocks until audio arrives. A stream error or 2 s without audio
    /// triggers a re-open (counted in [`SourceStats::reopens`]).
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

struct Opened {
    stream: cpal::Stream,
    reader: CaptureReader,
    rate: u32,
    channels: u16,
    name: String,
}

fn open_stream(query: Option<&str>, ring_seconds: f32) -> Result<Opened> {
    let host = cpal::default_host();
    let device = match query {
        None => host
            .default_input_device()
            .ok_or_else(|| Error::Device("no default input device".into()))?,
        Some(q) => {
            let devices: Vec<cpal::Device> = host
                .input_devices()
                .map_err(|e| Error::Device(format!("cannot list input devices: {e}")))?
                .collect();
            let names: Vec<String> = devices
                .iter()
                .map(|d| device_name(d).unwrap_or_default())
                .collect();
            let i = match_device(&names, q).map_err(Error::Device)?;
            devices
                .into_iter()
                .nth(i)
                .ok_or_else(|| Error::Device(format!("device '{q}' vanished")))?
        }
    };
    let name = device_name(&device).unwrap_or_else(|| "input device".into());
    let config = device
        .default_input_config()
        .map_err(|e| Error::Device(format!("{name}: no usable input configuration: {e}")))?;
    let rate = config.sample_rate();
    let channels = config.channels();
    let format = config.sample_format();
    if channels as usize > MAX_CHANNELS || channels == 0 || rate == 0 {
        return Err(Error::Device(format!(
            "{name}: unsupported layout ({channels} channels at {rate} Hz)"
        )));
    }
    let frames = (ring_seconds as f64 * rate as f64).ceil() as usize;
    let (writer, reader) = capture_ring(frames, channels as usize)
        .ok_or_else(|| Error::Device(format!("{name}: cannot make a ring buffer")))?;
    let stream_config: cpal::StreamConfig = config.config();
    let stream = match format {
        SampleFormat::I8 => build::<i8>(&device, stream_config, writer),
        SampleFormat::I16 => build::<i16>(&device, stream_config, writer),
        SampleFormat::I32 => build::<i32>(&device, stream_config, writer),
        SampleFormat::U8 => build::<u8>(&device, stream_config, writer),
        SampleFormat::U16 => build::<u16>(&device, stream_config, writer),
        SampleFormat::F32 => build::<f32>(&device, stream_config, writer),
        SampleFormat::F64 => build::<f64>(&device, stream_config, writer),
        other => {
            return Err(Error::Device(format!(
                "{name}: unsupported sample format {other} (need i8/i16/i32/u8/u16/f32/f64)"
            )))
        }
    }
    .map_err(|e| Error::Device(format!("{name}: cannot open input stream: {e}")))?;
    stream
        .play()
        .map_err(|e| Error::Device(format!("{name}: cannot start input stream: {e}")))?;
    Ok(Opened {
        stream,
        reader,
        rate,
        channels,
        name,
    })
}

fn build<T>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    mut writer: CaptureWriter,
) -> std::result::Result<cpal::Stream, cpal::Error>
where
    T: CaptureSample + cpal::SizedSample,
{
    let shared = writer.shared();
    device.build_input_stream::<T, _, _>(
        config,
        move |data: &[T], _: &cpal::InputCallbackInfo| writer.write(data),
        move |_err| shared.error.store(true, Ordering::Release),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        ["USB Audio Mic", "usb audio", "Built-in Microphone", "HDMI"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn exact_name_wins_over_substring() {
        assert_eq!(match_device(&names(), "usb audio"), Ok(1));
    }

    #[test]
    fn unique_case_insensitive_substring() {
        assert_eq!(match_device(&names(), "built-in"), Ok(2));
        assert_eq!(match_device(&names(), "hdmi"), Ok(3));
    }

    #[test]
    fn ambiguous_or_missing_is_an_error() {
        let e = match_device(&names(), "USB").unwrap_err();
        assert!(e.contains("several"), "{e}");
        let e = match_device(&names(), "nope").unwrap_err();
        assert!(e.contains("no input device matches 'nope'"), "{e}");
    }
}
