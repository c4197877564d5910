#!/bin/sh
# Installs (as root) or names (otherwise) the Debian packages a make target
# needs, so `make run`, `make test` and `make bench` work on a fresh machine.
# Usage: scripts/deps.sh build|test|bench|package|fuzz
set -eu

build_pkgs="gcc make libc6-dev libsodium-dev libxxhash-dev libcrypt-dev libseccomp-dev libssl-dev liburing-dev"
# openssl: the TLS tests make their certificates with it; systemd: its
# systemd-analyze checks the unit; php-memcached and libspymemcached-java:
# two client suites. Without them those tests would skip.
test_pkgs="$build_pkgs python3 python3-pytest python3-pytest-xdist python3-pymemcache python3-pylibmc libsasl2-modules memcached libmemcached-tools procps iproute2 strace nutcracker groff-base clang
  golang-go golang-github-bradfitz-gomemcache-dev libcache-memcached-fast-perl libtest2-suite-perl
  openssl systemd php-cli php-memcached default-jdk-headless libspymemcached-java"
bench_pkgs="$build_pkgs memcached gnuplot-nox procps nmap iproute2"
package_pkgs="$build_pkgs dpkg-dev debhelper fakeroot devscripts python3 python3-pytest"
fuzz_pkgs="$build_pkgs clang libclang-rt-14-dev"

case "${1:-build}" in
  build) want=$build_pkgs ;;
  test)  want=$test_pkgs ;;
  bench) want=$bench_pkgs ;;
  package) want=$package_pkgs ;;
  fuzz)  want=$fuzz_pkgs ;;
  *) echo "usage: $0 build|test|bench|package|fuzz" >&2; exit 64 ;;
esac

missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
  echo "deps: installing$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || true
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >&2
else
  echo "deps: missing Debian packages. Install them with:" >&2
  echo "  sudo apt-get install -y$missing" >&2
  exit 1
fi
