//! Normalizer statistics and anisotropy analysis speed.
//!
//! - `fit_stats/*`: streaming statistics (Welford mean/var + blocked co-moment)
//!   over synthetic feature frames: one hour of 39-dim MFCC frames (100/s) and
//!   10 000 frames of 768-dim wav2vec2-base frames (one hour is 180 000 frames
//!   at 49-50/s; scale the figure), then the fit (top-16 principal directions).
//! - `analyze/*`: 1000 pairs per kind × 13 layers of 768 dims (20 recordings ×
//!   150 frames each), without normalizers and with the default four.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::Array2;
use wordspot::analysis::{analyze_layers, AnalysisConfig, Rng};
use wordspot::features::FrontendConfig;
use wordspot::normalize::{NormSpec, StatsAccumulator};

/// `n × dim` frames: Gaussian noise plus two rogue dimensions.
fn frames(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    (0..n * dim)
        .map(|k| {
            let g = rng.gaussian() as f32;
            match k % dim {
                3 => 300.0 + 20.0 * g,
                7 => -50.0 + 5.0 * g,
                _ => g,
            }
        })
        .collect()
}

fn fit_stats(c: &mut Criterion) {
    let mut g = c.benchmark_group("fit_stats");
    g.sample_size(10);
    for &(name, n, dim) in &[
        ("mfcc39_1h", 360_000usize, 39usize),
        ("w2v768_10k_frames", 10_000, 768),
    ] {
        let data = frames(n, dim, 1);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::new("push", name), |b| {
            b.iter(|| {
                let mut acc = StatsAccumulator::with_covariance(dim);
                // Pushed in 1 s blocks, as fit-stats does.
                for block in data.chunks(100 * dim) {
                    acc.push_frames(black_box(block)).unwrap();
                }
                black_box(acc.count())
            })
        });
        let mut acc = StatsAccumulator::with_covariance(dim);
        acc.push_frames(&data).unwrap();
        g.throughput(Throughput::Elements(1));
        g.bench_function(BenchmarkId::new("fit_top16", name), |b| {
            b.iter(|| black_box(acc.fit(&FrontendConfig::default(), 16).unwrap()))
        });
    }
    g.finish();
}

fn analyze(c: &mut Criterion) {
    let layers: Vec<(usize, Vec<Array2<f32>>)> = (0..13)
        .map(|l| {
            let recs = (0..20)
                .map(|r| {
                    Array2::from_shape_vec((150, 768), frames(150, 768, (l * 100 + r) as u64))
                        .unwrap()
                })
                .collect();
            (l, recs)
        })
        .collect();
    let cfg = AnalysisConfig {
        pairs: 1000,
        seed: 0,
        sample_frames: 4000,
    };
    let mut g = c.benchmark_group("analyze");
    g.sample_size(10);
    for list in ["none", "none,standardize,drop:2,pca:2"] {
        let specs = NormSpec::parse_list(list).unwrap();
        g.bench_function(BenchmarkId::new("13x768_1000pairs", list), |b| {
            b.iter(|| {
                black_box(
                    analyze_layers(&layers, &specs, &FrontendConfig::default(), &cfg).unwrap(),
                )
            })
        });
    }
    g.finish();
}

criterion_group!(benches, fit_stats, analyze);
criterion_main!(benches);
