//! A huge line costs the proxy bounded memory.
//!
//! A server writes 256 MiB with no newline, then one newline. The client must
//! receive all of it intact (counted, and checked byte by byte against the
//! deterministic pattern), and the proxy's peak RSS must stay under its
//! design bound: `--parse-limit-mb 16` (only the first 16 MiB of a line are
//! ever kept for parsing), plus the hand-off's byte limit (24 MiB: the relay
//! may run that far ahead of the auditor, by design, before chunks are
//! dropped from the trail; the limit counts the unused tails of the read
//! buffers the queued chunks keep allocated, not only their bytes), plus
//! 16 MiB of headroom (code, stacks, buffers), i.e. **56 MiB**, under a
//! quarter of the line. The bound does not depend on how fast the auditor
//! is.
//!
//! The peak comes from `wait4(2)`'s `ru_maxrss` for the proxy, which covers
//! the proxy and the children it reaped (the fake server, a few MiB).

use std::io::Read;
use std::process::Stdio;

use blackbox_tests::audit::{of_type, only, AuditDir};
use blackbox_tests::client::{proxy_command, LineClient};
use blackbox_tests::pattern::PatternCheck;
use blackbox_tests::process::wait_with_rusage;

const FAKE_SERVER: &str = env!("CARGO_BIN_EXE_fake_server");
const LINE_BYTES: u64 = 256 * 1024 * 1024;
const PARSE_LIMIT_MB: u64 = 16;
const HEADROOM_MB: u64 = 16;
const HANDOFF_MB: u64 = (audit_core::handoff::DEFAULT_QUEUE_BYTES >> 20) as u64;

#[test]
fn a_256_mib_line_is_relayed_intact_in_bounded_memory() {
    let audit = AuditDir::new();
    let bytes = LINE_BYTES.to_string();
    let limit = PARSE_LIMIT_MB.to_string();
    let server = [FAKE_SERVER, "flood", "--bytes", bytes.as_str()];
    let mut proxy = LineClient::spawn(
        proxy_command(
            audit.path(),
            "flood",
            &["--parse-limit-mb", &limit],
            &server,
        )
        // The flood outruns the auditor by design; its "audit trail
        // incomplete" warning is expected here (the trail records the loss).
        .stderr(Stdio::null()),
    );

    let mut check = PatternCheck::default();
    let mut buf = vec![0u8; 1 << 20];
    let mut tail = Vec::new();
    loop {
        let n = proxy
            .stdout()
            .read(&mut buf)
            .expect("reading the proxy's stdout");
        if n == 0 {
            break;
        }
        let body = (LINE_BYTES - check.offset).min(n as u64) as usize;
        if let Err(at) = check.feed(&buf[..body]) {
            panic!("byte {at} of the line is not what the server wrote");
        }
        tail.extend_from_slice(&buf[body..n]);
    }
    assert_eq!(check.offset, LINE_BYTES, "line bytes received");
    assert_eq!(tail, b"\n", "what followed the line");

    proxy.close_stdin();
    let (status, max_rss_kib) = wait_with_rusage(proxy.pid());
    assert_eq!(status, 0, "proxy wait status {status:#x}");
    let bound_kib = (PARSE_LIMIT_MB + HANDOFF_MB + HEADROOM_MB) * 1024;
    eprintln!("proxy peak RSS: {max_rss_kib} KiB (bound {bound_kib} KiB)");
    assert!(
        max_rss_kib < bound_kib,
        "proxy peak RSS {max_rss_kib} KiB exceeds {bound_kib} KiB (parse limit {PARSE_LIMIT_MB} MiB + hand-off {HANDOFF_MB} MiB + {HEADROOM_MB} MiB)"
    );

    let events = audit.events();
    only(&events, "session_end");
    assert!(
        !of_type(&events, "protocol_violation").is_empty(),
        "the line is not JSON-RPC: {events:#?}"
    );
}
