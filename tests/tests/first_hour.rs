//! What a new user meets first: a proxy that cannot start tells the client
//! why (the Python SDK client shows the message), and the server command
//! works without `--`, as the MCP Inspector CLI passes it.

use std::process::{Command, Stdio};

use blackbox_tests::audit::AuditDir;
use blackbox_tests::binary::blackbox;
use blackbox_tests::peers::Peers;
use blackbox_tests::process::run_collect;

/// The Python SDK client connects to COMMAND and prints what `initialize`
/// raised, or `connected`.
const CONNECT: &str = r#"
import asyncio, os, sys
from mcp import Client
from mcp.client.stdio import StdioServerParameters

async def main():
    # The SDK passes only a few safe variables on unless told otherwise.
    params = StdioServerParameters(command=sys.argv[1], args=sys.argv[2:], env=dict(os.environ))
    try:
        async with Client(params) as client:
            tools = await client.list_tools()
            print("connected", len(tools.tools))
    except BaseException as e:
        print("raised", repr(e))

asyncio.run(main())
"#;

fn connect(peers: &Peers, command: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(&peers.python);
    cmd.arg("-c").arg(CONNECT).args(command);
    cmd.env_remove("MCP_BLACKBOX_DIR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = run_collect(cmd.stdin(Stdio::null()), "the Python SDK client");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_failed_start_answers_the_first_request_with_the_reason() {
    let Some(peers) = Peers::find() else { return };
    let time_server = peers.time_server.to_str().unwrap();
    let bin = blackbox().to_str().unwrap();
    let printed = connect(
        &peers,
        &[bin, "--server-name", "time", time_server],
        &[("MCP_BLACKBOX_DRI", "/tmp/x")],
    );
    assert!(printed.starts_with("raised"), "{printed}");
    assert!(printed.contains("could not start"), "{printed}");
    assert!(
        printed.contains("did you mean MCP_BLACKBOX_DIR?"),
        "{printed}"
    );
}

#[test]
fn the_server_command_needs_no_double_dash() {
    let Some(peers) = Peers::find() else { return };
    let audit = AuditDir::new();
    let time_server = peers.time_server.to_str().unwrap();
    let bin = blackbox().to_str().unwrap();
    let dir = audit.path().to_str().unwrap();
    // The MCP Inspector CLI drops `--` from the arguments it passes on.
    let printed = connect(
        &peers,
        &[
            bin,
            "--audit-dir",
            dir,
            "--server-name",
            "time",
            time_server,
        ],
        &[],
    );
    assert!(printed.starts_with("connected"), "{printed}");
    let events = audit.events();
    assert!(
        events.iter().any(|e| e["type"] == "session_start"),
        "{events:?}"
    );
}

#[test]
fn diagnostics_to_a_pipe_carry_no_colour_codes() {
    let audit = AuditDir::new();
    // Redaction off is always warned about; stderr here is a pipe, as in a client's log file.
    let out = run_collect(
        Command::new(blackbox())
            .args(["--no-redact", "--audit-dir"])
            .arg(audit.path())
            .args(["--", "true"])
            .env_remove("NO_COLOR")
            .stdin(Stdio::null()),
        "mcp-blackbox with a warning",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("secret redaction is off"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "ANSI escape in piped stderr: {stderr:?}"
    );
}
