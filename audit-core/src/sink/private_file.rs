//! Opening files in the audit directory without trusting what is there.
//!
//! Every open uses `O_NOFOLLOW` (a symbolic link planted at an audit file's
//! name is refused, never followed to its target) and `O_NONBLOCK` (a FIFO
//! planted there cannot hang the writer; on regular files it has no effect).
//! After opening, `fstat` checks the very file we hold: a regular file, owned
//! by our effective user; a mode other than 0600 is set to 0600. Temporary
//! files are created with `O_EXCL` under names with 64 random bits.

use std::fs::{File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// How a file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read and append, created if missing (the audit files).
    ReadAppend,
    /// Append only, created if missing (the `.lock` file).
    Append,
    /// Read only, never created (a rotated part to compress).
    Read,
    /// Write, created here and now: `O_EXCL` (temporary files).
    CreateNew,
}

/// Opens `path` as described in the module docs.
pub fn open_private(path: &Path, access: Access) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    match access {
        Access::ReadAppend => opts.read(true).append(true).create(true),
        Access::Append => opts.append(true).create(true),
        Access::Read => opts.read(true),
        Access::CreateNew => opts.write(true).create_new(true),
    };
    let file = opts
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| explain_open_error(path, e))?;
    check_opened(&file, path)?;
    Ok(file)
}

/// A symbolic link at the name fails `O_NOFOLLOW` with `ELOOP`: say so.
fn explain_open_error(path: &Path, e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        return io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is a symbolic link; audit files are never opened through links",
                path.display()
            ),
        );
    }
    e
}

/// The `fstat` check of an opened audit file (see the module docs).
pub fn check_opened(file: &File, path: &Path) -> io::Result<()> {
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
    let me = effective_uid();
    if meta.uid() != me {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} is owned by uid {}, not by us (uid {me})",
                path.display(),
                meta.uid()
            ),
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode != 0o600 {
        file.set_permissions(Permissions::from_mode(0o600))?;
        tracing::warn!(
            "audit file {} had mode {mode:04o}; set to 0600",
            path.display()
        );
    }
    Ok(())
}

/// Our effective user id.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

/// `dir/.{stem}.tmp-<16 random hex digits>`: a name nobody can plant a link
/// at in advance (and `O_EXCL` refuses one planted anyway).
pub fn temporary_name(dir: &Path, stem: &str) -> io::Result<PathBuf> {
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(dir.join(format!(".{stem}.tmp-{}", hex::encode(random))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn a_link_at_the_name_is_refused_and_its_target_untouched() {
        let tmp = tempfile::tempdir().unwrap();
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let link = tmp.path().join("audit-2026-01-01.jsonl");
        symlink(&victim, &link).unwrap();
        for access in [Access::ReadAppend, Access::Append, Access::Read] {
            let err = open_private(&link, access).unwrap_err();
            assert!(err.to_string().contains("symbolic link"), "{err}");
        }
        // A dangling link is not created through either.
        let dangling = tmp.path().join(".lock");
        symlink(tmp.path().join("created"), &dangling).unwrap();
        assert!(open_private(&dangling, Access::Append).is_err());
        assert!(!tmp.path().join("created").exists());
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    }

    #[test]
    fn a_loose_mode_is_fixed_and_other_files_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a.jsonl");
        std::fs::write(&path, b"x\n").unwrap();
        std::fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
        open_private(&path, Access::ReadAppend).unwrap();
        let mode = std::fs::metadata(&path).unwrap().mode() & 0o7777;
        assert_eq!(mode, 0o600);
        let fifo = tmp.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // Write-only, no reader: ENXIO at once rather than a hang.
        assert!(open_private(&fifo, Access::Append).is_err());
        let err = open_private(&fifo, Access::ReadAppend).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        assert!(open_private(tmp.path(), Access::Read).is_err());
    }

    #[test]
    fn a_file_of_another_user_is_refused() {
        if effective_uid() != 0 {
            return; // only root can give a file away; covered end to end as root
        }
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a.jsonl");
        std::fs::write(&path, b"").unwrap();
        std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
        let err = open_private(&path, Access::ReadAppend).unwrap_err();
        assert!(err.to_string().contains("owned by uid 65534"), "{err}");
    }

    #[test]
    fn temporary_files_are_new_and_unpredictable() {
        let tmp = tempfile::tempdir().unwrap();
        let a = temporary_name(tmp.path(), "x.gz").unwrap();
        let b = temporary_name(tmp.path(), "x.gz").unwrap();
        assert_ne!(a, b);
        open_private(&a, Access::CreateNew).unwrap();
        assert!(open_private(&a, Access::CreateNew).is_err(), "O_EXCL");
    }
}
