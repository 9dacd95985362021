//! Planted anomalies for the generated trail ([`crate::trail_gen`]): on the
//! trail's last day, `user-0` of `server-0` calls a tool never seen before
//! (`export_all`, 12:00), `search` fails on every call of one hour (14:00,
//! 40 calls: ten times the generator's 8%), `user-1` makes 120 calls within a
//! minute at 03:00, `search`'s description changes (a `tool_changed`
//! event, 10:00) and a result carries a secret (a `secret_detected` event,
//! 11:00). Each is its own session, stamped like the proxy's.

use std::time::{Duration, SystemTime};

use audit_core::event::{Event, EventType, Outcome, RiskLevel, Severity};
use audit_core::stamp::{SessionIdentity, Stamper};
use serde_json::json;

/// The event ids of what was planted.
#[derive(Debug, Default, Clone)]
pub struct Planted {
    pub new_tool_call: String,
    pub spike_errors: Vec<String>,
    pub burst_calls: Vec<String>,
    pub tool_changed: String,
    pub secret_detected: String,
}

/// Ids of planted events: a counter, distinct from the generator's uuids.
struct Ids(u64);

impl Ids {
    fn next(&mut self) -> String {
        self.0 += 1;
        format!("planted-{:06}", self.0)
    }
}

/// The planted sessions' lines, for the day starting at `day`.
pub fn plant(day: SystemTime) -> (Vec<u8>, Planted) {
    let mut ids = Ids(0);
    let mut p = Planted::default();
    let mut out = Vec::new();
    let at = |h: u64, ms: u64| day + Duration::from_secs(h * 3600) + Duration::from_millis(ms);

    let mut s = session("user-0", at(12, 0), &mut ids, &mut out);
    p.new_tool_call =
        call_and_answer(&mut s, "export_all", at(12, 10), false, &mut ids, &mut out).0;
    end(&mut s, at(12, 100), &mut ids, &mut out);

    let mut s = session("user-0", at(14, 0), &mut ids, &mut out);
    for i in 0..40 {
        let (_, answer) = call_and_answer(
            &mut s,
            "search",
            at(14, 10 + i * 1000),
            true,
            &mut ids,
            &mut out,
        );
        p.spike_errors.push(answer);
    }
    end(&mut s, at(14, 60_000), &mut ids, &mut out);

    let mut s = session("user-1", at(3, 0), &mut ids, &mut out);
    for i in 0..120 {
        let (call, _) = call_and_answer(
            &mut s,
            "read_file",
            at(3, 10 + i * 400),
            false,
            &mut ids,
            &mut out,
        );
        p.burst_calls.push(call);
    }
    end(&mut s, at(3, 59_000), &mut ids, &mut out);

    let mut s = session("user-0", at(10, 0), &mut ids, &mut out);
    let mut e = Event::new(EventType::ToolChanged, at(10, 10)).severity(Severity::Critical);
    e.tool = Some("search".into());
    e = e
        .detail("change", "changed")
        .detail("changed_fields", json!(["description"]));
    p.tool_changed = put(&mut s, e, &mut ids, &mut out);
    end(&mut s, at(10, 100), &mut ids, &mut out);

    let mut s = session("user-0", at(11, 0), &mut ids, &mut out);
    let (_, result) = call_and_answer(&mut s, "read_file", at(11, 10), false, &mut ids, &mut out);
    let mut e = Event::new(EventType::SecretDetected, at(11, 20)).severity(Severity::Warning);
    e.tool = Some("read_file".into());
    e.call_event_id = Some(result);
    e = e
        .detail("redactions", json!(["aws_access_key"]))
        .detail("count", 1)
        .detail("field", "result");
    p.secret_detected = put(&mut s, e, &mut ids, &mut out);
    end(&mut s, at(11, 100), &mut ids, &mut out);
    (out, p)
}

fn session(user: &str, at: SystemTime, ids: &mut Ids, out: &mut Vec<u8>) -> Stamper {
    let identity = SessionIdentity {
        session_id: ids.next().into(),
        server: "server-0".into(),
        user: user.into(),
        host: "host-0".into(),
    };
    let mut s = Stamper::new(identity, [7; 32]);
    let start = Event::new(EventType::SessionStart, at)
        .detail("era", "handshake")
        .detail("client", json!({"name": "claude-code", "version": "1.0"}))
        .detail("host", "host-0")
        .detail("chain_seed", s.seed_hex());
    put(&mut s, start, ids, out);
    s
}

fn end(s: &mut Stamper, at: SystemTime, ids: &mut Ids, out: &mut Vec<u8>) {
    let e = Event::new(EventType::SessionEnd, at)
        .detail("reason", "client_eof")
        .detail("exit_code", 0)
        .detail("event_count", s.count() + 1);
    put(s, e, ids, out);
}

/// A call of `tool` and its answer 1 ms later; returns both ids.
fn call_and_answer(
    s: &mut Stamper,
    tool: &str,
    at: SystemTime,
    fail: bool,
    ids: &mut Ids,
    out: &mut Vec<u8>,
) -> (String, String) {
    let mut call = Event::new(EventType::ToolCall, at).outcome(Outcome::Pending);
    call.tool = Some(tool.into());
    call.method = Some("tools/call".into());
    call.risk_level = Some(RiskLevel::Low);
    call.arguments = Some(json!({"path": "/data/x.txt"}));
    call = call.detail("arguments_bytes", 22);
    let call_id = put(s, call, ids, out);
    let (kind, outcome) = if fail {
        (EventType::ToolError, Outcome::Failure)
    } else {
        (EventType::ToolResult, Outcome::Success)
    };
    let mut a = Event::new(kind, at + Duration::from_millis(1)).outcome(outcome);
    a.tool = Some(tool.into());
    a.method = Some("tools/call".into());
    a.risk_level = Some(RiskLevel::Low);
    a.call_event_id = Some(call_id.clone());
    a.duration_ms = Some(1.0);
    a.result = Some(json!({"content": [{"type": "text", "text": "ok"}], "isError": fail}));
    (call_id, put(s, a, ids, out))
}

fn put(s: &mut Stamper, mut e: Event, ids: &mut Ids, out: &mut Vec<u8>) -> String {
    let id = ids.next();
    e.event_id = Some(id.clone());
    s.stamp(&e, out);
    id
}
