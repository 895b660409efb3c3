//! Arbitrary bytes into the audio parsers (hound WAV, symphonia FLAC/OGG/MP3,
//! the streaming WAV/raw stdin parser). They must return Ok or Err, never
//! panic, and never produce a non-finite sample.
#![no_main]

use libfuzzer_sys::fuzz_target;

const HINTS: [&str; 6] = ["a.wav", "a.flac", "a.ogg", "a.mp3", "-", "noext"];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, bytes)) = data.split_first() else {
        return;
    };
    let hint = HINTS[sel as usize % HINTS.len()];
    if let Ok(samples) = wordspot::audio::decode_bytes(bytes, hint) {
        assert!(samples.iter().all(|s| s.is_finite()));
    }
});
