//! Signed chain heads: Ed25519 keys, their files, and checkpoints.
//!
//! A hash chain shows that lines were changed unless the whole chain was
//! recomputed after the change; a signature by a key the attacker does not
//! hold closes that gap. Every `checkpoint` event and `session_end` carries
//! `details.signature`, the Ed25519 signature of `signed_message`:
//!
//! ```text
//! mcp-blackbox chain head v1\n<session_id>\n<seq>\n<prev_hash>
//! ```
//!
//! where `seq` and `prev_hash` are those of the signed line itself (`seq` in
//! decimal, `prev_hash` as the 64 lowercase hex digits written on the line,
//! i.e. the hash of the line before). Binding the session and position means
//! a signature cannot be replayed onto another session or another place in
//! the chain. `session_start` records the key's fingerprint in
//! `details.signing_key` so a verifier knows which key to expect.
//!
//! Key files are one line of text (see [`SecretKey::to_text`],
//! [`PublicKey::to_text`]): a tag naming the format, a space, 64 hex digits.
//! The secret file is created 0600 and refused when others can read it.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::event::Event;
use crate::stamp::Stamper;

/// First word of a secret key file.
pub const SECRET_KEY_TAG: &str = "mcp-blackbox-ed25519-secret-v1";
/// First word of a public key file.
pub const PUBLIC_KEY_TAG: &str = "mcp-blackbox-ed25519-public-v1";

/// Errors reading, writing or parsing key files.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key file {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write key file {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("{path} is not a {expected} key file: {reason}")]
    Format {
        path: PathBuf,
        expected: &'static str,
        reason: String,
    },
    #[error("secret key file {path} is readable by others (mode {mode:o}); run chmod 600 on it")]
    Permissions { path: PathBuf, mode: u32 },
    #[error("the operating system gave no randomness for a new key: {0}")]
    Random(String),
}

/// The exact bytes signed for the line at `seq` of `session_id`, whose
/// `prev_hash` is `head_hex`.
pub(crate) fn signed_message(session_id: &str, seq: u64, head_hex: &str) -> Vec<u8> {
    format!("mcp-blackbox chain head v1\n{session_id}\n{seq}\n{head_hex}").into_bytes()
}

/// The exact bytes signed for the seal index entry whose hash is `hash_hex`
/// (see [`crate::sink::seal`]): a tag of its own, so a seal's signature is
/// never a chain head's.
pub(crate) fn seal_message(hash_hex: &str) -> Vec<u8> {
    format!("mcp-blackbox seal v1\n{hash_hex}").into_bytes()
}

/// An Ed25519 signing key (zeroed when dropped).
pub struct SecretKey(SigningKey);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({})", self.public().fingerprint())
    }
}

impl SecretKey {
    /// A new random key.
    pub fn generate() -> Result<SecretKey, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(SecretKey(SigningKey::from_bytes(&seed)))
    }

    /// Reads a secret key file, refusing one that group or others can read.
    pub fn load(path: &Path) -> Result<SecretKey, KeyError> {
        let read_err = |source| KeyError::Read {
            path: path.to_owned(),
            source,
        };
        let mode = std::fs::metadata(path)
            .map_err(read_err)?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(KeyError::Permissions {
                path: path.to_owned(),
                mode: mode & 0o777,
            });
        }
        let text = std::fs::read_to_string(path).map_err(read_err)?;
        let bytes = parse_key_text(&text, SECRET_KEY_TAG).map_err(|reason| KeyError::Format {
            path: path.to_owned(),
            expected: "secret",
            reason,
        })?;
        Ok(SecretKey(SigningKey::from_bytes(&bytes)))
    }

    /// The file text: `mcp-blackbox-ed25519-secret-v1 <64 hex>\n`.
    pub fn to_text(&self) -> String {
        format!("{SECRET_KEY_TAG} {}\n", hex::encode(self.0.to_bytes()))
    }

    /// The matching public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs the chain head (see `signed_message`); the signature as hex.
    pub fn sign_head(&self, session_id: &str, seq: u64, head_hex: &str) -> String {
        let sig = self.0.sign(&signed_message(session_id, seq, head_hex));
        hex::encode(sig.to_bytes())
    }
}

impl SecretKey {
    /// Signs a seal index entry's hash (`seal_message`); hex signature.
    pub fn sign_seal(&self, hash_hex: &str) -> String {
        hex::encode(self.0.sign(&seal_message(hash_hex)).to_bytes())
    }
}

/// An Ed25519 public key, as shared with verifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Reads a public key file.
    pub fn load(path: &Path) -> Result<PublicKey, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.to_owned(),
            source,
        })?;
        let format_err = |reason| KeyError::Format {
            path: path.to_owned(),
            expected: "public",
            reason,
        };
        let bytes = parse_key_text(&text, PUBLIC_KEY_TAG).map_err(format_err)?;
        VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|e| format_err(e.to_string()))
    }

    /// The file text: `mcp-blackbox-ed25519-public-v1 <64 hex>\n`.
    pub fn to_text(&self) -> String {
        format!("{PUBLIC_KEY_TAG} {}\n", hex::encode(self.0.to_bytes()))
    }

    /// `sha256:` + hex SHA-256 of the 32 key bytes, recorded in
    /// `session_start` as `details.signing_key`.
    pub fn fingerprint(&self) -> String {
        format!("sha256:{}", hex::encode(Sha256::digest(self.0.to_bytes())))
    }

    /// True if `signature_hex` signs the head `head_hex` at `seq` of `session_id`.
    pub fn verify_head(
        &self,
        session_id: &str,
        seq: u64,
        head_hex: &str,
        signature_hex: &str,
    ) -> bool {
        self.verify_message(&signed_message(session_id, seq, head_hex), signature_hex)
    }

    /// True if `signature_hex` signs the seal index entry hashed `hash_hex`.
    pub fn verify_seal(&self, hash_hex: &str, signature_hex: &str) -> bool {
        self.verify_message(&seal_message(hash_hex), signature_hex)
    }

    fn verify_message(&self, message: &[u8], signature_hex: &str) -> bool {
        let Ok(bytes) = hex::decode(signature_hex) else {
            return false;
        };
        let Ok(sig) = Signature::from_slice(&bytes) else {
            return false;
        };
        self.0.verify(message, &sig).is_ok()
    }
}

fn parse_key_text(text: &str, tag: &str) -> Result<[u8; 32], String> {
    let mut words = text.split_whitespace();
    match words.next() {
        Some(t) if t == tag => {}
        Some(t) => return Err(format!("starts with {t:?}, expected {tag:?}")),
        None => return Err("the file is empty".into()),
    }
    let hex_key = words.next().ok_or("the key is missing after the tag")?;
    let bytes = hex::decode(hex_key).map_err(|e| format!("the key is not hex: {e}"))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("the key has {} bytes, expected 32", b.len()))
}

/// Writes `secret` to `out` (0600, never overwriting) and its public key to
/// `out.pub` (0644). Returns both paths.
pub fn write_key_pair(secret: &SecretKey, out: &Path) -> Result<(PathBuf, PathBuf), KeyError> {
    let mut pub_path = out.as_os_str().to_owned();
    pub_path.push(".pub");
    let pub_path = PathBuf::from(pub_path);
    write_new(out, 0o600, &secret.to_text())?;
    write_new(&pub_path, 0o644, &secret.public().to_text())?;
    Ok((out.to_owned(), pub_path))
}

fn write_new(path: &Path, mode: u32, text: &str) -> Result<(), KeyError> {
    let write_err = |source| KeyError::Write {
        path: path.to_owned(),
        source,
    };
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(write_err)?;
    f.write_all(text.as_bytes()).map_err(write_err)?;
    f.sync_all().map_err(write_err)
}

/// Decides when to write a `checkpoint` and signs chain heads, for one
/// session. Time is passed in.
#[derive(Debug)]
pub struct Checkpointer {
    key: SecretKey,
    every_events: u64,
    every: Duration,
    last: Instant,
}

impl Checkpointer {
    /// Checkpoints every `every_events` events or every `every` (whichever
    /// comes first, and only after at least one event); `now` starts the timer.
    pub fn new(key: SecretKey, every_events: u64, every: Duration, now: Instant) -> Checkpointer {
        Checkpointer {
            key,
            every_events: every_events.max(1),
            every,
            last: now,
        }
    }

    /// True when a checkpoint is due, `events_since` events after the last.
    pub fn due(&self, events_since: u64, now: Instant) -> bool {
        events_since > 0
            && (events_since >= self.every_events
                || now.saturating_duration_since(self.last) >= self.every)
    }

    /// Signs the head `head_hex` (the `prev_hash` of the line about to be
    /// stamped at `seq`) and restarts the timer at `now`. Hex signature.
    pub fn sign_head(
        &mut self,
        session_id: &str,
        seq: u64,
        head_hex: &str,
        now: Instant,
    ) -> String {
        self.last = now;
        self.key.sign_head(session_id, seq, head_hex)
    }

    /// Puts `details.signature` on `event`, which must be the next event
    /// `stamper` stamps (a `checkpoint` or `session_end`).
    pub fn sign_next(&mut self, event: &mut Event, stamper: &Stamper, now: Instant) {
        let session = stamper.identity().session_id.clone();
        let sig = self.sign_head(&session, stamper.count() + 1, &stamper.head_hex(), now);
        event.details.insert("signature".into(), sig.into());
    }

    /// The key's fingerprint, for `session_start`'s `details.signing_key`.
    pub fn fingerprint(&self) -> String {
        self.key.public().fingerprint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_session_seq_and_head() {
        let key = SecretKey::generate().unwrap();
        let public = key.public();
        let head = "ab".repeat(32);
        let sig = key.sign_head("s1", 7, &head);
        assert!(public.verify_head("s1", 7, &head, &sig));
        assert!(!public.verify_head("s2", 7, &head, &sig));
        assert!(!public.verify_head("s1", 8, &head, &sig));
        assert!(!public.verify_head("s1", 7, &"cd".repeat(32), &sig));
        assert!(!public.verify_head("s1", 7, &head, "zz"));
        let other = SecretKey::generate().unwrap().public();
        assert!(!other.verify_head("s1", 7, &head, &sig));
        let seal = key.sign_seal(&head);
        assert!(public.verify_seal(&head, &seal));
        assert!(!public.verify_seal(&"cd".repeat(32), &seal));
        assert!(!public.verify_head("s1", 7, &head, &seal), "domains apart");
    }

    #[test]
    fn key_files_round_trip_with_private_permissions() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("audit-key");
        let key = SecretKey::generate().unwrap();
        let (sk, pk) = write_key_pair(&key, &out).unwrap();
        assert_eq!(pk, tmp.path().join("audit-key.pub"));
        let mode = std::fs::metadata(&sk).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let loaded = SecretKey::load(&sk).unwrap();
        assert_eq!(loaded.public(), key.public());
        assert_eq!(PublicKey::load(&pk).unwrap(), key.public());
        assert!(std::fs::read_to_string(&pk)
            .unwrap()
            .starts_with(PUBLIC_KEY_TAG));
        // Never overwritten; refused when readable by others; wrong kind named.
        assert!(matches!(
            write_key_pair(&key, &out),
            Err(KeyError::Write { .. })
        ));
        std::fs::set_permissions(&sk, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            SecretKey::load(&sk),
            Err(KeyError::Permissions { .. })
        ));
        let err = PublicKey::load(&sk).unwrap_err().to_string();
        assert!(
            err.contains("expected \"mcp-blackbox-ed25519-public-v1\""),
            "{err}"
        );
    }

    #[test]
    fn checkpoints_are_due_by_count_or_time_after_an_event() {
        let t0 = Instant::now();
        let mut c = Checkpointer::new(
            SecretKey::generate().unwrap(),
            3,
            Duration::from_secs(60),
            t0,
        );
        assert!(!c.due(0, t0 + Duration::from_secs(600)));
        assert!(!c.due(2, t0 + Duration::from_secs(59)));
        assert!(c.due(3, t0));
        assert!(c.due(1, t0 + Duration::from_secs(60)));
        c.sign_head("s", 1, &"00".repeat(32), t0 + Duration::from_secs(60));
        assert!(!c.due(1, t0 + Duration::from_secs(100)));
        assert!(c.fingerprint().starts_with("sha256:"));
    }
}
