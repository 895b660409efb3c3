//! Cost of the second stage (`wordspot::verify`): verifying one DTW candidate
//! (the 1.5 s window's filterbank and the int8 ResNet-50 embedding by tract,
//! then the similarity to three takes), in CPU time of the benchmark thread.
//! With about 150–200 candidates per keyword-hour of speech (the benchmark's
//! rate at the candidate threshold), multiply by that to get CPU seconds per
//! audio hour.
//!
//! ```text
//! cargo bench --bench verify
//! ```

use std::hint::black_box;

mod common;

use common::ThreadCpu;
use criterion::{criterion_group, criterion_main, Criterion};

use wordspot::verify::{best_similarity, LogFbank, WordEmbedder, BANDS, DIM, FRAMES, WINDOW};

fn window() -> Vec<f32> {
    let clip = wordspot::audio::read_file(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/embedding/clip.wav"
    )))
    .expect("committed clip");
    clip.iter().copied().cycle().take(WINDOW).collect()
}

fn bench(c: &mut Criterion<ThreadCpu>) {
    let w = window();
    let mut e = WordEmbedder::builtin().expect("built-in verifier");
    let mut out = vec![0.0; DIM];
    e.embed(&w, &mut out).expect("embed");
    let refs = vec![out.clone(); 3];
    let mut g = c.benchmark_group("verify");
    g.sample_size(10);
    g.bench_function("one_candidate", |b| {
        b.iter(|| {
            e.embed(black_box(&w), &mut out).expect("embed");
            black_box(best_similarity(&refs, &out))
        })
    });
    let mut fb = LogFbank::new();
    let mut feats = vec![0.0; FRAMES * BANDS];
    g.bench_function("filterbank_only", |b| {
        b.iter(|| fb.compute(black_box(&w), &mut feats))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpu);
    targets = bench
}
criterion_main!(benches);
