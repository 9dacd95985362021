use super::*;

fn cut(c: &mut LineCutter, input: &[u8], eof: bool) -> Vec<Piece> {
    c.buf.extend_from_slice(input);
    let mut judge = |line: &[u8]| {
        if line.starts_with(b"deny") {
            Judgement::Refuse {
                reply: b"no\n".to_vec(),
                rule: "r".into(),
            }
        } else if line.starts_with(b"dry") {
            Judgement::DryRun { rule: "d".into() }
        } else if line.starts_with(b"swap") {
            Judgement::Replace(b"swapped\n".to_vec())
        } else {
            Judgement::Keep
        }
    };
    let mut oversized = |p: &[u8]| {
        if p.starts_with(b"deny") {
            Judgement::Refuse {
                reply: b"too long\n".to_vec(),
                rule: "oversized_request".into(),
            }
        } else {
            Judgement::Keep
        }
    };
    c.cut(eof, &mut judge, &mut oversized)
}

fn relay(b: &[u8]) -> Piece {
    Piece::Relay(Bytes::copy_from_slice(b))
}

#[test]
fn approved_lines_relay_in_one_run_and_refusals_are_cut_out() {
    let mut c = LineCutter::new(1 << 20);
    let pieces = cut(&mut c, b"a\nb\ndeny x\nc\npartial", false);
    assert_eq!(
        pieces,
        vec![
            relay(b"a\nb\n"),
            Piece::Refused {
                frame: Bytes::from_static(b"deny x\n"),
                reply: Bytes::from_static(b"no\n"),
                rule: "r".into()
            },
            relay(b"c\n"),
        ]
    );
    assert_eq!(&c.buf[..], b"partial");
    assert_eq!(cut(&mut c, b" end\n", false), vec![relay(b"partial end\n")]);
}

#[test]
fn dry_run_relays_then_notes_and_rewrites_replace() {
    let mut c = LineCutter::new(1 << 20);
    let pieces = cut(&mut c, b"dry\nswap\nz", true);
    assert_eq!(
        pieces,
        vec![
            relay(b"dry\n"),
            Piece::DryRun {
                frame: Bytes::from_static(b"dry\n"),
                rule: "d".into()
            },
            Piece::Rewritten {
                original: Bytes::from_static(b"swap\n"),
                rewritten: Bytes::from_static(b"swapped\n"),
            },
            relay(b"z"),
        ]
    );
}

#[test]
fn oversized_lines_pass_or_are_discarded_to_their_newline() {
    let mut c = LineCutter::new(8);
    let pieces = cut(&mut c, b"0123456789", false);
    assert_eq!(pieces, vec![relay(b"0123456789")]);
    assert_eq!(
        cut(&mut c, b"more\nok\n", false),
        vec![relay(b"more\n"), relay(b"ok\n")]
    );

    let pieces = cut(&mut c, b"deny-0123456789", false);
    assert!(
        matches!(&pieces[..], [Piece::Refused { rule, reply, .. }] if rule == "oversized_request" && &reply[..] == b"too long\n")
    );
    assert_eq!(cut(&mut c, b"still\nnext\n", false), vec![relay(b"next\n")]);
}

#[test]
fn whole_lines_over_the_limit_get_the_oversized_judgement() {
    let mut c = LineCutter::new(8);
    let pieces = cut(&mut c, b"deny-0123456789\n0123456789\nok\n", false);
    assert_eq!(
        pieces,
        vec![
            Piece::Refused {
                frame: Bytes::from_static(b"deny-0123456789\n"),
                reply: Bytes::from_static(b"too long\n"),
                rule: "oversized_request".into()
            },
            relay(b"0123456789\nok\n"),
        ]
    );
}
