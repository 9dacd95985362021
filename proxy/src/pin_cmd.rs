//! `mcp-blackbox pin`: record the tool definitions a person approved.
//!
//! Starts the server, lists its tools (see [`crate::pin_client`]) and
//! compares them with the pins stored under `--server-name` in the pin file
//! (`--pins`, else `policy.pins` from settings/env, else
//! `~/.mcp-blackbox/pins.json`):
//!
//! - no pins yet for that name: they are written (exit 0);
//! - same definitions: nothing is written (exit 0);
//! - different: the difference is printed and, without `--update`, nothing
//!   is written (exit 1) — re-approve after review with `--update`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use audit_core::config::{LoadInput, Settings};
use audit_core::pin::{PinDiff, PinFile, ServerPins};

use crate::config_cmd::{home_dir, process_env};
use crate::pin_client::list_tools;

/// Arguments of `mcp-blackbox pin`.
#[derive(Debug, clap::Args)]
pub struct PinArgs {
    /// Stable name of the server; pins are stored under it (not the command).
    #[arg(long, value_name = "NAME")]
    pub server_name: String,
    /// Pin file to read and write (default: policy.pins, ~/.mcp-blackbox/pins.json).
    #[arg(long, value_name = "FILE")]
    pub pins: Option<PathBuf>,
    /// Replace existing pins that differ (after reviewing the difference).
    #[arg(long)]
    pub update: bool,
    /// Settings file (default: ~/.mcp-blackbox/config.toml if present).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Give up if the server has not listed its tools within this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    pub timeout_ms: u64,
    /// The server command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "SERVER COMMAND")]
    pub command: Vec<String>,
}

/// Runs `pin`; the exit status (0 pinned or unchanged, 1 differs without `--update`).
pub fn run(args: PinArgs) -> Result<i32> {
    let path = pin_path(&args)?;
    let listing = list_tools(&args.command, Duration::from_millis(args.timeout_ms))
        .with_context(|| format!("while listing the tools of {:?}", args.command.join(" ")))?;
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let current = ServerPins::from_tools(&listing.tools, now, args.command.clone())?;
    let mut file = PinFile::load_or_empty(&path)?;
    let name = &args.server_name;
    let count = current.tools.len();
    let shown = path.display();
    match file.servers.get(name) {
        None => {
            file.servers.insert(name.clone(), current);
            file.save(&path)?;
            println!(
                "pinned {count} tools of {name:?} ({} era) in {shown}",
                listing.era
            );
            Ok(0)
        }
        Some(old) => {
            let diff = old.diff(&current);
            if diff.is_empty() {
                println!("{count} tools of {name:?} match their pins in {shown}");
                return Ok(0);
            }
            print_diff(name, &diff);
            if !args.update {
                println!("pins not changed; review the difference, then run again with --update");
                return Ok(1);
            }
            file.servers.insert(name.clone(), current);
            file.save(&path)?;
            println!("re-pinned {count} tools of {name:?} in {shown}");
            Ok(0)
        }
    }
}

/// The pin file: `--pins`, else the effective `policy.pins` setting.
fn pin_path(args: &PinArgs) -> Result<PathBuf> {
    if let Some(p) = &args.pins {
        return Ok(p.clone());
    }
    let settings = Settings::load(LoadInput {
        config_path: args.config.clone(),
        home: home_dir(),
        env: process_env(),
        server_name: Some(&args.server_name),
        command: &args.command,
        ..LoadInput::default()
    })?;
    Ok(settings.policy.pins.value.clone())
}

fn print_diff(name: &str, diff: &PinDiff) {
    println!("tools of {name:?} differ from their pins:");
    for t in &diff.changed {
        println!("  changed  {t}");
    }
    for t in &diff.added {
        println!("  new      {t}");
    }
    for t in &diff.removed {
        println!("  removed  {t}");
    }
}
