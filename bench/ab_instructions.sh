#!/bin/sh
# bench/ab_instructions.sh OLD_BIN NEW_BIN: instructions per request of two
# hardcached builds under the same fixed load, counted by callgrind. A count
# is the same run after run whatever else the machine does, so it shows a
# change (a refactoring, say) that the wall-clock noise of a shared 2-core
# machine would hide; it does not see cache misses or system-call cost,
# which `make bench` measures.
#
# Each binary serves, under valgrind, N1 then N2 requests of each load after
# the same preload; the difference divided by N2 - N1 is the marginal cost
# of one request, start-up and preload cancelled out.
#
# Usage: bench/ab_instructions.sh OLD_BIN NEW_BIN [N1 N2]
# Output: one line per load: old, new (instructions/request) and new/old.
set -eu

old=$1
new=$2
n1=${3:-20000}
n2=${4:-60000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HCBENCH=$ROOT/build/release/hcbench
port=${AB_PORT:-21511}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
asroot=""
# as root the server must be told a user; staying root lets callgrind
# write its file at exit (it opened it before the server dropped privileges)
[ "$(id -u)" = 0 ] && asroot="-u root"

command -v valgrind >/dev/null || { echo "ab_instructions: valgrind is not installed"; exit 2; }
[ -x "$HCBENCH" ] || { echo "ab_instructions: build hcbench first (make build/release/hcbench)"; exit 2; }

# loads: label, then hcbench flags
loads="get32_p16:-p 16 -r 0.9 -v 32
set32_p16:-p 16 -r 0.1 -v 32
get1k_p16:-p 16 -r 0.9 -v 1024
set1k_p16:-p 16 -r 0.1 -v 1024
get32_p1:-p 1 -r 0.9 -v 32"

# total instructions of one server run serving n requests of a load
count() {   # bin n flags...
  bin=$1; n=$2; shift 2
  out=$tmp/cg.out
  rm -f "$out"
  valgrind --tool=callgrind --callgrind-out-file="$out" \
    "$bin" -p "$port" -U 0 -t 1 -m 256 -o no_sandbox $asroot >/dev/null 2>&1 &
  vpid=$!
  i=0
  until "$HCBENCH" --stats -s 127.0.0.1:"$port" >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -gt 200 ] && { echo "server did not start" >&2; kill $vpid; exit 2; }
    sleep 0.1
  done
  "$HCBENCH" -s 127.0.0.1:"$port" -c 10 -k 10000 "$@" -P -n "$n" >/dev/null
  kill -TERM $vpid
  wait $vpid 2>/dev/null || true
  sed -n 's/^totals: \([0-9]*\).*/\1/p' "$out" | head -1
}

printf '%-12s %14s %14s %8s\n' load old_instr/req new_instr/req new/old
echo "$loads" | while IFS=: read -r label flags; do
  # interleaved, so that both see the same machine state
  # shellcheck disable=SC2086
  o1=$(count "$old" "$n1" $flags); n1c=$(count "$new" "$n1" $flags)
  # shellcheck disable=SC2086
  o2=$(count "$old" "$n2" $flags); n2c=$(count "$new" "$n2" $flags)
  awk -v l="$label" -v o1="$o1" -v o2="$o2" -v a="$n1c" -v b="$n2c" -v d="$((n2 - n1))" \
    'BEGIN { o = (o2 - o1) / d; n = (b - a) / d;
             printf "%-12s %14.0f %14.0f %8.3f\n", l, o, n, n / o }'
done
