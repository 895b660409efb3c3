//! Microphone capture with cpal (cargo feature `mic`).
//!
//! The cpal data callback does nothing but [`CaptureWriter::write`]; the
//! error callback only touches atomics ([`on_stream_error`]): an xrun (the
//! device's buffer overflowed because the process was not scheduled in
//! time; cpal restarts the stream itself) is counted as an overrun, any
//! other error flags the stream as failed. [`MicSource`] reads the ring on
//! the processing thread, resamples to 16 kHz mono, and re-opens the stream
//! with back-off when it fails or goes silent, never waiting more than
//! [`super::reopen::CLOSE_TIMEOUT`] for a dead stream to close.

use std::sync::atomic::Ordering;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::SampleFormat;

use super::ring::{capture_ring, CaptureSample, CaptureShared, CaptureWriter, MAX_CHANNELS};
use super::{Opened, Opener, ReopeningSource, Source, SourceStats};
use crate::{Error, Result};

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

/// Live microphone audio as a 16 kHz mono [`Source`]. After a stream
/// error (device unplugged), 2 s without audio, or a closed stream, `read`
/// re-opens the device with back-off ([`super::Backoff::default`]) and counts it in
/// [`SourceStats::reopens`]; it fails only when re-opening keeps failing.
pub struct MicSource {
    inner: ReopeningSource,
    channels: u16,
}

impl std::fmt::Debug for MicSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MicSource")
            .field("device", &self.inner.name())
            .field("rate", &self.inner.rate())
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
        let query = device_name.map(str::to_string);
        let channels = std::sync::Arc::new(std::sync::atomic::AtomicU16::new(0));
        let ch = channels.clone();
        let opener: Opener = Box::new(move || {
            let (opened, n) = open_stream(query.as_deref(), ring_seconds)?;
            ch.store(n, Ordering::Relaxed);
            Ok(opened)
        });
        let inner = ReopeningSource::new(opener)?;
        let channels = channels.load(Ordering::Relaxed);
        Ok(Self { inner, channels })
    }

    /// The device's capture rate in Hz.
    pub fn device_rate(&self) -> u32 {
        self.inner.rate()
    }

    /// The device's channel count when it was opened.
    pub fn device_channels(&self) -> u16 {
        self.channels
    }

    /// Why the stream was last re-opened, if it was.
    pub fn last_error(&self) -> Option<&str> {
        self.inner.last_error()
    }

    /// Ends the stream when `stop` is set (e.g. on Ctrl-C): `read` returns
    /// `Ok(0)` instead of waiting out a re-open back-off.
    pub fn with_stop(mut self, stop: std::sync::Arc<std::sync::atomic::AtomicBool>) -> Self {
        self.inner = self.inner.with_stop(stop);
        self
    }

    /// Dead streams that did not close within a second and were left
    /// behind (each keeps a thread).
    pub fn abandoned_streams(&self) -> u64 {
        self.inner.abandoned_streams()
    }
}

impl Source for MicSource {
    fn read(&mut self, out: &mut Vec<f32>) -> Result<usize> {
        self.inner.read(out)
    }

    fn name(&self) -> &str {
        self.inner.name()
    }

    fn stats(&self) -> SourceStats {
        self.inner.stats()
    }
}

/// Opens the device's default input stream; also returns its channel count.
fn open_stream(query: Option<&str>, ring_seconds: f32) -> Result<(Opened, u16)> {
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
    Ok((
        Opened {
            guard: Box::new(stream),
            reader,
            rate,
            name,
        },
        channels,
    ))
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
        move |err: cpal::Error| on_stream_error(&shared, err.kind()),
        None,
    )
}

/// What the stream's error callback does (real-time safe: atomics only).
/// An xrun is lost audio, not a lost device: cpal has already restarted the
/// stream, so it is counted as an overrun (how many frames were lost is not
/// known; they are not added to `dropped_frames`). A changed route or a
/// refused real-time priority leaves the stream running. Anything else
/// marks the stream as failed, for the reader to re-open it.
pub(crate) fn on_stream_error(shared: &CaptureShared, kind: cpal::ErrorKind) {
    match kind {
        cpal::ErrorKind::Xrun => {
            shared.overruns.fetch_add(1, Ordering::Relaxed);
        }
        cpal::ErrorKind::DeviceChanged | cpal::ErrorKind::RealtimeDenied => {}
        _ => shared.error.store(true, Ordering::Release),
    }
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

    #[test]
    fn missing_device_is_a_device_error() {
        // Works with or without a sound card: never panics, always Device.
        match MicSource::open(Some("no-such-device-7f3a9"), 1.0) {
            Err(Error::Device(m)) => assert!(!m.contains('\n'), "{m}"),
            other => panic!("expected a device error, got {other:?}"),
        }
    }

    #[test]
    fn xrun_is_an_overrun_not_a_failure() {
        let (_w, r) = capture_ring(100, 1).unwrap();
        let shared = r.shared();
        on_stream_error(shared, cpal::ErrorKind::Xrun);
        on_stream_error(shared, cpal::ErrorKind::Xrun);
        on_stream_error(shared, cpal::ErrorKind::RealtimeDenied);
        on_stream_error(shared, cpal::ErrorKind::DeviceChanged);
        assert_eq!(shared.overruns.load(Ordering::Relaxed), 2);
        assert!(!shared.error.load(Ordering::Relaxed));
        for kind in [
            cpal::ErrorKind::DeviceNotAvailable,
            cpal::ErrorKind::BackendError,
            cpal::ErrorKind::StreamInvalidated,
        ] {
            let (_w, r) = capture_ring(100, 1).unwrap();
            on_stream_error(r.shared(), kind);
            assert!(r.shared().error.load(Ordering::Relaxed), "{kind:?}");
            assert_eq!(r.shared().overruns.load(Ordering::Relaxed), 0);
        }
    }

    #[test]
    fn bad_ring_length_is_invalid() {
        for secs in [0.0, -1.0, f32::NAN, 1e9] {
            assert!(matches!(
                MicSource::open(None, secs),
                Err(Error::Invalid(_))
            ));
        }
    }
}
