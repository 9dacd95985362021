//! Writing a report to a file: a private file (0600) created beside the
//! target with `O_EXCL` and no link followed, filled, synced, then renamed
//! over the target, so a reader never sees half a report and a link
//! planted at the target's name is replaced, not followed.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use crate::sink::private_file::{open_private, temporary_name, Access};

/// Writes what `write` produces to `path` as described in the module docs.
pub fn write_private(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let stem = path
        .file_name()
        .map_or("report".into(), |n| n.to_string_lossy().into_owned());
    let tmp = temporary_name(dir, &stem)?;
    let result = (|| {
        let mut out = BufWriter::new(open_private(&tmp, Access::CreateNew)?);
        write(&mut out)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, MetadataExt};

    #[test]
    fn writes_0600_and_replaces_a_link_without_following_it() {
        let tmp = tempfile::tempdir().unwrap();
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let out = tmp.path().join("report.html");
        symlink(&victim, &out).unwrap();
        write_private(&out, |w| w.write_all(b"<html>")).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        let meta = std::fs::symlink_metadata(&out).unwrap();
        assert!(meta.file_type().is_file());
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert_eq!(std::fs::read(&out).unwrap(), b"<html>");
        assert_eq!(
            std::fs::read_dir(tmp.path()).unwrap().count(),
            2,
            "no temporary file left"
        );
    }
}
