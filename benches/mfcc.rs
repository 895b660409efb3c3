//! MFCC throughput on 10 s of audio. Criterion reports elements (samples) per
//! second; divide by 16 000 for the real-time factor (× real time).
//!
//! ```text
//! cargo bench --bench mfcc
//! ```

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use wordspot::features::mfcc::{FirstCoeff, MfccNorm};
use wordspot::features::{Frontend, Mfcc, MfccConfig};

/// 10 s of a gliding tone with noise (the content does not change the cost).
fn ten_seconds() -> Vec<f32> {
    let mut s = 1u64;
    (0..160_000)
        .map(|i| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let t = i as f32 / 16000.0;
            0.3 * (2.0 * std::f32::consts::PI * (200.0 + 50.0 * t) * t).sin()
                + 0.05 * (((s >> 33) as f32 / (1u64 << 31) as f32) - 0.5)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let x = ten_seconds();
    let mut g = c.benchmark_group("mfcc_10s");
    g.throughput(Throughput::Elements(x.len() as u64));
    let configs = [
        ("default", MfccConfig::default()),
        (
            "13_static",
            MfccConfig {
                deltas: false,
                first: FirstCoeff::C0,
                norm: MfccNorm::None,
                ..MfccConfig::default()
            },
        ),
        (
            "39_sliding_mvn",
            MfccConfig {
                deltas: true,
                first: FirstCoeff::C0,
                norm: MfccNorm::Sliding,
                norm_variance: true,
                ..MfccConfig::default()
            },
        ),
    ];
    for (name, cfg) in configs {
        let mut fe = Mfcc::new(cfg).expect("valid settings");
        let mut out = Vec::with_capacity(1000 * fe.dim());
        g.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                fe.push(black_box(&x), &mut out).expect("finite input");
                fe.finish(&mut out).expect("finish");
                black_box(out.len())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
