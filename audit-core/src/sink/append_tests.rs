//! Seals of files this writer wrote: the digest kept while appending must
//! equal the file's SHA-256, and a file others appended to is sealed with
//! the digest of all of it.

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::time::{Duration, SystemTime};

use super::*;
use crate::sink::seal::{read_index, SealOp, SEAL_FILE};
use crate::sink::storage::OsStorage;
use crate::stamp::sha256_hex;

fn noon() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(20_000 * 86_400 + 12 * 3600)
}

fn files(dir: &Path, max_file_size: u64) -> DailyFiles {
    let policy = RotationPolicy {
        max_file_size,
        max_files: 0,
    };
    DailyFiles::new(dir.to_owned(), policy, RetentionLimits::default())
}

fn append(d: &mut DailyFiles, batch: &[u8], rotated: &mut Vec<String>) {
    d.append(&mut OsStorage, &noon, batch, SyncMode::Never, rotated)
        .unwrap();
}

/// The index's entries as (op, file, size, sha256).
fn seals(dir: &Path) -> Vec<(SealOp, String, u64, String)> {
    read_index(&dir.join(SEAL_FILE))
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .map(|e| {
            assert!(e.hash_ok);
            let e = e.entry;
            (e.op, e.file, e.size.unwrap(), e.sha256.unwrap())
        })
        .collect()
}

#[test]
fn closed_and_exit_seals_from_the_running_digest_equal_the_files_sha256() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut d = files(dir, 40);
    let mut rotated = Vec::new();
    for n in 0..5 {
        append(
            &mut d,
            format!("{{\"line\":{n},\"pad\":\"xxxxxx\"}}\n").as_bytes(),
            &mut rotated,
        );
    }
    d.seal_on_exit(noon());
    let seals = seals(dir);
    assert_eq!(seals.len(), 5, "{seals:?}");
    for (op, file, size, sha) in &seals {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        assert_eq!(
            (*size, sha),
            (bytes.len() as u64, &sha256_hex(&bytes)),
            "{op:?} {file}"
        );
    }
    assert_eq!(seals.last().unwrap().0, SealOp::Exit);
}

#[test]
fn a_seal_takes_what_the_writer_wrote_not_what_is_read_back() {
    // Bytes changed in place (same size, same inode) after the writer wrote
    // them: the seal keeps the digest of what was written, so verify sees
    // the change instead of a seal that vouches for it.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut d = files(dir, 1 << 20);
    append(&mut d, b"{\"a\":1}\n", &mut Vec::new());
    let path = dir.join(active_name(&utc_date(noon())));
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.write_all_at(b"2", 5).unwrap();
    d.seal_on_exit(noon());
    let (_, _, size, sha) = seals(dir).pop().unwrap();
    assert_eq!((size, sha), (8, sha256_hex(b"{\"a\":1}\n")));
}

#[test]
fn a_file_another_writer_appended_to_is_sealed_with_all_of_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut d = files(dir, 1 << 20);
    let path = dir.join(active_name(&utc_date(noon())));
    append(&mut d, b"{\"mine\":1}\n", &mut Vec::new());
    // Another process's line between two of ours, then one after our last.
    let other = || {
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
    };
    other().write_all(b"{\"theirs\":1}\n").unwrap();
    append(&mut d, b"{\"mine\":2}\n", &mut Vec::new());
    other().write_all(b"{\"theirs\":2}\n").unwrap();
    d.seal_on_exit(noon());
    let all = std::fs::read(&path).unwrap();
    let (_, _, size, sha) = seals(dir).pop().unwrap();
    assert_eq!((size, sha), (all.len() as u64, sha256_hex(&all)));

    // Only a tail after our last write: caught up, still the whole file.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut d = files(dir, 1 << 20);
    let path = dir.join(active_name(&utc_date(noon())));
    append(&mut d, b"{\"mine\":1}\n", &mut Vec::new());
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(b"{\"theirs\":1}\n").unwrap();
    d.seal_on_exit(noon());
    let all = std::fs::read(&path).unwrap();
    let (_, _, size, sha) = seals(dir).pop().unwrap();
    assert_eq!((size, sha), (all.len() as u64, sha256_hex(&all)));
}
