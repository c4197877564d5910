#!/bin/sh
# The yardstick, memcached 1.6.45 (built from source: Debian ships 1.6.18),
# found one way for `make bench` and the differential tests. Prints its path.
# Usage: scripts/memcached-ref.sh [--build]
#   MEMCACHED_REF=path wins; else ~/.cache/hardcache-ref/memcached-1.6.45/memcached.
#   Exit 0 found, 1 missing (--build: built as root, else the command is printed).
#   MEMCACHED_REF_SRC=dir names the folder of build-memcached.sh and the tarball
#   (default: ../shared/reference or ../../shared/reference beside the repo).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEFAULT=$HOME/.cache/hardcache-ref/memcached-1.6.45/memcached

if [ -n "${MEMCACHED_REF:-}" ]; then
  if [ -x "$MEMCACHED_REF" ]; then echo "$MEMCACHED_REF"; exit 0; fi
  echo "memcached-ref: MEMCACHED_REF=$MEMCACHED_REF is not an executable file" >&2
  exit 1
fi
if [ -x "$DEFAULT" ]; then echo "$DEFAULT"; exit 0; fi
[ "${1:-}" = --build ] || exit 1

src=${MEMCACHED_REF_SRC:-}
if [ -z "$src" ]; then
  for d in "$ROOT/../shared/reference" "$ROOT/../../shared/reference"; do
    if [ -f "$d/build-memcached.sh" ]; then src=$(cd "$d" && pwd); break; fi
  done
fi
if [ -z "$src" ] || [ ! -f "$src/build-memcached.sh" ]; then
  echo "memcached-ref: memcached 1.6.45 missing and no build-memcached.sh found;" >&2
  echo "  set MEMCACHED_REF=/path/to/memcached or MEMCACHED_REF_SRC=/dir/of/build-memcached.sh" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "memcached-ref: memcached 1.6.45 missing; build it (a few minutes; it names" >&2
  echo "  the Debian packages it needs, if any) with:" >&2
  echo "  sh $src/build-memcached.sh $(dirname "$(dirname "$DEFAULT")")" >&2
  exit 1
fi
echo "memcached-ref: building memcached 1.6.45 (a few minutes)" >&2
sh "$src/build-memcached.sh" "$(dirname "$(dirname "$DEFAULT")")" >&2
[ -x "$DEFAULT" ] && echo "$DEFAULT"
