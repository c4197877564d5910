#!/bin/sh
# bench/ab_cpu.sh OLD_BIN NEW_BIN [ROUNDS]: server CPU per request of two
# hardcached builds (or one build with two sets of flags) under one load,
# in interleaved runs. Callgrind (bench/ab_instructions.sh) counts
# instructions but not cache or TLB misses, which decide the 1 KiB loads
# over 100 MB of items; CPU time sees them, but on a shared machine only as
# a median over many runs taken in turn.
#
# Both servers (one worker each, pinned to CPU 1, the client to CPU 0, -m
# 1024) first get 100,000 keys of 32 B and 200,000 requests at 10% gets,
# then the load's keys, then ROUNDS rounds (default 7) of one run each, in
# turn, N requests per run; server CPU = utime+stime from /proc/PID/stat.
# Prints every run, then each server's median ns per request with min and
# max, and the median and range of new/old taken within each round.
# Env: LOAD (hcbench flags, default "-v 1024 -r 0.1 -p 16"), N (requests
# per run, default 1000000), OLD_ARGS, NEW_ARGS (extra server flags, e.g.
# NEW_ARGS=-L), AB_RAW (keep the raw runs there).
set -eu

old=$1
new=$2
rounds=${3:-7}
load=${LOAD:--v 1024 -r 0.1 -p 16}
n=${N:-1000000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HCB=$ROOT/build/release/hcbench
base=${AB_PORT:-21620}
keys=100000
me=ab_cpu
# shellcheck source=bench/cpu_runs.sh
. "$ROOT/bench/cpu_runs.sh"
cpu_check_built "$HCB" "$old" "$new"
cpu_setup "${AB_RAW:-}"

# shellcheck disable=SC2086
taskset -c 1 "$old" -p $base -l 127.0.0.1 -t 1 -m 1024 -c 1024 $asroot ${OLD_ARGS:-} \
  >/dev/null 2>&1 &
old_pid=$!
# shellcheck disable=SC2086
taskset -c 1 "$new" -p $((base + 1)) -l 127.0.0.1 -t 1 -m 1024 -c 1024 $asroot ${NEW_ARGS:-} \
  >/dev/null 2>&1 &
new_pid=$!
pids="$old_pid $new_pid"

for port in $base $((base + 1)); do
  cpu_wait_port "$port"
  taskset -c 0 "$HCB" -s 127.0.0.1:"$port" -c 50 -p 16 -k $keys -v 32 -r 0.1 -P \
    -n 200000 >/dev/null
  # shellcheck disable=SC2086
  taskset -c 0 "$HCB" -s 127.0.0.1:"$port" -c 50 -k $keys $load -P -n 200000 --seed 5 \
    >/dev/null
done

r=1
while [ "$r" -le "$rounds" ]; do
  for s in old new; do
    pid=$old_pid; port=$base
    [ $s = new ] && { pid=$new_pid; port=$((base + 1)); }
    t0=$(ticks "$pid")
    # shellcheck disable=SC2086
    taskset -c 0 "$HCB" -s 127.0.0.1:"$port" -c 50 -k $keys $load -n "$n" --seed "$r" \
      >/dev/null
    t1=$(ticks "$pid")
    echo "$s $r $n $((t1 - t0))" >>"$out"
    awk -v s=$s -v r="$r" -v n="$n" -v t=$((t1 - t0)) -v hz="$hz" \
      'BEGIN { printf "run %s round %s: %d requests, %d ticks, %.0f ns/request\n",
               s, r, n, t, t * 1e9 / hz / n }'
  done
  r=$((r + 1))
done

for s in old new; do
  printf "%s ns/request: " $s
  awk -v s=$s -v hz="$hz" '$1 == s { printf "%.0f\n", $4 * 1e9 / hz / $3 }' "$out" | med %.0f
done
printf "new/old within a round: "
awk '{ t[$1 " " $2] = $4 / $3; r[$2] = 1 }
  END { for (k in r) if (t["old " k] > 0) printf "%.4f\n", t["new " k] / t["old " k] }' "$out" | med %.3f
