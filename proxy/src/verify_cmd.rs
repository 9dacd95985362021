//! `mcp-blackbox verify`: checks an audit trail's hash chains (across
//! announced gaps), each directory's files against its seal index, and, with
//! a public key, the signed checkpoints and seal entries. Thin glue over
//! [`audit_core::verify`]; what each mode proves is in `docs/audit-files.md`.

use std::path::PathBuf;

use anyhow::Context;
use audit_core::sign::PublicKey;
use audit_core::verify::verify_paths;

/// Arguments of `mcp-blackbox verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Audit files or directories to check. A directory means every
    /// `audit-*.jsonl` and `audit-*.jsonl.gz` in it, checked against its seal
    /// index (`.seals`: deleted, swapped, truncated or added files); files
    /// are read in name order, which is write order.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

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
    let report =
        verify_paths(&args.paths, key.as_ref()).context("while reading the audit trail")?;
    println!("{report}");
    Ok(if report.is_ok() { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_paths_are_an_error_naming_them() {
        let err = run(VerifyArgs {
            paths: vec!["/nonexistent/audit".into()],
            key: None,
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
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("--key"), "{err:#}");
    }
}
