//! Rank the recordings of a folder by how well they match a spoken query.
//!
//! ```sh
//! cargo run --release --example search -- query.wav recordings/ [TOP_K]
//! ```

use std::path::PathBuf;

use anyhow::{Context, Result};
use wordspot::features::{extract_utterance, FrontendConfig};
use wordspot::normalize::Normalizer;
use wordspot::search::{collect_files, search, SearchOptions};
use wordspot::templates::trim_silence;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: search QUERY.wav FOLDER [TOP_K]";
    let query_path = PathBuf::from(args.next().context(usage)?);
    let folder = PathBuf::from(args.next().context(usage)?);
    let top_k: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(10);

    // The query: decoded to 16 kHz mono, silence trimmed, turned into features.
    let config = FrontendConfig::default();
    let mut frontend = config.build()?;
    let normalizer = Normalizer::identity(frontend.dim());
    let audio = wordspot::audio::read_file(&query_path)?;
    let word = trim_silence(&audio, &query_path.display().to_string())?;
    let query = normalizer.apply_features(&extract_utterance(&mut *frontend, word, &query_path)?);

    // Every audio file under the folder, searched in parallel, best match first.
    let (files, mut skipped) = collect_files(&[folder]);
    let opts = SearchOptions {
        metric: Default::default(),
        per_file: 1,
        cache: None,
    };
    let result = search(&query, &files, &config, &normalizer, &opts, &|| {})?;
    for hit in result.hits.iter().take(top_k) {
        println!(
            "{:3}. {}  {:.2}-{:.2} s  distance {:.3}",
            hit.rank,
            hit.file.display(),
            hit.start,
            hit.end,
            hit.distance
        );
    }
    skipped.extend(result.skipped);
    for e in skipped {
        eprintln!("skipped: {e}");
    }
    Ok(())
}
