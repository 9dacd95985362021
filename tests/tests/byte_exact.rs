//! The relay is byte-exact in both directions.
//!
//! A scripted fake server and this test (as the client) exchange frames with
//! odd whitespace, CRLF, unicode and escapes, empty lines, invalid UTF-8, a
//! 16 MiB frame (over the default parse limit), a line that is not JSON and a
//! last line without a newline. Both sides write in uneven chunks. Each side
//! must receive exactly the bytes the other sent, in order.

use std::io::{Read, Write};
use std::process::Stdio;

use blackbox_tests::audit::{of_type, only, AuditDir};
use blackbox_tests::client::{proxy_command, LineClient};

const FAKE_SERVER: &str = env!("CARGO_BIN_EXE_fake_server");
const BIG: usize = 16 * 1024 * 1024;

/// The frames of one side; `who` makes the two directions differ.
fn frames(who: &str) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(
        format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"protocolVersion":"2025-11-25","capabilities":{{}},"clientInfo":{{"name":"{who}","version":"0"}}}}}}"#
        )
        .as_bytes(),
    );
    v.push(b'\n');
    v.extend_from_slice(b"  {\"jsonrpc\" : \"2.0\" ,\t\"id\":2 ,\"method\":\"ping\"}  \r\n");
    v.extend_from_slice(
        "{\"jsonrpc\":\"2.0\",\"id\":\"ü☃😀\",\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"s\":\"é 日本語 \\ud83d\\ude00 \\u0000 \\\" \\n\"}}}\n"
            .as_bytes(),
    );
    v.extend_from_slice(b"\n\n \n");
    v.extend_from_slice(
        br#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"blob":""#,
    );
    v.extend((0..BIG).map(|i| b'a' + (i % 23) as u8));
    v.extend_from_slice(b"\"}}}\n");
    v.extend_from_slice(b"this is not json { \x00 \xff\xfe invalid utf-8 }\n");
    v.extend_from_slice(
        format!("{{\"jsonrpc\":\"2.0\",\"method\":\"notifications/{who}\"}}\n").as_bytes(),
    );
    v.extend_from_slice(br#"{"jsonrpc":"2.0","id":99,"method":"ping"}"#); // no newline
    v
}

/// Where two byte strings first differ, for a readable failure on 16 MiB.
fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .or((a.len() != b.len()).then(|| a.len().min(b.len())))
}

fn assert_same(what: &str, got: &[u8], want: &[u8]) {
    if let Some(at) = first_difference(got, want) {
        let around = |s: &[u8]| {
            String::from_utf8_lossy(&s[at.saturating_sub(40).min(s.len())..(at + 40).min(s.len())])
                .into_owned()
        };
        panic!(
            "{what}: {} bytes received, {} sent; first difference at byte {at}: got {:?}, sent {:?}",
            got.len(),
            want.len(),
            around(got),
            around(want)
        );
    }
}

#[test]
fn every_byte_arrives_in_order_both_ways() {
    let audit = AuditDir::new();
    let work = tempfile::tempdir().unwrap();
    let c2s = frames("client");
    let s2c = frames("server");
    let send = work.path().join("s2c");
    let record = work.path().join("received-by-server");
    std::fs::write(&send, &s2c).unwrap();

    let server = [
        FAKE_SERVER.as_ref(),
        "relay".as_ref(),
        "--send".as_ref(),
        send.as_os_str(),
        "--record".as_ref(),
        record.as_os_str(),
    ];
    let mut proxy = LineClient::spawn(
        proxy_command(audit.path(), "byte-exact", &[], &server).stderr(Stdio::inherit()),
    );
    let mut stdin = proxy.take_stdin();
    let to_send = c2s.clone();
    let writer = std::thread::spawn(move || {
        // Uneven chunks, so frames reach the proxy split at odd places.
        let sizes = [5usize, 1 << 20, 1, 333, 65_536, 2];
        let mut rest = &to_send[..];
        for size in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, tail) = rest.split_at((*size).min(rest.len()));
            stdin.write_all(chunk).expect("writing to the proxy");
            rest = tail;
        }
        // Dropping stdin closes it: the client is done.
    });
    let mut received = Vec::new();
    proxy
        .stdout()
        .read_to_end(&mut received)
        .expect("reading the proxy's stdout");
    writer.join().expect("writer thread");
    let status = proxy.wait();

    assert_same("client received", &received, &s2c);
    let recorded = std::fs::read(&record).expect("the server's record of its stdin");
    assert_same("server received", &recorded, &c2s);
    assert!(
        status.success(),
        "proxy exited {status} (the server exited 0)"
    );

    let events = audit.events();
    only(&events, "session_end");
    let violations = of_type(&events, "protocol_violation");
    for dir in ["client_to_server", "server_to_client"] {
        assert!(
            violations.iter().any(|e| e["direction"] == dir),
            "no protocol_violation {dir} for the non-JSON line: {violations:#?}"
        );
    }
}
