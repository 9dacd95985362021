#!/usr/bin/env bash
# Installs the pinned MCP peers the end-to-end tests drive into .peers/ at the
# repository root (gitignored):
#   .peers/venv  Python venv with the MCP Python SDK and mcp-server-time
#   .peers/npm   npm prefix with @modelcontextprotocol/server-everything
# Idempotent: a stamp file records the pinned versions; when it matches and the
# entry points exist, nothing is downloaded.
#
# Env: PYTHON (default python3.11, else python3), MCP_BLACKBOX_PEERS (default
# <repo>/.peers).
set -euo pipefail

MCP_SDK_VERSION=2.3.0
TIME_SERVER_VERSION=2026.10.19
EVERYTHING_VERSION=2026.8.31

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
peers="${MCP_BLACKBOX_PEERS:-$root/.peers}"
stamp="$peers/stamp"
want="mcp==$MCP_SDK_VERSION mcp-server-time==$TIME_SERVER_VERSION @modelcontextprotocol/server-everything@$EVERYTHING_VERSION"
everything_js="$peers/npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js"

installed() {
    [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] \
        && [[ -x "$peers/venv/bin/python" && -x "$peers/venv/bin/mcp-server-time" ]] \
        && [[ -f "$everything_js" ]]
}

# --- trail readers: Debian's jq, the reference `query --where` is compared
# with (tests/tests/trail_read.rs) and the baseline of scripts/bench-readers.sh.
if ! command -v jq >/dev/null; then
    echo "install-peers: installing jq (Debian)" >&2
    apt-get update
    apt-get install -y jq
fi
# --- end trail readers

if installed; then
    exit 0
fi

python="${PYTHON:-}"
if [[ -z "$python" ]]; then
    if command -v python3.11 >/dev/null; then python=python3.11; else python=python3; fi
fi
command -v "$python" >/dev/null || { echo "install-peers: $python not found (set PYTHON)" >&2; exit 1; }
command -v npm >/dev/null || { echo "install-peers: npm not found (node 20 is needed)" >&2; exit 1; }

mkdir -p "$peers"
rm -f "$stamp"
echo "install-peers: installing $want into $peers" >&2

if [[ ! -x "$peers/venv/bin/python" ]]; then
    "$python" -m venv "$peers/venv"
fi
"$peers/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "mcp==$MCP_SDK_VERSION" "mcp-server-time==$TIME_SERVER_VERSION"

mkdir -p "$peers/npm"
# A package.json of our own keeps npm from walking up to the repository.
[[ -f "$peers/npm/package.json" ]] || echo '{"name":"mcp-blackbox-peers","private":true}' >"$peers/npm/package.json"
npm install --prefix "$peers/npm" --no-audit --no-fund --loglevel=error \
    --save-exact "@modelcontextprotocol/server-everything@$EVERYTHING_VERSION"

[[ -f "$everything_js" ]] || { echo "install-peers: $everything_js missing after npm install" >&2; exit 1; }
echo "$want" >"$stamp"
echo "install-peers: done" >&2
