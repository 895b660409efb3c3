//! File decoding: WAV through hound, FLAC / OGG Vorbis / MP3 through
//! symphonia, read in blocks and converted to 16 kHz mono by [`FileSource`].

use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;

use super::pcm::{read_wav_header, PcmFormat};
use super::resample::Converter;
use super::{emit_warning, AudioWarning, Outbox, Source, SourceStats};
use crate::{Error, Result};

/// Extensions decoded by symphonia.
const SYMPHONIA_EXT: &[&str] = &["flac", "ogg", "oga", "mp3"];

/// A decoded audio file streamed as 16 kHz mono blocks.
///
/// Only one block of input is held in memory at a time, so arbitrarily long
/// recordings can be processed in constant memory.
///
/// Damage is handled as players do: a WAV whose header declares no data
/// length (0 or `0xFFFFFFFF`) or more data than the file holds is read to
/// the end of the file; a file cut short keeps its readable part; damaged
/// packets are skipped. Each is reported as an [`AudioWarning`]
/// ([`FileSource::warnings`], and the sink of [`super::set_warning_sink`]).
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
        for w in dec.warnings() {
            emit_warning(w);
        }
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

    /// What was wrong with the file but read anyway, so far (all of it once
    /// the source has been read to its end).
    pub fn warnings(&self) -> &[AudioWarning] {
        self.dec.warnings()
    }

    /// Duration in seconds when the header states it (WAV always, others
    /// when the container does; for a damaged WAV, what the file holds).
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
            let before = self.dec.warnings().len();
            let more = self
                .dec
                .next_block(&mut self.input)
                .map_err(|m| Error::audio(&self.path, m))?;
            for w in &self.dec.warnings()[before..] {
                emit_warning(w);
            }
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
    Raw(RawWav),
    Sym(Box<SymDec>),
}

impl Decoder {
    fn layout(&self) -> (u32, u16) {
        match self {
            Decoder::Wav(w) => (w.rate, w.channels),
            Decoder::Raw(r) => (r.format.rate, r.format.channels),
            Decoder::Sym(s) => (s.rate, s.channels),
        }
    }

    fn frames(&self) -> Option<u64> {
        match self {
            Decoder::Wav(w) => Some(w.total / w.channels as u64),
            Decoder::Raw(r) => Some(r.total / r.format.frame_bytes() as u64),
            Decoder::Sym(s) => s.frames,
        }
    }

    fn warnings(&self) -> &[AudioWarning] {
        match self {
            Decoder::Wav(w) => &w.warnings,
            Decoder::Raw(r) => &r.warnings,
            Decoder::Sym(s) => &s.warnings,
        }
    }

    fn is_float(&self) -> bool {
        match self {
            Decoder::Wav(w) => w.float,
            Decoder::Raw(r) => r.format.encoding.is_float(),
            // Symphonia's float codecs (Vorbis, MP3, float PCM) can carry
            // non-finite values; checking integer output is cheap enough.
            Decoder::Sym(_) => true,
        }
    }

    /// Appends the next interleaved block; `Ok(false)` at the end.
    fn next_block(&mut self, out: &mut Vec<f32>) -> std::result::Result<bool, String> {
        match self {
            Decoder::Wav(w) => w.next_block(out),
            Decoder::Raw(r) => r.next_block(out),
            Decoder::Sym(s) => s.next_block(out),
        }
    }

    fn open_wav(media: Box<dyn MediaSource>, path: &Path) -> Result<Self> {
        let media = match RawWav::open_damaged(media, path).map_err(|m| Error::audio(path, m))? {
            Ok(raw) => return Ok(Decoder::Raw(raw)),
            Err(media) => media,
        };
        match WavDec::open(media, path).map_err(|m| Error::audio(path, m))? {
            Ok(w) => Ok(Decoder::Wav(w)),
            // hound only does integer PCM and 32-bit float: let symphonia
            // try the rest (64-bit float, A-law, mu-law, ADPCM).
            Err(media) => Self::open_symphonia(media, path, Some("wav")),
        }
    }

    fn open_symphonia(media: Box<dyn MediaSource>, path: &Path, ext: Option<&str>) -> Result<Self> {
        SymDec::open(media, ext, path)
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
    path: PathBuf,
    warnings: Vec<AudioWarning>,
}

impl WavDec {
    /// Opens a WAV; on an encoding hound cannot read, hands the media back
    /// (rewound) so symphonia can try it.
    #[allow(clippy::type_complexity)]
    fn open(
        media: Box<dyn MediaSource>,
        path: &Path,
    ) -> std::result::Result<std::result::Result<Self, Box<dyn MediaSource>>, String> {
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
            path: path.to_path_buf(),
            warnings: Vec::new(),
        }))
    }

    fn next_block(&mut self, out: &mut Vec<f32>) -> std::result::Result<bool, String> {
        let ch = self.channels as u64;
        // About 100 ms of input per block, whole frames.
        let want = ((self.rate as u64 / 10).max(1) * ch).min(self.total - self.read);
        let mut eof = false;
        if self.float {
            for s in self.reader.samples::<f32>().take(want as usize) {
                match s {
                    Ok(v) => out.push(v),
                    Err(hound::Error::IoError(e)) if is_eof(&e) => {
                        eof = true;
                        break;
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
                        eof = true;
                        break;
                    }
                    Err(e) => return Err(wav_error(e)),
                }
                self.read += 1;
            }
        }
        if eof {
            // Cut short (the file shrank, or it cannot be measured): keep
            // the whole frames read, as players do.
            let partial = (out.len() as u64) % ch;
            out.truncate(out.len() - partial as usize);
            let rate = self.rate as f64;
            self.warnings.push(AudioWarning::Truncated {
                path: self.path.clone(),
                read_s: (self.read / ch) as f64 / rate,
                declared_s: Some((self.total / ch) as f64 / rate),
            });
            self.total = self.read - self.read % ch;
            return Ok(false);
        }
        Ok(self.read < self.total)
    }
}

/// A WAV whose header does not describe its data (a data length of 0 or
/// `0xFFFFFFFF`, or more than the file holds), read like a WAV stream on
/// standard input: sample data from the start of the data chunk to the end
/// of the file.
struct RawWav {
    reader: BufReader<Box<dyn MediaSource>>,
    format: PcmFormat,
    /// Data bytes used (whole frames).
    total: u64,
    /// Data bytes still to read.
    remaining: u64,
    bytes: Vec<u8>,
    warnings: Vec<AudioWarning>,
}

/// Counts the bytes read through it (to find where a WAV's data starts).
struct Counting<R> {
    inner: R,
    n: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

impl RawWav {
    /// Reads the header; when it does not describe the data that follows
    /// (and the encoding is plain PCM or float), a decoder over what the
    /// file holds, with a warning. Otherwise hands the media back rewound.
    #[allow(clippy::type_complexity)]
    fn open_damaged(
        media: Box<dyn MediaSource>,
        path: &Path,
    ) -> std::result::Result<std::result::Result<Self, Box<dyn MediaSource>>, String> {
        let file_len = media.byte_len();
        let mut br = BufReader::new(media);
        let mut c = Counting {
            inner: &mut br,
            n: 0,
        };
        let mut riff = [0u8; 4];
        let header = match c.read_exact(&mut riff) {
            Ok(()) if &riff == b"RIFF" => read_wav_header(&mut c).ok(),
            _ => None,
        };
        let offset = c.n;
        let rewind = |mut br: BufReader<Box<dyn MediaSource>>| {
            br.seek(SeekFrom::Start(0))
                .map(|_| Err(br.into_inner()))
                .map_err(|e| format!("read error: {e}"))
        };
        let (Some(h), Some(file_len)) = (header, file_len) else {
            return rewind(br);
        };
        let fb = h.format.frame_bytes() as u64;
        let avail = file_len.saturating_sub(offset);
        let usable = avail / fb * fb;
        let rate = h.format.rate as f64;
        let warning = match h.data_len {
            Some(d) if d <= avail => return rewind(br),
            Some(d) => AudioWarning::Truncated {
                path: path.to_path_buf(),
                read_s: (usable / fb) as f64 / rate,
                declared_s: Some((d / fb) as f64 / rate),
            },
            None => {
                // The header's own bytes: 0 or 0xFFFFFFFF.
                br.seek(SeekFrom::Start(offset - 4))
                    .map_err(|e| format!("read error: {e}"))?;
                let mut b4 = [0u8; 4];
                br.read_exact(&mut b4)
                    .map_err(|e| format!("read error: {e}"))?;
                AudioWarning::UnknownLength {
                    path: path.to_path_buf(),
                    declared: u32::from_le_bytes(b4) as u64,
                    found_s: (usable / fb) as f64 / rate,
                }
            }
        };
        if usable == 0 {
            return Err("no audio samples in the file (header only)".into());
        }
        br.seek(SeekFrom::Start(offset))
            .map_err(|e| format!("read error: {e}"))?;
        // About 100 ms per block, as for other WAVs.
        let block = (h.format.rate as u64 / 10).max(1) * fb;
        Ok(Ok(Self {
            reader: br,
            format: h.format,
            total: usable,
            remaining: usable,
            bytes: vec![0u8; block as usize],
            warnings: vec![warning],
        }))
    }

    fn next_block(&mut self, out: &mut Vec<f32>) -> std::result::Result<bool, String> {
        let want = (self.bytes.len() as u64).min(self.remaining) as usize;
        let mut got = 0;
        while got < want {
            match self.reader.read(&mut self.bytes[got..want]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("read error: {e}")),
            }
        }
        let fb = self.format.frame_bytes();
        let whole = got / fb * fb;
        let enc = self.format.encoding;
        out.extend(
            self.bytes[..whole]
                .chunks_exact(enc.bytes())
                .map(|b| enc.decode(b)),
        );
        self.remaining -= got as u64;
        if got < want {
            // The file shrank while being read.
            self.remaining = 0;
        }
        Ok(self.remaining > 0)
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

/// A media source that [`SymDec::open`] can probe twice (the probe takes
/// its reader): the second time seen as not seekable.
#[derive(Clone)]
struct Shared {
    inner: std::sync::Arc<std::sync::Mutex<Box<dyn MediaSource>>>,
    seekable: bool,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Box<dyn MediaSource>> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Seeks back to `start`; false when the source cannot seek.
    fn rewind(&self, start: u64) -> bool {
        let mut m = self.lock();
        m.is_seekable() && m.seek(SeekFrom::Start(start)).is_ok()
    }
}

impl Read for Shared {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.lock().read(buf)
    }
}

impl Seek for Shared {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.lock().seek(pos)
    }
}

impl MediaSource for Shared {
    fn is_seekable(&self) -> bool {
        self.seekable && self.lock().is_seekable()
    }

    fn byte_len(&self) -> Option<u64> {
        self.lock().byte_len()
    }
}

struct SymDec {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    rate: u32,
    channels: u16,
    frames: Option<u64>,
    scratch: Vec<f32>,
    /// Frames decoded so far.
    decoded: u64,
    /// Damaged packets skipped so far.
    damaged: u64,
    path: PathBuf,
    warnings: Vec<AudioWarning>,
}

impl SymDec {
    fn open(
        media: Box<dyn MediaSource>,
        ext: Option<&str>,
        path: &Path,
    ) -> std::result::Result<Self, String> {
        let mut hint = Hint::new();
        if let Some(e) = ext {
            hint.with_extension(e);
        }
        let mut media = media;
        let start = media.stream_position().ok();
        let shared = Shared {
            inner: std::sync::Arc::new(std::sync::Mutex::new(media)),
            seekable: true,
        };
        let probe = |src: Shared| {
            symphonia::default::get_probe().probe(
                &hint,
                MediaSourceStream::new(Box::new(src), Default::default()),
                FormatOptions::default(),
                MetadataOptions::default(),
            )
        };
        let format = match (probe(shared.clone()), start) {
            // A seekable OGG is scanned from its end for the duration, and a
            // cut last page fails that scan: read it as a stream instead
            // (from the start), so a truncated file keeps its readable part.
            (Err(SymError::IoError(e)), Some(start))
                if e.kind() == std::io::ErrorKind::UnexpectedEof && shared.rewind(start) =>
            {
                probe(Shared {
                    seekable: false,
                    ..shared
                })
            }
            (r, _) => r,
        }
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
            decoded: 0,
            damaged: 0,
            path: path.to_path_buf(),
            warnings: Vec::new(),
        })
    }

    /// At the end of the stream: reports skipped packets, and a stream cut
    /// short (`eof`: the file ended inside a packet; or over 100 ms fewer
    /// frames than the container declares).
    fn finish(&mut self, eof: bool) -> bool {
        if self.damaged > 0 {
            self.warnings.push(AudioWarning::DamagedPackets {
                path: self.path.clone(),
                count: self.damaged,
            });
            self.damaged = 0;
        }
        let rate = self.rate as u64;
        let short = self.frames.is_some_and(|n| self.decoded + rate / 10 < n);
        if eof || short {
            self.warnings.push(AudioWarning::Truncated {
                path: self.path.clone(),
                read_s: self.decoded as f64 / rate as f64,
                declared_s: self
                    .frames
                    .filter(|_| short)
                    .map(|n| n as f64 / rate as f64),
            });
        }
        false
    }

    fn next_block(&mut self, out: &mut Vec<f32>) -> std::result::Result<bool, String> {
        loop {
            let packet = match self.format.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) | Err(SymError::ResetRequired) => return Ok(self.finish(false)),
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Ok(self.finish(true))
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
                    self.decoded += buf.frames() as u64;
                    return Ok(true);
                }
                // A damaged packet: skip it, as players do.
                Err(SymError::DecodeError(_)) | Err(SymError::IoError(_)) => {
                    self.damaged += 1;
                    continue;
                }
                Err(e) => return Err(format!("decode error: {e}")),
            }
        }
    }
}
