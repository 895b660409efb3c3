//! The `wordspot` command line: a thin layer over the library.

mod analyze;
mod common;
mod demo;
mod devices;
mod enroll;
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
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Search(a) => search::run(a),
        Command::Enroll(a) => enroll::run(a),
        Command::Listen(a) => listen::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Devices => devices::run(),
        Command::FitStats(a) => analyze::fit_stats(a),
        Command::Analyze(a) => analyze::analyze(a),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
