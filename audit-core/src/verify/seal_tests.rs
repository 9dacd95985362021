//! A directory checked against its seal index: files deleted, swapped,
//! truncated or added, sessions deleted, the index deleted or edited, and
//! retention told apart from tampering.

use super::tests::{session, verify, write_trail, Spec, GZ, PLAIN};
use super::*;
use crate::sign::{Checkpointer, SecretKey};
use crate::sink::seal::{Seal, SealLog, SEAL_FILE};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// The same secret key twice: one for the checkpoints, one for the seals.
pub(super) fn key_twice() -> (SecretKey, Arc<SecretKey>) {
    let tmp = tempfile::tempdir().unwrap();
    let (secret, _) =
        crate::sign::write_key_pair(&SecretKey::generate().unwrap(), &tmp.path().join("k"))
            .unwrap();
    let load = || SecretKey::load(&secret).unwrap();
    (load(), Arc::new(load()))
}

/// Seals `write_trail`'s two files as writers do: the part as closed (over
/// its uncompressed content), the active file at a writer's exit.
pub(super) fn seal_trail(dir: &Path, key: Option<Arc<SecretKey>>) {
    let part = GZ.strip_suffix(".gz").unwrap();
    let mut plain = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(dir.join(GZ)).unwrap())
        .read_to_end(&mut plain)
        .unwrap();
    std::fs::write(dir.join(part), plain).unwrap();
    let seals = [
        Seal::Closed {
            file: part.into(),
            from: "audit-2026-01-01.jsonl".into(),
        },
        Seal::Exit { file: PLAIN.into() },
    ];
    SealLog::new(key).append(dir, &seals, SystemTime::UNIX_EPOCH);
    std::fs::remove_file(dir.join(part)).unwrap();
}

/// A signed, sealed trail of sessions "a" and "bb"; returns the public key
/// and the key the writers seal with.
fn signed_trail_and_key(dir: &Path) -> (crate::sign::PublicKey, Arc<SecretKey>) {
    let (key, seal_key) = key_twice();
    let public = key.public();
    let mut cp = Checkpointer::new(key, 4, Duration::from_secs(60), Instant::now());
    let a = session("a", Some(&mut cp), &Spec::default());
    let b = session("bb", Some(&mut cp), &Spec::default());
    write_trail(dir, &a, &b);
    seal_trail(dir, Some(seal_key.clone()));
    (public, seal_key)
}

fn signed_trail(dir: &Path) -> crate::sign::PublicKey {
    signed_trail_and_key(dir).0
}

fn findings(report: &VerifyReport) -> Vec<SealFinding> {
    report
        .seals
        .iter()
        .flat_map(|c| c.findings.clone())
        .collect()
}

#[test]
fn a_sealed_signed_trail_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let public = signed_trail(tmp.path());
    let report = verify(tmp.path(), Some(&public));
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.seals[0].entries, 2);
    assert!(report.to_string().contains("2 entries, signed"), "{report}");
}

#[test]
fn a_deleted_file_is_detected_with_a_key() {
    let tmp = tempfile::tempdir().unwrap();
    let public = signed_trail(tmp.path());
    std::fs::remove_file(tmp.path().join(GZ)).unwrap();
    let report = verify(tmp.path(), Some(&public));
    assert!(!report.is_ok(), "{report}");
    assert!(
        matches!(&findings(&report)[..], [SealFinding::FileMissing { file, n: 1 }] if file == "audit-2026-01-01.0001.jsonl"),
        "{report}"
    );
}

#[test]
fn swapped_files_are_detected_with_a_key() {
    let tmp = tempfile::tempdir().unwrap();
    let public = signed_trail(tmp.path());
    // The part's content moves into the active file and the reverse.
    let part = std::fs::read(tmp.path().join(GZ)).unwrap();
    let active = std::fs::read(tmp.path().join(PLAIN)).unwrap();
    std::fs::remove_file(tmp.path().join(GZ)).unwrap();
    let gz = |bytes: &[u8]| {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    };
    std::fs::write(tmp.path().join(GZ), gz(&active)).unwrap();
    let mut plain = Vec::new();
    flate2::read::MultiGzDecoder::new(&part[..])
        .read_to_end(&mut plain)
        .unwrap();
    std::fs::write(tmp.path().join(PLAIN), plain).unwrap();
    let report = verify(tmp.path(), Some(&public));
    assert!(!report.is_ok(), "{report}");
    let f = findings(&report);
    assert!(
        f.iter().any(|x| matches!(
            x,
            SealFinding::FileChanged { .. } | SealFinding::FileTruncated { .. }
        )),
        "{report}"
    );
}

#[test]
fn a_truncated_file_and_a_deleted_session_are_detected() {
    let tmp = tempfile::tempdir().unwrap();
    let public = signed_trail(tmp.path());
    // Session "bb"'s lines removed from the active file: each remaining
    // session chain may look fine, the seal does not.
    let path = tmp.path().join(PLAIN);
    let text = std::fs::read_to_string(&path).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| !l.contains("\"session_id\":\"bb\""))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&path, kept).unwrap();
    let report = verify(tmp.path(), Some(&public));
    assert!(
        findings(&report)
            .iter()
            .any(|x| matches!(x, SealFinding::FileTruncated { file, .. } if file == PLAIN)),
        "{report}"
    );
    assert!(report.to_string().contains("file truncated"), "{report}");
}

#[test]
fn an_added_part_and_a_deleted_index_are_detected() {
    let tmp = tempfile::tempdir().unwrap();
    let public = signed_trail(tmp.path());
    let added = tmp.path().join("audit-2026-01-01.0002.jsonl");
    std::fs::copy(tmp.path().join(PLAIN), &added).unwrap();
    let report = verify(tmp.path(), Some(&public));
    assert!(
        matches!(&findings(&report)[..], [SealFinding::NotSealed { .. }]),
        "{report}"
    );
    std::fs::remove_file(&added).unwrap();
    std::fs::remove_file(tmp.path().join(SEAL_FILE)).unwrap();
    let report = verify(tmp.path(), Some(&public));
    assert!(!report.is_ok(), "{report}");
    assert!(report.to_string().contains("no seal index (.seals)"));
    // Without a key a missing index is a note: nothing claimed it exists.
    assert!(verify(tmp.path(), None).is_ok());
}

#[test]
fn an_edited_or_unsigned_index_entry_is_detected() {
    let tmp = tempfile::tempdir().unwrap();
    let public = signed_trail(tmp.path());
    // An attacker appends an entry of their own (no key): unsigned.
    let seal = Seal::Deleted {
        file: "audit-2025-12-31.jsonl".into(),
    };
    SealLog::default().append(tmp.path(), &[seal], SystemTime::UNIX_EPOCH);
    let report = verify(tmp.path(), Some(&public));
    assert!(
        findings(&report).contains(&SealFinding::EntryNotSigned { n: 3 }),
        "{report}"
    );
    // Deleting the first entry breaks the index's chain.
    let path = tmp.path().join(SEAL_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    let rest: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, rest).unwrap();
    let report = verify(tmp.path(), Some(&public));
    assert!(
        findings(&report).contains(&SealFinding::EntryChainBroken { n: 2 }),
        "{report}"
    );
}

#[test]
fn retention_deletion_is_a_note_not_a_break() {
    let tmp = tempfile::tempdir().unwrap();
    let (public, seal_key) = signed_trail_and_key(tmp.path());
    std::fs::remove_file(tmp.path().join(GZ)).unwrap();
    let report = verify(tmp.path(), Some(&public));
    assert!(
        !report.seals[0].is_ok(true),
        "unrecorded deletion: {report}"
    );
    // Retention as the writer does it: delete, then record under the key.
    let deleted = Seal::Deleted {
        file: "audit-2026-01-01.0001.jsonl".into(),
    };
    SealLog::new(Some(seal_key)).append(tmp.path(), &[deleted], SystemTime::UNIX_EPOCH);
    let report = verify(tmp.path(), Some(&public));
    assert!(
        matches!(
            &findings(&report)[..],
            [SealFinding::DeletedByRetention { n: 3, .. }]
        ),
        "{report}"
    );
    assert!(report.seals[0].is_ok(true), "{report}");
    assert!(report.to_string().contains("deleted by retention"));
    // The sessions' first halves went with the file: retention, not a break.
    let a = &report.sessions[0];
    assert!(a.is_ok() && a.retention_gap.is_some(), "{report}");
}

/// The real writer seals what it closes and deletes: rotation by size,
/// retention by count, and the active file at exit.
#[test]
fn the_writer_seals_rotation_retention_and_exit() {
    use crate::event::{Event, EventType};
    use crate::sink::{spawn_writer_with, RotationPolicy, SinkTarget, WriterConfig};
    use crate::stamp::Stamper;
    let tmp = tempfile::tempdir().unwrap();
    let (key, seal_key) = key_twice();
    let config = WriterConfig {
        rotation: RotationPolicy {
            max_file_size: 8 * 1024,
            max_files: 3,
        },
        seal_key: Some(seal_key),
        // Files this young are retention's to delete only without a minimum age.
        retention: crate::sink::RetentionLimits {
            min_age: Duration::ZERO,
            ..Default::default()
        },
        ..WriterConfig::default()
    };
    let writer = spawn_writer_with(SinkTarget::Dir(tmp.path().into()), config).unwrap();
    let mut stamper = Stamper::with_random_seed(super::tests::identity("w"));
    for n in 0..200 {
        let mut batch = Vec::new();
        let e = Event::new(EventType::ToolCall, SystemTime::now()).detail("n", n);
        stamper.stamp(&e, &mut batch);
        writer.write(batch);
        writer.settle(); // one append per batch: rotation by size is exact
    }
    writer.finish(Duration::from_secs(60)).unwrap();
    let report = verify(tmp.path(), Some(&key.public()));
    let f = findings(&report);
    let retained = |x: &SealFinding| matches!(x, SealFinding::DeletedByRetention { .. });
    assert!(f.iter().any(retained), "{report}");
    assert!(f.iter().all(retained), "{report}");
    assert!(report.seals[0].is_ok(true), "{report}");
    // A part deleted by hand is not retention.
    let part = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".jsonl.gz"))
        .unwrap();
    std::fs::remove_file(&part).unwrap();
    let report = verify(tmp.path(), Some(&key.public()));
    assert!(
        findings(&report)
            .iter()
            .any(|x| matches!(x, SealFinding::FileMissing { .. })),
        "{report}"
    );
}

/// A crashed writer's torn line, ended by the next writer: recorded as
/// `repaired`, so verify skips it; the same fragment elsewhere is a break.
#[test]
fn a_repaired_torn_line_is_skipped_and_an_unrecorded_one_is_a_break() {
    use crate::event::{Event, EventType};
    use crate::sink::{daily_path, spawn_writer_with, SinkTarget, WriterConfig};
    use crate::stamp::Stamper;
    let tmp = tempfile::tempdir().unwrap();
    let active = daily_path(tmp.path(), SystemTime::UNIX_EPOCH);
    let a = session("a", None, &Spec::default());
    let mut torn = a.concat();
    torn.extend_from_slice(&a[0][..40]);
    std::fs::write(&active, &torn).unwrap();
    let config = WriterConfig {
        clock: Arc::new(|| SystemTime::UNIX_EPOCH),
        ..WriterConfig::default()
    };
    let writer = spawn_writer_with(SinkTarget::Dir(tmp.path().into()), config).unwrap();
    let mut stamper = Stamper::with_random_seed(super::tests::identity("next"));
    let mut batch = Vec::new();
    let start = Event::new(EventType::SessionStart, SystemTime::UNIX_EPOCH)
        .detail("chain_seed", stamper.seed_hex());
    stamper.stamp(&start, &mut batch);
    writer.write(batch);
    writer.finish(Duration::from_secs(60)).unwrap();
    let report = verify(tmp.path(), None);
    assert!(
        matches!(report.issues[..], [LineIssue::Repaired(_)]),
        "{report}"
    );
    assert!(report.issues.iter().all(|i| !i.is_damage()), "{report}");
    // Without the index entry the fragment is an inserted line.
    std::fs::remove_file(tmp.path().join(SEAL_FILE)).unwrap();
    let report = verify(tmp.path(), None);
    assert!(
        matches!(report.issues[..], [LineIssue::Unreadable(..)]),
        "{report}"
    );
}
