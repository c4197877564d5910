# bench/cpu_runs.sh: sourced by bench/ceiling.sh and bench/ab_cpu.sh, which
# both measure servers by their CPU ticks on a shared machine: the checks,
# the raw runs' file, the wait for a server, the ticks and the medians.
# The sourcing script sets `me` (its name, for messages) and HCB first.
# shellcheck shell=sh disable=SC2034,SC2154

asroot=""
[ "$(id -u)" = 0 ] && asroot="-u root"
hz=$(getconf CLK_TCK)

cpu_check_built() {   # BIN...
  for b; do
    [ -x "$b" ] || { echo "$me: $b is not built" >&2; exit 2; }
  done
}

# The raw runs go to $out: the file $1 if given (kept), else a temporary
# one; at exit the servers named in $pids are stopped and waited for (a
# next run may want their ports).
cpu_setup() {   # [RAW_FILE]
  cpu_keep=${1:-}
  out=${1:-$(mktemp)}
  : >"$out"
  pids=""
  trap 'for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
        [ -n "$cpu_keep" ] || rm -f "$out"' EXIT
  trap 'exit 1' INT TERM
}

cpu_wait_port() {   # PORT
  i=0
  until "$HCB" --stats -s 127.0.0.1:"$1" >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -gt 100 ] && { echo "$me: port $1 did not answer" >&2; exit 2; }
    sleep 0.1
  done
}

# utime + stime of process $1, in ticks
ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

# median, min and max of the numbers on stdin
med() {   # [printf format of a number]
  sort -g | awk -v f="${1:-%.2f}" '{ v[NR] = $1 }
  END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
        printf "median " f " min " f " max " f " (%d runs)\n", m, v[1], v[NR], NR }'; }
