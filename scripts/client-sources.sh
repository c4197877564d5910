#!/bin/sh
# The clients' own test suites that Debian ships only in source packages
# (Cache::Memcached::Fast's t/, pylibmc's tests/), for `make client-test`.
# apt-get source runs on a private deb-src list, so the machine's apt
# configuration is left as it is; apt checks each file against the signed
# .dsc. Prints the folder the sources are unpacked in (exit 1: none fetched).
# Usage: scripts/client-sources.sh   (HC_CLIENT_SRC=dir overrides the cache)
set -eu
dir=${HC_CLIENT_SRC:-$HOME/.cache/hardcache-clients}
pkgs="libcache-memcached-fast-perl pylibmc"
mkdir -p "$dir/apt/lists/partial" "$dir/apt/cache/archives/partial"
. /etc/os-release
echo "deb-src http://deb.debian.org/debian ${VERSION_CODENAME:-bookworm} main" \
  > "$dir/apt/sources.list"
set -- -q -o Dir::Etc::SourceList="$dir/apt/sources.list" \
  -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists="$dir/apt/lists" \
  -o Dir::Cache="$dir/apt/cache" -o APT::Sandbox::User=root
cd "$dir"
if ! ls ./*.orig.tar.* >/dev/null 2>&1; then
  apt-get "$@" update >&2 || true
  # Only the upstream tarballs are needed; a missing debian.tar is fine.
  # shellcheck disable=SC2086
  apt-get "$@" source --download-only $pkgs >&2 || true
fi
found=0
for t in ./*.orig.tar.*; do
  [ -f "$t" ] || continue
  tar xf "$t" && found=1
done
[ "$found" = 1 ] || { echo "client-sources: nothing fetched into $dir" >&2; exit 1; }
echo "$dir"
