//! DTW speed: batch subsequence DTW in cells per second, and the per-frame
//! cost of streaming 50 templates (10 keywords × 5 templates × 60 frames).
//!
//! ```text
//! cargo bench --bench dtw
//! ```
//! For the streaming group the time shown is per incoming frame (all 50
//! templates); the CPU share is `time × frame rate` (100 frames/s for MFCC,
//! 49 frames/s for wav2vec2).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::Array2;
use wordspot::dtw::{subsequence, Metric, StreamingDtw};

fn frames(n: usize, dim: usize, seed: u64) -> Array2<f32> {
    let mut s = seed;
    Array2::from_shape_fn((n, dim), |_| {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 33) as f32 / (1u64 << 31) as f32) - 0.5
    })
}

const QUERY: usize = 60;

fn batch(c: &mut Criterion) {
    let mut g = c.benchmark_group("dtw_batch_cosine");
    for (dim, target_len) in [(39, 6000), (768, 1500)] {
        let q = frames(QUERY, dim, 1);
        let t = frames(target_len, dim, 2);
        g.throughput(Throughput::Elements((QUERY * target_len) as u64));
        g.bench_with_input(BenchmarkId::new("dim", dim), &dim, |b, _| {
            b.iter(|| black_box(subsequence(q.view(), t.view(), Metric::Cosine)))
        });
    }
    g.finish();
}

fn streaming(c: &mut Criterion) {
    let mut g = c.benchmark_group("dtw_stream_50x60");
    for dim in [39, 768] {
        let mut spotters: Vec<StreamingDtw> = (0..50)
            .map(|k| StreamingDtw::new(frames(QUERY, dim, 100 + k).view(), Metric::Cosine))
            .collect();
        let mut stream = frames(500, dim, 3);
        for mut row in stream.rows_mut() {
            Metric::Cosine.prepare(row.as_slice_mut().expect("standard layout"));
        }
        let mut j = 0;
        g.throughput(Throughput::Elements(1));
        g.bench_with_input(BenchmarkId::new("dim", dim), &dim, |b, _| {
            b.iter(|| {
                let f = stream.row(j % stream.nrows());
                let f = f.as_slice().expect("standard layout");
                let mut best = f32::INFINITY;
                for s in spotters.iter_mut() {
                    best = best.min(s.push_prepared(f).0);
                }
                j += 1;
                black_box(best)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, batch, streaming);
criterion_main!(benches);
