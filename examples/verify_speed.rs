//! Times the word verifier (`cargo run --release --example verify_speed`).
use std::time::Instant;
fn main() -> anyhow::Result<()> {
    let t = Instant::now();
    let mut e = wordspot::verify::WordEmbedder::builtin()?;
    eprintln!("load {:?}", t.elapsed());
    let w: Vec<f32> = (0..wordspot::verify::WINDOW)
        .map(|i| ((i as f32) * 0.01).sin() * 0.1)
        .collect();
    let mut out = vec![0.0; wordspot::verify::DIM];
    let t = Instant::now();
    for _ in 0..20 {
        e.embed(&w, &mut out)?;
    }
    eprintln!("embed {:?} per window", t.elapsed() / 20);
    Ok(())
}
