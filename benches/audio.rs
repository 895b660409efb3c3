//! Audio input costs: resampling to 16 kHz mono, WAV decoding, and the
//! capture callback (`CaptureWriter::write`).
//!
//! `cargo bench --bench audio`. Throughput is in input samples/frames per
//! second; divide by the input rate for the real-time factor.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use wordspot::audio::ring::capture_ring;
use wordspot::audio::{decode_bytes, Converter};

fn stereo_sine(rate: u32, secs: f32) -> Vec<f32> {
    let n = (rate as f32 * secs) as usize;
    (0..n)
        .flat_map(|i| {
            let s = (i as f32 * 440.0 * std::f32::consts::TAU / rate as f32).sin() * 0.5;
            [s, s * 0.5]
        })
        .collect()
}

fn resample(c: &mut Criterion) {
    let mut g = c.benchmark_group("convert_to_16k_mono");
    for rate in [44_100u32, 48_000, 8_000] {
        let x = stereo_sine(rate, 10.0);
        g.throughput(Throughput::Elements((x.len() / 2) as u64));
        g.bench_function(format!("{rate}Hz_stereo_10s"), |b| {
            let mut conv = Converter::new(rate, 2).unwrap();
            let mut out = Vec::with_capacity(170_000);
            b.iter(|| {
                out.clear();
                conv.reset();
                for block in x.chunks(2 * 1024) {
                    conv.push(block, &mut out);
                }
                conv.finish(&mut out);
                black_box(out.len())
            })
        });
    }
    g.finish();
}

fn decode_wav(c: &mut Criterion) {
    let x = stereo_sine(44_100, 10.0);
    let mut bytes = Vec::new();
    {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 44_100,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::new(std::io::Cursor::new(&mut bytes), spec).unwrap();
        for &s in &x {
            w.write_sample((s * 32767.0) as i16).unwrap();
        }
        w.finalize().unwrap();
    }
    let mut g = c.benchmark_group("decode");
    g.sample_size(20);
    g.throughput(Throughput::Elements((x.len() / 2) as u64));
    g.bench_function("wav_44k_stereo_s16_10s", |b| {
        b.iter(|| black_box(decode_bytes(&bytes, "x.wav").unwrap().len()))
    });
    g.bench_function("stdin_wav_44k_stereo_s16_10s", |b| {
        b.iter(|| black_box(decode_bytes(&bytes, "-").unwrap().len()))
    });
    g.finish();
}

fn capture_callback(c: &mut Criterion) {
    // A 10 ms callback of 48 kHz stereo i16, then the reader drains it.
    let data: Vec<i16> = (0..960).map(|i| (i * 31 % 2000) as i16).collect();
    let (mut w, mut r) = capture_ring(48_000, 2).unwrap();
    let mut buf = vec![0.0f32; 4096];
    let mut g = c.benchmark_group("capture");
    g.throughput(Throughput::Elements(480));
    g.bench_function("write_480_frames_i16_stereo", |b| {
        b.iter(|| {
            w.write(black_box(&data));
            black_box(r.pop(&mut buf))
        })
    });
    g.finish();
}

criterion_group!(benches, resample, decode_wav, capture_callback);
criterion_main!(benches);
