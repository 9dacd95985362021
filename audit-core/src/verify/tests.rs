//! Trails stamped by the real [`Stamper`], damaged in the ways the issue
//! lists, across `.jsonl` and `.jsonl.gz`.

use super::*;
use crate::event::{Event, EventType};
use crate::sign::{Checkpointer, SecretKey};
use crate::stamp::{SessionIdentity, Stamper};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

const EVENTS: u64 = 12;

/// What to stamp: a `tool_call` per event, a `checkpoint` every 4 events,
/// optionally an edited event (`edit`), an `audit_dropped` announcing
/// `dropped` seqs, and signatures copied from another trail (`forged`).
#[derive(Default)]
pub(super) struct Spec<'a> {
    pub(super) edit: Option<u64>,
    pub(super) dropped: Option<(u64, u64)>,
    pub(super) forged: Option<&'a BTreeMap<u64, String>>,
    /// Fingerprint to declare in `session_start` without holding the key.
    pub(super) signing_key: Option<String>,
}

pub(super) fn identity(id: &str) -> SessionIdentity {
    SessionIdentity {
        session_id: id.into(),
        server: "fs".into(),
        user: "alice".into(),
        host: "host-1".into(),
    }
}

/// Stamps one session; returns its lines (each with its newline).
pub(super) fn session(id: &str, key: Option<&mut Checkpointer>, spec: &Spec) -> Vec<Vec<u8>> {
    let mut key = key;
    let mut stamper = Stamper::new(identity(id), [id.len() as u8; 32]);
    let now = Instant::now();
    let mut lines = Vec::new();
    let mut emit =
        |stamper: &mut Stamper, mut event: Event, key: &mut Option<&mut Checkpointer>| {
            let seq = stamper.count() + 1;
            let signed = matches!(
                event.event_type,
                EventType::Checkpoint | EventType::SessionEnd
            );
            if let (true, Some(sigs)) = (signed, spec.forged) {
                event
                    .details
                    .insert("signature".into(), sigs[&seq].clone().into());
            } else if let (true, Some(c)) = (signed, key.as_deref_mut()) {
                c.sign_next(&mut event, stamper, now);
            }
            if event.event_type == EventType::AuditDropped {
                bridge(&mut event, &lines);
            }
            let mut out = Vec::new();
            stamper.stamp(&event, &mut out);
            lines.push(out);
        };
    let at = SystemTime::UNIX_EPOCH;
    let mut start =
        Event::new(EventType::SessionStart, at).detail("chain_seed", stamper.seed_hex());
    if let Some(fp) = key
        .as_deref()
        .map(|c| c.fingerprint())
        .or(spec.signing_key.clone())
    {
        start = start.detail("signing_key", fp);
    }
    emit(&mut stamper, start, &mut key);
    for n in 1..=EVENTS {
        let value = if spec.edit == Some(n) { 999 } else { n };
        emit(
            &mut stamper,
            Event::new(EventType::ToolCall, at).detail("n", value),
            &mut key,
        );
        if let Some((first, last)) = spec.dropped.filter(|_| n == EVENTS / 2) {
            let e = Event::new(EventType::AuditDropped, at)
                .detail("first_seq", first)
                .detail("last_seq", last);
            emit(&mut stamper, e, &mut key);
        }
        if n % 4 == 0 {
            emit(
                &mut stamper,
                Event::new(EventType::Checkpoint, at),
                &mut key,
            );
        }
    }
    let end = Event::new(EventType::SessionEnd, at).detail("event_count", stamper.count() + 1);
    emit(&mut stamper, end, &mut key);
    lines
}

/// Adds the chain hashes at the edges of the announced range, as the
/// writer's ledger does (`lines[i]` holds seq `i + 1`).
fn bridge(event: &mut Event, lines: &[Vec<u8>]) {
    let seq = |k: &str| event.details[k].as_u64().unwrap() as usize;
    let (first, last) = (seq("first_seq"), seq("last_seq"));
    let hashes = |i: usize| crate::stamp::chain_hashes(lines[i - 1].trim_ascii_end()).unwrap();
    let (prev, hash) = (hashes(first).0.to_owned(), hashes(last).1.to_owned());
    event.details.insert("first_prev_hash".into(), prev.into());
    event.details.insert("last_hash".into(), hash.into());
}

pub(super) fn write_plain(path: &Path, lines: &[Vec<u8>]) {
    std::fs::write(path, lines.concat()).unwrap();
}

pub(super) fn write_gz(path: &Path, lines: &[Vec<u8>]) {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&lines.concat()).unwrap();
    std::fs::write(path, enc.finish().unwrap()).unwrap();
}

pub(super) const GZ: &str = "audit-2026-01-01.0001.jsonl.gz";
pub(super) const PLAIN: &str = "audit-2026-01-01.jsonl";

/// Writes sessions "a" and "bb" interleaved: the first half of each in the
/// gzipped part, the rest in the active file.
pub(super) fn write_trail(dir: &Path, a: &[Vec<u8>], b: &[Vec<u8>]) {
    let (a1, a2) = a.split_at(a.len() / 2);
    let (b1, b2) = b.split_at(b.len() / 2);
    write_gz(&dir.join(GZ), &[a1, b1].concat());
    write_plain(&dir.join(PLAIN), &[a2, b2].concat());
}

pub(super) fn verify(dir: &Path, key: Option<&crate::sign::PublicKey>) -> VerifyReport {
    verify_paths(&[dir.to_owned()], key).unwrap()
}

pub(super) fn breaks_of(report: &VerifyReport, id: &str) -> Vec<Break> {
    report
        .sessions
        .iter()
        .find(|s| s.session_id == id)
        .unwrap()
        .breaks
        .clone()
}

pub(super) fn loc(file: &Path, line: usize) -> Location {
    Location {
        file: file.display().to_string().into(),
        line,
    }
}

#[test]
fn untouched_trail_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    write_trail(
        tmp.path(),
        &session("a", None, &Spec::default()),
        &session("bb", None, &Spec::default()),
    );
    let report = verify(tmp.path(), None);
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.sessions.len(), 2);
    assert_eq!(report.files.len(), 2);
    assert_eq!(report.sessions[0].last_seq, 1 + EVENTS + EVENTS / 4 + 1);
    assert!(report.to_string().ends_with("OK"), "{report}");
}

/// An unreadable line fails the trail, and the summary says it is what
/// failed (no session is broken); the JSON form says the same.
#[test]
fn an_unreadable_line_is_named_as_what_failed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut lines = session("a", None, &Spec::default());
    lines.insert(2, b"not an audit line\n".to_vec());
    let file = tmp.path().join(PLAIN);
    write_plain(&file, &lines);
    let report = verify_paths(&[file], None).unwrap();
    let text = report.to_string();
    assert!(
        text.ends_with("1 sessions, 0 broken, 1 unreadable lines: FAILED"),
        "{text}"
    );
    let json = report.to_json();
    assert_eq!(json["ok"], false);
    assert_eq!(json["sessions_broken"], 0);
    assert_eq!(json["damaged_lines"].as_array().unwrap().len(), 1, "{json}");
    assert_eq!(json["sessions"][0]["ok"], true);
    // The same bytes from a reader (stdin), plain and gzipped.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &lines.concat()).unwrap();
    for bytes in [lines.concat(), gz.finish().unwrap()] {
        let read = super::verify_reader("stdin", &bytes[..], None).unwrap();
        let text = read.to_string();
        assert!(
            text.starts_with("stdin:3: inserted or corrupted line"),
            "{text}"
        );
        assert!(
            text.ends_with("0 broken, 1 unreadable lines: FAILED"),
            "{text}"
        );
    }
    let clean = session("a", None, &Spec::default()).concat();
    assert!(super::verify_reader("stdin", &clean[..], None)
        .unwrap()
        .is_ok());
}

#[test]
fn one_edited_byte_is_located_in_a_gzipped_and_a_plain_file() {
    for (file, line_no) in [(GZ, 2usize), (PLAIN, 3)] {
        let tmp = tempfile::tempdir().unwrap();
        write_trail(
            tmp.path(),
            &session("a", None, &Spec::default()),
            &session("bb", None, &Spec::default()),
        );
        let path = tmp.path().join(file);
        let mut text = read_text(&path);
        let line_start: usize = text
            .split_inclusive('\n')
            .take(line_no - 1)
            .map(str::len)
            .sum();
        let at = line_start + text[line_start..].find("\"fs\"").unwrap() + 1;
        text.replace_range(at..at + 1, "g");
        if file == GZ {
            write_gz(&path, &[text.into_bytes()]);
        } else {
            std::fs::write(&path, text).unwrap();
        }
        let report = verify(tmp.path(), None);
        assert!(!report.is_ok());
        let broken: Vec<Break> = report
            .sessions
            .iter()
            .flat_map(|s| s.breaks.clone())
            .collect();
        assert_eq!(broken.len(), 1, "{report}");
        assert!(
            matches!(&broken[0], Break::Modified { at, .. } if *at == loc(&path, line_no)),
            "{report}"
        );
        assert!(report
            .to_string()
            .contains(&format!("line modified: {}:{line_no}", path.display())));
    }
}

fn read_text(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    if path.extension().is_some_and(|e| e == "gz") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(&bytes[..]), &mut s)
            .unwrap();
        s
    } else {
        String::from_utf8(bytes).unwrap()
    }
}

#[test]
fn a_deleted_line_is_a_missing_event() {
    let tmp = tempfile::tempdir().unwrap();
    let mut a = session("a", None, &Spec::default());
    a.remove(4); // seq 5
    write_trail(tmp.path(), &a, &session("bb", None, &Spec::default()));
    let report = verify(tmp.path(), None);
    let gz = tmp.path().join(GZ);
    assert_eq!(
        breaks_of(&report, "a"),
        vec![Break::Missing {
            first: 5,
            last: 5,
            after: Some(loc(&gz, 4))
        }],
        "{report}"
    );
    assert!(breaks_of(&report, "bb").is_empty());
}

#[test]
fn a_loss_announced_by_audit_dropped_is_not_a_break() {
    let tmp = tempfile::tempdir().unwrap();
    let mut a = session(
        "a",
        None,
        &Spec {
            dropped: Some((4, 5)),
            ..Spec::default()
        },
    );
    a.drain(3..5); // seq 4 and 5
    write_trail(tmp.path(), &a, &session("bb", None, &Spec::default()));
    let report = verify(tmp.path(), None);
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.sessions[0].announced_losses, vec![(4, 5)]);
    // Deleting one more line next to the announced range is still caught.
    a.remove(3); // seq 6
    write_trail(tmp.path(), &a, &session("bb", None, &Spec::default()));
    let report = verify(tmp.path(), None);
    assert!(
        matches!(
            breaks_of(&report, "a")[..],
            [Break::Missing {
                first: 4,
                last: 6,
                ..
            }]
        ),
        "{report}"
    );
}

#[test]
fn a_reordered_pair_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let mut a = session("a", None, &Spec::default());
    a.swap(1, 2); // seq 2 and 3
    write_trail(tmp.path(), &a, &session("bb", None, &Spec::default()));
    let report = verify(tmp.path(), None);
    let gz = tmp.path().join(GZ);
    assert_eq!(
        breaks_of(&report, "a"),
        vec![Break::Reordered {
            seq: 2,
            at: loc(&gz, 3),
            after_seq: 3
        }],
        "{report}"
    );
}

#[test]
fn a_truncated_session_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let mut a = session("a", None, &Spec::default());
    let last = a.len() as u64;
    a.truncate(a.len() - 3);
    write_trail(tmp.path(), &a, &session("bb", None, &Spec::default()));
    let report = verify(tmp.path(), None);
    assert_eq!(
        breaks_of(&report, "a"),
        vec![Break::Truncated { last_seq: last - 3 }]
    );
    assert!(
        report
            .to_string()
            .contains("truncated: no session_end after seq"),
        "{report}"
    );
}

#[test]
fn a_torn_last_line_is_skipped_not_tampering() {
    let tmp = tempfile::tempdir().unwrap();
    let a = session("a", None, &Spec::default());
    let b = session("bb", None, &Spec::default());
    write_trail(tmp.path(), &a, &b);
    let plain = tmp.path().join(PLAIN);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&plain)
        .unwrap();
    f.write_all(&b[0][..40]).unwrap();
    let report = verify(tmp.path(), None);
    let lines = (a.len() - a.len() / 2) + (b.len() - b.len() / 2);
    assert_eq!(report.issues, vec![LineIssue::Torn(loc(&plain, lines + 1))]);
    assert!(report.is_ok(), "{report}");
    assert!(report.to_string().contains("torn line"));
}

#[test]
fn signed_trail_verifies_with_its_key_only() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, seal_key) = super::seal_tests::key_twice();
    let public = key.public();
    let mut cp = Checkpointer::new(key, 4, Duration::from_secs(60), Instant::now());
    write_trail(
        tmp.path(),
        &session("a", Some(&mut cp), &Spec::default()),
        &session("bb", Some(&mut cp), &Spec::default()),
    );
    super::seal_tests::seal_trail(tmp.path(), Some(seal_key));
    let report = verify(tmp.path(), Some(&public));
    assert!(report.is_ok(), "{report}");
    assert!(report
        .sessions
        .iter()
        .all(|s| s.signed_through == Some(s.last_seq)));
    let other = SecretKey::generate().unwrap().public();
    let report = verify(tmp.path(), Some(&other));
    assert!(
        matches!(
            breaks_of(&report, "a")[0],
            Break::NotSignedByKey { found: Some(_) }
        ),
        "{report}"
    );
}

#[test]
fn a_recomputed_chain_passes_the_hash_check_but_fails_the_key_check() {
    let tmp = tempfile::tempdir().unwrap();
    let key = SecretKey::generate().unwrap();
    let public = key.public();
    let mut cp = Checkpointer::new(key, 4, Duration::from_secs(60), Instant::now());
    let honest = session("a", Some(&mut cp), &Spec::default());
    // The forger edits event n=2 and re-stamps the whole session (same seed,
    // hashes all consistent), copying the signatures it cannot make.
    let sigs: BTreeMap<u64, String> = honest
        .iter()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_slice(l).unwrap();
            let sig = v["details"]["signature"].as_str()?.to_owned();
            Some((v["seq"].as_u64().unwrap(), sig))
        })
        .collect();
    let forged = session(
        "a",
        None,
        &Spec {
            edit: Some(2),
            forged: Some(&sigs),
            signing_key: Some(public.fingerprint()),
            ..Spec::default()
        },
    );
    write_trail(tmp.path(), &forged, &session("bb", None, &Spec::default()));
    let no_key = verify(tmp.path(), None);
    assert!(
        breaks_of(&no_key, "a").is_empty(),
        "hash-only mode cannot see it: {no_key}"
    );
    let with_key = verify(tmp.path(), Some(&public));
    let broken = breaks_of(&with_key, "a");
    assert!(!broken.is_empty());
    assert!(
        broken
            .iter()
            .all(|b| matches!(b, Break::BadSignature { .. })),
        "{with_key}"
    );
    assert_eq!(with_key.sessions[0].signed_through, None, "{with_key}");
}
