//! The `wordspot` command line: a thin layer over the library.

#![allow(unreachable_code, unused_variables, dead_code)] // until the first subcommands land

mod analyze;
mod common;

use clap::{Parser, Subcommand};

/// Find a spoken word in live audio and recordings from a few examples.
#[derive(Debug, Parser)]
#[command(name = "wordspot", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Fit normalizer statistics on background audio.
    FitStats(analyze::FitStatsArgs),
    /// Anisotropy, rogue dimensions and IsoScore of a set of recordings.
    Analyze(analyze::AnalyzeArgs),
}

fn main() {
    let cli = Cli::parse();
    let result: anyhow::Result<()> = match cli.command {
        Command::FitStats(a) => analyze::fit_stats(a),
        Command::Analyze(a) => analyze::analyze(a),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
