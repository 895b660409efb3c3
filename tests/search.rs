//! Corpus search on real recordings: a word cut from one recording is found
//! at the right time in others and ranks them above recordings without it.

mod common;

use std::path::PathBuf;

use wordspot::audio::{read_segment, write_wav};
use wordspot::dtw::Metric;
use wordspot::features::{extract, FrontendConfig, MfccConfig};
use wordspot::normalize::Normalizer;
use wordspot::search::{search, FeatureCache, SearchOptions};

#[test]
fn word_cut_from_a_recording_is_found_and_ranked_first() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // The query recording: george says 3 7 1; the query is the 7 cut by time.
    let clips: Vec<Vec<f32>> = [(3, 5), (7, 5), (1, 5)]
        .iter()
        .map(|&(d, t)| common::fsdd(&data, d, "george", t))
        .collect();
    let (rec, spans) = common::concat(&clips, 0.4);
    let qpath = dir.path().join("query_session.wav");
    write_wav(&qpath, &rec).unwrap();
    let (qs, qe) = (spans[1].0 - 0.05, spans[1].1 + 0.05);
    let q = read_segment(&qpath, qs, qe).unwrap();

    // Corpus: four recordings with a 7 between other digits, four without.
    let mut truth: Vec<(PathBuf, Option<(f64, f64)>)> = Vec::new();
    for i in 0..8u32 {
        let has = i < 4;
        let mid = if has { 7 } else { [2, 4, 6, 9][i as usize - 4] };
        let clips: Vec<Vec<f32>> = [(0, 10 + i), (mid, 10 + i), (8, 10 + i)]
            .iter()
            .map(|&(d, t)| common::fsdd(&data, d, "george", t))
            .collect();
        let (x, spans) = common::concat(&clips, 0.3 + 0.1 * i as f64);
        let p = dir.path().join(format!("rec_{i}.wav"));
        write_wav(&p, &x).unwrap();
        truth.push((p, has.then_some(spans[1])));
    }
    let cfg = FrontendConfig::Mfcc(MfccConfig::default());
    let mut fe = cfg.build().unwrap();
    let norm = Normalizer::identity(fe.dim());
    let query = extract(&mut *fe, &q, &qpath).unwrap();
    let files: Vec<PathBuf> = truth.iter().map(|t| t.0.clone()).collect();
    let opts = SearchOptions {
        metric: Metric::Cosine,
        per_file: 1,
        cache: Some(FeatureCache::new(dir.path().join("cache"))),
    };
    for pass in 0..2 {
        // The second pass reads every file's features from the cache.
        let res = search(&query, &files, &cfg, &norm, &opts, &|| {}).unwrap();
        assert!(res.skipped.is_empty(), "{:?}", res.skipped);
        assert_eq!(res.hits.len(), 8);
        for h in &res.hits {
            let t = truth.iter().find(|t| t.0 == h.file).unwrap();
            eprintln!(
                "pass {pass} #{} {} d={:.3} {:.2}-{:.2} truth {:?}",
                h.rank,
                h.file.display(),
                h.distance,
                h.start,
                h.end,
                t.1
            );
        }
        for h in &res.hits[..4] {
            let (s, e) = truth
                .iter()
                .find(|t| t.0 == h.file)
                .unwrap()
                .1
                .expect("a recording with the word ranks in the top 4");
            // The query keeps 50 ms around the word: compare with the padded span.
            assert!(
                (h.start - (s - 0.05)).abs() <= 0.05,
                "start {:.3} vs {:.3}",
                h.start,
                s - 0.05
            );
            assert!(
                (h.end - (e + 0.05)).abs() <= 0.05,
                "end {:.3} vs {:.3}",
                h.end,
                e + 0.05
            );
        }
    }
    let cached = std::fs::read_dir(dir.path().join("cache")).unwrap().count();
    assert!(cached > 0, "the feature cache was not written");
}

/// A recording of `n` FSDD digits (several speakers) from the shared data.
fn digits_stream(data: &std::path::Path, n: u32) -> Vec<f32> {
    let speakers = ["george", "jackson", "lucas", "nicolas"];
    let clips: Vec<Vec<f32>> = (0..n)
        .map(|i| common::fsdd(data, i % 10, speakers[(i / 10) as usize % 4], 5 + i % 40))
        .collect();
    common::concat(&clips, 0.25).0
}

/// The streamed corpus path (decoded in blocks, features through the block
/// DTW, cache written and read in blocks) gives exactly the hits of the
/// whole-file path: features of the whole file, normalized, then
/// `top_matches` over them. Same ranks, times and distances, bit for bit.
#[test]
fn streamed_search_equals_the_whole_file_path_on_real_speech() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (i, n) in [(0, 40u32), (1, 7), (2, 90)] {
        let p = dir.path().join(format!("stream_{i}.wav"));
        write_wav(&p, &digits_stream(&data, n)).unwrap();
        files.push(p);
    }
    let q = common::fsdd(&data, 7, "george", 2);
    let cfg = FrontendConfig::Mfcc(MfccConfig::default());
    let mut fe = cfg.build().unwrap();
    let query = extract(&mut *fe, &q, std::path::Path::new("q")).unwrap();
    for norm in [Normalizer::identity(fe.dim())] {
        let qn = norm.apply_features(&query);
        for metric in [Metric::Cosine, Metric::Euclidean] {
            // The whole-file path, as search ran before it was streamed.
            let mut want = Vec::new();
            for p in &files {
                let x = wordspot::audio::read_file(p).unwrap();
                let f = norm.apply_features(&extract(&mut *fe, &x, p).unwrap());
                for m in wordspot::dtw::top_matches(qn.data.view(), f.data.view(), metric, 3) {
                    want.push((
                        p.clone(),
                        f.frame_start(m.start),
                        f.frame_end(m.end),
                        m.distance,
                    ));
                }
            }
            want.sort_by(|a, b| a.3.total_cmp(&b.3).then_with(|| a.0.cmp(&b.0)));
            let cache = FeatureCache::new(dir.path().join(format!("cache-{metric:?}")));
            for cache in [None, Some(cache.clone()), Some(cache)] {
                // No cache; cache written as frames come; cache read in blocks.
                let opts = SearchOptions {
                    metric,
                    per_file: 3,
                    cache,
                };
                let res = search(&qn, &files, &cfg, &norm, &opts, &|| {}).unwrap();
                assert!(res.skipped.is_empty(), "{:?}", res.skipped);
                let got: Vec<_> = res
                    .hits
                    .iter()
                    .map(|h| (h.file.clone(), h.start, h.end, h.distance))
                    .collect();
                assert_eq!(got.len(), want.len());
                for (g, w) in got.iter().zip(&want) {
                    assert_eq!(g.0, w.0);
                    assert_eq!(g.1, w.1);
                    assert_eq!(g.2, w.2);
                    assert_eq!(g.3.to_bits(), w.3.to_bits(), "{g:?} vs {w:?}");
                }
            }
        }
    }
}

/// The streamed path holds a bounded number of samples and frames whatever
/// the length of the recording (counted, not timed): the footprint of a
/// recording 8 times longer is the same, and at most a block of each.
#[test]
fn streamed_features_hold_a_bounded_number_of_frames() {
    use wordspot::search::{stream_file_features, FEATURE_BLOCK};
    let Some(data) = common::shared_data() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let one = digits_stream(&data, 12);
    let cfg = FrontendConfig::Mfcc(MfccConfig::default());
    let mut fe = cfg.build().unwrap();
    let norm = Normalizer::identity(fe.dim());
    let mut prints = Vec::new();
    for reps in [1usize, 8] {
        let p = dir.path().join(format!("x{reps}.wav"));
        write_wav(&p, &one.repeat(reps)).unwrap();
        let mut seen = 0;
        let s = stream_file_features(&p, &mut *fe, &norm, None, &mut |b| {
            assert!(b.nrows() <= FEATURE_BLOCK);
            seen += b.nrows();
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, s.frames);
        assert!(s.frames > reps * 500, "{} frames", s.frames);
        prints.push(s.footprint);
    }
    assert!(
        prints[1].samples <= wordspot::audio::BLOCK,
        "{:?}",
        prints[1]
    );
    assert!(
        prints[1].frames <= 2 * FEATURE_BLOCK + 64,
        "{:?}",
        prints[1]
    );
    assert!(
        prints[1].frames <= prints[0].frames.max(2 * FEATURE_BLOCK),
        "{prints:?}"
    );
}

/// The streamed `spot` path (one block DTW per example, the examples of a
/// word fused block by block) gives exactly the hits of the whole-file path:
/// features of the whole file, `subsequence` per example, `fuse_curves`,
/// `select_hits`. Same words, files, times and distances, bit for bit, for
/// both fusions and both hit limits.
#[test]
fn streamed_spot_equals_the_whole_file_path_with_several_examples() {
    use wordspot::detector::Fusion;
    use wordspot::dtw::subsequence;
    use wordspot::query::{fuse_curves, Query};
    use wordspot::search::{select_hits, spot, SpotOptions};
    let Some(data) = common::shared_data() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (i, n) in [(0, 40u32), (1, 90)] {
        let p = dir.path().join(format!("spot_{i}.wav"));
        write_wav(&p, &digits_stream(&data, n)).unwrap();
        files.push(p);
    }
    let cfg = FrontendConfig::Mfcc(MfccConfig::default());
    let mut fe = cfg.build().unwrap();
    let norm = Normalizer::identity(fe.dim());
    let mut ex = |d: u32, who: &str, t: u32| {
        extract(
            &mut *fe,
            &common::fsdd(&data, d, who, t),
            std::path::Path::new("q"),
        )
        .unwrap()
    };
    let queries = vec![
        Query {
            word: "seven".into(),
            examples: vec![ex(7, "george", 2), ex(7, "lucas", 3), ex(7, "jackson", 1)],
        },
        Query {
            word: "three".into(),
            examples: vec![ex(3, "nicolas", 2)],
        },
    ];
    let mut fe = cfg.build().unwrap();
    let key = |w: &str, p: &std::path::Path, s: f64, e: f64, d: f32| {
        (
            w.to_string(),
            p.to_path_buf(),
            s.to_bits(),
            e.to_bits(),
            d.to_bits(),
        )
    };
    for metric in [Metric::Cosine, Metric::Euclidean] {
        for fusion in [Fusion::Min, Fusion::Mean(2)] {
            for (per_file, max_distance) in [(Some(3), None), (None, Some(0.5))] {
                let mut want = Vec::new();
                for p in &files {
                    let x = wordspot::audio::read_file(p).unwrap();
                    let f = norm.apply_features(&extract(&mut *fe, &x, p).unwrap());
                    for q in &queries {
                        let curves: Vec<_> = q
                            .examples
                            .iter()
                            .map(|e| subsequence(e.data.view(), f.data.view(), metric))
                            .collect();
                        let mut fused = Vec::new();
                        fuse_curves(&curves, fusion, &mut fused);
                        let times = |s: usize, e: usize| (f.frame_start(s), f.frame_end(e));
                        for (s, e, d) in select_hits(&fused, &times, per_file, max_distance) {
                            want.push(key(&q.word, p, s, e, d));
                        }
                    }
                }
                if per_file.is_some() {
                    assert_eq!(want.len(), 2 * 2 * 3, "{metric:?} {fusion:?}");
                }
                let opts = SpotOptions {
                    metric,
                    fusion,
                    per_file,
                    max_distance,
                    cache: None,
                };
                let res = spot(&queries, &files, &cfg, &norm, &opts, &|| {}).unwrap();
                assert!(res.skipped.is_empty(), "{:?}", res.skipped);
                let mut got: Vec<_> = res
                    .hits
                    .iter()
                    .map(|h| key(&h.word, &h.file, h.start, h.end, h.distance))
                    .collect();
                want.sort();
                got.sort();
                assert_eq!(
                    got, want,
                    "{metric:?} {fusion:?} {per_file:?} {max_distance:?}"
                );
            }
        }
    }
}
