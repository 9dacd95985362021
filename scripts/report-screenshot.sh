#!/usr/bin/env bash
# Makes docs/report.png: a screenshot of the HTML report of a real session
# trail. The Python SDK client drives the official peers (server-everything
# and mcp-server-time) through mcp-blackbox a few times as three users, then
# `mcp-blackbox report --format html` renders the trail and headless
# Chromium photographs the top of the page.
#
# Env: OUT (default docs/report.png), RUNS (sessions per user and server,
# default 3).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${OUT:-$root/docs/report.png}"
runs="${RUNS:-3}"
cd "$root"
scripts/install-peers.sh >/dev/null
cargo build -q -p mcp-blackbox
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
audit="$work/audit"
py="$root/.peers/venv/bin/python"
everything=(node "$root/.peers/npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js" stdio)
bb=("$root/target/debug/mcp-blackbox" --audit-dir "$audit")

for user in alice bob carol; do
    for _ in $(seq "$runs"); do
        "$py" tests/py/drive.py everything -- \
            "${bb[@]}" --user "$user" --server-name everything -- "${everything[@]}" >/dev/null 2>>"$work/log"
        "$py" tests/py/drive.py time -- \
            "${bb[@]}" --user "$user" --server-name time -- "$root/.peers/venv/bin/mcp-server-time" >/dev/null 2>>"$work/log"
    done
done
"$root/target/debug/mcp-blackbox" report --format html --out "$work/report.html" "$audit"
chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --force-color-profile=srgb \
    --user-data-dir="$work/profile" --window-size=1100,1250 \
    --screenshot="$out" "file://$work/report.html" 2>>"$work/log" >/dev/null
echo "report-screenshot: wrote $out ($(stat -c %s "$out") bytes)"
