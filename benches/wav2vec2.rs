//! Real-time factor of base-sized wav2vec2 models run by tract on one core.
//!
//! The models are random-weight exports of the wav2vec2-base geometry made by
//! `models/bench.sh` (too big to commit). Point `WORDSPOT_W2V_BENCH_DIR` at the
//! folder holding `base-L6.onnx`, `base-L6.int8.onnx`, `base-L12.onnx`,
//! `base-L12.int8.onnx` (each with its `.json` sidecar); missing files are
//! skipped with a message. Each iteration encodes 10 s of audio, so
//! real-time factor = time per iteration / 10 s. Rows: `whole` (one pass),
//! `stream_inc_*` (incremental streaming), `stream_chunked_*` (each window
//! re-encoded), `*_2threads` (with `--features wav2vec2-threads` and
//! `WORDSPOT_W2V_BENCH_THREADS=1`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use wordspot::features::wav2vec2::{Wav2vec2, Wav2vec2Model};
use wordspot::features::{Frontend, Wav2vec2Config};

const SECONDS: usize = 10;

fn signal() -> Vec<f32> {
    // Deterministic harmonic signal with noise-like jitter (content does not matter for timing).
    (0..SECONDS * 16000)
        .map(|i| {
            let t = i as f32 / 16000.0;
            0.3 * (2.0 * std::f32::consts::PI * 140.0 * t).sin()
                + 0.1 * (2.0 * std::f32::consts::PI * 1100.0 * t).sin()
                + (((i * 7919) % 1000) as f32 / 1000.0 - 0.5) * 0.02
        })
        .collect()
}

/// CPU time of the calling thread in seconds (Linux; 0 elsewhere), printed beside
/// criterion's wall-clock times: on a shared machine the wall clock of one
/// iteration includes waiting for the core.
fn thread_cpu() -> f64 {
    let Ok(st) = std::fs::read_to_string("/proc/thread-self/stat") else {
        return 0.0;
    };
    let f: Vec<&str> = st
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

/// Runs `f` under criterion and prints its mean thread CPU time per iteration as an RTF.
fn timed<R>(g: &mut BenchmarkGroup<'_, WallTime>, id: String, mut f: impl FnMut() -> R) {
    let (mut cpu, mut n) = (0.0, 0u32);
    g.bench_function(&id, |b| {
        b.iter(|| {
            let t = thread_cpu();
            let r = f();
            cpu += thread_cpu() - t;
            n += 1;
            r
        })
    });
    if n > 0 {
        eprintln!(
            "{id}: calling-thread CPU RTF {:.3} ({n} iterations)",
            cpu / n as f64 / SECONDS as f64
        );
    }
}

fn stream_cfg(path: &Path, chunk_s: f32, context_s: f32, lookahead_s: f32) -> Wav2vec2Config {
    Wav2vec2Config {
        model: path.to_path_buf(),
        layer: None,
        chunk_s,
        context_s,
        lookahead_s,
    }
}

fn bench(c: &mut Criterion) {
    let Some(dir) = std::env::var_os("WORDSPOT_W2V_BENCH_DIR").map(PathBuf::from) else {
        eprintln!(
            "skipping wav2vec2 benches: WORDSPOT_W2V_BENCH_DIR not set (run models/bench.sh)"
        );
        return;
    };
    let x = signal();
    let mut g = c.benchmark_group("wav2vec2_10s");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(20));
    for name in ["base-L6.int8", "base-L6", "base-L12.int8", "base-L12"] {
        let path = dir.join(format!("{name}.onnx"));
        if !path.is_file() {
            eprintln!("skipping {name}: {} not found", path.display());
            continue;
        }
        let model = match Wav2vec2Model::load(&path) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("skipping {name}: {e}");
                continue;
            }
        };
        let mut fe = Wav2vec2::with_model(stream_cfg(&path, 1.0, 1.0, 0.5), model.clone())
            .expect("frontend");
        timed(&mut g, format!("{name}/whole"), || {
            fe.infer(&x).expect("inference")
        });
        if !name.starts_with("base-L6") {
            continue;
        }
        // Two-thread rows (need the wav2vec2-threads feature) only when asked:
        // models/bench.sh runs the one-core rows pinned and these unpinned.
        #[cfg(feature = "wav2vec2-threads")]
        if name == "base-L6.int8"
            && std::env::var("WORDSPOT_W2V_BENCH_THREADS").as_deref() == Ok("1")
        {
            let two = model.clone().with_threads(2).expect("threads");
            let mut fe = Wav2vec2::with_model(stream_cfg(&path, 1.0, 1.0, 0.5), two.clone())
                .expect("frontend");
            timed(&mut g, format!("{name}/whole_2threads"), || {
                fe.infer(&x).expect("inference")
            });
            let mut fe =
                Wav2vec2::with_model(stream_cfg(&path, 1.0, 1.0, 0.5), two).expect("frontend");
            let mut out = Vec::with_capacity(SECONDS * 50 * 768);
            timed(
                &mut g,
                format!("{name}/stream_inc_1s_ctx1_la0.5_2threads"),
                || stream_all(&mut fe, &x, &mut out),
            );
        }
        // (chunk, context, look-ahead) in seconds: the CLI default, then the
        // lighter setting earlier versions benchmarked.
        for (chunk, ctx, look) in [(1.0, 1.0, 0.5), (1.0, 0.5, 0.25)] {
            for incremental in [true, false] {
                if !incremental && name != "base-L6.int8" {
                    continue;
                }
                let mut fe =
                    Wav2vec2::with_model(stream_cfg(&path, chunk, ctx, look), model.clone())
                        .expect("frontend");
                if fe.set_incremental(incremental) != incremental {
                    eprintln!("{name}: not cut, no incremental streaming");
                    continue;
                }
                let mode = if incremental { "inc" } else { "chunked" };
                let mut out = Vec::with_capacity(SECONDS * 50 * 768);
                timed(
                    &mut g,
                    format!("{name}/stream_{mode}_{chunk}s_ctx{ctx}_la{look}"),
                    || stream_all(&mut fe, &x, &mut out),
                );
            }
        }
    }
    g.finish();
}

/// Streams `x` through `fe` from a reset, in 0.1 s blocks, into `out`
/// (cleared first); the number of values out.
fn stream_all(fe: &mut Wav2vec2, x: &[f32], out: &mut Vec<f32>) -> usize {
    out.clear();
    fe.reset();
    for block in x.chunks(1600) {
        fe.push(block, out).expect("push");
    }
    fe.finish(out).expect("finish");
    out.len()
}

criterion_group!(benches, bench);
criterion_main!(benches);
