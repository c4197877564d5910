#!/bin/sh
# bench/run.sh: drive hardcached, Debian's memcached 1.6.18 and memcached
# 1.6.45 (the newest release, the yardstick; built from source by
# scripts/memcached-ref.sh) with the same load from hcbench and print them
# side by side (see BENCHMARKS.md).
#
# On a 2-core machine each server is pinned to core 0 and hcbench to core 1,
# so the two never fight for a core. For each run we record throughput,
# latency percentiles and the server's own CPU time (utime+stime from
# /proc/PID/stat) so that "ops per second of server CPU" can be compared
# even where the client, not the server, sets the pace.
#
# Usage: bench/run.sh [--quick] [--duration S] [--warmup S] [--settle S] [--repeat N]
#                     [--lat-repeat N] [--rounds N] [--lat-rounds N] [--no-1k]
#                     [--no-memory] [--no-scale] [--scale-only] [--scale-repeat N] [--items N]
#                     [--only hardcached|memcached|memcached145] [--no-145]
#                     [--port P] [--threads T] [--rates "R1 R2"]
# Raw results: bench/results/latest.txt (one line per run); the scale phase
# (also `make bench-scale`) writes bench/results/scale.txt and the chart
# bench/scale.png (gnuplot).
# Environment: HARDCACHED=path benches another hardcached binary;
# MEMCACHED_REF=path another 1.6.45 (else it is built when missing, as root);
# SCALE_CONNS, SCALE_ITEMS replace the scale phase's points. The scale phase
# compares with 1.6.18 only (its chart has two lines; it is the slowest phase).
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
HCBENCH=$ROOT/build/release/hcbench
# HARDCACHED may be overridden to bench another build (or a stand-in).
HARDCACHED=${HARDCACHED:-$ROOT/build/release/hardcached}
MEMCACHED=$(command -v memcached || echo /usr/bin/memcached)
RESULTS_DIR=$ROOT/bench/results
OUT=$RESULTS_DIR/latest.txt

duration=4       # measured seconds per run
repeat=2         # runs per server and load; the table keeps the best
lat_repeat=5     # open-loop runs per server and rate; the table shows medians
warmup=0.5       # unrecorded seconds before each measured run
settle=3         # seconds of set-heavy load after each preload (see settle_all)
rounds21=7       # interleaved rounds of issue 21's loads (phase 1c; 0: none)
lat_rounds=15    # and of its open-loop tails
values="32 1024" # value sizes for the throughput matrix
mem_values="32 200"
mem_items=1000000
ow_requests=2000000 # 1 KiB sets of the overwrite phase (20 per key)
keys=100000      # key space of the throughput runs (all preloaded)
conns=50
thread_list="1 2" # server worker threads (-t), one matrix each
rates="20000 60000" # open-loop offered loads (requests/s) for the latency table
do_scale=1
scale_only=0
scale_conns=${SCALE_CONNS:-"1 10 100 1000 10000"}
scale_items=${SCALE_ITEMS:-"10000 100000 1000000 10000000"}
scale_duration=2
scale_repeat=3   # runs per server and scale point; the table and chart keep the best
mem_mb=1024      # server memory limit (-m): big enough that nothing is evicted
null_keep_mb=256 # the do-nothing reference's ring (hcbench --null-keep)
port=21411
only=""
do_memory=1
do_145=1
all_args="$*"

while [ $# -gt 0 ]; do
  case $1 in
    --quick) duration=2; warmup=0.5; settle=1; rounds21=0; lat_rounds=0; repeat=1; lat_repeat=1; values=32; mem_values=32
             ow_requests=500000
             thread_list=1; rates=20000; do_scale=0 ;;
    --repeat) repeat=$2; shift ;;
    --lat-repeat) lat_repeat=$2; shift ;;
    --duration) duration=$2; shift ;;
    --warmup) warmup=$2; shift ;;
    --settle) settle=$2; shift ;;
    --rounds) rounds21=$2; shift ;;
    --lat-rounds) lat_rounds=$2; shift ;;
    --no-1k) values=32 ;;
    --no-memory) do_memory=0 ;;
    --no-scale) do_scale=0 ;;
    --scale-only) scale_only=1 ;;
    --scale-repeat) scale_repeat=$2; shift ;;
    --rates) rates=$2; shift ;;
    --items) mem_items=$2; shift ;;
    --only) only=$2; shift
            case $only in hardcached|memcached|memcached145) ;;
              *) echo "run.sh: --only hardcached|memcached|memcached145" >&2; exit 64 ;; esac ;;
    --no-145) do_145=0 ;;
    --port) port=$2; shift ;;
    --threads) thread_list=$2; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1 (try --help)" >&2; exit 64 ;;
  esac
  shift
done

if [ ! -x "$HCBENCH" ]; then
  echo "run.sh: $HCBENCH missing; run 'make build/release/hcbench' first" >&2
  exit 1
fi
if [ "$(nproc)" -ge 2 ]; then
  SRV_CPU=0; CLI_CPU=1
else
  SRV_CPU=0; CLI_CPU=0
  echo "run.sh: only one core: server and client share it; numbers will mislead" >&2
fi
if [ "$(id -u)" = 0 ]; then asroot="-u root"; else asroot=""; fi
# memcached 1.6.45: found, or built now as root (a few minutes, once), or
# left out with the command that builds it.
MEMCACHED145=""
if [ $do_145 = 1 ] && [ $scale_only = 0 ] && [ "$only" != hardcached ] && [ "$only" != memcached ]; then
  MEMCACHED145=$("$ROOT/scripts/memcached-ref.sh" --build) ||
    echo "run.sh: NOTE: memcached 1.6.45 missing (see above): benching without it" >&2
fi
threads=1
maxconns=4096
srv_cpus=$SRV_CPU
TCK=$(getconf CLK_TCK)

mkdir -p "$RESULTS_DIR"
if [ $scale_only = 1 ]; then OUT=$RESULTS_DIR/scale.txt; fi
: > "$OUT"
echo "# hcbench results $(date -u +%Y-%m-%dT%H:%M:%SZ) host=$(uname -n) cores=$(nproc) loadavg='$(cut -d" " -f1-3 /proc/loadavg)' memcached='$("$MEMCACHED" -V 2>/dev/null)' memcached145='$([ -n "$MEMCACHED145" ] && "$MEMCACHED145" -V 2>/dev/null)' args='$all_args'" >> "$OUT"

log() { echo "$*" >&2; }

# Each server gets its own port and PID variable, so both can be up at once
# and the matrix can alternate between them run by run: slow drift in the
# machine (other tenants, frequency) then hits both alike.
port_of() {
  case $1 in hardcached) echo $port ;; memcached) echo $((port + 1)) ;; null) echo $((port + 2)) ;;
    memcached145) echo $((port + 3)) ;; esac
}
pid_of() { eval "echo \${PID_$1:-}"; }
set_pid() { eval "PID_$1=$2"; }

stop_server() { # name
  p=$(pid_of "$1")
  if [ -n "$p" ]; then kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; fi
  set_pid "$1" ""
}
cleanup() { for s in hardcached memcached memcached145 null; do stop_server $s; done; }
trap 'cleanup' EXIT
trap 'cleanup; exit 130' INT TERM

# utime+stime of the whole process (all threads), in clock ticks.
# Fields are counted after the ")" that closes comm, which may hold spaces.
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
# Seconds of CPU between two cpu_ticks readings; operations per CPU-second.
cpu_secs() { awk -v a="$1" -v b="$2" -v t="$TCK" 'BEGIN {printf "%.2f", (b - a) / t}'; }
per_cpu() { awk -v o="$1" -v c="$2" 'BEGIN {printf "%.0f", (c > 0) ? o / c : 0}'; }
# Busy ticks (everything but idle and iowait) of one core, from /proc/stat.
core_busy() { awk -v c="cpu$1" '$1 == c {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

hcb() { taskset -c $CLI_CPU "$HCBENCH" "$@"; }

# Start a server pinned to SRV_CPU and wait until it answers `stats`.
# Returns 1 (with a note) if it is missing or does not come up within 5s.
start_server() { # name
  name=$1; sp=$(port_of "$name")
  if hcb --stats -s 127.0.0.1:$sp >/dev/null 2>&1; then
    log "run.sh: something already answers on port $sp; use --port"
    return 1
  fi
  case $name in
    hardcached)
      if [ ! -x "$HARDCACHED" ]; then
        log "run.sh: NOTE: $HARDCACHED does not exist (not built yet): skipping hardcached"
        return 1
      fi
      # shellcheck disable=SC2086
      taskset -c $srv_cpus "$HARDCACHED" -p $sp -l 127.0.0.1 -t $threads \
        -m $mem_mb -c $maxconns $asroot >"$RESULTS_DIR/hardcached.log" 2>&1 &
      ;;
    memcached|memcached145)
      bin=$MEMCACHED; [ "$name" = memcached145 ] && bin=$MEMCACHED145
      # shellcheck disable=SC2086
      taskset -c $srv_cpus "$bin" -p $sp -l 127.0.0.1 -t $threads \
        -m $mem_mb -c $maxconns -U 0 $asroot >"$RESULTS_DIR/$name.log" 2>&1 &
      ;;
    null)   # every get a hit of $null_value bytes, kept in a ring
      taskset -c $SRV_CPU "$HCBENCH" --null-server $sp -v "$null_value" -k $keys \
        --null-keep $null_keep_mb -d 600 >"$RESULTS_DIR/null.log" 2>&1 &
      ;;
  esac
  set_pid "$name" $!
  i=0
  while [ $i -lt 50 ]; do
    if ! kill -0 "$(pid_of "$name")" 2>/dev/null; then
      log "run.sh: NOTE: $name exited at start-up (see $RESULTS_DIR/$name.log): skipping it"
      wait "$(pid_of "$name")" 2>/dev/null; set_pid "$name" ""
      return 1
    fi
    if hcb --stats -s 127.0.0.1:$sp >/dev/null 2>&1; then return 0; fi
    sleep 0.1; i=$((i + 1))
  done
  log "run.sh: NOTE: $name did not answer 'stats' on 127.0.0.1:$sp within 5s: skipping it"
  stop_server "$name"
  return 1
}

errors=0
# One measured run against a running server; appends a RUN line.
# Later -c/-k/-d arguments override the defaults given here.
measure() { # server label hcbench-args...
  srv=$1; label=$2; shift 2
  sp=$(port_of "$srv"); pid=$(pid_of "$srv")
  if [ "$warmup" != 0 ]; then
    hcb -s 127.0.0.1:$sp -c $conns -k $keys "$@" -d "$warmup" >/dev/null 2>&1
  fi
  t0=$(cpu_ticks "$pid"); s0=$(core_busy $SRV_CPU); c0=$(core_busy $CLI_CPU)
  res=$(hcb -s 127.0.0.1:$sp -c $conns -k $keys -d "$duration" -l "$label" "$@" 2>"$RESULTS_DIR/hcbench.err")
  rc=$?
  t1=$(cpu_ticks "$pid"); s1=$(core_busy $SRV_CPU); c1=$(core_busy $CLI_CPU)
  line=$(printf '%s\n' "$res" | grep '^RESULT ' | sed 's/^RESULT //')
  if [ -z "$line" ]; then
    log "run.sh: $srv $label: hcbench failed (rc=$rc): $(cat "$RESULTS_DIR/hcbench.err")"
    errors=$((errors + 1))
    return
  fi
  [ $rc -ne 0 ] && errors=$((errors + 1))
  ops=$(printf '%s\n' "$line" | sed 's/.* ops=\([0-9]*\).*/\1/')
  cpu=$(cpu_secs "$t0" "$t1"); opc=$(per_cpu "$ops" "$cpu")
  ccpu=$(printf '%s\n' "$line" | sed -n 's/.*client_cpu_s=\([0-9.]*\).*/\1/p')
  # CPU on either core not used by the server or hcbench: other tenants
  # (or softirq work charged to no process). Large values mean a noisy run.
  other=$(awk -v s0="$s0" -v s1="$s1" -v c0="$c0" -v c1="$c1" -v sv="$cpu" -v cl="${ccpu:-0}" -v t="$TCK" \
    'BEGIN {a = (s1 - s0) / t - sv; b = (c1 - c0) / t - cl; if (a < 0) a = 0; if (b < 0) b = 0; printf "%.2f %.2f", a, b}')
  echo "RUN impl=$srv srv_threads=$threads $line server_cpu_s=$cpu ops_per_cpu_sec=$opc other_cpu_s_core$SRV_CPU=${other% *} other_cpu_s_core$CLI_CPU=${other#* }" >> "$OUT"
  log "  $srv $label: $(printf '%s\n' "$line" | grep -o 'ops_per_sec=[0-9]*\| p99_us=[0-9.]*\| errors=[0-9]*' | tr '\n' ' ')server_cpu=${cpu}s other_cpu=${other}s"
}

servers="hardcached memcached"
[ -n "$MEMCACHED145" ] && servers="$servers memcached145"
[ -n "$only" ] && servers=$only

log "run.sh: results go to $OUT; ${duration}s per run, servers on core $SRV_CPU, hcbench on core $CLI_CPU"

# Pin the servers: one thread on the server core; two threads (the
# machine has two cores) on both cores, so they share core 1 with hcbench
# and "ops per CPU-s" is the fair column there.
set_threads() { # T
  threads=$1
  if [ "$threads" -gt 1 ] && [ "$(nproc)" -ge 2 ]; then srv_cpus="$SRV_CPU,$CLI_CPU"
  else srv_cpus=$SRV_CPU; fi
}

# Start every server in $servers; sets $up to those that came up.
start_all() { # phase
  up=""
  for srv in $servers; do
    if start_server "$srv"; then up="$up $srv"
    else echo "SKIP impl=$srv phase=$1" >> "$OUT"; fi
  done
}
stop_all() { for srv in $up; do stop_server "$srv"; done; up=""; }

preload() { # value-size keys
  for srv in $up; do
    hcb -s "127.0.0.1:$(port_of "$srv")" -c $conns -p 16 -v "$1" --load "$2" -d 120 >/dev/null 2>&1 ||
      { log "run.sh: $srv: preload of $2 x ${1}B reported errors"; errors=$((errors + 1)); }
  done
}

# After a preload, every server takes $settle seconds of the set-heavy load
# of that value size before the measured runs, reported apart (SETTLE
# lines, a table of their own). A log-structured store's first overwrites
# after new values arrive grow into memory it never touched (hardcached:
# 100,000 1 KiB values overwritten, 110 -> 211 MB into the overwrite
# headroom, first-touch faults); memcached reuses the chunks it freed. It
# is paid once per instance, and without this it fell on whichever
# measured load came next (a first 3 s run 26% slower than later ones).
settle_all() { # value-size
  [ "$settle" = 0 ] && return
  for srv in $up; do
    sp=$(port_of "$srv"); pid=$(pid_of "$srv")
    t0=$(cpu_ticks "$pid")
    res=$(hcb -s 127.0.0.1:$sp -c $conns -k $keys -v "$1" -r 0.1 -p 16 -d "$settle" 2>/dev/null)
    t1=$(cpu_ticks "$pid")
    ops=$(printf '%s\n' "$res" | grep '^RESULT' | sed -n 's/.* ops=\([0-9]*\).*/\1/p')
    cpu=$(cpu_secs "$t0" "$t1"); opc=$(per_cpu "${ops:-0}" "$cpu")
    echo "SETTLE impl=$srv srv_threads=$threads value=$1 secs=$settle ops=${ops:-0} server_cpu_s=$cpu ops_per_cpu_sec=$opc" >> "$OUT"
    log "  $srv settle ${1}B: ${ops:-?} ops in ${settle}s, ${opc} ops per CPU-s (not in the table)"
  done
}

if [ $scale_only = 0 ]; then
# 1. Throughput matrix, for each server thread count, both servers up,
# alternating run by run. With one thread the do-nothing server takes
# its turn too (hcbench --null-server: no index, every get a hit of the
# load's value size; stored data copied into a ring and hits read from
# it, the memory traffic any cache has; the same system calls): how fast
# hcbench goes when the server is nearly free, and about the most ops
# per CPU-s a cache can reach at that load.
for t in $thread_list; do
  set_threads "$t"
  start_all throughput
  [ -n "$up" ] || continue
  log "run.sh: throughput matrix, $t server thread(s):$up"
  for v in $values; do
    preload "$v" $keys   # every key exists before measuring: gets are hits
    settle_all "$v"
    ref=""
    if [ "$t" = 1 ]; then
      null_value=$v
      start_server null && ref=null
    fi
    for mix in 0.9 0.1; do
      for p in 1 16; do
        r=0
        while [ $r -lt "$repeat" ]; do
          for srv in $up $ref; do
            measure "$srv" "v${v}_get${mix}_p${p}_t$t" -p $p -r $mix -v "$v"
          done
          r=$((r + 1))
        done
      done
    done
    [ -n "$ref" ] && stop_server null
  done
  # 1b. Tail latency at the same offered load: open loop (hcbench --rate),
  # requests sent on schedule whatever the server does, so both servers
  # see exactly the same load and a slow reply cannot slow the sender.
  if [ "$t" = 1 ]; then
    preload 32 $keys
    for rate in $rates; do
      r=0
      while [ $r -lt "$lat_repeat" ]; do
        for srv in $up; do
          measure "$srv" "v32_get0.9_p1_t1_r$rate" -p 1 -r 0.9 -v 32 -R "$rate"
        done
        r=$((r + 1))
      done
    done
  fi
  stop_all
done

# 1c. Issue 21's goals over interleaved rounds: one run of a load says
# little here (a server's ops per CPU-s moves by 15-30% run to run, a
# p99 by 5x), so the goals table judges them on bench/ceiling.sh (ops per
# CPU-s of the do-nothing server, 1.6.45 and hardcached, one long-running
# instance each, every load, $rounds21 rounds, the median of the ratios
# taken within a round) and bench/latency.sh (the open-loop tails, the
# three in turn, $lat_rounds rounds). Their raw runs become CEIL and LATR
# lines here.
if [ -n "$MEMCACHED145" ] && [ -z "$only" ] && { [ "$rounds21" != 0 ] || [ "$lat_rounds" != 0 ]; }; then
  log "run.sh: issue 21 over interleaved rounds: $rounds21 rounds of every load (bench/ceiling.sh), $lat_rounds of the open-loop tails (bench/latency.sh)"
  raw=$(mktemp)
  if [ "$rounds21" = 0 ]; then :
  elif CEIL_LONG=1 VALUES="$values" MIXES="0.9 0.1" CEIL_RAW=$raw HARDCACHED=$HARDCACHED \
     MEMCACHED145=$MEMCACHED145 "$ROOT/bench/ceiling.sh" "$rounds21" >"$RESULTS_DIR/ceiling.log" 2>&1; then
    awk '{ print "CEIL impl=" $1 " value=" $2 " mix=" $3 " pipeline=" $4 " round=" $5 " requests=" $6 " ticks=" $7 }' \
      "$raw" >> "$OUT"
  else
    log "run.sh: bench/ceiling.sh failed (see $RESULTS_DIR/ceiling.log)"; errors=$((errors + 1))
  fi
  if [ "$lat_rounds" = 0 ]; then :
  elif LAT_RAW=$raw RATES="$rates" HARDCACHED=$HARDCACHED MEMCACHED145=$MEMCACHED145 \
     "$ROOT/bench/latency.sh" "$lat_rounds" >"$RESULTS_DIR/latency.log" 2>&1; then
    awk '{ print "LATR impl=" $1 " rate=" $2 " round=" $3 " p50_us=" $4 " p99_us=" $5 " p999_us=" $6 }' \
      "$raw" >> "$OUT"
  else
    log "run.sh: bench/latency.sh failed (see $RESULTS_DIR/latency.log)"; errors=$((errors + 1))
  fi
  rm -f "$raw"
fi

# One `stats` value of the server on port $1; the ops/s of hcbench's output.
stat_of() { hcb --stats -s 127.0.0.1:"$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
ops_of() { printf '%s\n' "$1" | grep '^RESULT' | sed 's/.*ops_per_sec=\([0-9]*\).*/\1/'; }
# Start $1 afresh for a memory phase: sets sp, pid and r0 (RSS before);
# false, with a SKIP line ($2: the phase's fields), if it does not come up.
fresh_server() {
  if ! start_server "$1"; then
    echo "SKIP impl=$1 $2" >> "$OUT"
    return 1
  fi
  sp=$(port_of "$1"); pid=$(pid_of "$1"); r0=$(rss_kb "$pid")
}

# 2. Resident memory per item, each in a fresh server.
if [ $do_memory = 1 ]; then
  for v in $mem_values; do
    for srv in $servers; do
      log "run.sh: memory: $srv, $mem_items items of 16B keys and ${v}B values"
      fresh_server "$srv" "phase=memory value=$v" || continue
      res=$(hcb -s 127.0.0.1:$sp -c $conns -p 16 -v "$v" --load "$mem_items" -d 120 2>&1)
      rc=$?
      sleep 0.2
      r1=$(rss_kb "$pid")
      items=$(stat_of $sp curr_items)
      rate=$(ops_of "$res")
      bpi=$(awk -v a="$r0" -v b="$r1" -v n="$mem_items" 'BEGIN {printf "%.1f", (b - a) * 1024 / n}')
      echo "MEM impl=$srv value=$v key_len=16 items=$mem_items curr_items=${items:-?} rss_before_kb=$r0 rss_after_kb=$r1 bytes_per_item=$bpi load_ops_per_sec=${rate:-0} load_rc=$rc" >> "$OUT"
      log "  $srv ${v}B: RSS $r0 -> $r1 kB, $bpi bytes/item, curr_items=${items:-?}"
      if [ $rc -ne 0 ] || [ "${items:-x}" != "$mem_items" ]; then
        log "run.sh: $srv memory run: load rc=$rc, curr_items=${items:-?} (want $mem_items)"
        errors=$((errors + 1))
      fi
      stop_server "$srv"
    done
  done
  # Resident memory under overwrites (issue 21): in a fresh server at -m
  # $mem_mb, $keys keys of 32 B, then 1 KiB sets at random over the same
  # keys (dead copies pile up where the store does not reclaim them):
  # RSS against the live bytes (`stats bytes`) and the sets' speed.
  for srv in $servers; do
    log "run.sh: overwrites: $srv, $keys keys of 32 B then $ow_requests 1 KiB sets"
    fresh_server "$srv" "phase=overwrite" || continue
    hcb -s 127.0.0.1:$sp -c $conns -p 16 -v 32 --load "$keys" -d 60 >/dev/null 2>&1
    res=$(hcb -s 127.0.0.1:$sp -c $conns -p 16 -k $keys -v 1024 -r 0 -n "$ow_requests" -d 300 2>&1)
    rc=$?
    r1=$(rss_kb "$pid")
    live=$(stat_of $sp bytes)
    rate=$(ops_of "$res")
    echo "OVERWRITE impl=$srv keys=$keys value=1024 requests=$ow_requests mem_mb=$mem_mb rss_before_kb=$r0 rss_after_kb=$r1 live_bytes=${live:-0} set_ops_per_sec=${rate:-0} rc=$rc" >> "$OUT"
    log "  $srv: RSS $r0 -> $r1 kB for ${live:-?} live bytes, ${rate:-?} sets/s"
    [ $rc -ne 0 ] && errors=$((errors + 1))
    stop_server "$srv"
  done
fi

fi   # scale_only

# 3. Scale: throughput and latency against connections (1 to 10,000) and
# against item count (10^4 to 10^7), hardcached and 1.6.18 (not 1.6.45:
# this is the slowest phase, and its chart and history are against 1.6.18).
if [ $do_scale = 1 ] || [ $scale_only = 1 ]; then
  servers=$(echo $servers | sed 's/ *memcached145//')
  SOUT=$RESULTS_DIR/scale.txt
  if [ "$OUT" != "$SOUT" ]; then
    head -1 "$OUT" > "$SOUT"
  fi
  set_threads 1
  saved_out=$OUT; OUT=$SOUT
  saved_duration=$duration; duration=$scale_duration
  maxconns=12000; mem_mb=2048
  start_all scale
  if [ -n "$up" ]; then
    preload 32 $keys
    for c in $scale_conns; do
      log "run.sh: scale: $c connections"
      r=0
      while [ $r -lt "$scale_repeat" ]; do
        for srv in $up; do
          measure "$srv" "scale_conns_$c" -p 1 -r 0.9 -v 32 -c "$c" -t "$(( c >= 1000 ? 2 : 1 ))"
        done
        r=$((r + 1))
      done
    done
  fi
  stop_all
  for n in $scale_items; do
    for srv in $servers; do
      log "run.sh: scale: $srv with $n items"
      start_server "$srv" || continue
      up=$srv
      sp=$(port_of "$srv"); pid=$(pid_of "$srv")
      r0=$(rss_kb "$pid")
      preload 32 "$n"
      r1=$(rss_kb "$pid")
      r=0
      while [ $r -lt "$scale_repeat" ]; do
        measure "$srv" "scale_items_$n" -p 1 -r 0.9 -v 32 -k "$n"
        r=$((r + 1))
      done
      bpi=$(awk -v a="$r0" -v b="$r1" -v n="$n" 'BEGIN {printf "%.1f", (b - a) * 1024 / n}')
      echo "MEMSCALE impl=$srv items=$n bytes_per_item=$bpi rss_before_kb=$r0 rss_after_kb=$r1" >> "$OUT"
      stop_all
    done
  done
  maxconns=4096; mem_mb=1024
  OUT=$saved_out; duration=$saved_duration
  if command -v gnuplot >/dev/null 2>&1; then
    awk -f "$ROOT/bench/scale.awk" -v outdir="$RESULTS_DIR" "$SOUT" &&
      gnuplot -e "dir='$RESULTS_DIR'; out='$ROOT/bench/scale.png'" "$ROOT/bench/scale.gp" &&
      log "run.sh: chart: $ROOT/bench/scale.png"
  else
    log "run.sh: gnuplot missing (apt-get install gnuplot-nox): no chart"
  fi
fi

# 4. Side-by-side tables from the raw lines.
echo
if [ $scale_only = 1 ]; then
  awk -f "$ROOT/bench/table.awk" "$RESULTS_DIR/scale.txt"
else
  awk -f "$ROOT/bench/table.awk" "$OUT"
  [ $do_scale = 1 ] && awk -f "$ROOT/bench/table.awk" "$RESULTS_DIR/scale.txt"
fi
echo
echo "raw results: $OUT"

# 5. UDP amplification, hardcached vs memcached (a separate script, not part
#    of the load runs above; see "UDP amplification" in BENCHMARKS.md).
if [ $scale_only = 0 ]; then
  echo
  HARDCACHED="$HARDCACHED" MEMCACHED="$MEMCACHED" /usr/bin/python3 "$ROOT/bench/amplification.py" \
    || { echo "run.sh: bench/amplification.py failed" >&2; errors=$((errors + 1)); }
fi

if [ $errors -ne 0 ]; then
  echo "run.sh: $errors run(s) reported errors (see above and $OUT)" >&2
  exit 1
fi
exit 0
