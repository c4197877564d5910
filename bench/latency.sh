#!/bin/sh
# bench/latency.sh [ROUNDS] -- issue 21's tail-latency goal ("p99 and p99.9
# no worse at the same offered load") measured over many rounds: one run
# says nothing here, the p99 of five runs of one server spans 5x.
#
# Open loop (hcbench --rate: requests sent on schedule, latency from each
# request's due time), 50 connections, 32 B values, 90% gets, pipeline 1,
# at each rate in RATES (default "20000 60000"). The do-nothing server
# (hcbench --null-server: the floor of this kernel path and of this VM's
# wake-ups), memcached 1.6.45 and hardcached (one worker each, pinned to
# CPU 1, the client to CPU 0) run side by side, preloaded with every key,
# and take turns: ROUNDS rounds (default 15), in each round one run of
# each at each rate, the order reversed every round, so that a slow spell
# of the machine falls on all. Prints every run, then per rate and
# quantile the median and range of each server's figure, the median of
# the per-round ratios hc / mc and null / mc, and in how many rounds
# hardcached's figure was no worse than memcached's.
# Env: HARDCACHED, MEMCACHED145 (binaries), RATES, SECS (per run, default
# 3), LAT_RAW (keep the raw runs there: server rate round p50 p99 p999).
set -eu

rounds=${1:-15}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HCB=$ROOT/build/release/hcbench
HC=${HARDCACHED:-$ROOT/build/release/hardcached}
MC=${MEMCACHED145:-$HOME/.cache/hardcache-ref/memcached-1.6.45/memcached}
rates=${RATES:-20000 60000}
secs=${SECS:-3}
base=${LAT_PORT:-21700}
keys=100000
me=latency
# shellcheck source=bench/cpu_runs.sh
. "$ROOT/bench/cpu_runs.sh"
cpu_check_built "$HCB" "$HC" "$MC"
cpu_setup "${LAT_RAW:-}"

# shellcheck disable=SC2086
taskset -c 1 "$MC" -p $base -l 127.0.0.1 -t 1 -m 1024 -c 1024 -U 0 $asroot >/dev/null 2>&1 &
mc_pid=$!
# shellcheck disable=SC2086
taskset -c 1 "$HC" -p $((base + 1)) -l 127.0.0.1 -t 1 -m 1024 -c 1024 $asroot >/dev/null 2>&1 &
hc_pid=$!
taskset -c 1 "$HCB" --null-server $((base + 2)) -v 32 -k $keys --null-keep 256 -d 36000 \
  >/dev/null 2>&1 &
null_pid=$!
pids="$mc_pid $hc_pid $null_pid"
for port in $base $((base + 1)) $((base + 2)); do
  cpu_wait_port "$port"
  taskset -c 0 "$HCB" -s 127.0.0.1:"$port" -c 50 -k $keys -v 32 -P -n 200000 >/dev/null
done

run() {   # SERVER RATE ROUND
  case $1 in mc) port=$base ;; hc) port=$((base + 1)) ;; null) port=$((base + 2)) ;; esac
  res=$(taskset -c 0 "$HCB" -s 127.0.0.1:"$port" -c 50 -k $keys -v 32 -r 0.9 -p 1 \
         -R "$2" -d "$secs" --seed "$3") ||
    { echo "$me: hcbench failed against $1 at $2/s, round $3" >&2; exit 2; }
  line=$(printf '%s\n' "$res" | grep '^RESULT ') ||
    { echo "$me: no result from hcbench against $1 at $2/s, round $3" >&2; exit 2; }
  set -- "$1" "$2" "$3" \
    "$(printf '%s\n' "$line" | sed 's/.* p50_us=\([0-9.]*\).*/\1/')" \
    "$(printf '%s\n' "$line" | sed 's/.* p99_us=\([0-9.]*\).*/\1/')" \
    "$(printf '%s\n' "$line" | sed 's/.* p999_us=\([0-9.]*\).*/\1/')" \
    "$(printf '%s\n' "$line" | sed 's/.* errors=\([0-9]*\).*/\1/')" \
    "$(printf '%s\n' "$line" | sed 's/.* dead_conns=\([0-9]*\).*/\1/')"
  # a run that lost requests or connections offered less load: no tail
  if [ "$7" != 0 ] || [ "$8" != 0 ]; then
    echo "$me: $1 at $2/s, round $3: $7 errors, $8 dead connections" >&2
    exit 2
  fi
  echo "$1 $2 $3 $4 $5 $6" >>"$out"
  echo "run $1 ${2}/s round $3: p50 $4 p99 $5 p99.9 $6 us"
}

r=1
while [ $r -le "$rounds" ]; do
  order="hc mc null"; [ $((r % 2)) = 0 ] && order="null mc hc"
  for rate in $rates; do
    for s in $order; do run "$s" "$rate" "$r"; done
  done
  r=$((r + 1))
done

for rate in $rates; do
  for q in 4:p50 5:p99 6:p99.9; do
    col=${q%%:*}; name=${q#*:}
    for s in null mc hc; do
      printf "%s/s %s %s us: " "$rate" "$name" "$s"
      awk -v s="$s" -v r="$rate" -v c="$col" '$1 == s && $2 == r { print $c }' "$out" | med %.1f
    done
    for s in hc null; do
      printf "%s/s %s %s/mc by round: " "$rate" "$name" "$s"
      awk -v s="$s" -v r="$rate" -v c="$col" '$2 == r { v[$1 " " $3] = $c; k[$3] = 1 }
        END { for (i in k) if (v["mc " i] > 0) printf "%.3f\n", v[s " " i] / v["mc " i] }' "$out" | med %.3f
    done
    printf "%s/s %s rounds with hc <= mc: " "$rate" "$name"
    awk -v r="$rate" -v c="$col" '$2 == r { v[$1 " " $3] = $c; k[$3] = 1 }
      END { for (i in k) { n++; if (v["hc " i] <= v["mc " i]) w++ } printf "%d of %d\n", w, n }' "$out"
  done
done
