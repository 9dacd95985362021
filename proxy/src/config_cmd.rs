//! `mcp-blackbox config show|check`: the effective settings and where each
//! value came from, and validation of a settings file.
//!
//! Also the two reads of the process the settings loader needs, so every
//! command gathers them the same way: [`process_env`] and [`home_dir`].

use std::path::PathBuf;

use anyhow::Result;
use audit_core::config::{LoadInput, Settings, CONFIG_ENV, DEFAULT_CONFIG};

/// Arguments of `mcp-blackbox config`.
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

/// `config` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Print the effective settings (defaults < file < MCP_BLACKBOX_* env) and the source of each.
    Show {
        /// Settings file (default: $MCP_BLACKBOX_CONFIG, else ~/.mcp-blackbox/config.toml if present).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
        /// Show the settings as they apply to this server (selects [servers.NAME]).
        #[arg(long, value_name = "NAME")]
        server_name: Option<String>,
        /// The server command, after `--` (selects [servers.*] by `command` glob).
        #[arg(last = true, value_name = "SERVER COMMAND")]
        command: Vec<String>,
    },
    /// Validate a settings file: every key, rule and [servers.*] section.
    Check {
        /// The file (default: $MCP_BLACKBOX_CONFIG, else ~/.mcp-blackbox/config.toml).
        path: Option<PathBuf>,
    },
}

/// Runs `config`; the exit status (`check`: 0 valid, 1 invalid).
pub fn run(args: ConfigArgs) -> Result<i32> {
    match args.command {
        ConfigCommand::Show {
            config,
            server_name,
            command,
        } => {
            let settings = Settings::load(LoadInput {
                config_path: config,
                home: home_dir(),
                env: process_env(),
                server_name: server_name.as_deref(),
                command: &command,
                ..LoadInput::default()
            })?;
            print!("{}", settings.show());
            Ok(0)
        }
        ConfigCommand::Check { path } => {
            let path = match path.or_else(|| std::env::var_os(CONFIG_ENV).map(PathBuf::from)) {
                Some(p) => p,
                None => home_dir()
                    .map(|h| h.join(DEFAULT_CONFIG))
                    .ok_or_else(|| anyhow::anyhow!("no PATH given and HOME is not set"))?,
            };
            match Settings::check_file(&path) {
                Ok(s) => {
                    let section_note = "[servers.*] sections validated";
                    println!(
                        "{}: ok ({} rules, {section_note})",
                        path.display(),
                        s.rules.len()
                    );
                    Ok(0)
                }
                Err(e) => {
                    eprintln!("mcp-blackbox: {e}");
                    Ok(1)
                }
            }
        }
    }
}

/// The process environment as the settings loader takes it (non-UTF-8
/// entries are skipped: no setting could use them).
pub fn process_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// The home directory, from `HOME`.
pub fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}
