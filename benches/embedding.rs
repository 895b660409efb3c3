//! Speech-embedding frontend cost on 10 s of real speech (the committed
//! reference clip, repeated), in CPU time of the benchmark thread: the
//! frontend as built (embedding network native and incremental) and, as
//! `hopN_tract_whole_file`, with the embedding network run by tract. Criterion
//! reports samples per CPU second; divide by 16 000 for × real time on one
//! core. `models/speech_embedding/bench.sh` runs this and onnxruntime on the
//! same two models and audio in one go and prints the ratio.
//!
//! ```text
//! cargo bench --bench embedding
//! ```

use std::hint::black_box;

mod common;

use common::ThreadCpu;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::sync::Arc;

use wordspot::features::embedding::{
    EmbeddingConfig, EmbeddingModels, SpeechEmbedding, BUILTIN_EMBEDDING_MODEL, BUILTIN_MEL_MODEL,
};
use wordspot::features::Frontend;

fn ten_seconds() -> Vec<f32> {
    let clip = wordspot::audio::read_file(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/embedding/clip.wav"
    )))
    .expect("committed clip");
    clip.iter().copied().cycle().take(160_000).collect()
}

fn bench(c: &mut Criterion<ThreadCpu>) {
    let x = ten_seconds();
    let mut g = c.benchmark_group("embedding_10s");
    g.throughput(Throughput::Elements(x.len() as u64));
    g.sample_size(10);
    // The same frontend with the embedding network run by tract window by
    // window (what a model the native network does not know falls back to).
    let mut tract = EmbeddingModels::from_bytes(
        BUILTIN_MEL_MODEL,
        std::path::Path::new("mel"),
        BUILTIN_EMBEDDING_MODEL,
        std::path::Path::new("emb"),
    )
    .unwrap();
    tract.disable_native();
    let tract = Arc::new(tract);
    for hop in [8usize, 4, 2] {
        let cfg = EmbeddingConfig {
            hop_frames: hop,
            models: None,
        };
        let mut fe = SpeechEmbedding::with_models(cfg, tract.clone());
        let mut out = Vec::with_capacity(200_000);
        g.bench_function(format!("hop{hop}_tract_whole_file"), |b| {
            b.iter(|| {
                out.clear();
                fe.reset();
                fe.push(black_box(&x), &mut out).unwrap();
                fe.finish(&mut out).unwrap();
                black_box(out.len())
            })
        });
    }
    for hop in [8usize, 4, 2] {
        let mut fe = SpeechEmbedding::new(EmbeddingConfig {
            hop_frames: hop,
            models: None,
        })
        .unwrap();
        let mut out = Vec::with_capacity(200_000);
        g.bench_function(format!("hop{hop}_whole_file"), |b| {
            b.iter(|| {
                out.clear();
                fe.reset();
                fe.push(black_box(&x), &mut out).unwrap();
                fe.finish(&mut out).unwrap();
                black_box(out.len())
            })
        });
        g.bench_function(format!("hop{hop}_streaming_0.1s_blocks"), |b| {
            b.iter(|| {
                out.clear();
                fe.reset();
                for blk in x.chunks(1600) {
                    fe.push(black_box(blk), &mut out).unwrap();
                }
                fe.finish(&mut out).unwrap();
                black_box(out.len())
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpu);
    targets = bench
}
criterion_main!(benches);
