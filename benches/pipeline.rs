//! End to end: `listen` on a file (real-time factor), and `search` of one
//! query over one hour of cached features.
//!
//! ```text
//! cargo bench --bench pipeline
//! ```
//! * `listen_10kw_x5/{embedding,mfcc}_60s`: the time to spot 10 keywords × 5
//!   templates in 60 s of audio, frontend and DTW detector on one thread
//!   (the default speech embedding at its default hop, and MFCC);
//!   real-time factor = time / 60 s. Verification of candidates is not
//!   included (it runs per candidate: `cargo bench --bench verify`).
//! * `search_1h_cached_mfcc`: one 0.6 s query over 360 recordings of 10 s
//!   whose features are in the cache (the second and later queries over a
//!   corpus); both cores (rayon).

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use ndarray::Array2;
use wordspot::detector::DetectorConfig;
use wordspot::dtw::Metric;
use wordspot::features::{extract, Features, FrontendConfig};
use wordspot::normalize::Normalizer;
use wordspot::pipeline::Spotter;
use wordspot::search::{search, FeatureCache, SearchOptions};
use wordspot::templates::{Keyword, Manifest};

/// Speech-like test signal: noise bursts with moving resonances.
fn signal(seconds: f32, seed: u32) -> Vec<f32> {
    let n = (seconds * 16000.0) as usize;
    let mut s = seed;
    let mut lp = 0.0f32;
    (0..n)
        .map(|i| {
            s = s.wrapping_mul(1664525).wrapping_add(1013904223);
            let white = (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
            let t = i as f32 / 16000.0;
            let a = 0.3 + 0.6 * (t * 3.0 + seed as f32).sin().abs();
            lp = a * lp + (1.0 - a) * white;
            lp * (0.2 + (t * 4.0).sin().max(0.0))
        })
        .collect()
}

fn listen(c: &mut Criterion) {
    let mut g = c.benchmark_group("listen_10kw_x5");
    g.sample_size(10);
    let configs = [
        ("embedding", FrontendConfig::default()),
        ("mfcc", FrontendConfig::Mfcc(Default::default())),
    ];
    for (name, cfg) in configs {
        let mut fe = cfg.build().unwrap();
        let norm = Normalizer::identity(fe.dim());
        let keywords: Vec<Keyword> = (0..10)
            .map(|k| Keyword {
                dir: PathBuf::from(format!("kw{k}")),
                manifest: Manifest {
                    keyword: format!("kw{k}"),
                    frontend: cfg.clone(),
                    normalize: "none".into(),
                    metric: Metric::Cosine,
                    threshold: 0.3,
                    threshold_source: "manual".into(),
                    takes: Vec::new(),
                    calibration: None,
                    verifier: None,
                },
                templates: (0..5)
                    .map(|t| {
                        let x = signal(0.6, 100 + 10 * k + t);
                        (
                            format!("kw{k}/{t}.wav"),
                            extract(&mut *fe, &x, "t".as_ref()).unwrap(),
                        )
                    })
                    .collect(),
                norms: Vec::new(),
            })
            .collect();
        let audio = signal(60.0, 7);
        g.bench_function(format!("{name}_60s"), |b| {
            b.iter(|| {
                let fe = cfg.build().unwrap();
                let mut sp = Spotter::new(
                    fe,
                    norm.clone(),
                    &keywords,
                    &[0.3; 10],
                    DetectorConfig::default(),
                )
                .unwrap();
                let mut n = 0usize;
                for block in audio.chunks(1600) {
                    sp.push(block, &mut |_| n += 1).unwrap();
                }
                sp.finish(&mut |_| n += 1).unwrap();
                black_box(n)
            })
        });
    }
    g.finish();
}

fn search_hour(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let cache = FeatureCache::new(dir.path().join("cache"));
    let cfg = FrontendConfig::default();
    let mut fe = cfg.build().unwrap();
    let dim = fe.dim();
    // 360 recordings × 10 s = 1 h; the files exist (the cache key needs their
    // metadata) and their features are in the cache.
    let tiny = signal(0.1, 1);
    let mut files = Vec::new();
    for i in 0..360u32 {
        let p = dir.path().join(format!("rec{i}.wav"));
        wordspot::audio::write_wav(&p, &tiny).unwrap();
        let mut st = i.wrapping_add(17);
        let f = Features {
            data: Array2::from_shape_fn((1000, dim), |_| {
                st = st.wrapping_mul(1664525).wrapping_add(1013904223);
                (st >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            }),
            hop: 160,
            window: 400,
        };
        cache.put(&FeatureCache::key(&p, &cfg).unwrap(), &f);
        files.push(p);
    }
    let query = extract(&mut *fe, &signal(0.6, 3), "q".as_ref()).unwrap();
    let norm = Normalizer::identity(dim);
    let opts = SearchOptions {
        metric: Metric::Cosine,
        per_file: 1,
        cache: Some(cache),
    };
    let mut g = c.benchmark_group("search_1h_cached_mfcc");
    g.sample_size(10);
    g.bench_function("query_0.6s", |b| {
        b.iter(|| {
            black_box(
                search(&query, &files, &cfg, &norm, &opts, &|| {})
                    .unwrap()
                    .hits
                    .len(),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, listen, search_hour);
criterion_main!(benches);
