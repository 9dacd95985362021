//! `bench_gate`: the CPU cost of the policy gate judging one `tools/call`,
//! through audit-core's public API, with a plain loop timed by the thread's
//! CPU clock (wall time on a shared machine is noise). Prints one JSON object.
//!
//! The frame is the one loadgen sends (`echo` with a `--payload`-byte text,
//! ids varying); the rules are those of `scripts/bench.sh`'s
//! `mcp-blackbox-policy` configuration: N deny rules `forbidden_<n>_*`, none
//! of which matches `echo`. Every call is judged, so each loop measures the
//! strict read plus the rule lookup. For exact instruction counts, run it
//! under `valgrind --tool=callgrind` with two `--iterations` and subtract.

use std::sync::Arc;
use std::time::Duration;

use audit_core::config::rules::{Action, RuleSpec, ToolPattern};
use audit_core::config::value::Source;
use audit_core::policy::{Gate, Policy, PolicyOptions, Rule, Verdict};
use blackbox_tests::bench::procstat::thread_cpu;
use blackbox_tests::bench::wire;
use clap::Parser;
use serde_json::json;

#[derive(Parser, Debug)]
#[command(about = "Micro-benchmark of the mcp-blackbox policy gate")]
struct Args {
    /// Calls judged per rule count.
    #[arg(long, default_value_t = 2_000_000)]
    iterations: u64,
    /// Length of each echo text, bytes.
    #[arg(long, default_value_t = 128)]
    payload: usize,
    /// Rule counts to measure, each a separate gate.
    #[arg(long, value_delimiter = ',', default_value = "0,100")]
    rules: Vec<usize>,
}

/// Distinct frames cycled through, so ids and texts vary as on the wire.
const FRAMES: u64 = 64;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let frames: Vec<Vec<u8>> = (1..=FRAMES)
        .map(|id| {
            let mut line = Vec::new();
            wire::echo_request(id, &wire::echo_text(id, args.payload), &mut line);
            line.pop(); // the gate is handed lines without their `\n`
            line
        })
        .collect();
    let mut results = Vec::new();
    for &n in &args.rules {
        let gate = Gate::new(Arc::new(policy(n)?), "bench");
        let spent = judge_all(&gate, &frames, args.iterations)?;
        results.push(json!({
            "rules": n,
            "ns_per_call": spent.as_secs_f64() * 1e9 / args.iterations as f64,
        }));
    }
    let result = json!({
        "frame_bytes": frames[0].len(),
        "iterations": args.iterations,
        "gate": results,
    });
    println!("{result}");
    Ok(())
}

/// `n` deny rules as `scripts/bench.sh` writes them.
fn policy(n: usize) -> anyhow::Result<Policy> {
    let rules = (1..=n)
        .map(|i| {
            Rule::compile(&RuleSpec {
                name: format!("rule-{i}"),
                server: None,
                tool: ToolPattern::Glob(format!("forbidden_{i}_*")),
                arguments: Vec::new(),
                risk_level: None,
                compliance_tags: Vec::new(),
                action: Some(Action::Deny),
                source: Source::Default,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Policy::new(rules, PolicyOptions::default(), None)?)
}

/// Judges `iterations` frames; the CPU time it took. Every one must pass.
fn judge_all(gate: &Gate, frames: &[Vec<u8>], iterations: u64) -> anyhow::Result<Duration> {
    let start = thread_cpu();
    for (i, frame) in frames.iter().cycle().take(iterations as usize).enumerate() {
        let verdict = gate.check_request(std::hint::black_box(frame));
        if verdict != Verdict::Forward {
            anyhow::bail!("call {i} was not forwarded: {verdict:?}");
        }
    }
    Ok(thread_cpu() - start)
}
