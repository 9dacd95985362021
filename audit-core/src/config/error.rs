//! Errors of loading settings: each names the file and line, the environment
//! variable or the flag at fault, and says what would be valid — on one line.

use std::ops::Range;
use std::path::{Path, PathBuf};

/// Why settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The settings file could not be read.
    #[error("{}: cannot read settings file: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
    /// The file is not valid TOML.
    #[error("{}:{line}: not valid TOML: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A key in the file is unknown or its value is invalid.
    #[error("{}:{line}: {key}: {message}", path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        key: String,
        message: String,
    },
    /// An `MCP_BLACKBOX_*` environment variable is unknown or invalid.
    #[error("environment variable {name}: {message}")]
    Env { name: String, message: String },
    /// A flag's value is invalid.
    #[error("flag {flag}: {message}")]
    Flag { flag: String, message: String },
}

impl ConfigError {
    /// The 1-based line in the settings file, for errors that have one.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Syntax { line, .. } | ConfigError::Invalid { line, .. } => Some(*line),
            _ => None,
        }
    }
}

/// A settings file's text and path: turns byte spans into located errors.
#[derive(Debug, Clone, Copy)]
pub struct Located<'a> {
    pub path: &'a Path,
    pub text: &'a str,
}

impl Located<'_> {
    /// The 1-based line holding byte `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        1 + memchr::memchr_iter(b'\n', &self.text.as_bytes()[..end]).count()
    }

    /// An `Invalid` error at `span` for `key`.
    pub fn invalid(
        &self,
        span: Range<usize>,
        key: &str,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_owned(),
            line: self.line_of(span.start),
            key: key.to_owned(),
            message: message.into(),
        }
    }

    /// The source of a value at `span`.
    pub fn source(&self, span: Range<usize>) -> super::Source {
        super::Source::File {
            path: self.path.to_owned(),
            line: self.line_of(span.start),
        }
    }

    /// A TOML syntax error, located.
    pub fn syntax(&self, e: &toml::de::Error) -> ConfigError {
        ConfigError::Syntax {
            path: self.path.to_owned(),
            line: e.span().map_or(1, |s| self.line_of(s.start)),
            message: super::value::one_line(&e.message()),
        }
    }
}
