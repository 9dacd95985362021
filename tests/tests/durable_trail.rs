//! Durable audit files, end to end through the real
//! `mcp-blackbox` binary:
//! 1. a disk that fills up mid-session costs events, never the session; the
//!    loss is logged once and put on record (`audit_dropped`), so `verify`
//!    accepts the gap;
//! 2. `kill -9` of the proxy while a client streams calls leaves files every
//!    reader can read, and `verify` calls the session truncated, not tampered;
//! 3. a chain rewritten after an edit fools `verify` without a key and not
//!    `verify --key`;
//! 4. `--max-file-size-mb 1` rotates into gzip parts `verify` reads;
//! 5. `--audit-file -` puts events on stderr and only relayed bytes on stdout.
//!
//! Every wait is on a line, an event or a process exit (polled with
//! `blackbox_tests::PATIENCE` as the bound), never a sleep.

#[path = "durable_trail/small_disk.rs"]
mod small_disk;
#[path = "durable_trail/trail.rs"]
mod trail;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use blackbox_tests::audit::{kind, AuditDir};
use blackbox_tests::client::{initialize, proxy_command, tool_call, LineClient};
use blackbox_tests::process::{read_pid_file, signal, wait_exit, wait_gone, wait_until};
use serde_json::{json, Value};

use small_disk::SmallDisk;
use trail::{events, verify};

const FAKE_SERVER: &str = env!("CARGO_BIN_EXE_fake_server");

/// Sends `initialize` and checks the answer.
fn handshake(client: &mut LineClient) {
    client.send(&initialize(0, "durable-trail"));
    let reply = client.recv();
    assert_eq!(reply["id"], 0, "{reply}");
    assert!(reply["result"]["serverInfo"].is_object(), "{reply}");
}

/// `echo` calls `ids` with a `pad` of `pad_bytes`; each must come back whole.
fn echo_calls(client: &mut LineClient, ids: std::ops::Range<u64>, pad_bytes: usize) {
    for id in ids {
        let args = json!({"n": id, "pad": "x".repeat(pad_bytes)});
        client.send(&tool_call(id, "echo", args.clone()));
        let reply = client.recv();
        assert_eq!(reply["id"], id, "{reply}");
        let text = reply["result"]["content"][0]["text"].as_str();
        assert_eq!(text, Some(args.to_string().as_str()), "call {id} harmed");
    }
}

/// Calls a tool of `fake_server --fill-dir` and returns its text.
fn disk_tool(client: &mut LineClient, id: u64, tool: &str) -> String {
    client.send(&tool_call(id, tool, json!({})));
    let reply = client.recv();
    assert_eq!(reply["id"], id, "{reply}");
    let text = reply["result"]["content"][0]["text"].as_str();
    text.unwrap_or_else(|| panic!("{tool} failed: {reply}"))
        .to_owned()
}

/// The proxy's stderr, collected line by line on a thread.
struct StderrLines(Arc<Mutex<Vec<String>>>);

impl StderrLines {
    fn capture(client: &mut LineClient) -> StderrLines {
        let stderr = client.child_mut().stderr.take().expect("piped stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("proxy stderr: {line}");
                sink.lock().unwrap().push(line);
            }
        });
        StderrLines(lines)
    }

    fn matching(&self, needle: &str) -> Vec<String> {
        let lines = self.0.lock().unwrap();
        lines
            .iter()
            .filter(|l| l.contains(needle))
            .cloned()
            .collect()
    }
}

#[test]
fn a_full_disk_costs_events_on_record_and_never_the_session() {
    let disk = SmallDisk::new("512k");
    let fill_dir = disk.mount_point().to_str().unwrap().to_owned();
    let mut cmd = disk.proxy_command(
        &["--user", "e2e", "--server-name", "full"],
        &[FAKE_SERVER, "mcp", "--fill-dir", &fill_dir],
    );
    cmd.stderr(Stdio::piped());
    let mut client = LineClient::spawn(&mut cmd);
    let stderr = StderrLines::capture(&mut client);

    handshake(&mut client);
    echo_calls(&mut client, 1..4, 16);
    // What the session did so far is on disk before the disk fills.
    let live = disk.live_trail(client.pid());
    wait_until("3 tool results on disk", || {
        on_disk(&live, "tool_result") >= 3
    });
    let filled = disk_tool(&mut client, 100, "fill_disk");
    eprintln!("fill_disk: {filled}");
    // Each of these events is larger than any free space left in a page.
    echo_calls(&mut client, 4..14, 8192);
    wait_until("the writer to report the full disk", || {
        !stderr.matching("No space left on device").is_empty()
    });
    assert_eq!(disk_tool(&mut client, 101, "free_disk"), "freed");
    echo_calls(&mut client, 14..24, 16);
    client.close_stdin();
    assert!(client.wait().success(), "the session must end cleanly");

    // Logged once per outage, not once per lost event: a failed write after
    // a failed write logs nothing. The outage can be cut in several: the
    // writer's own `audit_dropped` line is small enough to fit in what space
    // is left, and when it goes out in a batch of its own (a matter of
    // timing: one run here cut it in three) that write succeeds ("writing
    // again") and the next large line starts another outage. So the reports
    // alternate: full, writing again, full, ... (The stderr reader may not
    // have every line yet; a prefix alternates too.)
    let reports = stderr.matching("audit trail: ");
    let states: Vec<bool> = reports
        .iter()
        .filter_map(|l| {
            if l.contains("No space left on device") {
                Some(true)
            } else if l.contains("writing again") {
                Some(false)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(states.first(), Some(&true), "{reports:#?}");
    assert!(
        states.windows(2).all(|w| w[0] != w[1]),
        "one report per outage and one per recovery: {reports:#?}"
    );

    let dir = disk.trail_after_exit();
    let all = events(&dir);
    let mut seqs: Vec<u64> = all.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    seqs.sort_unstable();
    let last = *seqs.last().unwrap();
    let end = all
        .iter()
        .find(|e| kind(e) == "session_end")
        .expect("session_end written");
    assert_eq!(end["details"]["event_count"], last);
    let missing: Vec<u64> = (1..=last)
        .filter(|s| seqs.binary_search(s).is_err())
        .collect();
    assert!(!missing.is_empty(), "the full disk cost no event?");
    // session_start and 3 calls with their results were on disk before.
    assert!(missing[0] > 7, "events on disk before it filled are kept");

    let announced: Vec<&Value> = all
        .iter()
        .filter(|e| kind(e) == "audit_dropped" && e["details"]["stage"] == "writer")
        .collect();
    eprintln!(
        "missing {} events: {missing:?}; announced by {announced:#?}",
        missing.len()
    );
    let lines: u64 = announced
        .iter()
        .map(|e| e["details"]["lines"].as_u64().unwrap())
        .sum();
    assert_eq!(lines, missing.len() as u64, "announced lines vs seq gaps");
    for seq in &missing {
        let covered = announced.iter().any(|e| {
            let d = &e["details"];
            d["reason"] == "storage"
                && d["first_seq"].as_u64() <= Some(*seq)
                && Some(*seq) <= d["last_seq"].as_u64()
        });
        assert!(covered, "seq {seq} missing and not announced");
    }
    let (code, report) = verify(&[&dir]);
    assert_eq!(code, 0, "verify must accept an announced gap:\n{report}");
    assert!(
        report.contains("announced lost by audit_dropped"),
        "{report}"
    );
}

#[test]
fn kill_9_mid_stream_leaves_a_readable_truncated_trail() {
    let audit = AuditDir::new();
    let pid_file = audit.path().join("server.pid");
    let server = [FAKE_SERVER, "--pid-file", pid_file.to_str().unwrap(), "mcp"];
    let mut client = LineClient::spawn(&mut proxy_command(audit.path(), "k9", &[], &server));
    let server_pid = read_pid_file(&pid_file);
    handshake(&mut client);

    // A client streaming calls until the pipe breaks.
    let mut stdin = client.take_stdin();
    let streamer = std::thread::spawn(move || {
        let mut sent = 0u64;
        for id in 1..1_000_000u64 {
            let mut line = serde_json::to_vec(&tool_call(id, "echo", json!({"n": id}))).unwrap();
            line.push(b'\n');
            if stdin.write_all(&line).is_err() {
                break;
            }
            sent += 1;
        }
        sent
    });
    let mut replies = 0u64;
    while replies < 200 {
        let reply = client.recv();
        assert!(reply["result"].is_object(), "{reply}");
        replies += 1;
    }
    wait_until("100 tool results on disk", || {
        on_disk(audit.path(), "tool_result") >= 100
    });
    signal(client.pid(), libc::SIGKILL);
    let status = client.wait();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    let mut rest = Vec::new();
    client
        .stdout()
        .read_to_end(&mut rest)
        .expect("stdout to EOF");
    let sent = streamer.join().unwrap();
    eprintln!("sent {sent} calls, {replies}+ replies before the kill");
    wait_gone(server_pid, "the server after its proxy died");

    let files = trail::audit_files(audit.path());
    assert_eq!(files.len(), 1, "{files:?}");
    let bytes = std::fs::read(&files[0]).unwrap();
    let whole = trail::whole_lines(&bytes);
    let last_seq = whole.last().unwrap()["seq"].as_u64().unwrap();
    assert_eq!(whole.len() as u64, last_seq, "every whole line is readable");
    trail::read_like_jq(&files[0], &whole);

    let (code, report) = verify(&[audit.path()]);
    assert_eq!(code, 1, "an unfinished session is reported:\n{report}");
    assert!(
        report.contains(&format!("truncated: no session_end after seq {last_seq}")),
        "{report}"
    );
    assert!(
        report.contains(&format!("{last_seq} events (last seq {last_seq})")),
        "{report}"
    );
    for tamper in [
        "modified",
        "chain broken",
        "missing",
        "twice",
        "reordered",
        "unreadable",
    ] {
        assert!(!report.contains(tamper), "{tamper:?} in:\n{report}");
    }
}

/// Events of type `t` in the files of `dir` so far (0 if unreadable).
fn on_disk(dir: &std::path::Path, t: &str) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let needle = format!("\"type\":\"{t}\"");
    entries
        .filter_map(|e| std::fs::read(e.ok()?.path()).ok())
        .map(|text| {
            let text = String::from_utf8_lossy(&text);
            text.matches(&needle).count()
        })
        .sum()
}

#[test]
fn a_recomputed_chain_fools_verify_but_not_verify_with_the_key() {
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("signing.key");
    let public = keys.path().join("signing.key.pub");
    let mut keygen = Command::new(blackbox_tests::binary::blackbox());
    keygen.arg("keygen").arg("--out").arg(&key);
    let out = blackbox_tests::process::run_collect(&mut keygen, "keygen");
    assert!(out.status.success(), "{out:?}");

    let audit = AuditDir::new();
    let flags = [
        "--signing-key",
        key.to_str().unwrap(),
        "--checkpoint-events",
        "5",
    ];
    let mut client = LineClient::spawn(&mut proxy_command(
        audit.path(),
        "signed",
        &flags,
        &[FAKE_SERVER, "mcp"],
    ));
    handshake(&mut client);
    echo_calls(&mut client, 1..13, 16);
    client.close_stdin();
    assert!(client.wait().success());

    let all = events(audit.path());
    assert!(
        all.iter().filter(|e| kind(e) == "checkpoint").count() >= 3,
        "{all:#?}"
    );
    let (code, report) = verify(&[audit.path()]);
    assert_eq!(code, 0, "{report}");
    let (code, report) = verify(&[audit.path(), "--key".as_ref(), public.as_path()]);
    assert_eq!(code, 0, "{report}");
    assert!(report.contains(", signed\n"), "{report}");

    // Edit the first tool call's arguments (before the first checkpoint).
    let file = &trail::audit_files(audit.path())[0];
    let original = std::fs::read(file).unwrap();
    let target = all.iter().position(|e| kind(e) == "tool_call").unwrap();
    let edit = |l: &[u8]| trail::replace_once(l, r#""n":1"#, r#""n":7"#);

    // Naively: the edit shows without a key.
    let naive: Vec<u8> = rewrite_line(&original, target, edit);
    std::fs::write(file, &naive).unwrap();
    let (code, report) = verify(&[audit.path()]);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("line modified"), "{report}");

    // With the chain recomputed, and the seal index (which holds the
    // file's hash) deleted, only the signatures tell.
    std::fs::write(file, trail::forge(&original, target, edit)).unwrap();
    std::fs::remove_file(audit.path().join(".seals")).unwrap();
    let (code, report) = verify(&[audit.path()]);
    assert_eq!(
        code, 0,
        "a recomputed chain passes without a key:\n{report}"
    );
    let (code, report) = verify(&[audit.path(), "--key".as_ref(), public.as_path()]);
    assert_eq!(code, 1, "{report}");
    assert!(
        report.contains("signature missing or invalid at"),
        "{report}"
    );
    assert!(
        !report.contains("line modified") && !report.contains("chain broken"),
        "{report}"
    );
}

/// `text` with line `target` (0-based) passed through `edit`, nothing re-hashed.
fn rewrite_line(text: &[u8], target: usize, edit: impl Fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, line) in text
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
    {
        out.extend_from_slice(&if n == target {
            edit(line)
        } else {
            line.to_vec()
        });
        out.push(b'\n');
    }
    out
}

#[test]
fn size_rotation_through_the_proxy_yields_gzip_parts_verify_reads() {
    let audit = AuditDir::new();
    // Long strings are cut to --max-field-chars (500) in the trail by default:
    // keep them whole here so the file really grows past 1 MiB.
    let flags = ["--max-file-size-mb", "1", "--max-field-chars", "1000000"];
    let mut client = LineClient::spawn(&mut proxy_command(
        audit.path(),
        "rotate",
        &flags,
        &[FAKE_SERVER, "mcp"],
    ));
    handshake(&mut client);
    // Each call puts its ~32 KiB arguments on record twice (call and result).
    echo_calls(&mut client, 1..71, 32 * 1024);
    client.close_stdin();
    assert!(client.wait().success());

    let files = trail::audit_files(audit.path());
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    eprintln!("files: {names:?}");
    let parts = names.iter().filter(|n| n.ends_with(".jsonl.gz")).count();
    assert!(parts >= 3, "expected rotated gzip parts: {names:?}");
    assert_eq!(
        names.iter().filter(|n| n.ends_with(".jsonl")).count(),
        1,
        "uncompressed parts left: {names:?}"
    );
    for f in &files {
        let len = trail::file_bytes(f).len();
        assert!(len < 2 << 20, "{} holds {len} bytes", f.display());
    }

    let all = events(audit.path());
    let seqs: Vec<u64> = all.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=all.len() as u64).collect::<Vec<_>>(),
        "events in file order"
    );
    let end = all.last().unwrap();
    assert_eq!(kind(end), "session_end");
    assert_eq!(end["details"]["event_count"], all.len());
    assert_eq!(all.iter().filter(|e| kind(e) == "tool_result").count(), 70);

    let (code, report) = verify(&[audit.path()]);
    assert_eq!(code, 0, "{report}");
    assert!(
        report.contains(&format!(
            "verify: {} files, 1 sessions, 0 broken: OK",
            files.len()
        )),
        "{report}"
    );
}

#[test]
fn audit_file_dash_writes_events_to_stderr_and_only_relayed_bytes_to_stdout() {
    let tmp = tempfile::tempdir().unwrap();
    let send = tmp.path().join("send");
    let record = tmp.path().join("record");
    let requests = [
        initialize(0, "stderr-trail").to_string(),
        tool_call(1, "echo", json!({"s": "héllo\t\u{2028}"})).to_string(),
        "  {\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{}}}\r".to_owned(),
    ];
    let input = format!("{}\n", requests.join("\n")).into_bytes();
    let replies = "{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},\"serverInfo\":{\"name\":\"r\",\"version\":\"1\"}}}\n\
        {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"h\u{e9}llo \\u2028\"}]}}   \n\
        \n{ \"jsonrpc\" : \"2.0\", \"id\" : 2, \"result\" : { \"content\" : [ ] } }";
    std::fs::write(&send, replies).unwrap();

    let mut child = Command::new(blackbox_tests::binary::blackbox())
        .args([
            "--audit-file",
            "-",
            "--user",
            "e2e",
            "--server-name",
            "relay",
            "--",
        ])
        .arg(FAKE_SERVER)
        .args(["relay", "--send"])
        .arg(&send)
        .arg("--record")
        .arg(&record)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning the proxy");
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || stdin.write_all(&input).map(|_| input));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let stdout = std::thread::spawn(move || {
        let mut v = Vec::new();
        out.read_to_end(&mut v).map(|_| v)
    });
    let mut stderr = Vec::new();
    err.read_to_end(&mut stderr).unwrap();
    assert!(wait_exit(&mut child, "proxy").success());
    let input = feeder.join().unwrap().unwrap();
    let stdout = stdout.join().unwrap().unwrap();

    assert!(
        stdout == replies.as_bytes(),
        "stdout is not exactly the server's bytes"
    );
    assert!(
        std::fs::read(&record).unwrap() == input,
        "the server did not get exactly the client's bytes"
    );

    let text = String::from_utf8(stderr).expect("UTF-8 stderr");
    let event_lines: Vec<&str> = text.lines().filter(|l| l.starts_with('{')).collect();
    for other in text.lines().filter(|l| !l.starts_with('{')) {
        eprintln!("stderr diagnostic: {other}");
    }
    let evs: Vec<Value> = event_lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("an event line"))
        .collect();
    let seqs: Vec<u64> = evs.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=evs.len() as u64).collect::<Vec<_>>());
    assert_eq!(kind(&evs[0]), "session_start");
    assert_eq!(kind(evs.last().unwrap()), "session_end");
    assert_eq!(
        evs.iter().filter(|e| kind(e) == "tool_call").count(),
        2,
        "{evs:#?}"
    );

    // The same lines, saved as a file, are a trail verify accepts.
    let saved = tmp.path().join("audit-stderr.jsonl");
    std::fs::write(&saved, format!("{}\n", event_lines.join("\n"))).unwrap();
    let (code, report) = verify(&[&saved]);
    assert_eq!(code, 0, "{report}");
}
