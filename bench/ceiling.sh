#!/bin/sh
# bench/ceiling.sh [ROUNDS] -- issue 21's kernel-path ceiling: server CPU
# (utime+stime of the whole process, /proc/PID/stat) per request for the
# do-nothing server (hcbench --null-server --null-keep 256), memcached
# 1.6.45 and hardcached, at pipeline 16 and 1, for each value size in
# VALUES (default 32) and get ratio in MIXES (default 0.9).
#
# On a shared machine one run says little: the three servers run side by
# side (one worker each, pinned to CPU 1, the client to CPU 0) and take
# turns (the order reversed every other round), ROUNDS rounds (default
# 7) of one run each per load; each run
# sends a fixed number of requests. For each value size the three start
# afresh and are preloaded with every key; the loads then run back to
# back on them. Prints every run, then per load the median ops per CPU-s
# of each server with its min and max, and the ratios null / memcached,
# hardcached / memcached and hardcached / null of the runs of one round
# (they ran back to back, so they share its load): if null / memcached is
# below the issue's bar (2 at pipeline 16, 1.2 at pipeline 1), no server
# making these system calls reaches it at that load.
# With CEIL_LONG=1 memcached and hardcached are started once and serve
# every value size in turn (the long-running instance: 1 KiB values then
# overwrite 32 B ones); the do-nothing servers start afresh per size.
# With CEIL_URING=1 the do-nothing server also runs on io_uring
# (hcbench --null-uring, "nullu"): a kernel path below read/write?
# Env: HARDCACHED, MEMCACHED145 (binaries), N16, N1 (requests per run),
# VALUES, MIXES, CEIL_LONG, CEIL_URING, CEIL_RAW (keep the raw runs there:
# server value mix pipeline round requests ticks).
set -eu

rounds=${1:-7}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HCB=$ROOT/build/release/hcbench
HC=${HARDCACHED:-$ROOT/build/release/hardcached}
MC=${MEMCACHED145:-$HOME/.cache/hardcache-ref/memcached-1.6.45/memcached}
n16=${N16:-1000000}
n1=${N1:-200000}
values=${VALUES:-32}
mixes=${MIXES:-0.9}
servers="null mc hc"
[ "${CEIL_URING:-0}" = 1 ] && servers="$servers nullu"
base=${CEIL_PORT:-21600}
keys=100000
me=ceiling
# shellcheck source=bench/cpu_runs.sh
. "$ROOT/bench/cpu_runs.sh"
cpu_check_built "$HCB" "$HC" "$MC"
cpu_setup "${CEIL_RAW:-}"

long=${CEIL_LONG:-0}
mc_pid=""
hc_pid=""
start_three() {   # VALUE: the servers, fresh (the caches: once if long), preloaded
  # shellcheck disable=SC2086
  taskset -c 1 "$HCB" --null-server $base -v "$1" -k $keys --null-keep 256 -d 3600 \
    >/dev/null 2>&1 &
  null_pid=$!
  if [ -z "$mc_pid" ]; then
    # shellcheck disable=SC2086
    taskset -c 1 "$MC" -p $((base + 1)) -l 127.0.0.1 -t 1 -m 1024 -c 1024 -U 0 $asroot \
      >/dev/null 2>&1 &
    mc_pid=$!
    # shellcheck disable=SC2086
    taskset -c 1 "$HC" -p $((base + 2)) -l 127.0.0.1 -t 1 -m 1024 -c 1024 $asroot \
      >/dev/null 2>&1 &
    hc_pid=$!
  fi
  pids="$null_pid $mc_pid $hc_pid"
  ports="$base $((base + 1)) $((base + 2))"
  case $servers in *nullu*)
    taskset -c 1 "$HCB" --null-server $((base + 3)) --null-uring -v "$1" -k $keys \
      --null-keep 256 -d 3600 >/dev/null 2>&1 &
    nullu_pid=$!
    pids="$pids $nullu_pid"
    ports="$ports $((base + 3))" ;;
  esac
  for port in $ports; do
    cpu_wait_port "$port"
    taskset -c 0 "$HCB" -s 127.0.0.1:"$port" -c 50 -k $keys -v "$1" -r 0.9 -p 16 -P \
      -n 200000 >/dev/null
  done
}

stop_three() {   # [all]: the caches too, even if long
  stop=$pids
  if [ "$long" = 1 ] && [ -z "${1:-}" ]; then
    stop=$null_pid; [ -n "${nullu_pid:-}" ] && stop="$stop $nullu_pid"
  else
    mc_pid=""; hc_pid=""
  fi
  for p in $stop; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
  pids=$mc_pid${mc_pid:+ }$hc_pid
}

for v in $values; do
  start_three "$v"
  r=1
  while [ $r -le "$rounds" ]; do
    for mix in $mixes; do
      for p in 16 1; do
        n=$n1; [ $p = 16 ] && n=$n16
        order=$servers   # reversed every other round, as latency.sh does
        [ $((r % 2)) = 0 ] && order=$(printf '%s\n' $servers | sed -n '1!G;h;$p' | tr '\n' ' ')
        for s in $order; do
          case $s in
            nullu) pid=$nullu_pid; port=$((base + 3)) ;;
            null) pid=$null_pid; port=$base ;;
            mc)   pid=$mc_pid;   port=$((base + 1)) ;;
            hc)   pid=$hc_pid;   port=$((base + 2)) ;;
          esac
          t0=$(ticks "$pid")
          taskset -c 0 "$HCB" -s 127.0.0.1:"$port" -c 50 -k $keys -v "$v" -r "$mix" -p $p \
            -n "$n" --seed $r >/dev/null
          t1=$(ticks "$pid")
          echo "$s $v $mix $p $r $n $((t1 - t0))" >>"$out"
          awk -v s="$s" -v v="$v" -v m="$mix" -v p=$p -v r=$r -v n="$n" -v t=$((t1 - t0)) -v hz="$hz" \
            'BEGIN { printf "run %s %sB get%s p%s round %s: %d requests, %d ticks, %.0f ops/CPU-s\n",
                     s, v, m, p, r, n, t, (t > 0 ? n * hz / t : 0) }'
        done
      done
    done
    r=$((r + 1))
  done
  stop_three
done
stop_three all

# medians and ranges: of each server's ops per CPU-s, and of the ratios
# within a round
for v in $values; do
  for mix in $mixes; do
    for p in 16 1; do
      load="${v}B get$mix p$p"
      for s in $servers; do
        printf "%s %s ops/CPU-s: " "$load" "$s"
        awk -v s="$s" -v v="$v" -v m="$mix" -v p=$p -v hz="$hz" \
          '$1 == s && $2 == v && $3 == m && $4 == p && $7 > 0 { printf "%.0f\n", $6 * hz / $7 }' \
          "$out" | med %.0f
      done
      qs='"null mc" "hc mc" "hc null"'
      case $servers in *nullu*) qs="$qs \"nullu null\" \"nullu mc\"" ;; esac
      eval "set -- $qs"
      for q; do
        # shellcheck disable=SC2086
        set -- $q
        printf "%s %s/%s: " "$load" "$1" "$2"
        awk -v a="$1" -v b="$2" -v v="$v" -v m="$mix" -v p=$p \
          '$2 == v && $3 == m && $4 == p { t[$1 " " $5] = $7; n[$1 " " $5] = $6; r[$5] = 1 }
          END { for (k in r) if (t[a " " k] > 0 && t[b " " k] > 0)
                  printf "%.4f\n", (n[a " " k] / t[a " " k]) / (n[b " " k] / t[b " " k]) }' \
          "$out" | med
      done
    done
  done
done
