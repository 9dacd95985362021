#!/usr/bin/env bash
# Builds mcp-blackbox, installs the pinned test peers, and drives a real MCP
# client (the Python SDK) through the proxy against two real servers: the
# official "everything" server (handshake era) and mcp-server-time (stateless
# era). Prints the audit trail it recorded and verifies its hash chains.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# Runs a step with its output kept aside; shown only if the step fails.
quietly() {
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    echo "demo: failed: $*" >&2
    exit 1
  fi
}
quietly cargo build --release -p mcp-blackbox
quietly scripts/install-peers.sh
audit_dir="${MCP_BLACKBOX_DIR:-$(mktemp -d)/audit}"
py="$root/.peers/venv/bin/python"
everything=(node "$root/.peers/npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js" stdio)
bb=("$root/target/release/mcp-blackbox" --audit-dir "$audit_dir")

echo "== the Python SDK client -> mcp-blackbox -> server-everything (handshake era)"
quietly_client() {
  # The servers' own stderr (start-up banners) is shown only on failure.
  if ! "$py" "$root/scripts/demo_client.py" "$@" 2>"$log"; then
    cat "$log" >&2
    exit 1
  fi
}
quietly_client everything "${bb[@]}" --server-name everything -- "${everything[@]}"
echo "== the Python SDK client -> mcp-blackbox -> mcp-server-time (stateless era)"
quietly_client time "${bb[@]}" --server-name time -- "$root/.peers/venv/bin/mcp-server-time"

echo "== audit trail in $audit_dir"
for f in "$audit_dir"/audit-*.jsonl; do
  "$py" - "$f" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    extra = e.get("tool") or e.get("details", {}).get("era", "")
    print(f'{e["timestamp"]}  {e["server"]:<10} #{e["seq"]:<3} {e["type"]:<15} {e["outcome"]:<8} {extra}')
PY
done
if "$root/target/release/mcp-blackbox" verify --help >/dev/null 2>&1; then
  echo "== verify"
  "$root/target/release/mcp-blackbox" verify "$audit_dir"
fi
