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
