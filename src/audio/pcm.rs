//! Raw PCM sample encodings and a streaming WAV header parser.
//!
//! Used for standard input, where the data cannot be seeked and a WAV header
//! written by a pipe often declares a data length of 0 or `0xFFFFFFFF`
//! ("until the end of the stream").

use std::io::Read;

/// How one raw sample is stored (always little-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Unsigned 8-bit, 128 = silence.
    U8,
    /// Signed 16-bit.
    S16,
    /// Signed 24-bit packed in 3 bytes.
    S24,
    /// Signed 32-bit.
    S32,
    /// IEEE float, 32-bit.
    F32,
    /// IEEE float, 64-bit.
    F64,
}

impl Encoding {
    /// Bytes per sample.
    pub fn bytes(self) -> usize {
        match self {
            Encoding::U8 => 1,
            Encoding::S16 => 2,
            Encoding::S24 => 3,
            Encoding::S32 | Encoding::F32 => 4,
            Encoding::F64 => 8,
        }
    }

    /// Decodes one sample from exactly [`Encoding::bytes`] bytes to `f32`
    /// (integers scaled to [-1, 1)).
    pub fn decode(self, b: &[u8]) -> f32 {
        match self {
            Encoding::U8 => (b[0] as f32 - 128.0) / 128.0,
            Encoding::S16 => i16::from_le_bytes([b[0], b[1]]) as f32 / 32_768.0,
            Encoding::S24 => {
                let v = i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8;
                v as f32 / 8_388_608.0
            }
            Encoding::S32 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32 / 2_147_483_648.0,
            Encoding::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            Encoding::F64 => {
                f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
            }
        }
    }

    /// Whether samples of this encoding can be NaN or infinite.
    pub fn is_float(self) -> bool {
        matches!(self, Encoding::F32 | Encoding::F64)
    }
}

/// Layout of a PCM stream: encoding, rate and channel count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcmFormat {
    /// Sample encoding.
    pub encoding: Encoding,
    /// Sample rate in Hz.
    pub rate: u32,
    /// Interleaved channels.
    pub channels: u16,
}

impl PcmFormat {
    /// Bytes per interleaved frame.
    pub fn frame_bytes(&self) -> usize {
        self.encoding.bytes() * self.channels as usize
    }
}

/// The header of a WAV stream: its format and how many data bytes follow
/// (`None` = read until the end of the stream).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavHeader {
    /// Sample layout from the `fmt ` chunk.
    pub format: PcmFormat,
    /// Declared length of the `data` chunk, `None` when it is 0 or
    /// `0xFFFFFFFF` (a header written before the length was known).
    pub data_len: Option<u64>,
}

/// Largest chunk (other than `data`) we are willing to skip or read.
const MAX_SKIP: u64 = 64 << 20;

/// Parses a RIFF/WAVE header from `r`, whose first four bytes (`RIFF`) have
/// already been consumed, and stops at the start of the sample data.
pub fn read_wav_header<R: Read>(r: &mut R) -> Result<WavHeader, String> {
    let mut b4 = [0u8; 4];
    read_exact(r, &mut b4, "RIFF size")?;
    read_exact(r, &mut b4, "WAVE tag")?;
    if &b4 != b"WAVE" {
        return Err("not a WAV stream: RIFF without WAVE tag".into());
    }
    let mut format: Option<PcmFormat> = None;
    loop {
        let mut id = [0u8; 4];
        read_exact(r, &mut id, "chunk header")?;
        read_exact(r, &mut b4, "chunk size")?;
        let len = u32::from_le_bytes(b4) as u64;
        match &id {
            b"fmt " => {
                if !(16..=1024).contains(&len) {
                    return Err(format!("corrupt WAV: fmt chunk of {len} bytes"));
                }
                let mut buf = vec![0u8; (len + (len & 1)) as usize];
                read_exact(r, &mut buf, "fmt chunk")?;
                format = Some(parse_fmt(&buf)?);
            }
            b"data" => {
                let format = format.ok_or("corrupt WAV: data chunk before fmt chunk")?;
                let data_len = match len {
                    0 | 0xFFFF_FFFF => None,
                    n => Some(n),
                };
                return Ok(WavHeader { format, data_len });
            }
            _ => {
                if len > MAX_SKIP {
                    return Err(format!("corrupt WAV: chunk of {len} bytes before the data"));
                }
                let skip = len + (len & 1);
                let copied = std::io::copy(&mut r.take(skip), &mut std::io::sink())
                    .map_err(|e| format!("read error: {e}"))?;
                if copied < skip {
                    return Err("truncated WAV header: stream ends before the data chunk".into());
                }
            }
        }
    }
}

fn parse_fmt(b: &[u8]) -> Result<PcmFormat, String> {
    let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let mut tag = u16_at(0);
    let channels = u16_at(2);
    let rate = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    let bits = u16_at(14);
    if tag == 0xFFFE {
        if b.len() < 26 {
            return Err("corrupt WAV: short WAVE_FORMAT_EXTENSIBLE fmt chunk".into());
        }
        tag = u16_at(24);
    }
    if channels == 0 || rate == 0 {
        return Err(format!(
            "corrupt WAV: {channels} channels at {rate} Hz in the fmt chunk"
        ));
    }
    if channels > 64 {
        return Err(format!("unsupported WAV: {channels} channels"));
    }
    let encoding = match (tag, bits) {
        (1, 8) => Encoding::U8,
        (1, 16) => Encoding::S16,
        (1, 24) => Encoding::S24,
        (1, 32) => Encoding::S32,
        (3, 32) => Encoding::F32,
        (3, 64) => Encoding::F64,
        _ => {
            return Err(format!(
                "unsupported WAV encoding: format tag {tag}, {bits} bits per sample"
            ))
        }
    };
    Ok(PcmFormat {
        encoding,
        rate,
        channels,
    })
}

fn read_exact<R: Read>(r: &mut R, buf: &mut [u8], what: &str) -> Result<(), String> {
    r.read_exact(buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            format!("truncated WAV header: stream ends in the {what}")
        } else {
            format!("read error in the WAV header: {e}")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(tag: u16, ch: u16, rate: u32, bits: u16, data_len: u32) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(b"WAVE");
        v.extend_from_slice(b"LIST");
        v.extend_from_slice(&3u32.to_le_bytes());
        v.extend_from_slice(&[1, 2, 3, 0]); // odd chunk + pad byte
        v.extend_from_slice(b"fmt ");
        v.extend_from_slice(&16u32.to_le_bytes());
        v.extend_from_slice(&tag.to_le_bytes());
        v.extend_from_slice(&ch.to_le_bytes());
        v.extend_from_slice(&rate.to_le_bytes());
        let ba = ch as u32 * bits as u32 / 8;
        v.extend_from_slice(&(rate * ba).to_le_bytes());
        v.extend_from_slice(&(ba as u16).to_le_bytes());
        v.extend_from_slice(&bits.to_le_bytes());
        v.extend_from_slice(b"data");
        v.extend_from_slice(&data_len.to_le_bytes());
        let mut out = 36u32.to_le_bytes().to_vec();
        out.extend(v);
        out
    }

    #[test]
    fn parses_pcm_and_float_headers() {
        let h = read_wav_header(&mut &header(1, 2, 44_100, 16, 400)[..]).unwrap();
        assert_eq!(h.format.encoding, Encoding::S16);
        assert_eq!((h.format.rate, h.format.channels), (44_100, 2));
        assert_eq!(h.data_len, Some(400));
        let h = read_wav_header(&mut &header(3, 1, 8_000, 32, 0xFFFF_FFFF)[..]).unwrap();
        assert_eq!(h.format.encoding, Encoding::F32);
        assert_eq!(h.data_len, None);
    }

    #[test]
    fn rejects_bad_headers() {
        let e = read_wav_header(&mut &header(1, 0, 16_000, 16, 4)[..]).unwrap_err();
        assert!(e.contains("0 channels"), "{e}");
        let e = read_wav_header(&mut &header(2, 1, 16_000, 4, 4)[..]).unwrap_err();
        assert!(e.contains("unsupported"), "{e}");
        let h = header(1, 1, 16_000, 16, 4);
        let e = read_wav_header(&mut &h[..20]).unwrap_err();
        assert!(e.contains("truncated"), "{e}");
    }

    #[test]
    fn decodes_encodings() {
        assert_eq!(Encoding::U8.decode(&[128]), 0.0);
        assert_eq!(Encoding::S16.decode(&(-16_384i16).to_le_bytes()), -0.5);
        assert_eq!(Encoding::S24.decode(&[0, 0, 0xC0]), -0.5);
        assert_eq!(Encoding::S24.decode(&[0, 0, 0x40]), 0.5);
        assert_eq!(Encoding::S32.decode(&(1i32 << 30).to_le_bytes()), 0.5);
        assert_eq!(Encoding::F32.decode(&0.25f32.to_le_bytes()), 0.25);
        assert_eq!(Encoding::F64.decode(&(-0.75f64).to_le_bytes()), -0.75);
    }
}
