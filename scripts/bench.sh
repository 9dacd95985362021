#!/usr/bin/env bash
# Benchmarks: what does mcp-blackbox cost next to a bare relay?
#
# Runs loadgen (tests/src/bin/loadgen.rs) against bench_server four ways —
# direct, relay_threads, relay_tokio, mcp-blackbox (audit on, default
# settings, audit dir in a temp dir) — alternating A B C D A B C D over
# ROUNDS rounds, then bench_pipeline, then prints medians, ratios against the
# bare relays and the targets (docs/performance.md). Results go to
# bench-results/<UTC time>/ as JSON (one file per run, summary.json) and
# summary.md.
#
# --pin: every process (loadgen, relay or proxy, server, bench_pipeline) on
# CPU 0 (`taskset -c 0`). On one CPU the processes take turns, so a
# throughput ratio is a CPU-cost ratio; the run also measures SHA-256 alone
# over the large results' bytes (`bench_pipeline --sha256`) and checks the
# pinned targets (tests/src/bench/pinned.rs).
#
# Environment:
#   ROUNDS=5              rounds of the four configurations
#   CONFIGS="direct relay_threads relay_tokio mcp-blackbox"  (also: mcp-blackbox-policy, 100 rules)
#   LOADGEN_ARGS=""       extra loadgen flags, e.g. "--seq-calls 1000"
#   PIPELINE_ARGS=""      extra bench_pipeline flags
#   SKIP_BUILD=1          use the existing release binaries
#   PROXY=path            the mcp-blackbox binary to measure (default: this build's)
#   OUT=dir               where results go
#   IDLE_POLL=1           hold /dev/cpu_dma_latency at 0 for the whole run
#                         (needs write access to it, e.g. root): idle cores
#                         poll instead of halting, so a wake-up costs the same
#                         in every configuration (docs/performance.md, "Idle
#                         wake-ups"). The run says whether it was on.
set -euo pipefail
cd "$(dirname "$0")/.."

PIN=()
for arg in "$@"; do
    case $arg in
        --pin) PIN=(taskset -c 0) ;;
        *) echo "bench.sh: unknown argument $arg (known: --pin)" >&2; exit 2 ;;
    esac
done
ROUNDS=${ROUNDS:-5}
CONFIGS=${CONFIGS:-"direct relay_threads relay_tokio mcp-blackbox"}
LOADGEN_ARGS=${LOADGEN_ARGS:-}
PIPELINE_ARGS=${PIPELINE_ARGS:-}
OUT=${OUT:-bench-results/$(date -u +%Y%m%dT%H%M%SZ)}
BIN=${CARGO_TARGET_DIR:-target}/release
PROXY=${PROXY:-$BIN/mcp-blackbox}

if [[ -z ${SKIP_BUILD:-} ]]; then
    cargo build --release -p blackbox-tests -p mcp-blackbox
fi
if [[ ${#PIN[@]} -gt 0 ]] && ! command -v taskset >/dev/null; then
    echo "bench.sh: --pin needs taskset: apt-get install util-linux" >&2
    exit 1
fi
if [[ ! -x /usr/bin/time ]]; then
    echo "bench.sh: /usr/bin/time is missing: apt-get install time" >&2
    exit 1
fi

mkdir -p "$OUT"
if [[ -n ${IDLE_POLL:-} ]]; then
    # PM QoS: while this descriptor is open with 0 written to it, no core
    # enters an idle state with an exit latency (on a VM with the haltpoll
    # driver: no core halts). Closed when the script exits.
    if ! exec 9>/dev/cpu_dma_latency; then
        echo "bench.sh: IDLE_POLL=1 needs write access to /dev/cpu_dma_latency" >&2
        exit 1
    fi
    printf '\x00\x00\x00\x00' >&9
    echo "idle polling: on (/dev/cpu_dma_latency held at 0)" >"$OUT/idle.txt"
else
    echo "idle polling: off (the machine's own idle states)" >"$OUT/idle.txt"
fi
if [[ ${#PIN[@]} -gt 0 ]]; then
    echo "pinned: every process on CPU 0 (taskset -c 0)" >>"$OUT/idle.txt"
fi
echo "bench.sh: $(cat "$OUT/idle.txt")" >&2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
SERVER=$BIN/bench_server

# The command line loadgen spawns for configuration $1; audit dir $2.
command_for() {
    case $1 in
        direct) echo "$SERVER" ;;
        relay_threads | relay_tokio) echo "$BIN/$1 -- $SERVER" ;;
        mcp-blackbox) echo "$PROXY --audit-dir $2 -- $SERVER" ;;
        # The in-line gate with 100 rules (none matching the bench tools, so every
        # tools/call is parsed and checked against all of them, and forwarded).
        mcp-blackbox-policy) echo "$PROXY --config $TMP/policy-100.toml --audit-dir $2 -- $SERVER" ;;
        *) echo "bench.sh: unknown configuration $1" >&2; return 1 ;;
    esac
}

# 100 deny rules for tools the bench server does not have: the gate is active
# and checks every call against all of them (issue 6: the relay cost of
# enforcement). Add `mcp-blackbox-policy` to CONFIGS to measure it.
for n in $(seq 1 100); do
    printf '[[rules]]\nname = "rule-%s"\ntool = "forbidden_%s_*"\naction = "deny"\n' "$n" "$n"
done >"$TMP/policy-100.toml"

echo "bench.sh: $ROUNDS rounds of: $CONFIGS -> $OUT" >&2
for round in $(seq 1 "$ROUNDS"); do
    for config in $CONFIGS; do
        audit=$TMP/audit-$config-$round
        extra=()
        [[ $config == mcp-blackbox ]] && extra=(--audit-dir "$audit")
        # shellcheck disable=SC2046,SC2086
        timeout 300 "${PIN[@]}" "$BIN/loadgen" --label "$config" --round "$round" "${extra[@]}" $LOADGEN_ARGS \
            -- $(command_for "$config" "$audit") >"$OUT/$config-r$round.json"
        rm -rf "$audit"
        echo "  round $round: $config done" >&2
    done
done

if [[ ${#PIN[@]} -gt 0 ]]; then
    # The hashing limit: SHA-256 alone over loadgen's large result lines.
    large=$(sed -n 's/.*--large[ =]\([^ ]*\).*/\1/p' <<<"$LOADGEN_ARGS")
    "${PIN[@]}" "$BIN/bench_pipeline" --sha256 "${large:-64K:512,1M:64,16M:8}" >"$OUT/sha256.json"
fi

echo "bench.sh: audit pipeline micro-benchmark" >&2
# shellcheck disable=SC2086
"${PIN[@]}" "$BIN/bench_pipeline" $PIPELINE_ARGS --redact on >"$OUT/pipeline.json"
# shellcheck disable=SC2086
"${PIN[@]}" "$BIN/bench_pipeline" $PIPELINE_ARGS --redact off --framing-mb 1 --offers 1000 >"$OUT/pipeline-redact-off.json"
python3 - "$OUT" <<'PY' >&2
import json, sys
on = json.load(open(f"{sys.argv[1]}/pipeline.json"))["auditor"]
off = json.load(open(f"{sys.argv[1]}/pipeline-redact-off.json"))["auditor"]
for k in ("events_per_s", "events_per_cpu_s"):
    print(f"bench.sh: auditor {k}: redaction on {on[k]:,.0f}, off {off[k]:,.0f}, off/on {off[k] / on[k]:.2f}x (target <= 2x)")
PY

if [[ " $CONFIGS " == *" mcp-blackbox "* ]]; then
    # Cross-check of the peak RSS read from /proc: GNU time's maximum RSS of
    # the proxy process tree (the largest of the proxy and bench_server).
    echo "bench.sh: proxy under /usr/bin/time -v (large results only)" >&2
    # shellcheck disable=SC2086,SC2046
    "${PIN[@]}" "$BIN/loadgen" --label time-v --seq-calls 0 --pipelined-calls 0 \
        -- /usr/bin/time -v -o "$OUT/time-v.txt" $(command_for mcp-blackbox "$TMP/audit-time") >"$TMP/time-v.json"
    grep -E "Maximum resident set size|User time|System time" "$OUT/time-v.txt" >&2
fi

{ cat "$OUT/idle.txt"; echo; "$BIN/loadgen" --report "$OUT"; } | tee "$OUT/summary.md"
echo "bench.sh: results in $OUT (summary.json, summary.md)" >&2
