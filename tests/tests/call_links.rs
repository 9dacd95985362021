//! Every answered call gets its result event, linked to its call, whatever
//! the pacing. A client in lockstep (send a call, read its reply, repeat) is
//! the pacing most likely to let a reply reach the auditor before the
//! request it answers, since the two directions are relayed by different
//! threads; the trail must still pair them.

use std::process::Stdio;

use blackbox_tests::audit::{check_call_links, check_sessions, of_type, AuditDir};
use blackbox_tests::client::{initialize, proxy_command, tool_call, LineClient};
use serde_json::json;

const FAKE_SERVER: &str = env!("CARGO_BIN_EXE_fake_server");
const CALLS: usize = 200;

#[test]
fn lockstep_calls_all_get_linked_results() {
    let audit = AuditDir::new();
    let mut proxy = LineClient::spawn(
        proxy_command(audit.path(), "lockstep", &[], &[FAKE_SERVER, "mcp"])
            .stderr(Stdio::inherit()),
    );
    proxy.send(&initialize(0, "lockstep-client"));
    assert_eq!(proxy.recv()["id"], 0);
    for i in 1..=CALLS {
        let tool = if i % 10 == 0 { "fail" } else { "echo" };
        proxy.send(&tool_call(i, tool, json!({"i": i})));
        assert_eq!(proxy.recv()["id"], i);
    }
    proxy.close_stdin();
    assert!(proxy.wait().success());

    let events = audit.events();
    check_sessions(&events);
    let violations = of_type(&events, "protocol_violation");
    assert!(
        violations.is_empty(),
        "{} protocol_violation events, first: {}",
        violations.len(),
        violations[0]
    );
    assert!(
        of_type(&events, "tool_abandoned").is_empty(),
        "answered calls marked abandoned"
    );
    assert_eq!(of_type(&events, "tool_call").len(), CALLS);
    assert_eq!(of_type(&events, "tool_result").len(), CALLS - CALLS / 10);
    assert_eq!(of_type(&events, "tool_error").len(), CALLS / 10);
    assert_eq!(check_call_links(&events), CALLS);
}
