//! Recording enrollment takes from the microphone.

use anyhow::{bail, Result};
use wordspot::templates::TakeAudio;

/// Records `n` takes of `seconds` each from `device`, prompting on stderr
/// before each one. Silence is trimmed later, at enrollment.
#[cfg(feature = "mic")]
pub fn record_takes(n: usize, seconds: f32, device: Option<&str>) -> Result<Vec<TakeAudio>> {
    use std::io::Write;
    use wordspot::audio::{MicSource, Source};

    if n == 0 {
        bail!("--record needs at least one take");
    }
    if !(seconds.is_finite() && seconds > 0.2 && seconds <= 30.0) {
        bail!("--seconds must be between 0.2 and 30, got {seconds}");
    }
    let want = (seconds * wordspot::SAMPLE_RATE as f32) as usize;
    let mut takes = Vec::with_capacity(n);
    for i in 1..=n {
        eprint!("take {i}/{n}: get ready... ");
        std::io::stderr().flush().ok();
        std::thread::sleep(std::time::Duration::from_millis(700));
        let mut mic = MicSource::open(device, seconds + 2.0)?;
        eprintln!("speak now ({seconds:.1} s)");
        let mut buf = Vec::with_capacity(want + wordspot::audio::BLOCK);
        while buf.len() < want {
            if mic.read(&mut buf)? == 0 {
                bail!("{}: the input stream ended", mic.name());
            }
        }
        buf.truncate(want);
        let st = mic.stats();
        if st.overruns > 0 {
            eprintln!(
                "warning: {} overrun(s) while recording take {i}",
                st.overruns
            );
        }
        takes.push(TakeAudio {
            samples: buf,
            source: format!("mic:{} take {i}", mic.name()),
        });
    }
    eprintln!("recorded {n} take(s)");
    Ok(takes)
}

/// Microphone recording needs the `mic` feature.
#[cfg(not(feature = "mic"))]
pub fn record_takes(_: usize, _: f32, _: Option<&str>) -> Result<Vec<TakeAudio>> {
    bail!("this build has no microphone support (feature `mic`)")
}
