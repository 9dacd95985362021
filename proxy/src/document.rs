//! What the subcommands that write one document (`report`, `compliance`)
//! share: its format, where it goes, and the key that checks the trail's
//! signatures.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use audit_core::analysis::report::out::write_private;
use audit_core::config::Settings;
use audit_core::sign::{PublicKey, SecretKey};

use crate::anomalies_cmd::to_stdout;

/// The format of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DocFormat {
    /// Markdown.
    Md,
    /// One self-contained HTML page.
    Html,
    /// Pretty JSON.
    Json,
}

/// The output flags of a document subcommand.
#[derive(Debug, clap::Args)]
pub struct DocumentArgs {
    /// md, html (one self-contained page) or json.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = DocFormat::Md)]
    pub format: DocFormat,
    /// Write to this file (mode 0600, replaced atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Public key (`KEY.pub` from `mcp-blackbox keygen`) to check signatures with [default: derived from audit.signing_key].
    #[arg(long, value_name = "PUB")]
    pub key: Option<PathBuf>,
}

impl DocumentArgs {
    /// Writes the document to `--out` or stdout; exit status 0.
    pub fn emit(&self, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<i32> {
        match &self.out {
            Some(path) => write_private(path, write)
                .with_context(|| format!("while writing --out {}", path.display()))
                .map(|()| 0),
            None => to_stdout(write),
        }
    }

    /// `--key`, else the public half of `audit.signing_key` when it is
    /// readable (a warning says why signatures go unchecked when it is not).
    pub fn public_key(&self, settings: &Settings) -> Result<Option<PublicKey>> {
        if let Some(path) = &self.key {
            let key = PublicKey::load(path)
                .with_context(|| format!("while reading --key {}", path.display()))?;
            return Ok(Some(key));
        }
        let Some(path) = &settings.audit.signing_key.value else {
            return Ok(None);
        };
        match SecretKey::load(path) {
            Ok(k) => Ok(Some(k.public())),
            Err(e) => {
                tracing::warn!(
                    "audit.signing_key {} unreadable ({e}); signatures not checked",
                    path.display()
                );
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::cli::{Cli, Command};
    use clap::Parser;

    use super::DocFormat;

    #[test]
    fn report_and_compliance_take_the_same_document_flags() {
        let args = ["--format", "html", "--out", "r.html", "--key", "k.pub"];
        let report = Cli::try_parse_from(["mcp-blackbox", "report"].iter().chain(&args)).unwrap();
        let Some(Command::Report(report)) = report.command else {
            panic!("report")
        };
        assert_eq!(report.document.format, DocFormat::Html);
        assert_eq!(report.document.key.as_deref(), Some("k.pub".as_ref()));
        let compliance = ["mcp-blackbox", "compliance", "--framework", "soc2"];
        let compliance = Cli::try_parse_from(compliance.iter().chain(&args)).unwrap();
        let Some(Command::Compliance(compliance)) = compliance.command else {
            panic!("compliance")
        };
        assert_eq!(compliance.document.out.as_deref(), Some("r.html".as_ref()));
        let bad = Cli::try_parse_from(["mcp-blackbox", "report", "--format", "pdf"]).unwrap_err();
        assert!(bad.to_string().contains("--format"), "{bad}");
    }
}
