#!/usr/bin/env bash
# Installs the pinned MCP peers the end-to-end tests drive into .peers/ at the
# repository root (gitignored):
#   .peers/venv  Python venv with the MCP Python SDK and mcp-server-time
#   .peers/npm   npm prefix with @modelcontextprotocol/server-everything (and the TypeScript SDK)
#   .peers/collectors  venv with rotel, the OTLP collector of the forwarding tests
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

# --- Debian packages: jq (a trail reader of tests/tests/trail_injection.rs),
# chromium (tests/tests/report_html.rs, scripts/report-screenshot.sh), rsyslog
# with its GnuTLS driver (the forwarding tests' syslog collector). One
# apt-get run for whatever is missing.
debian=()
command -v jq >/dev/null || debian+=(jq)
command -v chromium >/dev/null || debian+=(chromium)
command -v rsyslogd >/dev/null || debian+=(rsyslog)
dpkg -s rsyslog-gnutls >/dev/null 2>&1 || debian+=(rsyslog-gnutls)
if [[ ${#debian[@]} -gt 0 ]]; then
    echo "install-peers: installing ${debian[*]} with apt-get" >&2
    sudo=""
    [[ "$(id -u)" -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${debian[@]}"
fi

# The Python that makes the venvs: PYTHON, else python3.11, else python3.
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
    if command -v python3.11 >/dev/null; then python=python3.11; else python=python3; fi
fi
command -v "$python" >/dev/null || { echo "install-peers: $python not found (set PYTHON)" >&2; exit 1; }

installed() {
    [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] \
        && [[ -x "$peers/venv/bin/python" && -x "$peers/venv/bin/mcp-server-time" ]] \
        && [[ -f "$everything_js" ]]
}

# --- Forwarding collectors (tests/tests/forward*.rs): rsyslog (above) and
# rotel's OTLP collector (PyPI, a binary inside the wheel) in its own venv,
# .peers/collectors.
ROTEL_VERSION=0.0.1a15
collectors="$peers/collectors"
if [[ "$(cat "$collectors/stamp" 2>/dev/null)" != "rotel==$ROTEL_VERSION" ]]; then
    mkdir -p "$peers"
    [[ -x "$collectors/bin/python" ]] || "$python" -m venv "$collectors"
    "$collectors/bin/python" -m pip install --quiet --disable-pip-version-check "rotel==$ROTEL_VERSION"
    echo "rotel==$ROTEL_VERSION" >"$collectors/stamp"
fi
# --- end of forwarding collectors --------------------------------------------
# --- CI harness peers (record/replay/check tests): the TypeScript SDK client
# (tests/js/drive.mjs) and junitparser (validates check's JUnit XML). Their own
# stamp; run whether or not the peers above were already installed.
TS_SDK_VERSION=1.32.2
JUNITPARSER_VERSION=5.0.3
harness_want="@modelcontextprotocol/sdk@$TS_SDK_VERSION junitparser==$JUNITPARSER_VERSION"
install_harness_peers() {
    local hstamp="$peers/stamp-harness"
    if [[ -f "$hstamp" && "$(cat "$hstamp")" == "$harness_want" ]] \
        && [[ -f "$peers/npm/node_modules/@modelcontextprotocol/sdk/package.json" ]]; then
        return 0
    fi
    echo "install-peers: installing $harness_want into $peers" >&2
    "$peers/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "junitparser==$JUNITPARSER_VERSION"
    npm install --prefix "$peers/npm" --no-audit --no-fund --loglevel=error \
        --save-exact "@modelcontextprotocol/sdk@$TS_SDK_VERSION"
    echo "$harness_want" >"$hstamp"
}
# --- end of CI harness peers

if installed; then
    install_harness_peers
    exit 0
fi

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
install_harness_peers
echo "install-peers: done" >&2
