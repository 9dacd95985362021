//! Loadgen's scenarios against one spawned MCP server (or a relay/proxy in
//! front of one).
//!
//! A [`Session`] owns the child and both pipes. It is opened with the
//! handshake (timed: spawn to `initialize` answered), then runs any of the
//! scenarios, and checks every response against its request: a mismatch is an
//! error, never a data point.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

use crate::bench::check::{check_result, check_text_response};
use crate::bench::procstat::{self, ProcSample};
use crate::bench::stats::LatencySummary;
use crate::bench::wire;

/// Read buffer of the child's stdout.
const READ_BUFFER: usize = 256 * 1024;

/// A child is quiet when it used less CPU than this over a [`QUIET_SPAN`].
const QUIET_CPU: Duration = Duration::from_micros(500);
const QUIET_SPAN: Duration = Duration::from_millis(25);
/// Waiting for a child to go quiet gives up after this long.
const SETTLE_MAX: Duration = Duration::from_secs(20);

/// A running MCP server, handshake done.
pub struct Session {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    line: Vec<u8>,
    next_id: u64,
    /// `tools/call` requests answered so far.
    pub tool_calls: u64,
    /// Spawn to `initialize` answered.
    pub time_to_first_response: Duration,
}

/// Megabytes (10^6 bytes) per second.
fn mb_per_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs
}

impl Session {
    /// Spawns `command` and does the handshake: `initialize`,
    /// `notifications/initialized`, and a `tools/list` that must offer `echo`
    /// and `blob`.
    pub fn open(command: &[String]) -> Result<Session> {
        let (program, args) = command
            .split_first()
            .ok_or_else(|| anyhow!("no command to run after `--`"))?;
        let started = Instant::now();
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("while starting {program}"))?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::with_capacity(READ_BUFFER, child.stdout.take().expect("piped"));
        let mut s = Session {
            child,
            stdin,
            stdout,
            line: Vec::new(),
            next_id: 1,
            tool_calls: 0,
            time_to_first_response: Duration::ZERO,
        };
        let id = s.take_ids(1);
        s.roundtrip(&wire::initialize_request(id))?;
        s.time_to_first_response = started.elapsed();
        check_result(&s.line, id)?;
        s.stdin.write_all(wire::initialized_notification())?;
        let id = s.take_ids(1);
        s.roundtrip(&wire::tools_list_request(id))?;
        let tools = check_result(&s.line, id)?;
        for name in ["echo", "blob"] {
            let listed = tools["tools"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t["name"] == name));
            if !listed {
                bail!("tools/list does not offer `{name}`: {tools}");
            }
        }
        Ok(s)
    }

    /// Resources of the child process now.
    pub fn sample(&self) -> Result<ProcSample> {
        procstat::sample(self.child.id()).context("while reading the child's /proc entry")
    }

    /// Resources of the child once it has gone quiet: a proxy's auditor may
    /// still work through what a scenario queued after its last answer, and
    /// that CPU belongs to the scenario. Quiet: less than [`QUIET_CPU`] over
    /// a [`QUIET_SPAN`] (at most [`SETTLE_MAX`] of waiting).
    pub fn settled_sample(&self) -> Result<ProcSample> {
        let started = Instant::now();
        let mut last = self.sample()?;
        loop {
            std::thread::sleep(QUIET_SPAN);
            let now = self.sample()?;
            if now.cpu.saturating_sub(last.cpu) < QUIET_CPU || started.elapsed() > SETTLE_MAX {
                return Ok(now);
            }
            last = now;
        }
    }

    /// Scenario (a): `calls` echo calls one after the other, each timed.
    pub fn sequential(&mut self, calls: u64, payload: usize) -> Result<Value> {
        let before = self.sample()?;
        let mut nanos = Vec::with_capacity(calls as usize);
        let mut req = Vec::new();
        for _ in 0..calls {
            let id = self.take_ids(1);
            let text = wire::echo_text(id, payload);
            req.clear();
            wire::echo_request(id, &text, &mut req);
            let t = Instant::now();
            self.roundtrip(&req)?;
            nanos.push(t.elapsed().as_nanos() as u64);
            check_text_response(&self.line, id, text.as_bytes())?;
        }
        self.tool_calls += calls;
        let cpu = self.settled_sample()?.cpu - before.cpu;
        let s = LatencySummary::from_nanos(&mut nanos).ok_or_else(|| anyhow!("no calls"))?;
        Ok(json!({
            "calls": s.count, "payload_bytes": payload,
            "p50_us": s.p50_us, "p90_us": s.p90_us, "p99_us": s.p99_us,
            "max_us": s.max_us, "mean_us": s.mean_us,
            "cpu_ms": cpu.as_secs_f64() * 1e3,
            "cpu_us_per_call": cpu.as_secs_f64() * 1e6 / calls as f64,
        }))
    }

    /// Scenario (b): `calls` echo calls with up to `window` in flight; one
    /// thread writes, another reads and checks.
    pub fn pipelined(&mut self, calls: u64, window: usize, payload: usize) -> Result<Value> {
        let before = self.sample()?;
        let first = self.take_ids(calls);
        let (credit_tx, credit_rx) = sync_channel::<()>(window.max(1));
        for _ in 0..window.max(1) {
            credit_tx.send(()).expect("receiver alive");
        }
        let started = Instant::now();
        let (sent, received) = std::thread::scope(|scope| {
            let stdin = &mut self.stdin;
            let writer = scope.spawn(move || -> Result<u64> {
                let mut w = BufWriter::with_capacity(64 * 1024, stdin);
                let (mut bytes, mut req) = (0u64, Vec::new());
                for id in first..first + calls {
                    if credit_rx.try_recv().is_err() {
                        w.flush()?;
                        // An error here means the reader stopped; it reports why.
                        if credit_rx.recv().is_err() {
                            return Ok(bytes);
                        }
                    }
                    req.clear();
                    wire::echo_request(id, &wire::echo_text(id, payload), &mut req);
                    w.write_all(&req)?;
                    bytes += req.len() as u64;
                }
                w.flush()?;
                Ok(bytes)
            });
            let (stdout, line) = (&mut self.stdout, &mut self.line);
            let reader = scope.spawn(move || -> Result<u64> {
                let mut bytes = 0u64;
                for id in first..first + calls {
                    read_line(stdout, line)?;
                    bytes += line.len() as u64;
                    check_text_response(line, id, wire::echo_text(id, payload).as_bytes())?;
                    let _ = credit_tx.send(());
                }
                Ok(bytes)
            });
            let received = reader.join().expect("reader thread panicked");
            let sent = writer.join().expect("writer thread panicked");
            (sent, received)
        });
        let (sent, received) = (sent?, received?);
        let secs = started.elapsed().as_secs_f64();
        self.tool_calls += calls;
        let cpu = self.settled_sample()?.cpu - before.cpu;
        Ok(json!({
            "calls": calls, "window": window, "payload_bytes": payload, "secs": secs,
            "calls_per_s": calls as f64 / secs,
            "mb_per_s": mb_per_s(sent + received, secs),
            "cpu_ms": cpu.as_secs_f64() * 1e3,
            "cpu_us_per_call": cpu.as_secs_f64() * 1e6 / calls as f64,
        }))
    }

    /// Scenario (c): `count` `blob` calls of `size` bytes, one at a time.
    pub fn large(&mut self, size: usize, count: u64) -> Result<Value> {
        let before = self.sample()?;
        let blob = wire::blob_text(size);
        // One untimed call first: the server builds each size's text once.
        let id = self.take_ids(1);
        self.roundtrip(&wire::blob_request(id, size))?;
        check_text_response(&self.line, id, &blob)?;
        self.tool_calls += 1;
        let (mut bytes, mut nanos) = (0u64, Vec::new());
        let started = Instant::now();
        for _ in 0..count {
            let id = self.take_ids(1);
            let t = Instant::now();
            self.roundtrip(&wire::blob_request(id, size))?;
            nanos.push(t.elapsed().as_nanos() as u64);
            bytes += self.line.len() as u64;
            check_text_response(&self.line, id, &blob)?;
        }
        let secs = started.elapsed().as_secs_f64();
        self.tool_calls += count;
        let cpu = self.settled_sample()?.cpu - before.cpu;
        let s = LatencySummary::from_nanos(&mut nanos).ok_or_else(|| anyhow!("no calls"))?;
        // The CPU time covers the untimed call too.
        let mib = (bytes + bytes / count.max(1)) as f64 / 1048576.0;
        Ok(json!({
            "size": size, "count": count, "secs": secs,
            "mb_per_s": mb_per_s(bytes, secs),
            "p50_ms": s.p50_us / 1e3,
            "cpu_ms": cpu.as_secs_f64() * 1e3,
            "cpu_ms_per_mib": cpu.as_secs_f64() * 1e3 / mib,
        }))
    }

    /// Closes the child's stdin and waits for it; returns its shell status.
    pub fn finish(self) -> Result<i32> {
        let Session {
            mut child, stdin, ..
        } = self;
        drop(stdin);
        let status = child.wait().context("while waiting for the child")?;
        Ok(crate::bench::shell_status(status))
    }

    fn take_ids(&mut self, n: u64) -> u64 {
        let first = self.next_id;
        self.next_id += n;
        first
    }

    fn roundtrip(&mut self, request: &[u8]) -> Result<()> {
        self.stdin
            .write_all(request)
            .context("while writing a request")?;
        read_line(&mut self.stdout, &mut self.line)
    }
}

fn read_line(stdout: &mut BufReader<ChildStdout>, line: &mut Vec<u8>) -> Result<()> {
    line.clear();
    let n = stdout
        .read_until(b'\n', line)
        .context("while reading a response")?;
    if n == 0 || line.last() != Some(&b'\n') {
        bail!("the child closed its stdout before answering");
    }
    Ok(())
}

/// Counts audit events per `type` in every `*.jsonl` and rotated
/// `*.jsonl.gz` file under `dir`. The
/// type is read from the envelope at the start of each line, so huge results
/// are not parsed.
pub fn count_audit_events(dir: &Path) -> Result<BTreeMap<String, u64>> {
    let mut counts = BTreeMap::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("while listing {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let gzipped = name.ends_with(".jsonl.gz") && !name.starts_with('.');
        if name.ends_with(".jsonl") || gzipped {
            let file = std::fs::File::open(&path)
                .with_context(|| format!("while opening {}", path.display()))?;
            // Rotated files are compressed in the background: count them too.
            let reader: Box<dyn std::io::Read> = if gzipped {
                Box::new(flate2::read::MultiGzDecoder::new(file))
            } else {
                Box::new(file)
            };
            for line in BufReader::new(reader).split(b'\n') {
                let line = line?;
                let head = &line[..line.len().min(512)];
                *counts.entry(event_type(head)).or_insert(0) += 1;
            }
        }
    }
    Ok(counts)
}

fn event_type(head: &[u8]) -> String {
    const KEY: &[u8] = b"\"type\":\"";
    memchr::memmem::find(head, KEY)
        .and_then(|at| {
            let rest = &head[at + KEY.len()..];
            let end = memchr::memchr(b'"', rest)?;
            Some(String::from_utf8_lossy(&rest[..end]).into_owned())
        })
        .unwrap_or_else(|| "<unreadable>".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_events_by_envelope_type() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("audit-2026-01-01.jsonl"),
            "{\"v\":1,\"type\":\"tool_call\",\"x\":1}\n{\"v\":1,\"type\":\"tool_result\"}\n{\"v\":1,\"type\":\"tool_call\"}\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("other.txt"), "{\"type\":\"tool_call\"}\n").unwrap();
        let counts = count_audit_events(dir.path()).unwrap();
        assert_eq!(counts.get("tool_call"), Some(&2));
        assert_eq!(counts.get("tool_result"), Some(&1));
        assert_eq!(counts.len(), 2);
    }

    #[test]
    fn megabytes_per_second() {
        assert_eq!(mb_per_s(2_000_000, 2.0), 1.0);
    }
}
