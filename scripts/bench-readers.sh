#!/usr/bin/env bash
# Benchmarks `mcp-blackbox stats` over a generated trail, plain JSONL and
# gzip: events/s and peak RSS, against jq computing the same table (calls,
# errors, blocked, p50/p95/max per server and tool) on the same files.
#
#   scripts/bench-readers.sh [EVENTS]      (default 1000000)
#
# Env: PROFILE (release), JOBS (stats --jobs, default: the CPUs), WORK
# (directory for the trails, default a temporary one, removed afterwards).
# Needs GNU time (/usr/bin/time) for peak RSS, and jq.
set -euo pipefail

events="${1:-1000000}"
command -v jq >/dev/null || { echo "bench-readers: jq missing (scripts/install-peers.sh)" >&2; exit 1; }
# shellcheck source=scripts/trail-bench-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/trail-bench-common.sh" bench-readers
jobs=()
[[ -n "${JOBS:-}" ]] && jobs=(--jobs "$JOBS")

# The same table as `stats --format json`, in jq: per server and tool.
jq_stats='
  def pct($p): (length) as $n | if $n == 0 then null else .[((($p * $n + 99) / 100 | floor) - 1)] end;
  def answer: (.type | IN("tool_result","tool_error","rpc_error","tool_cancelled","tool_abandoned","input_required"))
              and has("call_event_id") and (.type != "rpc_error" or .method == "tools/call");
  reduce (inputs | select(.type == "tool_call" or .type == "policy_blocked" or answer)) as $e ({};
    ([$e.server, $e.tool] | tostring) as $k
    | .[$k].server = $e.server | .[$k].tool = $e.tool
    | if $e.type == "tool_call" then .[$k].calls += 1
      elif $e.type == "policy_blocked" then (if $e.outcome == "blocked" then .[$k].blocked += 1 else . end)
      else .[$k].errors += (if $e.outcome == "failure" then 1 else 0 end)
         | .[$k].d += [$e.duration_ms] end)
  | [.[] | (.d | sort) as $d
     | {server, tool, calls: (.calls // 0), errors: (.errors // 0), blocked: (.blocked // 0),
        p50_ms: ($d | pct(50)), p95_ms: ($d | pct(95)), max_ms: ($d | pct(100))}]'

measure() { # label, events, command...
    local label="$1" n="$2"; shift 2
    local out="$work/time.$$"
    /usr/bin/time -f '%e %M' -o "$out" "$@" >/dev/null
    read -r secs kib <"$out"
    awk -v l="$label" -v n="$n" -v s="$secs" -v k="$kib" \
        'BEGIN { printf "%-22s %10.0f events/s  %7.2f s  peak RSS %6.1f MiB\n", l, (s > 0 ? n / s : 0), s, k / 1024 }'
}

for kind in plain gzip; do
    dir="$work/$kind"
    gz=()
    [[ "$kind" == gzip ]] && gz=(--gzip)
    "$bin/gen_trail" --events "$events" --days 7 --servers 5 --users 20 --seed 42 --out "$dir" "${gz[@]}" 2>/dev/null
    n=$(find "$dir" -name 'audit-*' -print0 | xargs -0 -n1 sh -c 'case "$0" in *.gz) zcat "$0";; *) cat "$0";; esac' | wc -l)
    echo "== $kind: $n events, $(du -sh "$dir" | cut -f1)"
    measure "stats ($kind)" "$n" "$bin/mcp-blackbox" stats --format json "${jobs[@]}" "$dir"
    if [[ "$kind" == plain ]]; then
        measure "jq ($kind)" "$n" jq -n "$jq_stats" "$dir"/audit-*.jsonl
    else
        measure "zcat | jq ($kind)" "$n" sh -c "zcat \"\$@\" | jq -n '$jq_stats'" sh "$dir"/audit-*.jsonl.gz
    fi
done
