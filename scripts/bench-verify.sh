#!/usr/bin/env bash
# Times `mcp-blackbox verify` (release build) over an audit trail directory
# and reports its throughput and peak RSS.
#
# Usage: scripts/bench-verify.sh DIR [extra verify flags, e.g. --key KEY.pub]
#
# MB/s is over the trail's logical bytes (plain files as they are, .gz parts
# inflated), in MB of 10^6 bytes; on-disk bytes are printed too. Peak RSS is
# /usr/bin/time's maximum resident set size. verify's exit status (1 if the
# trail is broken) is printed, not treated as a failure of the benchmark.
#
# Environment:
#   SKIP_BUILD=1   use the existing release binary
#   RUNS=3         runs; each is printed, then the median
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=${1:?usage: scripts/bench-verify.sh DIR [verify flags]}
shift
RUNS=${RUNS:-3}
BIN=${CARGO_TARGET_DIR:-target}/release/mcp-blackbox

if [[ ! -d $DIR ]]; then
    echo "bench-verify.sh: $DIR is not a directory" >&2
    exit 2
fi
if [[ ! -x /usr/bin/time ]]; then
    echo "bench-verify.sh: /usr/bin/time is missing: apt-get install time" >&2
    exit 2
fi
if [[ -z ${SKIP_BUILD:-} ]]; then
    cargo build --release -p mcp-blackbox
fi

disk=0
logical=0
shopt -s nullglob
for f in "$DIR"/audit-*.jsonl "$DIR"/audit-*.jsonl.gz; do
    size=$(stat -c %s "$f")
    disk=$((disk + size))
    if [[ $f == *.gz ]]; then
        size=$(gzip -dc "$f" | wc -c)
    fi
    logical=$((logical + size))
done
if ((logical == 0)); then
    echo "bench-verify.sh: no audit files in $DIR" >&2
    exit 2
fi
echo "trail: $DIR, $logical logical bytes ($disk on disk)"

times=()
for ((run = 1; run <= RUNS; run++)); do
    stats=$(mktemp)
    set +e
    /usr/bin/time -f "%e %M" -o "$stats" "$BIN" verify "$DIR" "$@" >/dev/null
    status=$?
    set -e
    # The last line: /usr/bin/time first notes a non-zero exit status.
    read -r secs rss_kib < <(tail -n 1 "$stats")
    rm -f "$stats"
    mbs=$(awk -v b="$logical" -v s="$secs" 'BEGIN { printf "%.1f", (s > 0 ? b / s / 1e6 : 0) }')
    echo "run $run: ${secs} s, ${mbs} MB/s, peak RSS $((rss_kib / 1024)) MiB, verify exit $status"
    times+=("$secs $mbs $rss_kib")
done
printf '%s\n' "${times[@]}" | sort -n | awk -v n="$RUNS" 'NR == int((n + 1) / 2) {
    printf "median: %s s, %s MB/s, peak RSS %d MiB\n", $1, $2, $3 / 1024 }'
