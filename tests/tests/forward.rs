//! Forwarding to real collectors. To rsyslog, over TCP and over TLS
//! (certificates made by the test): a session through the proxy arrives
//! whole, every event parseable and byte-identical to its trail line, in
//! order, a 20 KB event intact; and with a spool, a collector that is down
//! at the start, comes up mid-session and goes down again loses nothing,
//! while the session completes with the collector down. To rotel over
//! OTLP/HTTP: one record per event, with its attributes and the request's
//! trace context.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;

use blackbox_tests::audit::AuditDir;
use blackbox_tests::client::{initialize, proxy_command, tool_call, LineClient};
use blackbox_tests::collectors::{parse_5424, rotel_field, Rotel, Rsyslog, ServerTls};
use blackbox_tests::peers::Peers;
use blackbox_tests::process::wait_until;
use serde_json::{json, Value};

/// rsyslog's and the proxy's maximum message size in these tests.
const MAX_MESSAGE: usize = 65536;
const BIG: usize = 20 * 1024;

/// One interactive session with server-everything behind the proxy.
struct Session {
    client: LineClient,
    next_id: u64,
}

impl Session {
    fn start(peers: &Peers, audit: &AuditDir, flags: &[&str]) -> Session {
        let js = peers.everything_js.to_str().expect("utf-8 path");
        let mut flags = flags.to_vec();
        flags.extend(["--max-field-chars", "100000"]);
        let mut cmd = proxy_command(audit.path(), "everything", &flags, &["node", js, "stdio"]);
        // server-everything's start-up banner would read as a problem in a
        // passing run; the assertions and the trail say what happened.
        cmd.stderr(Stdio::null());
        let mut s = Session {
            client: LineClient::spawn(&mut cmd),
            next_id: 1,
        };
        s.call(initialize(0, "forward-test"));
        s.client
            .send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        s
    }

    /// Sends a request and waits for its answer.
    fn call(&mut self, mut request: Value) -> Value {
        self.next_id += 1;
        request["id"] = self.next_id.into();
        self.client.send(&request);
        loop {
            let msg = self.client.recv();
            if msg["id"] == self.next_id {
                return msg;
            }
        }
    }

    fn echo(&mut self, message: &str) {
        let answer = self.call(tool_call(0, "echo", json!({ "message": message })));
        assert!(answer["result"].is_object(), "{answer}");
    }

    fn end(mut self) {
        self.client.close_stdin();
        assert!(self.client.wait().success(), "the proxy failed");
    }
}

/// Every line of the trail, as written.
fn trail_lines(audit: &AuditDir) -> Vec<String> {
    audit
        .files()
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).expect("reading the trail");
            text.lines().map(str::to_owned).collect::<Vec<_>>()
        })
        .collect()
}

/// The JSON messages rsyslog received, checked to be RFC 5424 with our
/// structured data.
fn received(rsyslog: &Rsyslog) -> Vec<String> {
    rsyslog
        .messages()
        .iter()
        .map(|m| {
            let parsed = parse_5424(m).unwrap_or_else(|| panic!("not RFC 5424: {m}"));
            assert_eq!(parsed.pri / 8, 13, "facility log audit: {m}");
            assert!(parsed.structured_data.starts_with("[mcp@32473 "), "{m}");
            parsed.msg
        })
        .collect()
}

fn event_id(line: &str) -> String {
    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    v["event_id"].as_str().expect("event_id").to_owned()
}

/// The MCP peers and a scratch directory, when the peers and rsyslog are
/// installed (`None`: skip; under CI a missing one fails).
fn with_rsyslog() -> Option<(Peers, tempfile::TempDir)> {
    let peers = Peers::find()?;
    Rsyslog::available().then(|| (peers, tempfile::tempdir().unwrap()))
}

/// A session with small and 20 KB events arrives whole and in order.
fn session_arrives_whole(peers: &Peers, rsyslog: &Rsyslog, url: &str, extra: &[&str]) {
    let audit = AuditDir::new();
    let max = MAX_MESSAGE.to_string();
    let mut flags = vec!["--forward", url, "--forward-max-message-bytes", &max];
    flags.extend_from_slice(extra);
    let mut session = Session::start(peers, &audit, &flags);
    for i in 0..5 {
        session.echo(&format!("hello {i}"));
    }
    session.echo(&"x".repeat(BIG));
    session.end();

    let trail = trail_lines(&audit);
    wait_until("rsyslog received the whole session", || {
        received(rsyslog).len() >= trail.len()
    });
    let got = received(rsyslog);
    assert_eq!(
        got, trail,
        "rsyslog got other messages than the trail's lines, or in another order"
    );
    let seqs: Vec<u64> = got
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, (1..=got.len() as u64).collect::<Vec<_>>());
    let big = got
        .iter()
        .filter(|l| l.len() > BIG && l.contains(&"x".repeat(BIG)))
        .count();
    assert!(big >= 2, "the 20 KB call and its result arrive intact");
}

#[test]
fn a_session_arrives_whole_over_tcp() {
    let Some((peers, dir)) = with_rsyslog() else {
        return;
    };
    let mut rsyslog = Rsyslog::new(dir.path(), None, MAX_MESSAGE);
    rsyslog.start();
    let url = format!("syslog+tcp://127.0.0.1:{}", rsyslog.port);
    session_arrives_whole(&peers, &rsyslog, &url, &[]);
    rsyslog.stop();
}

/// A CA and a server certificate for 127.0.0.1, written as PEM files.
fn certificates(dir: &Path) -> ServerTls {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "mcp-blackbox test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    let tls = ServerTls {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    };
    std::fs::write(&tls.ca, ca_cert.pem()).unwrap();
    std::fs::write(&tls.cert, cert.pem()).unwrap();
    std::fs::write(&tls.key, key.serialize_pem()).unwrap();
    tls
}

#[test]
fn a_session_arrives_whole_over_tls() {
    let Some((peers, dir)) = with_rsyslog() else {
        return;
    };
    let tls = certificates(dir.path());
    let mut rsyslog = Rsyslog::new(dir.path(), Some(tls.clone()), MAX_MESSAGE);
    rsyslog.start();
    let url = format!("syslog+tls://127.0.0.1:{}", rsyslog.port);
    let ca = tls.ca.to_str().unwrap();
    session_arrives_whole(&peers, &rsyslog, &url, &["--forward-ca-file", ca]);
    rsyslog.stop();
}

#[test]
fn with_a_spool_a_collector_that_comes_and_goes_loses_nothing() {
    let Some((peers, dir)) = with_rsyslog() else {
        return;
    };
    let spool = dir.path().join("spool");
    let mut rsyslog = Rsyslog::new(dir.path(), None, MAX_MESSAGE);
    let url = format!("syslog+tcp://127.0.0.1:{}", rsyslog.port);
    let flags = [
        "--forward",
        &url,
        "--forward-spool",
        spool.to_str().unwrap(),
    ];

    // Down at the start.
    let first = AuditDir::new();
    let mut session = Session::start(&peers, &first, &flags);
    session.echo("while the collector is down");
    // Up mid-session: what was spooled arrives, then the new events.
    rsyslog.start();
    session.echo("while the collector is up");
    first.wait_for("the second result", |e| {
        e["type"] == "tool_result" && e["result"].to_string().contains("is up")
    });
    let so_far = trail_lines(&first).len();
    wait_until("the spool replayed and the live events sent", || {
        received(&rsyslog).len() >= so_far
    });
    // Down again: the session goes on and ends without it.
    rsyslog.stop();
    session.echo("after the collector went away");
    session.end();
    assert!(
        received(&rsyslog).len() < trail_lines(&first).len(),
        "the session ended while the collector was down"
    );

    // The collector is back; the next session replays what the first missed.
    rsyslog.start();
    let second = AuditDir::new();
    Session::start(&peers, &second, &flags).end();
    let want: BTreeSet<String> = trail_lines(&first)
        .iter()
        .chain(trail_lines(&second).iter())
        .map(|l| event_id(l))
        .collect();
    wait_until("every event of both sessions at the collector", || {
        let got: BTreeSet<String> = received(&rsyslog).iter().map(|l| event_id(l)).collect();
        want.is_subset(&got)
    });
    // Order per session: first arrivals follow seq (replays may repeat).
    let got = received(&rsyslog);
    for audit in [&first, &second] {
        let ids: Vec<String> = trail_lines(audit).iter().map(|l| event_id(l)).collect();
        let mut seen = BTreeSet::new();
        let firsts: Vec<&String> = got
            .iter()
            .map(|l| event_id(l))
            .filter(|id| ids.contains(id) && seen.insert(id.clone()))
            .map(|id| ids.iter().find(|x| **x == id).unwrap())
            .collect();
        assert_eq!(firsts, ids.iter().collect::<Vec<_>>(), "per-session order");
    }
    rsyslog.stop();
}

#[test]
fn otlp_records_arrive_with_attributes_and_trace_context() {
    let Some(peers) = Peers::find() else { return };
    let Some(binary) = Rotel::binary() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rotel = Rotel::start(&binary, dir.path());
    let url = format!("otlp+http://127.0.0.1:{}", rotel.port);
    let audit = AuditDir::new();
    let mut session = Session::start(&peers, &audit, &["--forward", &url]);
    let (trace, span) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let mut call = tool_call(0, "echo", json!({"message": "traced"}));
    call["params"]["_meta"] = json!({"traceparent": format!("00-{trace}-{span}-01")});
    assert!(session.call(call)["result"].is_object());
    session.end();

    let trail = trail_lines(&audit);
    wait_until("rotel received every event", || {
        rotel.records().len() >= trail.len()
    });
    let records = rotel.records();
    let bodies: Vec<&str> = records
        .iter()
        .map(|r| rotel_field(r, "Body").expect("a body"))
        .collect();
    assert_eq!(
        bodies, trail,
        "one record per event, the line as its body, in order"
    );
    for (record, line) in records.iter().zip(&trail) {
        let event: Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            rotel_field(record, "-> event_id"),
            event["event_id"].as_str(),
            "{record}"
        );
        assert_eq!(
            rotel_field(record, "-> type"),
            event["type"].as_str(),
            "{record}"
        );
        assert_eq!(
            rotel_field(record, "-> session_id"),
            event["session_id"].as_str(),
            "{record}"
        );
        assert!(
            record.contains("SeverityText: INFO") || record.contains("SeverityText: WARN"),
            "{record}"
        );
    }
    let traced: Vec<&String> = records
        .iter()
        .filter(|r| rotel_field(r, "Trace ID") == Some(trace))
        .collect();
    assert!(
        !traced.is_empty(),
        "no record carries the trace id: {records:#?}"
    );
    for r in traced {
        assert_eq!(rotel_field(r, "Span ID"), Some(span), "{r}");
    }
    let call = records
        .iter()
        .find(|r| rotel_field(r, "-> type") == Some("tool_call"))
        .unwrap();
    assert_eq!(rotel_field(call, "Trace ID"), Some(trace), "{call}");
}
