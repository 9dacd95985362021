//! The start check of the audit target: one function, [`prepare`], that the
//! proxy calls once before the server starts.
//!
//! - A directory is created 0700 if missing, resolved to its real path (a
//!   symbolic link is followed once, here, and the writer then uses the real
//!   path only), and checked as OpenSSH's `StrictModes` checks a home
//!   directory: owned by our effective user and not writable by group or
//!   others; else refused, unless [`TargetOptions::allow_shared_dir`]. Its
//!   `.lock` and today's file are opened as the writer opens them
//!   ([`super::private_file`]), so a link planted there, a file of another
//!   user or a directory we cannot write is found now, not at the first event.
//! - A single file's parent is created 0700 if missing, and the file opened
//!   the same way.
//!
//! Every failure is a [`TargetError`] whose text is one line naming the path
//! and the problem; what the caller does with it (exit, or run unaudited) is
//! its policy.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::private_file::{effective_uid, open_private, Access};
use super::storage::LOCK_FILE;
use super::{daily_path, ensure_private_dir, SinkError, SinkTarget};

/// What [`prepare`] accepts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TargetOptions {
    /// Accept a directory owned by another user or writable by group or
    /// others (a deliberately shared directory).
    pub allow_shared_dir: bool,
}

/// A target ready for the writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedTarget {
    /// The target with a directory resolved to its real path.
    pub target: SinkTarget,
    /// That real path (recorded in `session_start` as `details.audit_dir`).
    pub real_dir: Option<PathBuf>,
}

/// Why the audit target cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("{0}")]
    Sink(#[from] SinkError),
    #[error("cannot resolve audit directory {path}: {source}")]
    Resolve { path: PathBuf, source: io::Error },
    #[error("audit directory {path} is {problem}; fix it (chmod 700, chown) or set audit.allow_shared_dir = true for a deliberately shared directory")]
    Insecure { path: PathBuf, problem: String },
    #[error("cannot use audit file: {0}")]
    File(io::Error),
}

/// Prepares and checks `target` at time `now` (see the module docs).
pub fn prepare(
    target: &SinkTarget,
    options: TargetOptions,
    now: SystemTime,
) -> Result<PreparedTarget, TargetError> {
    match target {
        SinkTarget::Dir(dir) => {
            ensure_private_dir(dir)?;
            let real = dir.canonicalize().map_err(|source| TargetError::Resolve {
                path: dir.clone(),
                source,
            })?;
            check_dir(&real, options)?;
            open_private(&real.join(LOCK_FILE), Access::Append).map_err(TargetError::File)?;
            open_private(&daily_path(&real, now), Access::ReadAppend).map_err(TargetError::File)?;
            Ok(PreparedTarget {
                target: SinkTarget::Dir(real.clone()),
                real_dir: Some(real),
            })
        }
        SinkTarget::File(path) => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                if !parent.exists() {
                    ensure_private_dir(parent)?;
                }
            }
            open_private(path, Access::ReadAppend).map_err(TargetError::File)?;
            Ok(PreparedTarget {
                target: target.clone(),
                real_dir: None,
            })
        }
        SinkTarget::Stderr => Ok(PreparedTarget {
            target: SinkTarget::Stderr,
            real_dir: None,
        }),
    }
}

/// The `StrictModes` check of the (resolved) directory.
fn check_dir(dir: &Path, options: TargetOptions) -> Result<(), TargetError> {
    let meta = std::fs::metadata(dir).map_err(|source| TargetError::Resolve {
        path: dir.to_owned(),
        source,
    })?;
    let insecure = |problem: String| TargetError::Insecure {
        path: dir.to_owned(),
        problem,
    };
    if !meta.is_dir() {
        return Err(insecure("not a directory".into()));
    }
    if options.allow_shared_dir {
        return Ok(());
    }
    let me = effective_uid();
    if meta.uid() != me {
        return Err(insecure(format!(
            "owned by uid {}, not by us (uid {me})",
            meta.uid()
        )));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(insecure(format!(
            "writable by group or others (mode {mode:04o})"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_767_225_600)
    }

    #[test]
    fn a_linked_directory_is_resolved_once() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o700)).unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let got = prepare(&SinkTarget::Dir(link), TargetOptions::default(), now()).unwrap();
        let canon = real.canonicalize().unwrap();
        assert_eq!(got.real_dir, Some(canon.clone()));
        assert_eq!(got.target, SinkTarget::Dir(canon));
        assert!(real.join("audit-2026-01-01.jsonl").exists());
    }

    #[test]
    fn a_shared_directory_is_refused_unless_allowed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("shared");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let target = SinkTarget::Dir(dir.clone());
        let err = prepare(&target, TargetOptions::default(), now()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("writable by group or others (mode 0777)"),
            "{text}"
        );
        assert!(!text.contains('\n'));
        assert!(!dir.join(LOCK_FILE).exists(), "nothing created in it");
        let allow = TargetOptions {
            allow_shared_dir: true,
        };
        prepare(&target, allow, now()).unwrap();
    }

    #[test]
    fn an_unusable_directory_or_file_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("plain");
        std::fs::write(&file, b"").unwrap();
        let opts = TargetOptions::default();
        assert!(prepare(&SinkTarget::Dir(file.join("sub")), opts, now()).is_err());
        assert!(prepare(&SinkTarget::File(file.join("sub/x")), opts, now()).is_err());
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let link = tmp.path().join("audit.jsonl");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let err = prepare(&SinkTarget::File(link), opts, now()).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    }
}
