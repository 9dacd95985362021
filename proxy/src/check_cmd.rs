//! `mcp-blackbox check`: evaluates a rules file over a recorded session
//! (`audit_core::check`) and prints or writes the verdicts.

use std::path::PathBuf;

use anyhow::Context;
use audit_core::check::{evaluate, input, report, rules::parse_rules};
use clap::{Args, ValueEnum};

/// Flags of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A transcript, or audit files and directories of one run.
    #[arg(value_name = "FILES", required = true)]
    pub files: Vec<PathBuf>,
    /// The rules file (TOML; docs/ci.md).
    #[arg(long, value_name = "PATH")]
    pub rules: PathBuf,
    /// Also write the verdicts as JUnit XML, one test case per rule.
    #[arg(long, value_name = "OUT.xml")]
    pub junit: Option<PathBuf>,
    /// How the verdicts are printed on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Output formats of `check`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// 0 if every rule holds, 1 if one does not; an unusable input is an error.
pub fn run(args: CheckArgs) -> anyhow::Result<i32> {
    let text = std::fs::read_to_string(&args.rules)
        .with_context(|| format!("--rules {}", args.rules.display()))?;
    let rules = parse_rules(&text).with_context(|| format!("--rules {}", args.rules.display()))?;
    let session = input::load(&args.files)?;
    let verdicts = evaluate(&rules, &session);
    match args.format {
        Format::Text => print!("{}", report::text(&session.label, &verdicts)),
        Format::Json => println!("{}", report::json(&session.label, &verdicts)),
    }
    if let Some(path) = &args.junit {
        let xml = report::junit(&session.label, &verdicts).context("rendering JUnit XML")?;
        std::fs::write(path, xml).with_context(|| format!("--junit {}", path.display()))?;
    }
    Ok(if verdicts.iter().all(|v| v.passed) {
        0
    } else {
        1
    })
}
