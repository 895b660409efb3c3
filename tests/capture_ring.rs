//! The capture path without a sound card: a synthetic producer drives the
//! exact code a cpal callback runs (`CaptureWriter::write`), including an
//! overrun, and `RingSource` delivers 16 kHz mono on the other side.

use std::thread;
use std::time::Duration;

use wordspot::audio::ring::capture_ring;
use wordspot::audio::{RingSource, Source};

/// Stereo i16 frames whose value encodes the frame index (both channels).
fn frames(from: usize, to: usize) -> Vec<i16> {
    (from..to).flat_map(|i| [i as i16, i as i16]).collect()
}

fn index_of(v: f32) -> usize {
    (v * 32768.0).round() as usize
}

#[test]
fn synthetic_capture_with_overrun_delivers_exact_audio() {
    // 16 kHz stereo device, ring of 1600 frames (100 ms), 160-frame callbacks.
    let (mut writer, reader) = capture_ring(1600, 2).unwrap();
    let mut src = RingSource::new(reader, 16_000, "synthetic")
        .unwrap()
        .with_stall_timeout(Duration::from_secs(5));

    // Phase 1: nobody reads while 20 callbacks arrive: 10 fit, 10 overrun.
    for cb in 0..20 {
        writer.write(&frames(cb * 160, cb * 160 + 160));
    }
    let s = src.stats();
    assert_eq!(s.overruns, 10);
    assert_eq!(s.dropped_frames, 1600);
    let mut got = Vec::new();
    while got.len() < 1600 {
        src.read(&mut got).unwrap();
    }
    assert_eq!(got.len(), 1600);
    let want: Vec<f32> = (0..1600).map(|i| i as f32 / 32768.0).collect();
    assert_eq!(got, want, "the frames that fitted arrive intact, in order");

    // Phase 2: a producer thread at about real time while we read.
    let producer = thread::spawn(move || {
        for cb in 20..70 {
            writer.write(&frames(cb * 160, cb * 160 + 160));
            thread::sleep(Duration::from_millis(10));
        }
        // writer dropped here: end of stream
    });
    let mut live = Vec::new();
    loop {
        let n = src.read(&mut live).unwrap();
        if n == 0 {
            break;
        }
    }
    producer.join().unwrap();
    // Whatever was dropped under load is counted, and everything else
    // arrives exactly, in order.
    let s = src.stats();
    let dropped_live = s.dropped_frames - 1600;
    assert_eq!(live.len() as u64 + dropped_live, 50 * 160);
    let idx: Vec<usize> = live.iter().map(|&v| index_of(v)).collect();
    assert!(idx.windows(2).all(|w| w[0] < w[1]), "out of order");
    assert!(idx.iter().all(|&i| (3200..11_200).contains(&i)));
    for (&v, &i) in live.iter().zip(&idx) {
        assert_eq!(v, i as f32 / 32768.0);
    }
    if dropped_live == 0 {
        assert_eq!(idx, (3200..11_200).collect::<Vec<_>>());
    }
    assert_eq!(s.samples, 1600 + live.len() as u64);
}

#[test]
fn synthetic_48k_stereo_f32_is_resampled_to_16k() {
    let (mut writer, reader) = capture_ring(48_000 * 2, 2).unwrap();
    let mut src = RingSource::new(reader, 48_000, "synthetic48").unwrap();
    let producer = thread::spawn(move || {
        let mut buf = Vec::with_capacity(960);
        for cb in 0..100 {
            buf.clear();
            for k in 0..480 {
                let t = (cb * 480 + k) as f64 / 48_000.0;
                let s = (2.0 * std::f64::consts::PI * 440.0 * t).sin() as f32 * 0.5;
                buf.push(s);
                buf.push(s);
            }
            writer.write(&buf);
        }
    });
    let mut out = Vec::new();
    while src.read(&mut out).unwrap() > 0 {}
    producer.join().unwrap();
    assert_eq!(src.stats().dropped_frames, 0);
    assert_eq!(out.len(), 16_000);
    let err = out[100..15_900]
        .iter()
        .enumerate()
        .map(|(k, v)| {
            let t = (k + 100) as f64 / 16_000.0;
            (v - 0.5 * (2.0 * std::f64::consts::PI * 440.0 * t).sin() as f32).abs()
        })
        .fold(0.0f32, f32::max);
    assert!(err < 0.01, "max error {err}");
}

#[test]
fn stream_error_flag_is_reported() {
    let (writer, reader) = capture_ring(100, 1).unwrap();
    let mut src = RingSource::new(reader, 16_000, "broken").unwrap();
    writer
        .shared()
        .error
        .store(true, std::sync::atomic::Ordering::Release);
    let e = src.read(&mut Vec::new()).unwrap_err().to_string();
    assert!(e.contains("broken: stream error"), "{e}");
}

#[test]
fn silent_stream_stalls_with_an_error() {
    let (_writer, reader) = capture_ring(100, 1).unwrap();
    let mut src = RingSource::new(reader, 16_000, "quiet")
        .unwrap()
        .with_stall_timeout(Duration::from_millis(50));
    let e = src.read(&mut Vec::new()).unwrap_err().to_string();
    assert!(e.contains("no audio"), "{e}");
}
