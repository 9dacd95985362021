//! Forwarding throughput: starts a real rsyslog (see
//! `blackbox_tests::collectors`), offers EVENTS synthetic stamped lines to
//! the forwarders as the audit writer would (batches of 64), and measures
//! the time until rsyslog has written them all. Prints one JSON line.
//! Driven by `scripts/bench-forward.sh`.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use audit_core::stages::{ForwardConfig, ForwardUrl, Forwarders, TlsFiles};
use blackbox_tests::collectors::{Rsyslog, ServerTls};
use bytes::Bytes;
use clap::Parser;

#[derive(Debug, Parser)]
struct Args {
    /// tcp or tls.
    #[arg(long, default_value = "tcp")]
    scheme: String,
    /// Events to forward.
    #[arg(long, default_value_t = 20_000)]
    events: usize,
    /// Working directory (rsyslog's files).
    #[arg(long)]
    dir: PathBuf,
    /// For tls: the CA, server certificate and key (PEM).
    #[arg(long)]
    ca: Option<PathBuf>,
    #[arg(long)]
    cert: Option<PathBuf>,
    #[arg(long)]
    key: Option<PathBuf>,
}

/// A stamped line shaped like a `tool_call` (about 600 bytes).
fn line(seq: usize) -> Bytes {
    let hash = format!("{:064x}", seq);
    Bytes::from(format!(
        "{{\"v\":1,\"event_id\":\"0196f1c2-7a10-7c3e-9d2a-{seq:012x}\",\"timestamp\":\"2026-11-23T16:12:40.123Z\",\"type\":\"tool_call\",\"severity\":\"info\",\"outcome\":\"pending\",\"session_id\":\"0196f1c2-7a00-7000-8000-000000000001\",\"server\":\"bench\",\"user\":\"bench\",\"seq\":{seq},\"direction\":\"client_to_server\",\"method\":\"tools/call\",\"tool\":\"read_file\",\"jsonrpc_id\":{seq},\"risk_level\":\"low\",\"arguments\":{{\"path\":\"/tmp/some/file/{seq}.txt\"}},\"details\":{{\"arguments_bytes\":32}},\"prev_hash\":\"{hash}\",\"hash\":\"{hash}\"}}\n"
    ))
}

/// Counts the lines of a growing file, reading only what is new.
struct LineCounter {
    file: Option<std::fs::File>,
    offset: u64,
    lines: usize,
}

impl LineCounter {
    fn poll(&mut self, path: &std::path::Path) -> usize {
        if self.file.is_none() {
            self.file = std::fs::File::open(path).ok();
        }
        if let Some(f) = &mut self.file {
            let mut buf = Vec::new();
            if f.seek(SeekFrom::Start(self.offset)).is_ok() && f.read_to_end(&mut buf).is_ok() {
                self.offset += buf.len() as u64;
                self.lines += memchr::memchr_iter(b'\n', &buf).count();
            }
        }
        self.lines
    }
}

fn main() {
    let args = Args::parse();
    let tls = match (&args.ca, &args.cert, &args.key) {
        (Some(ca), Some(cert), Some(key)) => Some(ServerTls {
            ca: ca.clone(),
            cert: cert.clone(),
            key: key.clone(),
        }),
        _ => None,
    };
    let mut rsyslog = Rsyslog::new(&args.dir, tls.clone(), 65536);
    rsyslog.start();
    let url = format!("syslog+{}://127.0.0.1:{}", args.scheme, rsyslog.port);
    let config = ForwardConfig {
        urls: vec![ForwardUrl::parse(&url).expect("url")],
        tls: TlsFiles {
            ca_file: tls.map(|t| t.ca),
            ..TlsFiles::default()
        },
        block_timeout: Duration::from_secs(600),
        ..ForwardConfig::default()
    };
    let forwarders = Forwarders::start(&config).expect("starting the forwarder");
    let batches: Vec<Bytes> = (0..args.events)
        .collect::<Vec<_>>()
        .chunks(64)
        .map(|c| {
            Bytes::from(
                c.iter()
                    .flat_map(|s| line(s + 1).to_vec())
                    .collect::<Vec<u8>>(),
            )
        })
        .collect();
    let mut counter = LineCounter {
        file: None,
        offset: 0,
        lines: 0,
    };
    let start = Instant::now();
    for batch in &batches {
        forwarders.offer(batch);
    }
    while counter.poll(&rsyslog.output) < args.events {
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "rsyslog did not get every event"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let secs = start.elapsed().as_secs_f64();
    forwarders.finish();
    rsyslog.stop();
    println!(
        "{{\"scheme\":\"{}\",\"events\":{},\"seconds\":{secs:.3},\"events_per_s\":{:.0}}}",
        args.scheme,
        args.events,
        args.events as f64 / secs
    );
}
