//! Unit tests of the compliance verdicts.

use super::super::{Evidence, FileFacts, Setup, VerifyFacts};
use super::*;

fn inputs() -> Inputs {
    let evidence = Evidence {
        events: 10,
        sessions: 2,
        signed_sessions: 2,
        present: [10, 10, 10, 10, 10, 4],
        resource_events: 4,
        ..Evidence::default()
    };
    Inputs {
        evidence,
        setup: Setup {
            audit_enabled: true,
            redact: true,
            signing_key: true,
            max_age_days: 400,
            max_files: 1000,
            ..Setup::default()
        },
        files: FileFacts::default(),
        verify: VerifyFacts {
            ok: true,
            sessions: 2,
            with_key: true,
            ..VerifyFacts::default()
        },
    }
}

#[test]
fn retention_follows_every_limit() {
    let mut i = inputs();
    assert_eq!(retention(&i, 365).0, Status::Met);
    assert_eq!(retention(&i, 2190).0, Status::NotMet, "max_age_days 400");
    i.setup.max_age_days = 0;
    i.setup.max_files = 30;
    let (s, why) = retention(&i, 365);
    assert_eq!(s, Status::NotMet);
    assert!(why.contains("at most 30 day"), "{why}");
    i.setup.max_files = 10_000;
    i.setup.max_total_size_mb = 1;
    i.files.bytes = 10 << 20;
    assert_eq!(kept_days(&i), Some(0));
}

#[test]
fn integrity_needs_every_session_signed_and_checked() {
    let mut i = inputs();
    assert_eq!(integrity(&i).0, Status::Met);
    i.verify.with_key = false;
    assert_eq!(integrity(&i).0, Status::Partial);
    i.evidence.signed_sessions = 0;
    assert_eq!(integrity(&i).0, Status::NotMet);
    i.evidence.signed_sessions = 2;
    i.verify.ok = false;
    assert_eq!(integrity(&i).0, Status::NotMet);
}

#[test]
fn fields_and_combined_checks() {
    let mut i = inputs();
    assert_eq!(fields(&i).0, Status::Met);
    i.evidence.present[4] = 0;
    let (s, why) = fields(&i);
    assert_eq!(s, Status::NotMet);
    assert!(why.contains("origin 0.0%"), "{why}");
    i.files.loose.push("/a 644".into());
    let (s, why) = judge(Check::Confidentiality, &i);
    assert_eq!(s, Status::NotMet);
    assert!(why.contains("/a 644") && !why.contains("redacted"), "{why}");
}
