//! `bench_pipeline`: micro-benchmarks of the audit pipeline alone, through
//! audit-core's public API, with plain `Instant` loops (no criterion: too
//! heavy to compile in CI). Prints one JSON object.
//!
//! 1. auditor: `--calls` synthetic `tools/call` request/result pairs go through
//!    [`Auditor::handle`] (framing, classification, stamping) on this thread,
//!    batches to a real writer over a temp dir on its own thread, as in the
//!    proxy. Reports events/s of wall time and per CPU-second of this thread.
//! 2. framing: GB/s through [`Framer::push`] for typical lines in 64 KiB
//!    chunks (the by-reference path) and 16 MiB lines (the copying path).
//! 3. offer: the time of each [`AuditHandle::offer`], the relay's hand-off,
//!    over `--offers` calls with a consumer draining the queue.
//!
//! `--sha256 SIZE:COUNT,…` instead measures only SHA-256 over the result
//! lines loadgen's large results put on the wire (in 64 KiB pieces, as the
//! relay reads them): the hashing limit of the audit, in CPU ms per MiB.

use std::time::{Duration, Instant};

use audit_core::event::Direction;
use audit_core::handoff::{self, AuditMsg, ChildExit, SessionEnd};
use audit_core::redact::{RedactConfig, Redactor};
use audit_core::stages::{
    spawn_writer, Auditor, AuditorConfig, Framer, SessionFacts, SinkTarget, DEFAULT_PARSE_LIMIT,
    DEFAULT_WRITER_QUEUE,
};
use audit_core::stamp::SessionIdentity;
use blackbox_tests::bench::procstat::thread_cpu;
use blackbox_tests::bench::stats::percentile;
use blackbox_tests::bench::wire;
use bytes::Bytes;
use clap::Parser;
use serde_json::{json, Value};

#[derive(Parser, Debug)]
#[command(about = "Micro-benchmarks of the mcp-blackbox audit pipeline")]
struct Args {
    /// tools/call request/result pairs fed to the auditor.
    #[arg(long, default_value_t = 200_000)]
    calls: u64,
    /// Length of each echo text, bytes.
    #[arg(long, default_value_t = 128)]
    payload: usize,
    /// Calls `blob` for results of this many bytes instead of `echo`, each
    /// result in 64 KiB chunks as the relay reads it (0: echo calls).
    #[arg(long, default_value_t = 0)]
    blob: usize,
    /// Megabytes of small lines pushed through the framer.
    #[arg(long, default_value_t = 512)]
    framing_mb: usize,
    /// Calls of `AuditHandle::offer` timed one by one.
    #[arg(long, default_value_t = 2_000_000)]
    offers: u64,
    /// Redaction in the auditor, as the proxy runs by default (`on`), or not.
    #[arg(long, default_value = "on", value_parser = ["on", "off"])]
    redact: String,
    /// Only SHA-256 over `blob` result lines of each SIZE, COUNT times
    /// (K/M suffixes are KiB/MiB), e.g. `64K:512,1M:64,16M:8`.
    #[arg(long, value_delimiter = ',')]
    sha256: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.sha256.is_empty() {
        println!("{}", sha256_cost(&args.sha256)?);
        return Ok(());
    }
    let result = json!({
        "redact": args.redact,
        "auditor": auditor(&args)?,
        "framing": framing(args.framing_mb),
        "offer": offer(args.offers),
    });
    println!("{result}");
    Ok(())
}

/// The session's frames as the relay would hand them over: handshake first,
/// then `calls` request/result pairs, one frame per chunk; with `blob`, calls
/// of `blob` whose results come in chunks of at most 64 KiB.
fn session_chunks(calls: u64, payload: usize, blob: usize) -> Vec<(Direction, Bytes)> {
    let (c2s, s2c) = (Direction::ClientToServer, Direction::ServerToClient);
    let init_result = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{{\"protocolVersion\":\"{}\",\"capabilities\":{{\"tools\":{{}}}},\"serverInfo\":{{\"name\":\"bench\",\"version\":\"1\"}}}}}}\n",
        wire::PROTOCOL_VERSION
    );
    let mut chunks = vec![
        (c2s, Bytes::from(wire::initialize_request(0))),
        (s2c, Bytes::from(init_result)),
        (c2s, Bytes::from_static(wire::initialized_notification())),
    ];
    let blob_text = String::from_utf8(wire::blob_text(blob)).expect("the alphabet is ASCII");
    for id in 1..=calls {
        if blob > 0 {
            chunks.push((c2s, Bytes::from(wire::blob_request(id, blob))));
            let line = Bytes::from(wire::text_result(id, &blob_text));
            for at in (0..line.len()).step_by(64 * 1024) {
                chunks.push((s2c, line.slice(at..(at + 64 * 1024).min(line.len()))));
            }
            continue;
        }
        let text = wire::echo_text(id, payload);
        let mut req = Vec::new();
        wire::echo_request(id, &text, &mut req);
        chunks.push((c2s, Bytes::from(req)));
        chunks.push((s2c, Bytes::from(wire::text_result(id, &text))));
    }
    chunks
}

fn auditor(args: &Args) -> anyhow::Result<Value> {
    let dir = tempfile::tempdir()?;
    let writer = spawn_writer(
        SinkTarget::Dir(dir.path().join("audit")),
        DEFAULT_WRITER_QUEUE,
    )?;
    let identity = SessionIdentity {
        session_id: "bench".into(),
        server: "bench_server".into(),
        user: "bench".into(),
        host: "bench-host".into(),
    };
    let mut config = AuditorConfig::new(identity, SessionFacts::default());
    if args.redact == "on" {
        config.redactor = Some(Redactor::new(&RedactConfig::default())?);
    }
    let mut auditor = Auditor::new(config);
    let chunks = session_chunks(args.calls, args.payload, args.blob);
    // A frame's last chunk ends with its newline.
    let frames = chunks.iter().filter(|(_, b)| b.ends_with(b"\n")).count();
    let (mut events, mut bytes) = (0u64, 0u64);
    let mut hand_over = |batch: Vec<u8>| {
        events += memchr::memchr_iter(b'\n', &batch).count() as u64;
        bytes += batch.len() as u64;
        writer.write(batch);
    };
    let (started, cpu_before) = (Instant::now(), thread_cpu());
    for (i, (direction, bytes)) in chunks.into_iter().enumerate() {
        let at = Instant::now();
        auditor.handle(AuditMsg::Chunk {
            direction,
            at,
            bytes,
            lost_before: None,
            slack: 0,
        });
        if i % 64 == 63 {
            hand_over(auditor.take_batch());
        }
    }
    let end = SessionEnd {
        at: Instant::now(),
        exit: ChildExit::Code(0),
        reason: "client_eof".into(),
    };
    auditor.handle(AuditMsg::End(end));
    hand_over(auditor.take_batch());
    let (secs, cpu) = (
        started.elapsed().as_secs_f64(),
        (thread_cpu() - cpu_before).as_secs_f64(),
    );
    let report = writer
        .finish(Duration::from_secs(120))
        .ok_or_else(|| anyhow::anyhow!("the audit writer did not finish within 120 s"))?;
    let secs_written = started.elapsed().as_secs_f64();
    if report.lines_written != events {
        anyhow::bail!(
            "the writer wrote {} lines of the {events} stamped",
            report.lines_written
        );
    }
    Ok(json!({
        "calls": args.calls, "blob": args.blob, "frames": frames, "mb_per_s": (args.calls * args.blob as u64) as f64 / 1e6 / secs, "events": events, "audit_bytes": bytes,
        "secs": secs, "events_per_s": events as f64 / secs,
        "events_per_cpu_s": events as f64 / cpu,
        "events_per_s_until_written": events as f64 / secs_written,
    }))
}

/// CPU ms per MiB of SHA-256 alone over each size's result lines, keyed
/// like loadgen's large results (`16MiB`).
fn sha256_cost(specs: &[String]) -> anyhow::Result<Value> {
    use sha2::{Digest, Sha256};
    let mut out = serde_json::Map::new();
    for spec in specs {
        let (size, count, key) = blackbox_tests::bench::parse_size_count(spec)?;
        let text = String::from_utf8(wire::blob_text(size)).expect("the alphabet is ASCII");
        let line = wire::text_result(1, &text);
        let (mut digest, cpu_before) = ([0u8; 32], thread_cpu());
        for _ in 0..count {
            let mut h = Sha256::new();
            for piece in line.chunks(64 * 1024) {
                h.update(piece);
            }
            // Fold each digest in, so no hashing can be optimised away.
            for (d, b) in digest.iter_mut().zip(h.finalize()) {
                *d ^= b;
            }
        }
        let cpu_ms = (thread_cpu() - cpu_before).as_secs_f64() * 1e3;
        let mib = (line.len() as u64 * count) as f64 / 1048576.0;
        out.insert(key, json!({
            "size": size, "count": count, "line_bytes": line.len(), "cpu_ms": cpu_ms,
            "cpu_ms_per_mib": cpu_ms / mib, "digest_xor": digest.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        }));
    }
    Ok(json!({ "sha256": out }))
}

/// GB/s (10^9 bytes) of `rounds` passes of `chunks` through a framer.
fn framer_throughput(chunks: &[Bytes], rounds: usize) -> (f64, usize) {
    let mut framer = Framer::new(Direction::ServerToClient, DEFAULT_PARSE_LIMIT);
    let (mut out, mut frames, mut total) = (Vec::new(), 0, 0usize);
    let started = Instant::now();
    for _ in 0..rounds {
        for chunk in chunks {
            total += chunk.len();
            framer.push(chunk.clone(), Instant::now(), &mut out);
            frames += out.len();
            out.clear();
        }
    }
    (total as f64 / 1e9 / started.elapsed().as_secs_f64(), frames)
}

fn framing(megabytes: usize) -> Value {
    let one_line = wire::text_result(1, &wire::echo_text(1, 128));
    let mut stream = Vec::with_capacity(64 << 20);
    while stream.len() < 64 << 20 {
        stream.extend_from_slice(&one_line);
    }
    let stream = Bytes::from(stream);
    let small: Vec<Bytes> = (0..stream.len())
        .step_by(64 * 1024)
        .map(|at| stream.slice(at..(at + 64 * 1024).min(stream.len())))
        .collect();
    let (small_gbps, small_frames) = framer_throughput(&small, (megabytes / 64).max(1));
    let large_line = Bytes::from(wire::text_result(
        1,
        std::str::from_utf8(&wire::blob_text(16 << 20)).expect("ascii"),
    ));
    let large: Vec<Bytes> = (0..large_line.len())
        .step_by(64 * 1024)
        .map(|at| large_line.slice(at..(at + 64 * 1024).min(large_line.len())))
        .collect();
    let (large_gbps, large_frames) = framer_throughput(&large, 8);
    json!({
        "small_lines_bytes": one_line.len(), "small_frames": small_frames, "small_gb_per_s": small_gbps,
        "large_line_bytes": large_line.len(), "large_frames": large_frames, "large_gb_per_s": large_gbps,
    })
}

fn offer(offers: u64) -> Value {
    let (mut handle, inbox) = handoff::channel(
        handoff::DEFAULT_QUEUE_MESSAGES,
        handoff::DEFAULT_QUEUE_BYTES,
    );
    let consumer = std::thread::spawn(move || {
        let mut n = 0u64;
        while inbox.recv().is_some() {
            n += 1;
        }
        n
    });
    let chunk = Bytes::from(wire::text_result(1, &wire::echo_text(1, 128)));
    let mut nanos = Vec::with_capacity(offers as usize);
    for _ in 0..offers {
        let t = Instant::now();
        handle.offer(Direction::ServerToClient, t, chunk.clone());
        nanos.push(t.elapsed().as_nanos() as u64);
    }
    let stats = handle.stats().clone();
    drop(handle);
    let received = consumer.join().expect("consumer panicked");
    let mut timer = Vec::with_capacity(100_000);
    for _ in 0..100_000 {
        let t = Instant::now();
        timer.push(t.elapsed().as_nanos() as u64);
    }
    nanos.sort_unstable();
    timer.sort_unstable();
    let p = |v: &[u64], q: f64| percentile(v, q).unwrap_or(0);
    use std::sync::atomic::Ordering::Relaxed;
    json!({
        "offers": offers, "received": received,
        "dropped_chunks": stats.dropped_chunks.load(Relaxed),
        "p50_ns": p(&nanos, 50.0), "p99_ns": p(&nanos, 99.0), "p999_ns": p(&nanos, 99.9),
        "max_ns": nanos.last().copied().unwrap_or(0),
        "timer_overhead_p50_ns": p(&timer, 50.0), "timer_overhead_p99_ns": p(&timer, 99.0),
    })
}
