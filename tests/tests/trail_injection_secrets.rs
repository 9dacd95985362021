//! No secret a peer puts in any field reaches disk: tool and method names,
//! request ids (a string, and inside an id object), resource URIs, prompt
//! names, error messages and data, server info and client info, not only
//! arguments and results. The client still gets every byte.
//!
//! A raw client (the test) talks to `fake_server mcp` through the proxy. The
//! fake server echoes what it is sent into its answers (`Unknown tool:
//! NAME`, `Method not found: METHOD`, the id), and `--server-info-name` puts
//! a secret in its `serverInfo.name` and in every `error.data`. The secrets
//! are fakes of real shapes from `audit_core::redact::corpus` (an AWS access
//! key id, GitHub tokens, a JWT).

use audit_core::redact::corpus::{generate_secrets, FakeSecret};
use blackbox_tests::audit::{of_type, AuditDir};
use blackbox_tests::client::{proxy_command, request, tool_call, LineClient};
use serde_json::{json, Value};

const FAKE_SERVER: &str = env!("CARGO_BIN_EXE_fake_server");

/// The first fake secret of `kind`.
fn secret(all: &[FakeSecret], kind: &str, nth: usize) -> String {
    all.iter()
        .filter(|s| s.kind == kind)
        .nth(nth)
        .unwrap_or_else(|| panic!("the corpus has no {kind} #{nth}"))
        .secret
        .clone()
}

#[test]
fn a_secret_in_any_field_is_redacted_before_disk() {
    let all = generate_secrets(20_261_203);
    let aws = secret(&all, "aws_access_key_id", 0);
    let ghp = secret(&all, "github_token", 0);
    let gh2 = secret(&all, "github_token", 1);
    let jwt = secret(&all, "jwt", 0);
    let audit = AuditDir::new();
    let server = [FAKE_SERVER, "mcp", "--server-info-name", jwt.as_str()];
    let mut proxy = LineClient::spawn(&mut proxy_command(audit.path(), "secrets", &[], &server));

    let init = request(
        0,
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {},
               "clientInfo": {"name": aws, "version": "1"}}),
    );
    let sent = [
        init,
        // Tool name (and the server's error message naming it, with data).
        tool_call(1, &aws, json!({})),
        // A request id that is a secret, and one inside an id object.
        tool_call(jwt.as_str(), "echo", json!({})),
        tool_call(json!({"session": gh2}), "echo", json!({})),
        // Method name (and the error message naming it).
        request(4, &ghp, json!({})),
        // Resource URI and prompt name.
        request(
            5,
            "resources/read",
            json!({"uri": format!("file:///{aws}")}),
        ),
        request(6, "prompts/get", json!({"name": gh2})),
    ];
    let mut answers = Vec::new();
    for msg in &sent {
        proxy.send(msg);
        answers.push(proxy.recv());
    }
    proxy.close_stdin();
    assert!(proxy.wait().success());
    // Transparent: the client got the secrets back as the server wrote them.
    assert_eq!(answers[0]["result"]["serverInfo"]["name"], jwt.as_str());
    assert_eq!(answers[2]["id"], jwt.as_str());
    let message = answers[4]["error"]["message"].as_str().unwrap();
    assert!(message.contains(&ghp), "{message}");

    let mut trail = Vec::new();
    for f in audit.files() {
        trail.extend(std::fs::read(f).unwrap());
    }
    let trail = String::from_utf8(trail).unwrap();
    for (name, s) in [("aws", &aws), ("ghp", &ghp), ("gh2", &gh2), ("jwt", &jwt)] {
        assert!(
            !trail.contains(s.as_str()),
            "{name} secret {s} reached disk"
        );
    }

    // Each field was redacted, not dropped: the events are there, marked.
    let events = audit.events();
    let marked = |e: &&Value| {
        e["details"]["redactions"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    };
    let start = of_type(&events, "session_start");
    assert!(start.iter().all(marked), "session_start: {start:?}");
    let errors = of_type(&events, "rpc_error");
    assert!(
        errors.len() >= 2 && errors.iter().all(marked),
        "{errors:#?}"
    );
    let calls = of_type(&events, "tool_call");
    assert_eq!(calls.len(), 3);
    assert!(calls.iter().all(marked), "{calls:#?}");
    assert!(
        calls[0]["tool"].as_str().unwrap().contains("redacted"),
        "{}",
        calls[0]
    );
    assert!(calls[1]["jsonrpc_id"]
        .as_str()
        .unwrap()
        .contains("redacted"));
    let read = of_type(&events, "resource_read");
    assert!(read.iter().all(marked) && !read.is_empty(), "{read:?}");
}
