# Sourced by the trail benchmarks (bench-readers.sh, bench-report.sh): checks
# for GNU time, builds mcp-blackbox and gen_trail, and sets
#   root  the repository      bin   the built binaries (PROFILE, default release)
#   work  WORK, or a temporary directory removed on exit
# $1 names the caller in error messages.
profile="${PROFILE:-release}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

[[ -x /usr/bin/time ]] || { echo "$1: /usr/bin/time (GNU time) missing" >&2; exit 1; }

flag=()
[[ "$profile" == release ]] && flag=(--release)
cargo build "${flag[@]}" -p mcp-blackbox -p blackbox-tests --bin mcp-blackbox --bin gen_trail >&2
bin="$root/target/$profile"

work="${WORK:-$(mktemp -d)}"
[[ -n "${WORK:-}" ]] || trap 'rm -rf "$work"' EXIT
