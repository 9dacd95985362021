//! `mcp-blackbox keygen`: creates the Ed25519 key pair that signs audit
//! checkpoints. Thin glue over [`audit_core::sign`].

use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;

use anyhow::Context;
use audit_core::sign::{write_key_pair, SecretKey};

/// Arguments of `mcp-blackbox keygen`.
#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Where to write the secret key (created 0600, never overwritten). The
    /// public key goes next to it as `PATH.pub`: share that one with whoever
    /// runs `mcp-blackbox verify --key`.
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
}

/// Writes the pair and prints both paths and the fingerprint.
pub fn run(args: KeygenArgs) -> anyhow::Result<i32> {
    if let Some(parent) = args.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        // A fresh machine has no ~/.mcp-blackbox yet: create it private.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .with_context(|| format!("while creating {}", parent.display()))?;
    }
    let key = SecretKey::generate().context("while generating a signing key")?;
    let (secret, public) = write_key_pair(&key, &args.out)
        .with_context(|| format!("while writing --out {}", args.out.display()))?;
    println!("secret key: {} (keep it private)", secret.display());
    println!("public key: {}", public.display());
    println!("fingerprint: {}", key.public().fingerprint());
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use audit_core::sign::PublicKey;

    #[test]
    fn writes_a_pair_and_refuses_to_overwrite() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("audit-key");
        assert_eq!(run(KeygenArgs { out: out.clone() }).unwrap(), 0);
        let secret = SecretKey::load(&out).unwrap();
        let public = PublicKey::load(&tmp.path().join("audit-key.pub")).unwrap();
        assert_eq!(secret.public(), public);
        let nested = tmp.path().join("fresh/home/signing-key");
        assert_eq!(run(KeygenArgs { out: nested }).unwrap(), 0);
        let mode = std::fs::metadata(tmp.path().join("fresh/home"))
            .unwrap()
            .permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o700
        );
        let err = run(KeygenArgs { out: out.clone() }).unwrap_err();
        assert!(format!("{err:#}").contains("--out"), "{err:#}");
    }
}
