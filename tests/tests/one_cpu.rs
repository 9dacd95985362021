//! On one CPU, traffic several times the hand-off queue is recorded whole.
//!
//! The test's thread, and so the proxy, its threads and the server it
//! starts (they inherit the affinity), run on a single CPU: the relay, the
//! peers and the auditor take turns, and a stream that always has work
//! ready never leaves the auditor an idle core to catch up on. Large results
//! (56 MiB, where the queue holds 24 MiB) and a pipelined burst of small
//! calls must still each have their `tool_result`, with nothing dropped:
//! the auditor works before the queue is full, and the relay gives it turns
//! when it is far behind. No timing is asserted; only what is on record.

use blackbox_tests::audit::AuditDir;
use blackbox_tests::bench::scenario::{count_audit_events, Session};
use blackbox_tests::binary::blackbox;

const BENCH_SERVER: &str = env!("CARGO_BIN_EXE_bench_server");

/// Pins the calling thread (and what it spawns from now on) to the first
/// CPU it may run on.
fn pin_to_one_cpu() {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the calls get
    // pointers to sets of the size passed.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let size = std::mem::size_of::<libc::cpu_set_t>();
        assert_eq!(libc::sched_getaffinity(0, size, &mut set), 0);
        let first = (0..libc::CPU_SETSIZE as usize)
            .find(|&cpu| libc::CPU_ISSET(cpu, &set))
            .expect("a CPU to run on");
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(first, &mut one);
        assert_eq!(libc::sched_setaffinity(0, size, &one), 0);
    }
}

#[test]
fn on_one_cpu_every_result_of_a_stream_longer_than_the_queue_is_recorded() {
    pin_to_one_cpu();
    let audit = AuditDir::new();
    let command: Vec<String> = [
        blackbox().to_str().expect("UTF-8 path"),
        "--audit-dir",
        audit.path().to_str().expect("UTF-8 path"),
        "--",
        BENCH_SERVER,
    ]
    .map(String::from)
    .into();
    let mut session = Session::open(&command).expect("the proxy starts");
    // Large results, one at a time: 3 x 16 MiB, then 8 x 1 MiB.
    session.large(16 << 20, 3).expect("16 MiB results relayed");
    session.large(1 << 20, 8).expect("1 MiB results relayed");
    // 60,000 small calls, 32 in flight: ~25 MiB of lines.
    session
        .pipelined(60_000, 32, 128)
        .expect("pipelined calls answered");
    let calls = session.tool_calls;
    assert_eq!(session.finish().expect("the proxy exits"), 0);

    let counts = count_audit_events(audit.path()).expect("the trail is readable");
    let count = |t: &str| counts.get(t).copied().unwrap_or(0);
    assert_eq!(count("audit_dropped"), 0, "{counts:?}");
    assert_eq!(count("tool_call"), calls, "{counts:?}");
    assert_eq!(count("tool_result"), calls, "{counts:?}");
}
