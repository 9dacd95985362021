//! Trails damaged as an attacker with write access to the directory would:
//! a forged gap, an inserted line, an over-long line, a decompression bomb.

use super::tests::{breaks_of, session, verify, write_plain, write_trail, Spec, GZ, PLAIN};
use super::*;
use crate::sign::{Checkpointer, SecretKey};
use crate::stamp::{chain_hashes, sha256_hex};
use std::io::Write;
use std::time::{Duration, Instant};

/// A line the attacker stamps by hand: `body` is the JSON object with its
/// `prev_hash` as last member; the hash is computed as the stamper does.
fn forge(body: &str) -> Vec<u8> {
    let hash = sha256_hex(body.as_bytes());
    let mut line = body.as_bytes()[..body.len() - 1].to_vec();
    line.extend_from_slice(format!(",\"hash\":\"{hash}\"}}\n").as_bytes());
    line
}

fn hashes(line: &[u8]) -> (String, String) {
    let (p, h) = chain_hashes(line.trim_ascii_end()).unwrap();
    (p.to_owned(), h.to_owned())
}

/// Deletes seq 4..=6 of a signed session and puts in their place one forged
/// `audit_dropped` (seq 4, chained to seq 3) announcing seq 5..=6 with the
/// hashes an attacker can read: the gap's edges as the lines around it show.
#[test]
fn a_forged_gap_breaks_the_chain_even_with_valid_signatures() {
    let tmp = tempfile::tempdir().unwrap();
    let key = SecretKey::generate().unwrap();
    let public = key.public();
    let mut cp = Checkpointer::new(key, 4, Duration::from_secs(60), Instant::now());
    let mut a = session("a", Some(&mut cp), &Spec::default());
    let (_, h3) = hashes(&a[2]);
    let (p7, _) = hashes(&a[6]);
    let forged = forge(&format!(
        r#"{{"v":1,"event_id":"x","timestamp":"1970-01-01T00:00:00.000Z","type":"audit_dropped","severity":"warning","outcome":"failure","session_id":"a","server":"fs","user":"alice","seq":4,"details":{{"stage":"writer","reason":"storage","lines":2,"first_seq":5,"last_seq":6,"first_prev_hash":"{h3}","last_hash":"{p7}"}},"prev_hash":"{h3}"}}"#
    ));
    a.splice(3..6, [forged]);
    write_trail(tmp.path(), &a, &session("bb", None, &Spec::default()));
    let report = verify(tmp.path(), Some(&public));
    assert!(!report.is_ok(), "{report}");
    assert!(
        matches!(
            breaks_of(&report, "a")[..],
            [Break::Unbridged {
                first: 5,
                last: 6,
                ..
            }]
        ),
        "{report}"
    );
    assert!(report.to_string().contains("forged announcement"));
}

/// The same gap announced after it, but with a made-up `last_hash`: the
/// line after the gap does not name it.
#[test]
fn an_announcement_whose_hashes_do_not_meet_the_next_line_is_a_break() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = Spec {
        dropped: Some((4, 5)),
        ..Spec::default()
    };
    let honest = session("a", None, &spec);
    let mut a = honest.clone();
    a.drain(3..5);
    write_trail(tmp.path(), &a, &session("bb", None, &Spec::default()));
    assert!(verify(tmp.path(), None).is_ok());
    // Deleting seq 6 too and stretching nothing: the bridge now ends at 5
    // while the line after names 6.
    let mut b = honest;
    b.drain(3..6);
    write_trail(tmp.path(), &b, &session("bb", None, &Spec::default()));
    let report = verify(tmp.path(), None);
    assert!(!report.is_ok(), "{report}");
}

#[test]
fn an_inserted_line_that_is_not_json_is_a_break_not_a_torn_line() {
    let tmp = tempfile::tempdir().unwrap();
    let mut a = session("a", None, &Spec::default());
    a.insert(a.len() - 3, b"{\"seq\":\"forged\", not json\n".to_vec());
    write_trail(tmp.path(), &a, &session("bb", None, &Spec::default()));
    let report = verify(tmp.path(), None);
    assert!(!report.is_ok(), "{report}");
    assert!(
        matches!(report.issues[..], [LineIssue::Unreadable(..)]),
        "{report}"
    );
    assert!(report.to_string().contains("inserted or corrupted line"));
}

#[test]
fn an_over_long_line_is_reported_and_not_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let a = session("a", None, &Spec::default());
    let mut lines = a.clone();
    let mut long = vec![b'x'; MAX_LINE_BYTES + 10];
    long.push(b'\n');
    lines.insert(2, long);
    write_plain(&tmp.path().join(PLAIN), &lines);
    let report = verify(tmp.path(), None);
    assert!(
        matches!(report.issues[..], [LineIssue::Overlong(_, n)] if n == MAX_LINE_BYTES as u64 + 10),
        "{report}"
    );
    assert!(!report.is_ok());
    // The lines around it are read: the chain of "a" is intact.
    assert!(breaks_of(&report, "a").is_empty(), "{report}");
}

/// A gzip member that inflates to 256 MiB of one byte, no newline: read as
/// a stream, reported, never held.
#[test]
fn a_decompression_bomb_is_read_as_a_stream() {
    let tmp = tempfile::tempdir().unwrap();
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(tmp.path().join(GZ)).unwrap(),
        flate2::Compression::best(),
    );
    let block = vec![b'a'; 1 << 20];
    for _ in 0..256 {
        enc.write_all(&block).unwrap();
    }
    enc.finish().unwrap();
    let mut trail = read::Trail::default();
    let digest =
        read::read_file(&tmp.path().join(GZ), &read::Expect::default(), &mut trail).unwrap();
    assert_eq!(digest.size, 256 << 20);
    assert!(
        matches!(trail.issues[..], [LineIssue::Overlong(_, n)] if n == 256 << 20),
        "{:?}",
        trail.issues
    );
}

mod fuzz {
    //! The reader and the checks on any input: no panic, every byte
    //! accounted for (the bounded run CI does; see docs/verify.md).

    use super::super::tests::{session, Spec};
    use super::super::*;
    use crate::sink::seal::parse_entry;
    use proptest::prelude::*;
    use std::sync::Arc;

    /// A real session's bytes, then damaged: bytes flipped, cut or inserted.
    fn damaged() -> impl Strategy<Value = Vec<u8>> {
        let base = session("a", None, &Spec::default()).concat();
        let len = base.len();
        prop::collection::vec((0..len, any::<u8>(), 0u8..3), 0..8).prop_map(move |edits| {
            let mut b = base.clone();
            for (at, byte, op) in edits {
                let at = at.min(b.len().saturating_sub(1));
                match op {
                    0 if !b.is_empty() => b[at] = byte,
                    1 => b.truncate(at),
                    _ => b.insert(at, byte),
                }
            }
            b
        })
    }

    fn check(bytes: &[u8]) {
        let mut trail = read::Trail::default();
        let name: Arc<str> = "f".into();
        let digest = read::read_lines(&name, bytes, &read::Expect::default(), &mut trail).unwrap();
        assert_eq!(digest.size, bytes.len() as u64);
        assert_eq!(digest.sha256, crate::stamp::sha256_hex(bytes));
        let lines = bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count();
        assert_eq!(trail.records.len() + trail.issues.len(), lines);
        let report = check_session("a", trail.records, None);
        let _: Vec<String> = report.breaks.iter().map(ToString::to_string).collect();
        for line in bytes.split(|b| *b == b'\n') {
            let _ = parse_entry(line);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn damaged_trails_never_panic(bytes in damaged()) {
            check(&bytes);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
            check(&bytes);
        }
    }
}
