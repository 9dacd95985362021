#!/usr/bin/env bash
# Installs the pinned MCP peers (if needed), then runs the whole workspace's
# tests. Extra arguments go to `cargo test` (e.g. `scripts/test.sh --release`,
# `scripts/test.sh -p blackbox-tests --test lifecycle`).
#
# Under CI=true, an end-to-end test whose peer is missing fails instead of
# skipping.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

export MCP_BLACKBOX_PEERS="${MCP_BLACKBOX_PEERS:-$root/.peers}"
scripts/install-peers.sh

# --no-fail-fast: one failing test binary must not hide the others.
exec cargo test --workspace --no-fail-fast "$@"
