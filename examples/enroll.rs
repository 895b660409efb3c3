//! Record N takes of a word from the microphone and store them as a keyword.
//!
//! ```sh
//! cargo run --release --example enroll -- hello templates 3
//! ```
//! Each take is 2 s long; silence around the word is trimmed.

use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use wordspot::audio::{MicSource, Source};
use wordspot::features::FrontendConfig;
use wordspot::normalize::Normalizer;
use wordspot::templates::{enroll, Enrollment, TakeAudio};
use wordspot::SAMPLE_RATE;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: enroll KEYWORD OUT_DIR [TAKES]";
    let keyword = args.next().context(usage)?;
    let out = args.next().context(usage)?;
    let n: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(3);

    let seconds = 2.0;
    let mut takes = Vec::new();
    for i in 1..=n {
        eprint!("take {i}/{n}: get ready... ");
        std::io::stderr().flush()?;
        std::thread::sleep(Duration::from_millis(700));
        // A fresh capture per take, so nothing said before the prompt leaks in.
        let mut mic = MicSource::open(None, seconds + 2.0)?;
        eprintln!("say \"{keyword}\" now");
        let want = (seconds * SAMPLE_RATE as f32) as usize;
        let mut samples = Vec::with_capacity(want + wordspot::audio::BLOCK);
        while samples.len() < want {
            if mic.read(&mut samples)? == 0 {
                bail!("{}: the input stream ended", mic.name());
            }
        }
        samples.truncate(want);
        takes.push(TakeAudio {
            samples,
            source: format!("mic take {i}"),
        });
    }

    // Features with the default MFCC frontend; the threshold is estimated
    // from the distances between the takes (leave-one-out).
    let mut frontend = FrontendConfig::default().build()?;
    let normalizer = Normalizer::identity(frontend.dim());
    let m = enroll(
        out.as_ref(),
        &keyword,
        &takes,
        Enrollment {
            frontend: &mut *frontend,
            normalizer: &normalizer,
            normalize_spec: "none",
            metric: Default::default(),
            trim: true,
            threshold: None,
        },
    )?;
    eprintln!(
        "{keyword}: {} take(s) stored in {out}, threshold {:.3} ({})",
        m.takes.len(),
        m.threshold,
        m.threshold_source
    );
    Ok(())
}
