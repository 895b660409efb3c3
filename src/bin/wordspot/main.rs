//! The `wordspot` command line: a thin layer over the library.

mod analyze;
mod common;
mod demo;
mod devices;
mod enroll;
mod eval;
mod listen;
mod record;
mod search;

use clap::{Parser, Subcommand};

/// Find a spoken word in live audio and recordings from a few examples.
#[derive(Debug, Parser)]
#[command(name = "wordspot", version, about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Rank recordings by their best match to a spoken query.
    Search(search::SearchArgs),
    /// Store templates (examples) of a keyword.
    Enroll(enroll::EnrollArgs),
    /// Spot enrolled keywords in the microphone, a file or standard input.
    Listen(listen::ListenArgs),
    /// Run the main job on bundled audio (no download).
    Demo(demo::DemoArgs),
    /// List audio input devices.
    Devices,
    /// Fit normalizer statistics on background audio.
    FitStats(analyze::FitStatsArgs),
    /// Anisotropy, rogue dimensions and IsoScore of a set of recordings.
    Analyze(analyze::AnalyzeArgs),
    /// Measure retrieval (P@k, R@k) or detection (miss rate vs false alarms/hour) on labelled audio.
    Eval(eval::EvalArgs),
    /// Set each keyword's threshold from background audio for a target false-alarm rate.
    Calibrate(eval::CalibrateArgs),
}

fn main() {
    let cli = Cli::parse();
    // Damaged audio read anyway (truncated, no data length) is reported
    // wherever the library reads it, summarised by kind.
    wordspot::audio::set_warning_sink(|w| common::warn(w.kind(), w));
    let result = match cli.command {
        Command::Search(a) => search::run(a),
        Command::Enroll(a) => enroll::run(a),
        Command::Listen(a) => listen::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Devices => devices::run(),
        Command::FitStats(a) => analyze::fit_stats(a),
        Command::Analyze(a) => analyze::analyze(a),
        Command::Eval(a) => eval::run(a),
        Command::Calibrate(a) => eval::run_calibrate(a),
    };
    common::finish_warnings();
    if let Err(e) = result {
        if is_broken_pipe(&e) {
            // The reader went away (`wordspot search ... | head`): not an error.
            std::process::exit(0);
        }
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// Whether an error comes from writing to a closed pipe.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every subcommand's arguments are well formed (unique names, valid defaults).
    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
