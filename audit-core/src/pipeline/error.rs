//! [`StartError`]: a setting that keeps the session from starting.

use std::path::PathBuf;

use crate::config::Source;
use crate::forward::ForwardError;
use crate::policy::PolicyError;
use crate::redact::RedactError;
use crate::sign::KeyError;
use crate::sink;

/// A setting that keeps the session from starting; each names the setting
/// (or the file) at fault.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The rules or the enforced pins cannot be used.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// `audit.signing_key` names a key that cannot be read.
    #[error("audit.signing_key ({from}): {error}")]
    SigningKey { from: Source, error: KeyError },
    /// `audit.hmac_key_file` names a key that cannot be used.
    #[error("audit.hmac_key_file: {0}")]
    HmacKey(RedactError),
    /// The audit directory or file cannot be used.
    #[error("{0} (--on-audit-failure open runs the server unaudited)")]
    Target(sink::TargetError),
    /// `audit.transcript` cannot be opened, or is set with auditing off.
    #[error("audit.transcript {path}: {reason}")]
    Transcript { path: PathBuf, reason: String },
    /// A `[forward]` URL, TLS file or spool cannot be used.
    #[error("forward ({from}): {error}")]
    Forward { from: Source, error: ForwardError },
}
