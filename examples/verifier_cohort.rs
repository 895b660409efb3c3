//! Writes `assets/verifier_cohort.f32`: the built-in word verifier's
//! embeddings of the built-in cohort's background windows, which enrollment
//! fits each keyword's similarity norm on (`eval::cohort::fit_verifier`).
//!
//! ```sh
//! cargo run --release --example verifier_cohort
//! ```

use std::io::Write;

use anyhow::{Context, Result};
use wordspot::eval::cohort::BUILTIN_COHORT_FLAC;
use wordspot::verify::{background_embeddings, WordEmbedder};

fn main() -> Result<()> {
    let x = wordspot::audio::decode_bytes(BUILTIN_COHORT_FLAC, "cohort.flac")?;
    let mut e = WordEmbedder::builtin()?;
    let rows = background_embeddings(&mut e, &x, None)?;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/verifier_cohort.f32");
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).context(path)?);
    for r in &rows {
        for v in r {
            f.write_all(&v.to_le_bytes())?;
        }
    }
    f.flush()?;
    eprintln!("wrote {} windows to {path}", rows.len());
    Ok(())
}
