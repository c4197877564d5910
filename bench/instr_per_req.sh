#!/bin/sh
# bench/instr_per_req.sh BIN [WARM N] -- HCBENCH_FLAGS: callgrind instructions
# per request of one load on a server that has served others first (issue
# 21: 32 B items, then the load), hardcached or memcached alike, so the two
# can be compared in the one unit this shared machine repeats exactly.
#
# The server (one worker, -m 1024, crawler off: it runs by the clock, and
# under valgrind the clock is 50x slower than the requests) gets 100,000
# keys of 32 B and 200,000 requests at 10% gets, then WARM requests of the
# load (its keys preloaded first), then the counters are zeroed and N
# requests measured. Prints: BIN instr/req=... rss_kb=...
# Example: bench/instr_per_req.sh build/release/hardcached 400000 200000 -- -v 1024 -r 0.1 -p 16
set -eu

bin=$1; shift
warm=100000; n=200000
if [ "${1:-}" != "--" ]; then warm=$1; n=$2; shift 2; fi
[ "${1:-}" = "--" ] && shift
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HCB=$ROOT/build/release/hcbench
port=${AB_PORT:-21521}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
command -v valgrind >/dev/null || { echo "instr_per_req: valgrind is not installed"; exit 2; }
[ -x "$HCB" ] || { echo "instr_per_req: build hcbench first (make build/release/hcbench)"; exit 2; }
case $(basename "$bin") in
  memcached*)
    # memcached sets its file limit to -c, and valgrind keeps 12 fds back
    # shellcheck disable=SC3045
    ulimit -n 1100
    extra="-c 1088 -o no_lru_crawler" ;;
  *) extra="-U 0 -o no_sandbox,no_lru_crawler" ;;
esac
asroot=""
[ "$(id -u)" = 0 ] && asroot="-u root"
# shellcheck disable=SC2086
valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" \
  "$bin" -p "$port" -t 1 -m 1024 $asroot $extra >/dev/null 2>&1 &
vpid=$!
i=0
until "$HCB" --stats -s 127.0.0.1:"$port" >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -gt 300 ] && { echo "server did not start" >&2; kill $vpid; exit 2; }
  sleep 0.1
done
"$HCB" -s 127.0.0.1:"$port" -c 50 -p 16 -k 100000 -v 32 -r 0.1 -P -n 200000 >/dev/null
"$HCB" -s 127.0.0.1:"$port" -c 50 -k 100000 "$@" -P -n "$warm" --seed 5 >/dev/null
callgrind_control -z $vpid >/dev/null
"$HCB" -s 127.0.0.1:"$port" -c 50 -k 100000 "$@" -n "$n" --seed 7 >/dev/null
callgrind_control -d $vpid >/dev/null
rss=$(awk '/^VmRSS:/ {print $2}' /proc/$vpid/status)
kill -TERM $vpid
wait $vpid 2>/dev/null || true
for f in "$dir"/cg.out.*; do break; done   # the dump, or else the file at exit
[ -e "$f" ] || f=$dir/cg.out
[ -n "${CG_KEEP:-}" ] && cp "$f" "$CG_KEEP"
tot=$(sed -n 's/^summary: \([0-9]*\).*/\1/p; s/^totals: \([0-9]*\).*/\1/p' "$f" | head -1)
echo "$bin instr/req=$((tot / n)) rss_kb=$rss"
