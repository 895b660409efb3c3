//! Listen on the microphone and print each detection of the enrolled keywords.
//!
//! ```sh
//! wordspot enroll --name hello --out templates hello1.wav hello2.wav hello3.wav
//! cargo run --release --example listen -- templates [THRESHOLD]
//! ```
//! The MFCC frontend is used; templates must be enrolled with it (the default).

use std::sync::atomic::Ordering;

use anyhow::{Context, Result};
use wordspot::audio::MicSource;
use wordspot::detector::DetectorConfig;
use wordspot::features::FrontendConfig;
use wordspot::normalize::Normalizer;
use wordspot::pipeline::{spawn, PipelineOptions, Spotter};
use wordspot::templates;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .context("usage: listen TEMPLATES_DIR [THRESHOLD]")?;
    let threshold: Option<f32> = args.next().map(|t| t.parse()).transpose()?;

    // 1. A feature frontend and the (identity) normalizer it was enrolled with.
    let mut frontend = FrontendConfig::default().build()?;
    let normalizer = Normalizer::identity(frontend.dim());

    // 2. The keywords: each folder's takes become DTW templates.
    let keywords = templates::load(dir.as_ref(), &mut *frontend, &normalizer)?;
    let thresholds: Vec<f32> = keywords
        .iter()
        .map(|k| threshold.unwrap_or(k.manifest.threshold))
        .collect();
    frontend.reset();
    let spotter = Spotter::new(
        frontend,
        normalizer,
        &keywords,
        &thresholds,
        DetectorConfig::default(),
    )?;

    // 3. The default input device (4 s capture ring), then the pipeline threads.
    let mic = MicSource::open(None, 4.0)?;
    let pipeline = spawn(Box::new(mic), spotter, PipelineOptions::default());
    let stop = pipeline.stop_flag();
    ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))?;
    eprintln!("listening; Ctrl-C to stop");

    // 4. Events arrive in order until the pipeline stops.
    for e in pipeline.events.iter() {
        println!(
            "{:8.2}-{:<8.2} {}  distance {:.3}",
            e.start, e.end, e.keyword, e.distance
        );
    }
    let s = pipeline.join()?;
    eprintln!("{} detections, {} overruns", s.detections, s.overruns);
    Ok(())
}
