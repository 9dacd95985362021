//! The SHA-256 of the active audit file, kept by its writer as it appends,
//! so that sealing the file (`closed`, `exit` in [`super::seal`]) need not
//! read back what the writer wrote itself.
//!
//! The digest covers the file's first `len` bytes. Bytes that reached the
//! file some other way (another process appending under the directory lock,
//! a fragment a failed write left) are read from the file and hashed before
//! anything follows them ([`RunningDigest::catch_up`]), so the digest is
//! always of the file's content as it stands, never of only our part of it.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};

use sha2::{Digest, Sha256};

/// SHA-256 of a file's first `len` bytes, extended as the file grows.
#[derive(Clone)]
pub(crate) struct RunningDigest {
    hasher: Sha256,
    len: u64,
}

impl std::fmt::Debug for RunningDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningDigest")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl Default for RunningDigest {
    fn default() -> RunningDigest {
        RunningDigest {
            hasher: Sha256::new(),
            len: 0,
        }
    }
}

impl RunningDigest {
    /// Bytes covered so far.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Adds `bytes`, just appended at offset `len`.
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// Reads and hashes `file`'s bytes from `len` up to `size` (what others
    /// appended since). An error if the file is shorter than what was
    /// hashed: it was cut, so the digest no longer describes it.
    pub(crate) fn catch_up(&mut self, file: &File, size: u64) -> io::Result<()> {
        if size < self.len {
            return Err(io::Error::other("the file is shorter than what was hashed"));
        }
        let mut buf = vec![0u8; (size - self.len).min(64 * 1024) as usize];
        while self.len < size {
            let want = (size - self.len).min(buf.len() as u64) as usize;
            let n = file.read_at(&mut buf[..want], self.len)?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.update(&buf[..n]);
        }
        Ok(())
    }

    /// Size and hex SHA-256 of the whole of `file` as it is now: the digest
    /// caught up to its current size.
    pub(crate) fn of_file(&self, file: &File) -> io::Result<(u64, String)> {
        let mut digest = self.clone();
        digest.catch_up(file, file.metadata()?.size())?;
        Ok((digest.len, hex::encode(digest.hasher.finalize())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stamp::sha256_hex;
    use std::io::Write;

    fn file_with(bytes: &[u8]) -> (tempfile::NamedTempFile, File) {
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        tmp.write_all(bytes).unwrap();
        let f = tmp.reopen().unwrap();
        (tmp, f)
    }

    #[test]
    fn what_was_written_hashes_as_the_file() {
        let (_tmp, f) = file_with(b"one\ntwo\n");
        let mut d = RunningDigest::default();
        d.update(b"one\n");
        d.update(b"two\n");
        assert_eq!(d.of_file(&f).unwrap(), (8, sha256_hex(b"one\ntwo\n")));
    }

    #[test]
    fn bytes_appended_by_others_are_read_and_hashed_in_place() {
        // Ours, then another writer's line, then ours again.
        let (mut tmp, f) = file_with(b"ours\nTHEIRS\n");
        let mut d = RunningDigest::default();
        d.update(b"ours\n");
        d.catch_up(&f, 12).unwrap();
        tmp.write_all(b"ours again\n").unwrap();
        d.update(b"ours again\n");
        tmp.write_all(b"theirs at the end\n").unwrap();
        let all = std::fs::read(tmp.path()).unwrap();
        assert_eq!(d.of_file(&f).unwrap(), (all.len() as u64, sha256_hex(&all)));
        assert_eq!(d.len(), 23, "of_file leaves the running digest as it was");
    }

    #[test]
    fn a_file_cut_below_what_was_hashed_is_an_error() {
        let (_tmp, f) = file_with(b"ab");
        let mut d = RunningDigest::default();
        d.update(b"abc");
        assert!(d.of_file(&f).is_err());
    }
}
