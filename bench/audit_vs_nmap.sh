#!/bin/sh
# hardcache-audit against nmap's memcached-info script, per host, on the same
# servers (issue 22's goal: no slower than nmap with UDP on and off), and
# 1,000 closed loopback targets with the rate limit off (goal: under 1 s).
# Runs in a network namespace of its own (root), so memcached can use 11211,
# the only port memcached-info looks at without -sV. Medians of RUNS runs.
# Usage: bench/audit_vs_nmap.sh [RUNS]     (make bench-audit)
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
AUDIT=${HC_AUDIT:-$ROOT/build/release/hardcache-audit}
HARDCACHED=${HARDCACHED:-$ROOT/build/release/hardcached}
MEMCACHED=${MEMCACHED:-/usr/bin/memcached}
RUNS=${1:-5}
NS=hcbench-audit-$$

for tool in "$AUDIT" "$MEMCACHED" "$(command -v nmap || echo /nonexistent/nmap)"; do
  [ -x "$tool" ] || { echo "audit_vs_nmap: $tool missing (make all; scripts/deps.sh bench)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "audit_vs_nmap: needs root (network namespace, nmap -sU)" >&2; exit 1; }

ip netns add "$NS"
server=""
cleanup() {
  [ -z "$server" ] || stop
  ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT INT TERM
in_ns() { ip netns exec "$NS" "$@"; }
in_ns ip link set lo up

# median wall time in ms of RUNS runs of the command
median_ms() {
  i=0
  while [ $i -lt "$RUNS" ]; do
    t0=$(date +%s%N)
    "$@" >/dev/null 2>&1 || true
    t1=$(date +%s%N)
    echo $(( (t1 - t0) / 1000000 ))
    i=$((i + 1))
  done | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

start() {
  ip netns exec "$NS" "$@" >/dev/null 2>&1 &
  server=$!
  for _ in $(seq 50); do      # until TCP 11211 answers
    in_ns "$AUDIT" -q --json --timeout 100 --retries 0 127.0.0.1:11211 \
      | grep -q '"tcp":{"state":"open"' && return 0
    sleep 0.1
  done
  echo "audit_vs_nmap: $1 did not start" >&2
  exit 1
}

stop() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  server=""
}

printf '%-34s %10s %10s %8s\n' "per host, 127.0.0.1:11211" "audit ms" "nmap ms" "ratio"
compare() {
  label=$1; shift
  start "$@"
  a=$(median_ms in_ns "$AUDIT" -q 127.0.0.1:11211)
  n=$(median_ms in_ns nmap -n -sU -sT -p 11211 --script memcached-info 127.0.0.1)
  stop
  printf '%-34s %10s %10s %8s\n' "$label" "$a" "$n" \
    "$(awk -v a="$a" -v n="$n" 'BEGIN { printf "%.2f", n ? a / n : 0 }')"
}
compare "memcached -U 11211 (UDP on)" "$MEMCACHED" -u root -l 127.0.0.1 -p 11211 -U 11211 -t 1
compare "memcached -U 0 (UDP off)" "$MEMCACHED" -u root -l 127.0.0.1 -p 11211 -U 0 -t 1
if [ -x "$HARDCACHED" ]; then
  compare "hardcached -U 11211 (UDP on)" "$HARDCACHED" -u root -l 127.0.0.1 -p 11211 -U 11211
  compare "hardcached (UDP off)" "$HARDCACHED" -u root -l 127.0.0.1 -p 11211
fi

list=$(mktemp)
awk 'BEGIN { for (i = 0; i < 1000; i++) printf "127.0.%d.%d\n", i / 250, 1 + i % 250 }' > "$list"
c=$(median_ms in_ns "$AUDIT" -q --json --rate 0 --target-rate 0 -p 11299 -f "$list")
rm -f "$list"
printf '%-34s %10s %10s %8s\n' "1,000 closed targets, no rate" "$c" "-" \
  "$(awk -v a="$c" 'BEGIN { printf "%.2f", a / 1000 }')"
echo "(ratio: audit / nmap per host, lower is faster; last line: ratio to the 1 s goal)"
