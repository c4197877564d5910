#!/bin/sh
# bench/ceiling.sh [ROUNDS] -- issue 21's kernel-path ceiling: server CPU
# (utime+stime of the whole process, /proc/PID/stat) per request of 32 B
# values at 90% gets, pipeline 16 and 1, for the do-nothing server
# (hcbench --null-server --null-keep 256), memcached 1.6.45 and hardcached.
#
# On a shared machine one run says little: the three servers run side by
# side (one worker each, pinned to CPU 1, the client to CPU 0) and take
# turns, ROUNDS rounds (default 7) of one run each per pipeline; each run
# sends a fixed number of requests. Prints every run, then per server and
# pipeline the median ops per CPU-s with its min and max, and the ratios
# null / memcached and hardcached / memcached of the medians: if null /
# memcached is below 2, no server making these system calls can reach the
# issue's 2x at that pipeline.
# Env: HARDCACHED, MEMCACHED145 (binaries), N16, N1 (requests per run),
# CEIL_RAW (keep the raw runs there: server pipeline round requests ticks).
set -eu

rounds=${1:-7}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HCB=$ROOT/build/release/hcbench
HC=${HARDCACHED:-$ROOT/build/release/hardcached}
MC=${MEMCACHED145:-$HOME/.cache/hardcache-ref/memcached-1.6.45/memcached}
n16=${N16:-1000000}
n1=${N1:-200000}
base=${CEIL_PORT:-21600}
keys=100000
me=ceiling
# shellcheck source=bench/cpu_runs.sh
. "$ROOT/bench/cpu_runs.sh"
cpu_check_built "$HCB" "$HC" "$MC"
cpu_setup "${CEIL_RAW:-}"

# shellcheck disable=SC2086
taskset -c 1 "$HCB" --null-server $base -v 32 -k $keys --null-keep 256 -d 3600 \
  >/dev/null 2>&1 &
null_pid=$!
# shellcheck disable=SC2086
taskset -c 1 "$MC" -p $((base + 1)) -l 127.0.0.1 -t 1 -m 1024 -c 1024 -U 0 $asroot \
  >/dev/null 2>&1 &
mc_pid=$!
# shellcheck disable=SC2086
taskset -c 1 "$HC" -p $((base + 2)) -l 127.0.0.1 -t 1 -m 1024 -c 1024 $asroot \
  >/dev/null 2>&1 &
hc_pid=$!
pids="$null_pid $mc_pid $hc_pid"

for port in $base $((base + 1)) $((base + 2)); do
  cpu_wait_port "$port"
  taskset -c 0 "$HCB" -s 127.0.0.1:"$port" -c 50 -k $keys -v 32 -r 0.9 -p 16 -P \
    -n 200000 >/dev/null
done

r=1
while [ $r -le "$rounds" ]; do
  for p in 16 1; do
    n=$n1; [ $p = 16 ] && n=$n16
    for s in null mc hc; do
      case $s in
        null) pid=$null_pid; port=$base ;;
        mc)   pid=$mc_pid;   port=$((base + 1)) ;;
        hc)   pid=$hc_pid;   port=$((base + 2)) ;;
      esac
      t0=$(ticks "$pid")
      taskset -c 0 "$HCB" -s 127.0.0.1:"$port" -c 50 -k $keys -v 32 -r 0.9 -p $p \
        -n "$n" --seed $r >/dev/null
      t1=$(ticks "$pid")
      echo "$s $p $r $n $((t1 - t0))" >>"$out"
      awk -v s=$s -v p=$p -v r=$r -v n="$n" -v t=$((t1 - t0)) -v hz="$hz" \
        'BEGIN { printf "run %s p%s round %s: %d requests, %d ticks, %.0f ops/CPU-s\n",
                 s, p, r, n, t, (t > 0 ? n * hz / t : 0) }'
    done
  done
  r=$((r + 1))
done

# medians and ranges: of each server's ops per CPU-s, and of the ratios
# within a round (the servers ran back to back, so these share its load)
for p in 16 1; do
  for s in null mc hc; do
    printf "p%s %s ops/CPU-s: " $p $s
    awk -v s=$s -v p=$p -v hz="$hz" '$1 == s && $2 == p && $5 > 0 { printf "%.0f\n", $4 * hz / $5 }' "$out" | med %.0f
  done
  for q in "null mc" "hc mc" "hc null"; do
    # shellcheck disable=SC2086
    set -- $q
    printf "p%s %s/%s: " $p "$1" "$2"
    awk -v a="$1" -v b="$2" -v p=$p '$2 == p { t[$1 " " $3] = $5; n[$1 " " $3] = $4; r[$3] = 1 }
      END { for (k in r) if (t[a " " k] > 0 && t[b " " k] > 0)
              printf "%.4f\n", (n[a " " k] / t[a " " k]) / (n[b " " k] / t[b " " k]) }' "$out" | med
  done
done
