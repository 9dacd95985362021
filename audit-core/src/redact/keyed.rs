//! Keyed mode: a redacted secret is replaced by a short HMAC of itself, so the
//! same secret can be followed across events without being revealed.
//!
//! The tag is the first 12 hex digits (48 bits) of HMAC-SHA-256(key, secret).
//! Without the key, a tag says nothing about the secret; with it, someone
//! holding a candidate secret can confirm it, which is the point of
//! correlation and why the key must stay private. The key is never logged:
//! [`HmacKey`]'s `Debug` prints no byte of it.

use std::fmt;
use std::io::Read;
use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::RedactError;

/// Fewest key bytes accepted (128 bits).
pub const MIN_KEY_BYTES: usize = 16;

/// Hex digits of the HMAC kept in a marker.
pub const TAG_HEX_CHARS: usize = 12;

/// A secret key for keyed redaction.
#[derive(Clone, PartialEq, Eq)]
pub struct HmacKey(Vec<u8>);

impl fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HmacKey(<{} bytes>)", self.0.len())
    }
}

impl HmacKey {
    /// A key from raw bytes (for example an environment variable's value).
    /// `origin` names where they came from, for the error.
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<HmacKey, RedactError> {
        let bytes = trim_newline(bytes);
        if bytes.len() < MIN_KEY_BYTES {
            return Err(RedactError::KeyTooShort {
                origin: origin.to_owned(),
                len: bytes.len(),
                min: MIN_KEY_BYTES,
            });
        }
        Ok(HmacKey(bytes.to_vec()))
    }

    /// A key from a file holding its bytes (one trailing newline is ignored).
    /// On Unix the file must not be readable or writable by group or others
    /// (mode 0600 or stricter), else it is refused.
    pub fn from_file(path: &Path) -> Result<HmacKey, RedactError> {
        let io_err = |source| RedactError::KeyFile {
            path: path.to_owned(),
            source,
        };
        let mut file = std::fs::File::open(path).map_err(io_err)?;
        // Checked on the open handle, so a swapped file cannot slip past.
        let meta = file.metadata().map_err(io_err)?;
        check_private(path, &meta)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io_err)?;
        HmacKey::from_bytes(&bytes, &format!("key file {}", path.display()))
    }

    /// The correlation tag of `secret`: 12 lower-case hex digits.
    pub fn tag(&self, secret: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC accepts keys of any length");
        mac.update(secret.as_bytes());
        let digest = mac.finalize().into_bytes();
        hex::encode(&digest[..TAG_HEX_CHARS / 2])
    }
}

fn trim_newline(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes.strip_suffix(b"\r").unwrap_or(bytes)
}

#[cfg(unix)]
fn check_private(path: &Path, meta: &std::fs::Metadata) -> Result<(), RedactError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(RedactError::KeyFilePermissions {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path, _meta: &std::fs::Metadata) -> Result<(), RedactError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn tags_are_stable_short_hex_and_key_dependent() {
        let k = HmacKey::from_bytes(KEY, "test").unwrap();
        let t = k.tag("hunter2");
        assert_eq!(t.len(), TAG_HEX_CHARS);
        assert!(t.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(t, k.tag("hunter2"));
        assert_ne!(t, k.tag("hunter3"));
        let other = HmacKey::from_bytes(b"another key of sixteen+ bytes", "test").unwrap();
        assert_ne!(t, other.tag("hunter2"));
    }

    #[test]
    fn tag_matches_rfc4231_test_case_2() {
        // RFC 4231 §4.3: key "Jefe", data "what do ya want for nothing?".
        let k = HmacKey(b"Jefe".to_vec());
        assert_eq!(k.tag("what do ya want for nothing?"), "5bdcc146bf60");
    }

    #[test]
    fn short_keys_are_refused_and_debug_hides_bytes() {
        let e = HmacKey::from_bytes(b"short\n", "env MCP_BLACKBOX_HMAC_KEY").unwrap_err();
        assert!(e.to_string().contains("env MCP_BLACKBOX_HMAC_KEY"), "{e}");
        let k = HmacKey::from_bytes(KEY, "test").unwrap();
        assert!(!format!("{k:?}").contains("0123"));
    }

    #[cfg(unix)]
    #[test]
    fn key_file_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hmac.key");
        std::fs::write(&path, [KEY, b"\n"].concat()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = HmacKey::from_file(&path).unwrap_err();
        assert!(matches!(
            e,
            RedactError::KeyFilePermissions { mode: 0o644, .. }
        ));
        assert!(e.to_string().contains(&path.display().to_string()), "{e}");

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let k = HmacKey::from_file(&path).unwrap();
        assert_eq!(k, HmacKey::from_bytes(KEY, "same").unwrap());

        let missing = dir.path().join("nope");
        let e = HmacKey::from_file(&missing).unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
    }
}
