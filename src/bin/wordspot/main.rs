//! The `wordspot` command line: a thin layer over the library.

#![allow(unreachable_code, unused_variables, dead_code)] // until the first subcommands land

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
enum Command {}

fn main() {
    let cli = Cli::parse();
    let result: anyhow::Result<()> = match cli.command {};
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
