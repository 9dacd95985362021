//! All of server-everything's protocol features,
//! driven by the Python SDK client through `mcp-blackbox`, become the events
//! `docs/events.md` promises, linked and in causal order.
//!
//! `tests/py/features.py` drives sampling, elicitation, roots, progress,
//! resources, prompts, logging and two tool listings, and prints what the
//! client saw; every check holds the trail against that or against the
//! server's documented behaviour. Durations are asserted present and
//! non-negative, never against a wall-clock figure.
//!
//! server-everything picks the level of each simulated log message with
//! `Math.random()` (its only use of it); the server runs with `Math.random`
//! pinned to 0.5, so the message it sends at once is at `error` level and the
//! driver's wait for a `warning`-or-above message ends on that event, not on
//! luck.

use std::collections::HashMap;
use std::process::Command;

use blackbox_tests::audit::{check_call_links, check_sessions, kind, of_type, only, AuditDir};
use blackbox_tests::binary::blackbox;
use blackbox_tests::peers::Peers;
use blackbox_tests::process::run_collect;
use serde_json::{json, Value};

/// Makes server-everything's simulated log levels deterministic (`error`).
const PIN_RANDOM: &str = "data:text/javascript,Math.random=()=>0.5";
const LONG_RUN: &str = "trigger-long-running-operation";
const SAMPLING: &str = "trigger-sampling-request";
const ELICITATION: &str = "trigger-elicitation-request";
const TOGGLE_LOG: &str = "toggle-simulated-logging";
const LOUD_LEVELS: [&str; 5] = ["warning", "error", "critical", "alert", "emergency"];

/// Runs the features driver against server-everything behind the proxy and
/// returns what the client saw and the audit trail.
fn drive_features(peers: &Peers, audit: &AuditDir) -> (Value, Vec<Value>) {
    let driver = peers.driver.with_file_name("features.py");
    let mut cmd = Command::new(&peers.python);
    cmd.arg(driver).arg("--").arg(blackbox());
    cmd.arg("--audit-dir").arg(audit.path());
    cmd.args(["--server-name", "everything", "--user", "e2e", "--"]);
    cmd.args(["node", "--import", PIN_RANDOM]);
    cmd.arg(&peers.everything_js).arg("stdio");
    let out = run_collect(&mut cmd, "the features driver");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "features.py failed ({}):\n{stderr}",
        out.status
    );
    let seen = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "driver output is not JSON ({e}): {}\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    // The driver returns once the proxy exited, so the trail is complete.
    (seen, audit.events())
}

#[test]
fn server_everything_features_become_linked_events() {
    let Some(peers) = Peers::find() else { return };
    let audit = AuditDir::new();
    let (seen, events) = drive_features(&peers, &audit);

    let sessions = check_sessions(&events);
    assert_eq!(sessions.len(), 1, "one session expected: {sessions:?}");
    for t in [
        "protocol_violation",
        "tool_abandoned",
        "tool_error",
        "rpc_error",
    ] {
        assert!(
            of_type(&events, t).is_empty(),
            "unexpected {t}: {events:#?}"
        );
    }
    check_session_start(&events);
    let calls = check_tool_calls(&events);
    check_progress(&events, &seen, calls[LONG_RUN]);
    check_sampling(&events, &seen, &calls);
    check_elicitation(&events, &seen, &calls);
    check_exchanges(&events, &seen);
    check_logging(&events, &seen, &calls);
    check_listings(&events, &seen);
    check_links_and_durations(&events);
    check_session_end(&events, &seen);
}

/// The event with this `seq`'s position, for ordering checks.
fn seq(e: &Value) -> u64 {
    e["seq"].as_u64().unwrap_or_else(|| panic!("no seq: {e}"))
}

fn check_session_start(events: &[Value]) {
    let start = only(events, "session_start");
    let d = &start["details"];
    assert_eq!(d["era"], "handshake", "{start}");
    assert_eq!(d["discover_probe"], "legacy_fallback", "{start}");
    assert_eq!(
        d["server_info"]["name"], "mcp-servers/everything",
        "{start}"
    );
    for cap in ["sampling", "elicitation", "roots"] {
        assert!(
            d["client_capabilities"].get(cap).is_some(),
            "no {cap}: {start}"
        );
    }
}

/// Checks the tool calls and their results, and returns the first call of
/// each tool by name.
fn check_tool_calls(events: &[Value]) -> HashMap<&str, &Value> {
    let names = |t: &str| -> Vec<&str> {
        of_type(events, t)
            .iter()
            .map(|e| e["tool"].as_str().unwrap())
            .collect()
    };
    let expected = [LONG_RUN, SAMPLING, ELICITATION, TOGGLE_LOG, TOGGLE_LOG];
    assert_eq!(names("tool_call"), expected);
    assert_eq!(names("tool_result"), expected);
    assert_eq!(check_call_links(events), expected.len());
    let results: HashMap<&str, &Value> = of_type(events, "tool_result")
        .into_iter()
        .map(|r| (r["call_event_id"].as_str().unwrap(), r))
        .collect();
    for call in of_type(events, "tool_call") {
        assert_eq!(call["outcome"], "pending", "{call}");
        assert_eq!(call["direction"], "client_to_server", "{call}");
        let result = results[call["event_id"].as_str().unwrap()];
        assert_eq!(result["jsonrpc_id"], call["jsonrpc_id"], "{result}");
        assert_eq!(result["direction"], "server_to_client", "{result}");
        assert!(seq(result) > seq(call), "result before its call: {result}");
        assert_eq!(
            result["details"]["content_types"],
            json!(["text"]),
            "{result}"
        );
    }
    let mut first = HashMap::new();
    for call in of_type(events, "tool_call") {
        first.entry(call["tool"].as_str().unwrap()).or_insert(call);
    }
    first
}

/// The terminal event linked to `call`.
fn result_of<'a>(events: &'a [Value], call: &Value) -> &'a Value {
    events
        .iter()
        .find(|e| kind(e) == "tool_result" && e["call_event_id"] == call["event_id"])
        .unwrap_or_else(|| panic!("no result for {call}"))
}

fn check_progress(events: &[Value], seen: &Value, call: &Value) {
    let steps = seen["long_run"]["arguments"]["steps"].as_u64().unwrap();
    let token = &call["details"]["progress_token"];
    assert!(!token.is_null(), "the SDK sent no progressToken: {call}");
    let result = result_of(events, call);
    assert_eq!(&result["details"]["progress_token"], token, "{result}");
    let steps_f = steps as f64;
    assert_eq!(
        result["details"]["progress"],
        json!({"count": steps, "last": steps_f, "total": steps_f}),
        "{result}"
    );
    // The client's callback saw the same notifications.
    let reported: Vec<Value> = (1..=steps).map(|i| json!([i as f64, steps_f])).collect();
    assert_eq!(seen["progress"], Value::Array(reported));
}

/// Checks the one server request of type `t` made while `call` ran: between
/// the call and its result, answered by the client, naming the call as in
/// flight; returns it.
fn server_request<'a>(events: &'a [Value], t: &str, method: &str, call: &Value) -> &'a Value {
    let e = only(events, t);
    assert_eq!(e["method"], method, "{e}");
    assert_eq!(e["outcome"], "success", "{e}");
    assert_eq!(
        e["direction"], "client_to_server",
        "the client's answer ends it: {e}"
    );
    let in_flight = e["details"]["in_flight_calls"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        in_flight.contains(&call["event_id"]),
        "call not named in flight: {e}"
    );
    let result = result_of(events, call);
    assert!(
        seq(call) < seq(e) && seq(e) < seq(result),
        "not within its call: {e}"
    );
    e
}

fn check_sampling(events: &[Value], seen: &Value, calls: &HashMap<&str, &Value>) {
    let e = server_request(
        events,
        "sampling_request",
        "sampling/createMessage",
        calls[SAMPLING],
    );
    let asked = &seen["sampling_requests"][0];
    assert_eq!(e["arguments"]["maxTokens"], asked["maxTokens"], "{e}");
    assert_eq!(e["arguments"]["messages"], asked["messages"], "{e}");
    assert_eq!(e["result"]["content"]["text"], seen["sampled_text"], "{e}");
    assert_eq!(e["result"]["model"], "features-model", "{e}");
    assert_eq!(e["details"]["content_types"], json!(["text"]), "{e}");
    let answer = &seen["sampling_call"]["text"][0];
    let reply = result_of(events, calls[SAMPLING]);
    assert_eq!(reply["result"]["content"][0]["text"], *answer, "{reply}");
}

fn check_elicitation(events: &[Value], seen: &Value, calls: &HashMap<&str, &Value>) {
    let e = server_request(
        events,
        "elicitation_request",
        "elicitation/create",
        calls[ELICITATION],
    );
    let asked = &seen["elicitation_requests"][0];
    assert_eq!(e["arguments"]["message"], asked["message"], "{e}");
    assert!(e["arguments"]["requestedSchema"].is_object(), "{e}");
    assert_eq!(
        e["result"],
        json!({"action": "accept", "content": seen["elicited"]}),
        "{e}"
    );
}

/// `roots/list`, `resources/read`, `prompts/get` and `logging/setLevel`:
/// one event each when the exchange ends, carrying request and answer.
fn check_exchanges(events: &[Value], seen: &Value) {
    let roots = of_type(events, "roots_list");
    assert_eq!(roots.len() as u64, seen["roots_requests"].as_u64().unwrap());
    for r in roots {
        assert_eq!(r["outcome"], "success", "{r}");
        assert_eq!(
            r["result"]["roots"][0]["uri"], "file:///tmp/features",
            "{r}"
        );
    }
    let read = only(events, "resource_read");
    let uri = &seen["resource"]["uri"];
    assert_eq!(read["method"], "resources/read", "{read}");
    assert_eq!(read["direction"], "server_to_client", "{read}");
    assert_eq!(&read["details"]["uri"], uri, "{read}");
    assert_eq!(read["arguments"], json!({"uri": uri}), "{read}");
    let contents = read["result"]["contents"].as_array().expect("contents");
    assert_eq!(
        contents.len() as u64,
        seen["resource"]["contents"].as_u64().unwrap()
    );
    assert_eq!(&contents[0]["uri"], uri, "{read}");
    assert!(read["details"]["result_bytes"].as_u64() > Some(0), "{read}");

    let prompt = only(events, "prompt_get");
    assert_eq!(
        prompt["details"]["name"], seen["prompt"]["name"],
        "{prompt}"
    );
    assert_eq!(
        prompt["arguments"]["name"], seen["prompt"]["name"],
        "{prompt}"
    );
    let messages = prompt["result"]["messages"].as_array().expect("messages");
    assert_eq!(
        messages.len() as u64,
        seen["prompt"]["messages"].as_u64().unwrap()
    );
    assert_eq!(
        prompt["details"]["content_types"],
        json!(["text"]),
        "{prompt}"
    );

    let set_level = only(events, "rpc_request");
    assert_eq!(set_level["method"], "logging/setLevel", "{set_level}");
    assert_eq!(
        set_level["arguments"],
        json!({"level": "info"}),
        "{set_level}"
    );
    assert_eq!(set_level["outcome"], "success", "{set_level}");
    assert!(
        seq(set_level) < seq(read) && seq(read) < seq(prompt),
        "out of order"
    );
}

/// Every log message at `warning` or above that the client saw is a
/// `server_log` event with its level and data; the quieter ones are counted.
fn check_logging(events: &[Value], seen: &Value, calls: &HashMap<&str, &Value>) {
    let logs = of_type(events, "server_log");
    let saw = seen["logs"].as_array().unwrap();
    let (loud, quiet): (Vec<&Value>, Vec<&Value>) = saw
        .iter()
        .partition(|l| LOUD_LEVELS.contains(&l["level"].as_str().unwrap()));
    assert!(
        !loud.is_empty(),
        "the driver waits for a loud message: {seen}"
    );
    let mut unmatched: Vec<&&Value> = logs.iter().collect();
    for l in &loud {
        let at = unmatched
            .iter()
            .position(|e| e["details"]["level"] == l["level"] && e["excerpt"] == l["data"])
            .unwrap_or_else(|| panic!("no server_log for {l}: {logs:#?}"));
        unmatched.remove(at);
    }
    for e in &logs {
        let level = e["details"]["level"].as_str().unwrap();
        let severity = match level {
            "warning" | "error" => level,
            _ => "critical",
        };
        assert_eq!(e["severity"], severity, "{e}");
        assert_eq!(e["method"], "notifications/message", "{e}");
        assert_eq!(e["direction"], "server_to_client", "{e}");
        assert!(
            seq(e) > seq(calls[TOGGLE_LOG]),
            "log before logging was on: {e}"
        );
    }
    let counts = &only(events, "session_end")["details"]["counts"];
    let below = counts["log_messages_below_warning"].as_u64().unwrap();
    assert!(below >= quiet.len() as u64, "{counts}");
    let all = counts["methods"]["notifications/message"].as_u64().unwrap();
    assert_eq!(all, below + logs.len() as u64, "{counts}");
}

/// Two listings of the same catalog: the conditional tools were registered
/// (and `list_changed` sent) before the first one, so nothing drifted.
fn check_listings(events: &[Value], seen: &Value) {
    let listed = of_type(events, "tools_listed");
    assert_eq!(listed.len(), 2, "{listed:#?}");
    for (e, key, first) in [
        (listed[0], "tools_first", true),
        (listed[1], "tools_second", false),
    ] {
        let d = &e["details"];
        assert_eq!(d["tools"], seen[key], "{e}");
        assert_eq!(
            d["count"].as_u64(),
            Some(seen[key].as_array().unwrap().len() as u64)
        );
        assert_eq!(d["first_listing"], first, "{e}");
        assert_eq!(d["changes"], 0, "{e}");
        assert_eq!(d["pages"], 1, "{e}");
        let hashes = d["definition_hashes"].as_object().expect("hashes");
        assert_eq!(hashes.len(), seen[key].as_array().unwrap().len(), "{e}");
        assert!(hashes
            .values()
            .all(|h| h.as_str().is_some_and(|h| h.len() == 64)));
    }
    for tool in [SAMPLING, ELICITATION] {
        assert!(seen["tools_first"]
            .as_array()
            .unwrap()
            .contains(&json!(tool)));
    }
    assert_eq!(
        listed[0]["details"]["definition_hashes"],
        listed[1]["details"]["definition_hashes"]
    );
    assert!(
        of_type(events, "tool_changed").is_empty(),
        "nothing changed"
    );
    let changed: Vec<&Value> = of_type(events, "notification")
        .into_iter()
        .filter(|e| e["method"] == "notifications/tools/list_changed")
        .collect();
    assert_eq!(changed.len() as u64, seen["list_changed"].as_u64().unwrap());
    assert!(
        seq(changed[0]) < seq(listed[0]),
        "listed before list_changed"
    );
}

/// Every answer links to its request by an id no other exchange has, and
/// carries a duration.
fn check_links_and_durations(events: &[Value]) {
    let ended = [
        "tool_result",
        "tools_listed",
        "resource_read",
        "prompt_get",
        "sampling_request",
        "elicitation_request",
        "roots_list",
        "rpc_request",
    ];
    let mut links: HashMap<&str, &Value> = HashMap::new();
    for e in events.iter().filter(|e| ended.contains(&kind(e))) {
        let d = e["duration_ms"]
            .as_f64()
            .unwrap_or_else(|| panic!("no duration_ms: {e}"));
        assert!(d >= 0.0, "{e}");
        let link = e["call_event_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no link: {e}"));
        if let Some(other) = links.insert(link, e) {
            panic!("two answers share a link: {other} and {e}");
        }
        let linked: Vec<&str> = events
            .iter()
            .filter(|x| x["event_id"] == link)
            .map(kind)
            .collect();
        let expected: &[&str] = if kind(e) == "tool_result" {
            &["tool_call"]
        } else {
            &[]
        };
        assert_eq!(linked, expected, "what {link} names: {e}");
    }
}

fn check_session_end(events: &[Value], seen: &Value) {
    let end = only(events, "session_end");
    assert_eq!(
        seq(end),
        events.iter().map(seq).max().unwrap(),
        "session_end is last"
    );
    assert_eq!(end["details"]["reason"], "client_eof", "{end}");
    let c = &end["details"]["counts"];
    for (k, v) in [
        ("tool_calls", 5),
        ("tool_errors", 0),
        ("rpc_errors", 0),
        ("batches", 0),
        ("protocol_violations", 0),
        ("cancelled", 0),
        ("progress_notifications", 3),
        ("progress_unmatched", 0),
        ("pending_overflow", 0),
    ] {
        assert_eq!(c[k], v, "counts.{k}: {c}");
    }
    let m = &c["methods"];
    let roots = seen["roots_requests"].as_u64().unwrap();
    let list_changed = seen["list_changed"].as_u64().unwrap();
    for (method, n) in [
        ("server/discover", 1),
        ("initialize", 1),
        ("notifications/initialized", 1),
        ("tools/list", 2),
        ("tools/call", 5),
        ("logging/setLevel", 1),
        ("roots/list", roots),
        ("sampling/createMessage", 1),
        ("elicitation/create", 1),
        ("resources/list", 1),
        ("resources/read", 1),
        ("prompts/list", 1),
        ("prompts/get", 1),
        ("notifications/progress", 3),
        ("notifications/tools/list_changed", list_changed),
    ] {
        assert_eq!(m[method], n, "counts.methods[{method}]: {c}");
    }
    let requests = 16 + roots;
    assert_eq!(c["requests"], requests, "{c}");
    // Every request was answered.
    assert_eq!(c["responses"], requests, "{c}");
    let notes: u64 = m
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with("notifications/"))
        .map(|(_, v)| v.as_u64().unwrap())
        .sum();
    assert_eq!(c["notifications"], notes, "{c}");
}
