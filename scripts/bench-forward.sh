#!/usr/bin/env bash
# Forwarding throughput: events/s delivered to a real rsyslog over TCP and
# over TLS (tests/src/bin/bench_forward.rs). Each run starts its own rsyslogd
# on a free loopback port, offers EVENTS synthetic ~600-byte tool_call lines
# to the forwarder as the audit writer would, and times until rsyslog has
# written them all. Needs rsyslog, rsyslog-gnutls (scripts/install-peers.sh)
# and openssl (the TLS run's certificates).
#
# Environment:
#   EVENTS=20000   events per run
#   PROFILE=release  cargo profile of the benchmark binary (dev: quicker to build)
#   SKIP_BUILD=1   use the existing binary
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS=${EVENTS:-20000}
PROFILE=${PROFILE:-release}
if [[ -z "${SKIP_BUILD:-}" ]]; then
    cargo build --profile "$PROFILE" -p blackbox-tests --bin bench_forward >&2
fi
dir_name=$([[ "$PROFILE" == dev ]] && echo debug || echo "$PROFILE")
bin="target/$dir_name/bench_forward"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# A CA and a certificate for 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj "/CN=bench CA" -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/CN=127.0.0.1" -keyout "$work/server.key" -out "$work/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$work/ext"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
    -CAcreateserial -days 1 -extfile "$work/ext" -out "$work/server.pem" 2>/dev/null

mkdir -p "$work/tcp" "$work/tls"
echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), profile $PROFILE"
"$bin" --scheme tcp --events "$EVENTS" --dir "$work/tcp"
"$bin" --scheme tls --events "$EVENTS" --dir "$work/tls" \
    --ca "$work/ca.pem" --cert "$work/server.pem" --key "$work/server.key"
