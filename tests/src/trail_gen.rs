//! A deterministic audit trail for tests and benchmarks: `events` events
//! over `days` days for `servers` servers and `users` users, from a seed.
//!
//! Sessions follow one another in time; each has a `session_start`, tool
//! calls each answered by a `tool_result` (about 92%), a `tool_error` (6%)
//! or a `tools/call` `rpc_error` (2%) linked by `call_event_id`, some
//! `policy_blocked` calls (2% of calls), and a `session_end`. Durations are
//! long-tailed around a per-tool typical latency. Lines are stamped by
//! [`audit_core::stamp::Stamper`] and written by the real writer
//! ([`audit_core::sink`], its clock set to the events' time), so files,
//! names, rotation and hash chains are those of the proxy and `mcp-blackbox
//! verify` accepts the trail. The same spec always gives the same lines.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use audit_core::event::{Event, EventType, Outcome, RiskLevel, Severity};
use audit_core::stages::{
    spawn_writer_with, FsyncPolicy, RotationPolicy, SinkTarget, WriterConfig,
};
use audit_core::stamp::{SessionIdentity, Stamper};
use serde_json::json;

use crate::trail_plant::Planted;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenSpec {
    /// Events in all (the last session may end a few events past it).
    pub events: u64,
    pub days: u32,
    pub servers: u32,
    pub users: u32,
    pub seed: u64,
    /// Leave every rotated file gzipped (`.jsonl.gz`), as the writer does;
    /// otherwise every file is plain. A day's unrotated file stays plain
    /// either way: the writer never compresses it, and `verify` reads a
    /// `.gz` at its name as that file gone.
    pub gzip: bool,
    /// The first session's start.
    pub start: SystemTime,
    /// The writer's size rotation.
    pub max_file_size: u64,
    /// Also write the anomalies of [`crate::trail_plant`] on the last day.
    pub plant: bool,
}

impl Default for GenSpec {
    fn default() -> GenSpec {
        GenSpec {
            events: 10_000,
            days: 3,
            servers: 3,
            users: 5,
            seed: 1,
            gzip: false,
            // 2026-11-01T00:00:00Z
            start: SystemTime::UNIX_EPOCH + Duration::from_secs(1_793_491_200),
            max_file_size: 64 << 20,
            plant: false,
        }
    }
}

/// The tools of every server: name, typical latency (µs), risk.
const TOOLS: [(&str, u64, RiskLevel); 6] = [
    ("read_file", 800, RiskLevel::Low),
    ("search", 25_000, RiskLevel::Low),
    ("get_status", 300, RiskLevel::Low),
    ("write_file", 2_000, RiskLevel::High),
    ("run_command", 150_000, RiskLevel::High),
    ("delete_item", 1_500, RiskLevel::High),
];

/// splitmix64: small, fast, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn percent(&mut self) -> u64 {
        self.below(100)
    }
    fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-7{:03x}-8{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            b >> 52,
            b & 0xffff_ffff_ffff
        )
    }
    /// A long-tailed duration around `typical` µs (1/8× … ~30×).
    fn duration_us(&mut self, typical: u64) -> u64 {
        let u = (self.below(1_000_000) as f64 + 0.5) / 1_000_000.0;
        ((typical as f64) * (0.125 + -u.ln() * 1.5)).round() as u64 + 1
    }
}

/// Generates the trail into `out` (created if missing); returns its files.
pub fn generate(spec: &GenSpec, out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    Ok(generate_planted(spec, out)?.0)
}

/// [`generate`], and the ids of what was planted when `spec.plant`.
pub fn generate_planted(
    spec: &GenSpec,
    out: &Path,
) -> anyhow::Result<(Vec<PathBuf>, Option<Planted>)> {
    let clock_ms = Arc::new(AtomicU64::new(millis(spec.start)));
    let config = WriterConfig {
        fsync: FsyncPolicy::Never,
        rotation: RotationPolicy {
            max_file_size: spec.max_file_size,
            max_files: 0,
        },
        clock: {
            let clock_ms = clock_ms.clone();
            Arc::new(move || {
                SystemTime::UNIX_EPOCH + Duration::from_millis(clock_ms.load(Ordering::Relaxed))
            })
        },
        ..WriterConfig::default()
    };
    let writer = spawn_writer_with(SinkTarget::Dir(out.to_owned()), config)?;
    let mut rng = Rng(spec.seed);
    let span_ms = u64::from(spec.days.max(1)) * 86_400_000;
    // About 2 events per call and 30 calls per session.
    let sessions = (spec.events / 62).max(1);
    let gap_ms = span_ms / sessions;
    let mut written = 0u64;
    let mut n = 0u64;
    while written < spec.events {
        let at = spec.start + Duration::from_millis(n * gap_ms + rng.below(gap_ms / 4 + 1));
        let left = spec.events - written;
        let (batch, count) = session(spec, &mut rng, at, left, gap_ms / 2);
        let day = |ms: u64| ms / 86_400_000;
        if day(clock_ms.load(Ordering::Relaxed)) != day(millis(at)) {
            writer.settle(); // every line of the previous day is in its file
        }
        clock_ms.store(millis(at), Ordering::Relaxed);
        writer.write(batch);
        written += count;
        n += 1;
    }
    let mut planted = None;
    if spec.plant {
        let last_day = spec.start + Duration::from_secs(u64::from(spec.days.max(1) - 1) * 86_400);
        let (lines, p) = crate::trail_plant::plant(last_day);
        writer.settle();
        clock_ms.store(millis(last_day) + 86_399_000, Ordering::Relaxed);
        writer.write(lines);
        planted = Some(p);
    }
    writer
        .finish(Duration::from_secs(600))
        .ok_or_else(|| anyhow::anyhow!("the writer did not finish"))?;
    Ok((normalise(out, spec.gzip)?, planted))
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// One session's lines, and how many.
fn session(
    spec: &GenSpec,
    rng: &mut Rng,
    start: SystemTime,
    left: u64,
    room_ms: u64,
) -> (Vec<u8>, u64) {
    let server = format!("server-{}", rng.below(u64::from(spec.servers.max(1))));
    let user = format!("user-{}", rng.below(u64::from(spec.users.max(1))));
    let identity = SessionIdentity {
        session_id: rng.uuid().into(),
        server: server.into(),
        user: user.into(),
        host: "build-01".into(),
    };
    let mut seed = [0u8; 32];
    for chunk in seed.chunks_mut(8) {
        chunk.copy_from_slice(&rng.next().to_le_bytes());
    }
    let mut stamper = Stamper::new(identity, seed);
    let mut out = Vec::new();
    let era = if rng.percent() < 70 {
        "handshake"
    } else {
        "stateless"
    };
    let client = ["claude-code", "cursor", "mcp-inspector"][rng.below(3) as usize];
    let first = Event::new(EventType::SessionStart, start)
        .detail("era", era)
        .detail("client", json!({"name": client, "version": "1.0"}))
        .detail("host", format!("host-{}", rng.below(4)))
        .detail("chain_seed", stamper.seed_hex());
    stamp(first, rng, &mut out, &mut stamper);
    let calls = (5 + rng.below(51)).min(left.saturating_sub(2) / 2).max(1);
    let mut t = start;
    let step = Duration::from_millis((room_ms / (calls + 1)).max(2));
    for i in 0..calls {
        t += step;
        let (tool, typical, risk) = TOOLS[rng.below(TOOLS.len() as u64) as usize];
        let arguments =
            json!({"path": format!("/data/{}/{}.txt", rng.below(50), i), "limit": rng.below(100)});
        let args_bytes = arguments.to_string().len();
        let mut call = Event::new(EventType::ToolCall, t).outcome(Outcome::Pending);
        call.tool = Some(tool.into());
        call.method = Some("tools/call".into());
        call.risk_level = Some(risk);
        call.compliance_tags = vec![if risk == RiskLevel::Low {
            "data_access"
        } else {
            "data_modification"
        }
        .into()];
        call.arguments = Some(arguments);
        call = call.detail("arguments_bytes", args_bytes);
        if rng.percent() < 2 {
            call.event_type = EventType::PolicyBlocked;
            call.outcome = Outcome::Blocked;
            call.severity = Severity::Warning;
            stamp(
                call.detail("rule", "no-writes"),
                rng,
                &mut out,
                &mut stamper,
            );
            continue;
        }
        let call_id = rng.uuid();
        let mut answer = answer_to(&call, &call_id, typical, t, rng);
        call.event_id = Some(call_id);
        stamper.stamp(&call, &mut out);
        answer.event_id = Some(rng.uuid());
        stamper.stamp(&answer, &mut out);
    }
    let mut end = Event::new(EventType::SessionEnd, t + step);
    end.duration_ms = Some(millis(t + step).saturating_sub(millis(start)) as f64);
    let end = end
        .detail("reason", "client_eof")
        .detail("exit_code", 0)
        .detail("event_count", stamper.count() + 1);
    stamp(end, rng, &mut out, &mut stamper);
    (out, stamper.count())
}

/// Stamps `e` with a fresh event id.
fn stamp(mut e: Event, rng: &mut Rng, out: &mut Vec<u8>, stamper: &mut Stamper) {
    e.event_id = Some(rng.uuid());
    stamper.stamp(&e, out);
}

/// The answer to `call`: a result, a tool error or an RPC error.
fn answer_to(call: &Event, call_id: &str, typical: u64, at: SystemTime, rng: &mut Rng) -> Event {
    let us = rng.duration_us(typical);
    let roll = rng.percent();
    let mut a = Event::new(EventType::ToolResult, at + Duration::from_micros(us));
    a.tool = call.tool.clone();
    a.method = Some("tools/call".into());
    a.risk_level = call.risk_level;
    a.compliance_tags = call.compliance_tags.clone();
    a.call_event_id = Some(call_id.to_owned());
    a.duration_ms = Some(us as f64 / 1000.0);
    let text = format!("{} bytes", rng.below(100_000));
    let result =
        json!({"content": [{"type": "text", "text": text}], "isError": (2..8).contains(&roll)});
    a = a.detail("result_bytes", result.to_string().len());
    if roll < 2 {
        a.event_type = EventType::RpcError;
        a.outcome = Outcome::Failure;
        a.severity = Severity::Error;
        a.error = Some(audit_core::event::RpcErrorInfo {
            code: -32603,
            message: "internal error".into(),
            data: None,
            data_omitted: false,
        });
        a.details.remove("result_bytes");
    } else {
        if roll < 8 {
            a.event_type = EventType::ToolError;
            a.outcome = Outcome::Failure;
            a.severity = Severity::Warning;
        }
        a.result = Some(result);
    }
    a
}

/// Leaves every rotated file of `dir` gzipped, or every file plain; returns
/// them.
fn normalise(dir: &Path, gzip: bool) -> anyhow::Result<Vec<PathBuf>> {
    use std::io::{Read, Write};
    use std::os::unix::fs::OpenOptionsExt;
    let files = audit_core::trail::trail_files(&[dir.to_owned()])?;
    let mut out = Vec::new();
    for path in files {
        let is_gz = path.extension().is_some_and(|e| e == "gz");
        // `audit-DATE.NNNN.jsonl[.gz]`: a rotated part.
        let rotated = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
            let stem = n.trim_end_matches(".gz").trim_end_matches(".jsonl");
            stem.strip_prefix("audit-").is_some_and(|s| s.contains('.'))
        });
        if is_gz == (gzip && rotated) {
            out.push(path);
            continue;
        }
        let bytes = std::fs::read(&path)?;
        let (target, data) = if gzip {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(&bytes)?;
            (
                PathBuf::from(format!("{}.gz", path.display())),
                enc.finish()?,
            )
        } else {
            let mut plain = Vec::new();
            flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_end(&mut plain)?;
            (path.with_extension(""), plain)
        };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&target)?;
        file.write_all(&data)?;
        std::fs::remove_file(&path)?;
        out.push(target);
    }
    out.sort();
    Ok(out)
}
