//! The official Rust MCP SDK (`rmcp`) as the client, through the proxy, in
//! both of its lifecycle modes: the `initialize` handshake against
//! server-everything, and `server/discover` with per-request `_meta` (the
//! 2026-07-28 stateless era) against mcp-server-time.

use std::path::Path;

use blackbox_tests::audit::{check_call_links, only, AuditDir};
use blackbox_tests::binary::blackbox;
use blackbox_tests::peers::Peers;
use rmcp::model::{CallToolRequestParams, ProtocolVersion};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::ServiceExt;
use serde_json::{json, Value};

/// A transport launching `server` behind mcp-blackbox writing to `audit`.
fn through_proxy(audit: &AuditDir, name: &str, server: &[&Path]) -> TokioChildProcess {
    let cmd = tokio::process::Command::new(blackbox()).configure(|cmd| {
        cmd.arg("--audit-dir").arg(audit.path());
        cmd.args(["--server-name", name, "--user", "rmcp-e2e", "--"]);
        cmd.args(server);
    });
    // server-everything's start-up banner is not this test's business.
    let (proxy, _) = TokioChildProcess::builder(cmd)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawning mcp-blackbox");
    proxy
}

fn call(name: &'static str, args: Value) -> CallToolRequestParams {
    CallToolRequestParams::new(name).with_arguments(args.as_object().unwrap().clone())
}

#[tokio::test(flavor = "current_thread")]
async fn rmcp_handshake_client_against_server_everything() {
    let Some(peers) = Peers::find() else { return };
    let audit = AuditDir::new();
    let node = Path::new("node");
    let stdio = Path::new("stdio");
    let transport = through_proxy(&audit, "everything", &[node, &peers.everything_js, stdio]);
    let client = ().serve(transport).await.expect("handshake through the proxy");
    let tools = client.list_all_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "echo"), "{tools:?}");
    let echoed = client
        .call_tool(call("echo", json!({"message": "from rmcp"})))
        .await
        .unwrap();
    assert_eq!(echoed.content[0].as_text().unwrap().text, "Echo: from rmcp");
    let failed = client
        .call_tool(call("get-sum", json!({"a": 1, "b": "x"})))
        .await
        .unwrap();
    assert_eq!(failed.is_error, Some(true));
    client.cancel().await.unwrap();

    let events = audit.wait_for("session_end", |e| e["type"] == "session_end");
    assert_eq!(events["details"]["exit_status"], 0, "{events}");
    let events = audit.events();
    let start = only(&events, "session_start");
    assert_eq!(start["details"]["era"], "handshake");
    assert_eq!(start["details"]["client"]["name"], "rmcp");
    assert_eq!(start["user"], "rmcp-e2e");
    assert_eq!(only(&events, "tool_result")["tool"], "echo");
    assert_eq!(only(&events, "tool_error")["tool"], "get-sum");
    assert_eq!(check_call_links(&events), 2);
}

#[tokio::test(flavor = "current_thread")]
async fn rmcp_stateless_client_against_mcp_server_time() {
    let Some(peers) = Peers::find() else { return };
    let audit = AuditDir::new();
    let transport = through_proxy(&audit, "time", &[&peers.time_server]);
    let mode = ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    };
    let client =
        ().serve_with_lifecycle(transport, mode)
            .await
            .expect("discover through the proxy");
    let now = client
        .call_tool(call("get_current_time", json!({"timezone": "UTC"})))
        .await
        .unwrap();
    assert_ne!(now.is_error, Some(true));
    assert!(now.content[0].as_text().unwrap().text.contains("UTC"));
    client.cancel().await.unwrap();

    audit.wait_for("session_end", |e| e["type"] == "session_end");
    let events = audit.events();
    let start = only(&events, "session_start");
    assert_eq!(start["details"]["era"], "stateless", "{start}");
    assert_eq!(start["details"]["protocol_version"], "2026-07-28");
    assert_eq!(start["details"]["client"]["name"], "rmcp");
    assert_eq!(start["details"]["server_info"]["name"], "mcp-time");
    assert_eq!(only(&events, "tool_call")["tool"], "get_current_time");
    assert_eq!(check_call_links(&events), 1);
}
