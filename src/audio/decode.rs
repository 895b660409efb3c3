//! File decoding: WAV through hound, FLAC / OGG Vorbis / MP3 through
//! symphonia, read in blocks and converted to 16 kHz mono by [`FileSource`].

use std::fs::File;
use std::io::{BufReader, Cursor};
use std::path::{Path, PathBuf};

use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;

use super::resample::Converter;
use super::{Outbox, Source, SourceStats};
use crate::{Error, Result};

/// Extensions decoded by symphonia.
const SYMPHONIA_EXT: &[&str] = &["flac", "ogg", "oga", "mp3"];

/// A decoded audio file streamed as 16 kHz mono blocks.
///
/// Only one block of input is held in memory at a time, so arbitrarily long
/// recordings can be processed in constant memory.
pub struct FileSource {
    path: PathBuf,
    name: String,
    dec: Decoder,
    conv: Converter,
    /// Interleaved input frames of the current block.
    input: Vec<f32>,
    /// Converted 16 kHz samples not yet handed out.
    out: Outbox,
    /// Input frames seen so far (for error positions).
    frames_in: u64,
    ended: bool,
    finished: bool,
}

impl std::fmt::Debug for FileSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSource")
            .field("path", &self.path)
            .field("rate", &self.conv.rate())
            .field("channels", &self.conv.channels())
            .finish()
    }
}

impl FileSource {
    /// Opens `path` and reads its header. The format is chosen by extension
    /// (`wav`, `flac`, `ogg`, `oga`, `mp3`); a file without extension is
    /// probed by content.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let meta = file.metadata().map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            return Err(Error::audio(path, "is a folder, not an audio file"));
        }
        if meta.len() == 0 {
            return Err(Error::audio(path, "empty file"));
        }
        Self::from_media(Box::new(file), path)
    }

    /// Decodes audio held in memory; `name_hint` is a file name whose
    /// extension selects the decoder, and names the source in errors.
    pub fn from_bytes(bytes: Vec<u8>, name_hint: &str) -> Result<Self> {
        let path = Path::new(name_hint);
        if bytes.is_empty() {
            return Err(Error::audio(path, "empty file"));
        }
        Self::from_media(Box::new(Cursor::new(bytes)), path)
    }

    fn from_media(media: Box<dyn MediaSource>, path: &Path) -> Result<Self> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase());
        let dec = match ext.as_deref() {
            Some("wav") | Some("wave") => Decoder::open_wav(media, path)?,
            Some(e) if SYMPHONIA_EXT.contains(&e) => Decoder::open_symphonia(media, path, Some(e))?,
            None => Decoder::open_symphonia(media, path, None)?,
            Some(e) => {
                return Err(Error::audio(
                    path,
                    format!("unknown audio format '.{e}' (expected wav, flac, ogg, mp3)"),
                ))
            }
        };
        let (rate, channels) = dec.layout();
        let conv = Converter::new(rate, channels as usize).ok_or_else(|| {
            Error::audio(
                path,
                format!("unsupported layout: {channels} channels at {rate} Hz"),
            )
        })?;
        Ok(Self {
            name: path.display().to_string(),
            path: path.to_path_buf(),
            dec,
            conv,
            input: Vec::new(),
            out: Outbox::new(),
            frames_in: 0,
            ended: false,
            finished: false,
        })
    }

    /// The file's own sample rate in Hz.
    pub fn input_rate(&self) -> u32 {
        self.conv.rate()
    }

    /// The file's channel count.
    pub fn input_channels(&self) -> u16 {
        self.conv.channels() as u16
    }

    /// Duration in seconds when the header states it (WAV always, others
    /// when the container does).
    pub fn duration(&self) -> Option<f64> {
        self.dec
            .frames()
            .map(|n| n as f64 / self.conv.rate() as f64)
    }

    /// Decodes input until converted samples are waiting in `self.out` or the file ends.
    fn refill(&mut self) -> Result<()> {
        let pending = self.out.refill();
        while pending.is_empty() && !self.finished {
            if self.ended {
                self.conv.finish(pending);
                self.finished = true;
                break;
            }
            self.input.clear();
            let more = self
                .dec
                .next_block(&mut self.input)
                .map_err(|m| Error::audio(&self.path, m))?;
            let ch = self.conv.channels();
            if self.dec.is_float() {
                check_finite(&self.input, ch, self.frames_in, self.conv.rate())
                    .map_err(|m| Error::audio(&self.path, m))?;
            }
            self.frames_in += (self.input.len() / ch) as u64;
            self.conv.push(&self.input, pending);
            if !more {
                self.ended = true;
            }
        }
        Ok(())
    }
}

impl Source for FileSource {
    fn read(&mut self, out: &mut Vec<f32>) -> Result<usize> {
        if self.out.is_drained() {
            self.refill()?;
        }
        let n = self.out.deliver(out);
        if n == 0 && self.out.delivered() == 0 {
            return Err(Error::audio(&self.path, "no audio samples in the file"));
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

/// Checks that every sample is finite; the error names the time and channel.
pub(crate) fn check_finite(
    interleaved: &[f32],
    channels: usize,
    first_frame: u64,
    rate: u32,
) -> std::result::Result<(), String> {
    match interleaved.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => {
            let frame = first_frame + (i / channels) as u64;
            let what = if interleaved[i].is_nan() {
                "NaN"
            } else {
                "infinite"
            };
            Err(format!(
                "{what} sample at {:.3} s (frame {frame}, channel {})",
                frame as f64 / rate as f64,
                i % channels + 1
            ))
        }
    }
}

/// The per-format decoders behind [`FileSource`].
enum Decoder {
    Wav(WavDec),
    Sym(Box<SymDec>),
}

impl Decoder {
    fn layout(&self) -> (u32, u16) {
        match self {
            Decoder::Wav(w) => (w.rate, w.channels),
            Decoder::Sym(s) => (s.rate, s.channels),
        }
    }

    fn frames(&self) -> Option<u64> {
        match self {
            Decoder::Wav(w) => Some(w.total / w.channels as u64),
            Decoder::Sym(s) => s.frames,
        }
    }

    fn is_float(&self) -> bool {
        match self {
            Decoder::Wav(w) => w.float,
            // Symphonia's float codecs (Vorbis, MP3, float PCM) can carry
            // non-finite values; checking integer output is cheap enough.
            Decoder::Sym(_) => true,
        }
    }

    /// Appends the next interleaved block; `Ok(false)` at the end.
    fn next_block(&mut self, out: &mut Vec<f32>) -> std::result::Result<bool, String> {
        match self {
            Decoder::Wav(w) => w.next_block(out),
            Decoder::Sym(s) => s.next_block(out),
        }
    }

    fn open_wav(media: Box<dyn MediaSource>, path: &Path) -> Result<Self> {
        match WavDec::open(media).map_err(|m| Error::audio(path, m))? {
            Ok(w) => Ok(Decoder::Wav(w)),
            // hound only does integer PCM and 32-bit float: let symphonia
            // try the rest (64-bit float, A-law, mu-law, ADPCM).
            Err(media) => Self::open_symphonia(media, path, Some("wav")),
        }
    }

    fn open_symphonia(media: Box<dyn MediaSource>, path: &Path, ext: Option<&str>) -> Result<Self> {
        SymDec::open(media, ext)
            .map(|s| Decoder::Sym(Box::new(s)))
            .map_err(|m| Error::audio(path, m))
    }
}

type WavReader = hound::WavReader<BufReader<Box<dyn MediaSource>>>;

struct WavDec {
    reader: WavReader,
    float: bool,
    scale: f32,
    rate: u32,
    channels: u16,
    /// Samples (not frames) declared by the header and still to read.
    total: u64,
    read: u64,
}

impl WavDec {
    /// Opens a WAV; on an encoding hound cannot read, hands the media back
    /// (rewound) so symphonia can try it.
    #[allow(clippy::type_complexity)]
    fn open(
        media: Box<dyn MediaSource>,
    ) -> std::result::Result<std::result::Result<Self, Box<dyn MediaSource>>, String> {
        use std::io::{Seek, SeekFrom};
        let mut br = BufReader::new(media);
        let probe = hound::WavReader::new(&mut br).map(|r| r.spec());
        br.seek(SeekFrom::Start(0))
            .map_err(|e| format!("read error: {e}"))?;
        let spec = match probe {
            Ok(spec) => spec,
            Err(hound::Error::Unsupported) => return Ok(Err(br.into_inner())),
            Err(e) => return Err(wav_error(e)),
        };
        let float = spec.sample_format == hound::SampleFormat::Float;
        let supported = if float {
            spec.bits_per_sample == 32
        } else {
            (1..=32).contains(&spec.bits_per_sample)
        };
        if !supported {
            return Ok(Err(br.into_inner()));
        }
        if spec.channels == 0 || spec.sample_rate == 0 {
            return Err(format!(
                "corrupt WAV: {} channels at {} Hz",
                spec.channels, spec.sample_rate
            ));
        }
        let reader = hound::WavReader::new(br).map_err(wav_error)?;
        let total = reader.len() as u64;
        if total == 0 {
            return Err("no audio samples in the file (header only)".into());
        }
        Ok(Ok(Self {
            float,
            scale: 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32,
            rate: spec.sample_rate,
            channels: spec.channels,
            total,
            read: 0,
            reader,
        }))
    }

    fn next_block(&mut self, out: &mut Vec<f32>) -> std::result::Result<bool, String> {
        let ch = self.channels as u64;
        // About 100 ms of input per block, whole frames.
        let want = ((self.rate as u64 / 10).max(1) * ch).min(self.total - self.read);
        let truncated = |read: u64, total: u64, rate: u32| {
            format!(
                "truncated WAV: data ends at {:.3} s but the header declares {:.3} s",
                (read / ch) as f64 / rate as f64,
                (total / ch) as f64 / rate as f64
            )
        };
        if self.float {
            for s in self.reader.samples::<f32>().take(want as usize) {
                match s {
                    Ok(v) => out.push(v),
                    Err(hound::Error::IoError(e)) if is_eof(&e) => {
                        return Err(truncated(self.read, self.total, self.rate));
                    }
                    Err(e) => return Err(wav_error(e)),
                }
                self.read += 1;
            }
        } else {
            let scale = self.scale;
            for s in self.reader.samples::<i32>().take(want as usize) {
                match s {
                    Ok(v) => out.push(v as f32 * scale),
                    Err(hound::Error::IoError(e)) if is_eof(&e) => {
                        return Err(truncated(self.read, self.total, self.rate));
                    }
                    Err(e) => return Err(wav_error(e)),
                }
                self.read += 1;
            }
        }
        Ok(self.read < self.total)
    }
}

fn wav_error(e: hound::Error) -> String {
    match e {
        hound::Error::IoError(e) if is_eof(&e) => {
            "truncated WAV: file ends inside the header".into()
        }
        hound::Error::IoError(e) => format!("read error: {e}"),
        hound::Error::FormatError(m) => format!("corrupt WAV: {m}"),
        hound::Error::Unsupported => "unsupported WAV encoding".into(),
        other => format!("corrupt WAV: {other}"),
    }
}

/// Whether a hound I/O error means the file ended early (hound reports a
/// short read as `Other` "Failed to read enough bytes.").
fn is_eof(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::UnexpectedEof || e.to_string().contains("enough bytes")
}

struct SymDec {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    rate: u32,
    channels: u16,
    frames: Option<u64>,
    scratch: Vec<f32>,
}

impl SymDec {
    fn open(media: Box<dyn MediaSource>, ext: Option<&str>) -> std::result::Result<Self, String> {
        let mss = MediaSourceStream::new(media, Default::default());
        let mut hint = Hint::new();
        if let Some(e) = ext {
            hint.with_extension(e);
        }
        let format = symphonia::default::get_probe()
            .probe(
                &hint,
                mss,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
            .map_err(|e| match e {
                SymError::Unsupported(_) => "unrecognised or unsupported audio format".to_string(),
                SymError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    "truncated or corrupt audio file: ends inside the header".to_string()
                }
                e => format!("corrupt audio file: {e}"),
            })?;
        let track = format
            .default_track(TrackType::Audio)
            .ok_or("no audio track in the file")?;
        let params = track
            .codec_params
            .as_ref()
            .and_then(|p| p.audio())
            .ok_or("no audio codec parameters in the file")?
            .clone();
        let track_id = track.id;
        let frames = track.num_frames;
        let rate = params.sample_rate.ok_or("unknown sample rate")?;
        let channels = params
            .channels
            .as_ref()
            .map(|c| c.count())
            .ok_or("unknown channel count")?;
        if rate == 0 || channels == 0 || channels > 64 {
            return Err(format!(
                "unsupported layout: {channels} channels at {rate} Hz"
            ));
        }
        let decoder = symphonia::default::get_codecs()
            .make_audio_decoder(&params, &AudioDecoderOptions::default())
            .map_err(|e| format!("unsupported codec: {e}"))?;
        Ok(Self {
            format,
            decoder,
            track_id,
            rate,
            channels: channels as u16,
            frames,
            scratch: Vec::new(),
        })
    }

    fn next_block(&mut self, out: &mut Vec<f32>) -> std::result::Result<bool, String> {
        loop {
            let packet = match self.format.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) | Err(SymError::ResetRequired) => return Ok(false),
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Ok(false)
                }
                Err(e) => return Err(format!("corrupt audio data: {e}")),
            };
            if packet.track_id != self.track_id {
                continue;
            }
            match self.decoder.decode(&packet) {
                Ok(buf) => {
                    if buf.frames() == 0 {
                        continue;
                    }
                    let spec = buf.spec();
                    if spec.rate() != self.rate || spec.channels().count() != self.channels as usize
                    {
                        return Err(format!(
                            "stream changes layout mid-file ({} Hz, {} channels)",
                            spec.rate(),
                            spec.channels().count()
                        ));
                    }
                    buf.copy_to_vec_interleaved(&mut self.scratch);
                    out.extend_from_slice(&self.scratch);
                    return Ok(true);
                }
                // A damaged packet: skip it, as players do.
                Err(SymError::DecodeError(_)) | Err(SymError::IoError(_)) => continue,
                Err(e) => return Err(format!("decode error: {e}")),
            }
        }
    }
}
