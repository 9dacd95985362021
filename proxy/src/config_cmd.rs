//! `mcp-blackbox config show|check`: the effective settings and where each
//! value came from, and validation of a settings file.
//!
//! Also the two reads of the process the settings loader needs, so every
//! command gathers them the same way: [`process_env`] and [`home_dir`].

use std::path::PathBuf;

use anyhow::Result;
use audit_core::config::{LoadInput, Settings, CONFIG_ENV, DEFAULT_CONFIG};

use crate::cli::RunArgs;

/// Arguments of `mcp-blackbox config`.
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

/// `config` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Print the effective settings (defaults < file < MCP_BLACKBOX_* env < flags) and the source of each.
    ///
    /// Takes every option of a proxy run (and the server command, which
    /// selects [servers.*] by `command` glob), so a run's flags can be checked
    /// by putting `config show` in front of them.
    Show(Box<RunArgs>),
    /// Validate a settings file: every key, rule and [servers.*] section.
    Check {
        /// The file (default: $MCP_BLACKBOX_CONFIG, else ~/.mcp-blackbox/config.toml).
        path: Option<PathBuf>,
    },
}

/// Runs `config`; the exit status (`check`: 0 valid, 1 invalid).
pub fn run(args: ConfigArgs) -> Result<i32> {
    match args.command {
        ConfigCommand::Show(run) => {
            let settings = Settings::load(LoadInput {
                config_path: run.config.clone(),
                home: home_dir(),
                env: process_env(),
                flags: run.setting_flags(),
                server_name: run.server_name.as_deref(),
                command: &run.command,
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
            match Settings::check_file_all(&path) {
                Ok(s) => {
                    let section_note = "[servers.*] sections validated";
                    println!(
                        "{}: ok ({} rules, {section_note})",
                        path.display(),
                        s.rules.len()
                    );
                    Ok(0)
                }
                Err(problems) => {
                    for e in problems {
                        eprintln!("mcp-blackbox: {e}");
                    }
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

/// The settings of a subcommand that reads a trail: the file `config`
/// (else the usual one), the environment and the defaults; no run flags.
pub fn reader_settings(config: Option<PathBuf>) -> anyhow::Result<Settings> {
    Ok(Settings::load(LoadInput {
        config_path: config,
        home: home_dir(),
        env: process_env(),
        ..LoadInput::default()
    })?)
}

/// The audit directory the settings name (`config`, else the usual file).
pub fn configured_audit_dir(config: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let settings = reader_settings(config)?;
    Ok(settings.audit.dir.value.clone())
}
