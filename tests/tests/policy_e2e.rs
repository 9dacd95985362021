//! In-line policy through the real binary.
//!
//! - The Python SDK client against server-everything: a `deny` rule on
//!   `get-sum` refuses that call with the documented -32001 error while
//!   `echo` keeps working in the same session.
//! - A line client in front of `fake_server mcp --record FILE`: the server
//!   never reads a refused call; the client gets the refusal with the id
//!   bytes it sent (number, string, `5.0`); dry run relays everything and
//!   records `pending`; deny-by-default lets only the allow-list through.
//! - Settings precedence (`config show`) and a bad settings file failing fast.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use blackbox_tests::audit::{check_call_links, check_sessions, of_type, AuditDir};
use blackbox_tests::binary::blackbox;
use blackbox_tests::client::{initialize, proxy_command, LineClient};
use blackbox_tests::peers::Peers;
use blackbox_tests::process::run_collect;
use serde_json::{json, Value};

const FAKE_SERVER: &str = env!("CARGO_BIN_EXE_fake_server");

/// A settings file in a fresh temporary directory (kept alive by the guard).
fn settings_file(toml: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, toml).expect("writing the settings file");
    (dir, path)
}

/// Runs `tests/py/call_tools.py` over `calls` against `command`; returns the
/// driver's output (`tools`, `calls`).
fn python_calls(peers: &Peers, calls: &Value, command: &[&std::ffi::OsStr]) -> Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("calls.json");
    std::fs::write(&file, serde_json::to_vec(calls).unwrap()).unwrap();
    let driver = Path::new(env!("CARGO_MANIFEST_DIR")).join("py/call_tools.py");
    let mut cmd = Command::new(&peers.python);
    cmd.arg(driver).arg(&file).arg("--").args(command);
    let out = run_collect(&mut cmd, "call_tools.py");
    assert!(
        out.status.success(),
        "call_tools.py failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("call_tools.py prints JSON")
}

#[test]
fn python_client_denied_get_sum_while_echo_keeps_working() {
    let Some(peers) = Peers::find() else { return };
    let (_dir, config) =
        settings_file("[[rules]]\nname = \"no-sum\"\ntool = \"get-sum\"\naction = \"deny\"\n");
    let audit = AuditDir::new();
    let calls = json!([
        {"tool": "echo", "arguments": {"message": "before"}},
        {"tool": "get-sum", "arguments": {"a": 1, "b": 2}},
        {"tool": "echo", "arguments": {"message": "after"}},
    ]);
    let proxy = proxy_command(
        audit.path(),
        "everything",
        &["--config", config.to_str().unwrap()],
        &["node", peers.everything_js.to_str().unwrap(), "stdio"],
    );
    let mut command = vec![proxy.get_program()];
    command.extend(proxy.get_args());
    let out = python_calls(&peers, &calls, &command);

    let results = out["calls"].as_array().unwrap();
    let text = |i: usize| results[i]["result"]["content"][0]["text"].clone();
    assert_eq!(text(0), "Echo: before", "{out:#}");
    assert_eq!(text(2), "Echo: after", "{out:#}");
    let raised = &results[1]["raised"];
    assert_eq!(raised["code"], -32001, "{out:#}");
    let message = raised["error_message"].as_str().unwrap();
    assert_eq!(
        message,
        "mcp-blackbox policy: tools/call of \"get-sum\" denied by rule \"no-sum\"",
    );
    assert_eq!(raised["data"], json!({"rule": "no-sum", "tool": "get-sum"}));

    let events = audit.events();
    check_sessions(&events);
    check_call_links(&events);
    let blocked = of_type(&events, "policy_blocked");
    assert_eq!(blocked.len(), 1, "{blocked:#?}");
    let b = blocked[0];
    assert_eq!(b["outcome"], "blocked", "{b}");
    assert_eq!(b["details"]["rule"], "no-sum", "{b}");
    assert_eq!(b["tool"], "get-sum", "{b}");
    assert_eq!(b["error"]["code"], -32001, "{b}");
    // The refused call has its own id, between those of the two echoes.
    let calls = of_type(&events, "tool_call");
    let ids: Vec<&Value> = calls.iter().map(|c| &c["jsonrpc_id"]).collect();
    assert_eq!(
        calls.len(),
        2,
        "only the echoes reach the server: {calls:#?}"
    );
    assert!(calls.iter().all(|c| c["tool"] == "echo"));
    let id = b["jsonrpc_id"].as_u64().expect("numeric id of the SDK");
    assert!(ids[0].as_u64().unwrap() < id && id < ids[1].as_u64().unwrap());
    assert_eq!(of_type(&events, "tool_result").len(), 2);
}

/// A proxy in front of `fake_server mcp --record RECORD` with `flags`, after
/// the `initialize` exchange.
fn fake_behind_proxy(audit: &AuditDir, record: &Path, flags: &[&str]) -> LineClient {
    let server = [FAKE_SERVER, "mcp", "--record", record.to_str().unwrap()];
    let mut cmd = proxy_command(audit.path(), "fake", flags, &server);
    let mut proxy = LineClient::spawn(cmd.stderr(Stdio::inherit()));
    proxy.send(&initialize(0, "policy-e2e"));
    assert_eq!(proxy.recv()["id"], 0);
    proxy
}

/// Sends `line` (plus a newline) and returns the one line that comes back.
fn exchange(proxy: &mut LineClient, line: &str) -> String {
    proxy.send_raw(format!("{line}\n").as_bytes());
    let mut reply = String::new();
    proxy
        .stdout()
        .read_line(&mut reply)
        .expect("reading a reply");
    assert!(reply.ends_with('\n'), "EOF after {line}");
    reply
}

/// Closes the client, waits for the proxy, and returns the trail and the
/// lines the server read (the `initialize` first).
fn finish(mut proxy: LineClient, audit: &AuditDir, record: &Path) -> (Vec<Value>, Vec<String>) {
    proxy.close_stdin();
    assert!(proxy.wait().success());
    let events = audit.events();
    check_sessions(&events);
    check_call_links(&events);
    let read = std::fs::read_to_string(record).expect("the server's record");
    (events, read.lines().map(str::to_owned).collect())
}

fn call_line(id: &str, tool: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{tool}","arguments":{{"n":{id}}}}}}}"#
    )
}

#[test]
fn a_denied_call_never_reaches_the_server_and_keeps_its_id_bytes() {
    let (_dir, config) =
        settings_file("[[rules]]\nname = \"no-fail\"\ntool = \"fail\"\naction = \"deny\"\n");
    let audit = AuditDir::new();
    let record = audit.path().join("server-read.txt");
    let mut proxy = fake_behind_proxy(&audit, &record, &["--config", config.to_str().unwrap()]);
    let ids = ["1", "\"two\"", "3", "4", "\"5\"", "5.0"];
    let mut sent_allowed = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let tool = if i % 2 == 0 { "echo" } else { "fail" };
        let line = call_line(id, tool);
        let reply = exchange(&mut proxy, &line);
        let v: Value = serde_json::from_str(&reply).unwrap();
        if tool == "echo" {
            assert_eq!(v["result"]["content"][0]["text"], format!("{{\"n\":{id}}}"));
            sent_allowed.push(line);
            continue;
        }
        // The exact id bytes, then the documented error.
        let expected = format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"error\":{{\"code\":-32001,\"message\":\"mcp-blackbox policy: tools/call of \\\"fail\\\" denied by rule \\\"no-fail\\\"\",\"data\":{{\"rule\":\"no-fail\",\"tool\":\"fail\"}}}}}}\n"
        );
        assert_eq!(reply, expected);
    }
    let (events, read) = finish(proxy, &audit, &record);

    assert_eq!(read.len(), 1 + sent_allowed.len(), "{read:#?}");
    assert_eq!(
        read[1..],
        sent_allowed[..],
        "the server read the allowed calls, as sent"
    );
    assert!(read.iter().all(|l| !l.contains("\"fail\"")), "{read:#?}");

    let blocked = of_type(&events, "policy_blocked");
    let blocked_ids: Vec<&Value> = blocked.iter().map(|b| &b["jsonrpc_id"]).collect();
    assert_eq!(blocked_ids, [&json!("two"), &json!(4), &json!(5.0)]);
    for b in &blocked {
        assert_eq!(b["outcome"], "blocked", "{b}");
        assert_eq!(b["details"]["rule"], "no-fail", "{b}");
        assert_eq!(b["tool"], "fail", "{b}");
        assert_eq!(b["direction"], "client_to_server", "{b}");
    }
    let results = of_type(&events, "tool_result");
    assert_eq!(results.len(), 3);
    assert!(results.iter().all(|r| r["tool"] == "echo"));
}

#[test]
fn dry_run_relays_the_call_and_records_it_as_pending() {
    let (_dir, config) =
        settings_file("[[rules]]\nname = \"no-fail\"\ntool = \"fail\"\naction = \"deny\"\n");
    let audit = AuditDir::new();
    let record = audit.path().join("server-read.txt");
    let flags = ["--config", config.to_str().unwrap(), "--dry-run-policy"];
    let mut proxy = fake_behind_proxy(&audit, &record, &flags);
    let line = call_line("7", "fail");
    let reply: Value = serde_json::from_str(&exchange(&mut proxy, &line)).unwrap();
    // The server's own answer: `fail` returns an isError result.
    assert_eq!(reply["id"], 7);
    assert_eq!(reply["result"]["isError"], true, "{reply}");
    assert_eq!(reply["result"]["content"][0]["text"], "failed on purpose");
    let (events, read) = finish(proxy, &audit, &record);

    assert_eq!(read[1..], [line], "the server read the call");
    let blocked = of_type(&events, "policy_blocked");
    assert_eq!(blocked.len(), 1, "{blocked:#?}");
    let b = blocked[0];
    assert_eq!(b["outcome"], "pending", "{b}");
    assert_eq!(b["details"]["rule"], "no-fail", "{b}");
    assert_eq!(b["details"]["dry_run"], true, "{b}");
    assert_eq!(b["jsonrpc_id"], 7, "{b}");
    assert_eq!(of_type(&events, "tool_call").len(), 1);
    assert_eq!(
        of_type(&events, "tool_error").len(),
        1,
        "the real answer is recorded"
    );
}

#[test]
fn deny_by_default_lets_only_the_allow_list_through() {
    let (_dir, config) =
        settings_file("[[rules]]\nname = \"echo-ok\"\ntool = \"echo\"\naction = \"allow\"\n");
    let audit = AuditDir::new();
    let record = audit.path().join("server-read.txt");
    let flags = [
        "--config",
        config.to_str().unwrap(),
        "--default-action",
        "deny",
    ];
    let mut proxy = fake_behind_proxy(&audit, &record, &flags);
    let echo = call_line("1", "echo");
    let reply: Value = serde_json::from_str(&exchange(&mut proxy, &echo)).unwrap();
    assert_eq!(reply["result"]["content"][0]["text"], "{\"n\":1}");
    for (id, tool) in [("2", "fail"), ("3", "crash"), ("4", "no-such-tool")] {
        let reply: Value =
            serde_json::from_str(&exchange(&mut proxy, &call_line(id, tool))).unwrap();
        assert_eq!(reply["error"]["code"], -32001, "{reply}");
        assert_eq!(
            reply["error"]["data"]["rule"], "default_action=deny",
            "{reply}"
        );
        assert_eq!(reply["error"]["data"]["tool"], tool, "{reply}");
    }
    // Other methods are not tool calls: the gate lets them through.
    let ping = exchange(&mut proxy, r#"{"jsonrpc":"2.0","id":5,"method":"ping"}"#);
    let ping: Value = serde_json::from_str(&ping).unwrap();
    assert_eq!(ping, json!({"jsonrpc": "2.0", "id": 5, "result": {}}));
    let (events, read) = finish(proxy, &audit, &record);

    assert_eq!(
        read[1..],
        [
            echo,
            r#"{"jsonrpc":"2.0","id":5,"method":"ping"}"#.to_owned()
        ]
    );
    let blocked = of_type(&events, "policy_blocked");
    let tools: Vec<&Value> = blocked.iter().map(|b| &b["tool"]).collect();
    assert_eq!(tools, ["fail", "crash", "no-such-tool"]);
    assert!(blocked
        .iter()
        .all(|b| b["details"]["rule"] == "default_action=deny" && b["outcome"] == "blocked"));
    let call = &of_type(&events, "tool_call")[0];
    assert_eq!(call["details"]["rule"], "echo-ok", "{call}");
}

#[test]
fn config_show_prefers_flag_over_env_over_file() {
    let (_dir, config) =
        settings_file("[audit]\nmax_files = 3\n\n[proxy]\nserver_name = \"from-file\"\n");
    let mut cmd = Command::new(blackbox());
    cmd.args(["config", "show", "--config"])
        .arg(&config)
        .args(["--server-name", "from-flag"])
        .env("MCP_BLACKBOX_SERVER_NAME", "from-env")
        .env("MCP_BLACKBOX_MAX_FILES", "7");
    let out = run_collect(&mut cmd, "config show");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = |key: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{key} =")))
            .unwrap_or_else(|| panic!("no {key} in:\n{stdout}"))
            .to_owned()
    };
    let name = line("server_name");
    assert!(name.contains("\"from-flag\""), "{name}");
    assert!(name.contains("flag:--server-name"), "{name}");
    let files = line("max_files");
    assert!(files.contains("= 7"), "{files}");
    assert!(files.contains("env:MCP_BLACKBOX_MAX_FILES"), "{files}");
}

#[test]
fn an_unknown_key_stops_the_proxy_before_the_server_starts() {
    let (dir, config) = settings_file("[audit]\nmax_files = 3\nmax_size = 10\n");
    let marker = dir.path().join("server-started");
    let audit = AuditDir::new();
    let script = format!("echo started > '{}'", marker.display());
    let mut cmd = proxy_command(
        audit.path(),
        "bad-config",
        &["--config", config.to_str().unwrap()],
        &["sh", "-c", &script],
    );
    let out = run_collect(&mut cmd, "proxy with a bad settings file");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line of error: {stderr}");
    let at = format!("{}:3:", config.display());
    assert!(lines[0].contains(&at), "names file and line: {stderr}");
    assert!(lines[0].contains("max_size"), "names the key: {stderr}");
    // Had the proxy started the server, it would have waited for it to exit,
    // so the marker would be there by now.
    assert!(!marker.exists(), "the server was started");
    assert!(audit.files().is_empty(), "nothing recorded");
}
