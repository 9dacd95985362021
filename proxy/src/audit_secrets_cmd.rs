//! `mcp-blackbox audit-secrets`: re-scans existing audit files with today's
//! redaction rules (and the custom ones of the settings) and lists every
//! secret found by file:line, field and kind, never the secret. Exit status
//! 1 when something was found, 0 when clean, 2 on error. Thin glue over
//! [`audit_core::analysis::secrets`]; docs/redaction.md is the guide.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use audit_core::analysis::secrets::{rescan_file, Rescanner, SecretFound};
use audit_core::trail::format::safe;
use audit_core::trail::trail_files;
use serde_json::json;

use crate::anomalies_cmd::to_stdout;
use crate::config_cmd::reader_settings;
use crate::read_cmd::report_issue;

/// How the findings are printed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per secret: `file:line: field: kind (hint)`.
    #[default]
    Text,
    /// One JSON object: `secrets` (file, line, field, kind, hint), `count`, `files`.
    Json,
}

/// Arguments of `mcp-blackbox audit-secrets`.
#[derive(Debug, clap::Args)]
pub struct AuditSecretsArgs {
    /// Audit files (plain or .gz) or directories of them.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
    /// How to print the findings.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Settings file whose redact_keys and redact_patterns are added to the built-in rules.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
}

/// Runs `audit-secrets`: 1 if a secret was found, 0 if none.
pub fn run(args: AuditSecretsArgs) -> Result<i32> {
    let settings = reader_settings(args.config.clone())?;
    let rescanner =
        Rescanner::from_settings(&settings).context("while compiling the redaction rules")?;
    let files = trail_files(&args.paths)?;
    let mut count = 0u64;
    let mut failed = None;
    to_stdout(|out| {
        let json = args.format == Format::Json;
        if json {
            write!(out, "{{\"secrets\":[")?;
        }
        for path in &files {
            let name = path.display().to_string();
            let mut written = Ok(());
            let scanned = rescan_file(
                path,
                &rescanner,
                &mut |line, found| {
                    if written.is_ok() {
                        written = write_one(out, json, count, &name, line, &found);
                        count += 1;
                    }
                },
                &mut report_issue,
            );
            written?;
            if let Err(e) = scanned {
                failed = Some(e);
                break;
            }
        }
        if json {
            writeln!(out, "],\"count\":{count},\"files\":{}}}", files.len())?;
        }
        Ok(())
    })?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    if args.format == Format::Text {
        eprintln!(
            "mcp-blackbox: {count} secret(s) found in {} file(s)",
            files.len()
        );
    }
    Ok(i32::from(count > 0))
}

fn write_one(
    out: &mut dyn Write,
    json: bool,
    index: u64,
    file: &str,
    line: u64,
    found: &SecretFound,
) -> std::io::Result<()> {
    if json {
        let v = json!({"file": file, "line": line, "field": found.field,
                       "kind": found.kind, "hint": found.hint});
        let sep = if index == 0 { "" } else { "," };
        write!(out, "{sep}{v}")
    } else {
        writeln!(
            out,
            "{}:{line}: {}: {} ({})",
            safe(file),
            safe(&found.field),
            found.kind,
            safe(&found.hint)
        )
    }
}
