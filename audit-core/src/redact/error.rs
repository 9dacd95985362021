//! What can go wrong building a [`super::Redactor`] or loading its key, each
//! error naming the input at fault.

use std::path::PathBuf;

/// A configuration the redactor refuses, or a key it could not load.
#[derive(Debug, thiserror::Error)]
pub enum RedactError {
    /// A user pattern is not a valid regular expression.
    #[error(
        "redaction pattern `{name}` (`{pattern}`) is not a valid regular expression: {source}"
    )]
    BadPattern {
        name: String,
        pattern: String,
        #[source]
        source: regex::Error,
    },
    /// A user pattern matches the empty string, so it would match everywhere.
    #[error("redaction pattern `{name}` (`{pattern}`) matches the empty string; make it require at least one character")]
    EmptyMatch { name: String, pattern: String },
    /// A user pattern name that would not fit in a marker.
    #[error(
        "redaction pattern name `{name}` must be 1 to 64 characters of a-z, 0-9, `_`, `-` or `.`"
    )]
    BadPatternName { name: String },
    /// A user key with no letter or digit in it.
    #[error("redaction key `{key}` has no ASCII letter or digit (names are compared on those only), so it would never match")]
    BadKeyName { key: String },
    /// A keyed-mode key that is too short to resist guessing.
    #[error("HMAC key from {origin} is {len} bytes; at least {min} are needed")]
    KeyTooShort {
        origin: String,
        len: usize,
        min: usize,
    },
    /// The key file could not be opened or read.
    #[error("cannot read HMAC key file {}: {source}", path.display())]
    KeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The key file can be read by other users.
    #[error("HMAC key file {} has mode {mode:o}; it must not be readable by group or others (chmod 600 it)", path.display())]
    KeyFilePermissions { path: PathBuf, mode: u32 },
}
