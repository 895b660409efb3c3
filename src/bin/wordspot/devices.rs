//! `wordspot devices`: list audio input devices.

use anyhow::Result;

/// Prints the input devices of the default host.
#[cfg(feature = "mic")]
pub fn run() -> Result<()> {
    use std::io::Write;
    let devs = wordspot::audio::list_devices()?;
    if devs.is_empty() {
        writeln!(std::io::stdout(), "no input device found")?;
    }
    for d in devs {
        writeln!(
            std::io::stdout(),
            "{} {}  ({} Hz, {} ch, {})",
            if d.is_default { "*" } else { " " },
            d.name,
            d.rate.map_or("?".into(), |r| r.to_string()),
            d.channels.map_or("?".into(), |c| c.to_string()),
            d.sample_format.as_deref().unwrap_or("?")
        )?;
    }
    Ok(())
}

/// Device listing needs the `mic` feature.
#[cfg(not(feature = "mic"))]
pub fn run() -> Result<()> {
    anyhow::bail!("this build has no microphone support (feature `mic`)")
}
