#!/usr/bin/env bash
# Benchmarks `mcp-blackbox report` over a generated trail: events/s and peak
# RSS, against the aims (>= 500,000 events/s, < 128 MiB peak RSS).
#
#   scripts/bench-report.sh [EVENTS]      (default 1000000)
#
# Env: PROFILE (release), WORK (directory for the trail, default a temporary
# one, removed afterwards). Needs GNU time (/usr/bin/time) for peak RSS.
set -euo pipefail

events="${1:-1000000}"
# shellcheck source=scripts/trail-bench-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/trail-bench-common.sh" bench-report

"$bin/gen_trail" --events "$events" --days 7 --servers 5 --users 20 --seed 42 --plant --out "$work/trail" 2>/dev/null
bytes=$(du -sb "$work/trail" | cut -f1)

/usr/bin/time -v -o "$work/time" "$bin/mcp-blackbox" report --format json "$work/trail" >"$work/report.json"

# Elapsed is [h:]m:ss.cc; peak RSS is in KiB.
secs=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$work/time")
kib=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time")
# CPU seconds (user + system): comparable across runs on a busy machine.
cpu=$(awk -F': ' '/(User|System) time \(seconds\)/ { s += $2 } END { print s }' "$work/time")
cpus=$(nproc)

awk -v n="$events" -v s="$secs" -v k="$kib" -v b="$bytes" -v c="$cpus" -v u="$cpu" 'BEGIN {
    rate = (s > 0 ? n / s : 0); mib = k / 1024
    printf "report over %d events (%.0f MiB of JSONL, %d CPUs): %.2f s\n", n, b / 1048576, c, s
    printf "  %10.0f events/s   aim >= 500000   %s\n", rate, (rate >= 500000 ? "met" : "MISSED")
    printf "  %10.1f MiB peak RSS aim <  128     %s\n", mib, (mib < 128 ? "met" : "MISSED")
    printf "  %10.2f CPU s (%.0f events per CPU second; the load average shows what else ran)\n", u, (u > 0 ? n / u : 0)
}'
