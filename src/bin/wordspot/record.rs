//! Recording enrollment takes from the microphone.

use anyhow::{bail, Result};
use wordspot::templates::TakeAudio;

/// Records `n` takes of `seconds` each, prompting before each one.
pub fn record_takes(n: usize, seconds: f32, device: Option<&str>) -> Result<Vec<TakeAudio>> {
    let _ = (n, seconds, device);
    bail!("microphone recording is not available yet")
}
