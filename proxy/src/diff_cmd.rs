//! `mcp-blackbox diff`: compares two recorded sessions (`audit_core::diff`).

use std::path::PathBuf;

use anyhow::Context;
use audit_core::check::input;
use audit_core::diff::{diff, DiffOptions, Session};
use clap::Args;

/// Flags of `diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The known-good session: a transcript, or an audit file or directory.
    #[arg(value_name = "A")]
    pub a: PathBuf,
    /// The session to compare with it.
    #[arg(value_name = "B")]
    pub b: PathBuf,
    /// Leave out what this JSON pointer names in each call record
    /// (`/arguments/…`, `/result/…`, `/outcome`) or, with --tools, in each
    /// tool definition; repeatable.
    #[arg(long, value_name = "JSON_POINTER")]
    pub ignore: Vec<String>,
    /// Compare the tool definitions instead of the calls (a drift baseline).
    #[arg(long)]
    pub tools: bool,
}

/// 0 when the sessions do not differ, 1 when they do.
pub fn run(args: DiffArgs) -> anyhow::Result<i32> {
    for p in &args.ignore {
        if !p.starts_with('/') {
            anyhow::bail!(
                "--ignore {p}: a JSON pointer starts with `/` (e.g. /arguments/timestamp)"
            );
        }
    }
    let load = |path: &PathBuf| -> anyhow::Result<Session> {
        let loaded = input::load(std::slice::from_ref(path))
            .with_context(|| format!("reading {}", path.display()))?;
        Ok(match &loaded.transcript {
            Some(t) => Session::from_transcript(t),
            None => Session::from_events(&loaded.events),
        })
    };
    let (a, b) = (load(&args.a)?, load(&args.b)?);
    let options = DiffOptions {
        ignore: args.ignore,
        tools: args.tools,
    };
    let lines = diff(&a, &b, &options);
    let what = if options.tools {
        "tool definitions"
    } else {
        "tool calls"
    };
    if lines.is_empty() {
        println!("no difference in {what}");
        return Ok(0);
    }
    println!("--- {}\n+++ {}", args.a.display(), args.b.display());
    for line in &lines {
        println!("{line}");
    }
    println!("{} differences in {what}", lines.len());
    Ok(1)
}
