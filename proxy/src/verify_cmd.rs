//! `mcp-blackbox verify`: checks an audit trail's hash chains (across
//! announced gaps), each directory's files against its seal index, and, with
//! a public key, the signed checkpoints and seal entries. Thin glue over
//! [`audit_core::verify`]; what each mode proves is in `docs/verify.md`.

use std::path::PathBuf;

use anyhow::Context;
use audit_core::sign::PublicKey;
use audit_core::verify::{verify_paths, verify_reader};

/// How the report is printed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Readable lines and a one-line verdict.
    #[default]
    Text,
    /// One JSON object (`ok`, counts, each finding), for CI.
    Json,
}

/// Arguments of `mcp-blackbox verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Audit files or directories to check. A directory means every
    /// `audit-*.jsonl` and `audit-*.jsonl.gz` in it, checked against its seal
    /// index (`.seals`: deleted, swapped, truncated or added files); files
    /// are read in name order, which is write order. `-` reads one file
    /// from stdin (plain or gzipped; no seal index). Without PATH: the
    /// configured audit directory.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Settings file for the audit directory (when no PATH is given).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// How to print the report.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Public key file written by `mcp-blackbox keygen` (`KEY.pub`): also
    /// require every session and every seal entry to be signed by this key
    /// (and a seal index wherever there are audit files), and check each
    /// signature.
    #[arg(long, value_name = "PUB")]
    pub key: Option<PathBuf>,
}

/// Prints the report; exit status 0 if the trail is intact, 1 if anything is
/// broken. Errors (unreadable key or files) are returned.
pub fn run(args: VerifyArgs) -> anyhow::Result<i32> {
    let key = match &args.key {
        Some(path) => Some(
            PublicKey::load(path)
                .with_context(|| format!("while reading --key {}", path.display()))?,
        ),
        None => None,
    };
    let report = if args.paths.len() == 1 && args.paths[0].as_os_str() == "-" {
        verify_reader("stdin", std::io::stdin().lock(), key.as_ref())
    } else {
        verify_paths(&paths(&args)?, key.as_ref())
    }
    .context("while reading the audit trail")?;
    match args.format {
        Format::Text => println!("{report}"),
        Format::Json => println!("{}", report.to_json()),
    }
    Ok(if report.is_ok() { 0 } else { 1 })
}

/// The paths given, or the configured audit directory.
fn paths(args: &VerifyArgs) -> anyhow::Result<Vec<PathBuf>> {
    if !args.paths.is_empty() {
        return Ok(args.paths.clone());
    }
    let dir = crate::config_cmd::configured_audit_dir(args.config.clone())?;
    Ok(vec![dir])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_path_the_configured_directory_is_verified() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("trail");
        let config = tmp.path().join("c.toml");
        std::fs::write(
            &config,
            format!("[audit]\ndir = {:?}\n", dir.to_str().unwrap()),
        )
        .unwrap();
        let args = VerifyArgs {
            paths: vec![],
            key: None,
            config: Some(config),
            format: Format::Json,
        };
        assert_eq!(paths(&args).unwrap(), [dir]);
    }

    #[test]
    fn missing_paths_are_an_error_naming_them() {
        let err = run(VerifyArgs {
            paths: vec!["/nonexistent/audit".into()],
            key: None,
            config: None,
            format: Format::Text,
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/audit"), "{err:#}");
    }

    #[test]
    fn a_secret_key_given_as_public_key_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("k");
        audit_core::sign::write_key_pair(&audit_core::sign::SecretKey::generate().unwrap(), &out)
            .unwrap();
        let err = run(VerifyArgs {
            paths: vec![tmp.path().to_owned()],
            key: Some(out),
            config: None,
            format: Format::Text,
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("--key"), "{err:#}");
    }
}
