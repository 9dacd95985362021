//! `gen_trail`: writes a deterministic audit trail for tests and
//! benchmarks (see `blackbox_tests::trail_gen`).
//!
//! ```text
//! gen_trail --events 1000000 --days 7 --servers 5 --users 20 --seed 42 --out DIR [--gzip]
//! ```
//!
//! The same flags always write the same lines; `mcp-blackbox verify DIR`
//! accepts them.

use std::path::PathBuf;

use blackbox_tests::trail_gen::{generate, GenSpec};
use clap::Parser;

/// Writes a deterministic audit trail.
#[derive(Debug, Parser)]
struct Args {
    /// Events to write (the last session may end a few past it).
    #[arg(long, default_value_t = 100_000)]
    events: u64,
    /// Days the trail spans, from 2026-11-01.
    #[arg(long, default_value_t = 3)]
    days: u32,
    /// Servers (`server-0` …).
    #[arg(long, default_value_t = 3)]
    servers: u32,
    /// Users (`user-0` …).
    #[arg(long, default_value_t = 5)]
    users: u32,
    /// Seed of the generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Directory to write to (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Leave every rotated file gzipped, as the writer does (default: every file plain).
    #[arg(long)]
    gzip: bool,
    /// Size rotation of the writer, in bytes.
    #[arg(long, default_value_t = 64 << 20)]
    max_file_size: u64,
    /// Also write planted anomalies on the last day (see `trail_plant`).
    #[arg(long)]
    plant: bool,
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let spec = GenSpec {
        events: a.events,
        days: a.days,
        servers: a.servers,
        users: a.users,
        seed: a.seed,
        gzip: a.gzip,
        max_file_size: a.max_file_size,
        plant: a.plant,
        ..GenSpec::default()
    };
    let files = generate(&spec, &a.out)?;
    eprintln!("gen_trail: {} files in {}", files.len(), a.out.display());
    Ok(())
}
