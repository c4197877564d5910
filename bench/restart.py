#!/usr/bin/env python3
"""bench/restart.py (`make bench-restart`): how long a restart with -e
takes, hardcached against memcached 1.6.45, with the same items.

For N items (keys "k%09d", 32-byte values) it loads each server, stops it
and times the stop and the next start until the server answers `version`
(both load the file before they serve) and checks `curr_items`:
  graceful  SIGUSR1 (memcached's warm restart; hardcached's too)
  kill -9   hardcached checks and re-indexes every segment; memcached
            discards its file (its start is then cold: 0 items)
Repeats and prints medians. Usage: restart.py [--items N,N] [--repeat R]
Environment: HARDCACHED, MEMCACHED_REF (binaries), RESTART_DIR (tmpfs).
"""
import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HARDCACHED = os.environ.get("HARDCACHED", os.path.join(ROOT, "build/release/hardcached"))
MEMCACHED = os.environ.get("MEMCACHED_REF", os.path.expanduser(
    "~/.cache/hardcache-ref/memcached-1.6.45/memcached"))
DIR = os.environ.get("RESTART_DIR", "/dev/shm")
PORT = 23411
VALUE = b"v" * 32
BATCH = 20000


def argv_of(binary, path, mem_mb):
    a = [binary, "-p", str(PORT), "-l", "127.0.0.1", "-U", "0", "-m", str(mem_mb),
         "-t", "2", "-e", path]
    return a + (["-u", "root"] if os.geteuid() == 0 else [])


def wait_ready(proc, timeout=600):
    """Seconds until the server answers version (or None if it died)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            return None
        try:
            with socket.create_connection(("127.0.0.1", PORT), timeout=1) as c:
                c.sendall(b"version\r\n")
                if c.recv(100).startswith(b"VERSION"):
                    return time.monotonic() - t0
        except OSError:
            time.sleep(0.002)
    return None


def curr_items():
    with socket.create_connection(("127.0.0.1", PORT), timeout=30) as c:
        c.sendall(b"stats\r\n")
        buf = b""
        while not buf.endswith(b"END\r\n"):
            buf += c.recv(65536)
    for line in buf.split(b"\r\n"):
        if line.startswith(b"STAT curr_items "):
            return int(line.split()[2])
    return -1


def load(n):
    with socket.create_connection(("127.0.0.1", PORT), timeout=120) as c:
        for start in range(0, n, BATCH):
            c.sendall(b"".join(b"set k%09d 0 0 32 noreply\r\n%s\r\n" % (i, VALUE)
                               for i in range(start, min(n, start + BATCH))))
        c.sendall(b"version\r\n")
        buf = b""
        while b"VERSION" not in buf:
            buf += c.recv(4096)


def start(binary, path, mem_mb):
    p = subprocess.Popen(argv_of(binary, path, mem_mb), stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    return p, wait_ready(p)


def stop(p, sig):
    t0 = time.monotonic()
    p.send_signal(sig)
    p.wait(600)
    return time.monotonic() - t0


def one(name, binary, n, mem_mb, sig):
    path = os.path.join(DIR, "restart-bench-%s" % name)
    if os.path.exists(path):
        os.unlink(path)
    p, _ = start(binary, path, mem_mb)
    load(n)
    loaded = curr_items()
    t_stop = stop(p, sig)
    # memcached refuses a restart within the second it stopped in
    # (restart's stop_time check, time_delta <= 0): wait for the next one
    time.sleep(1.05 - time.time() % 1)
    p, t_start = start(binary, path, mem_mb)
    got = curr_items() if t_start is not None else -1
    stop(p, signal.SIGKILL)
    os.unlink(path)
    return loaded, got, t_stop, t_start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", default="1000000,10000000")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    servers = [("hardcached", HARDCACHED), ("memcached-1.6.45", MEMCACHED)]
    print("%-17s %10s %-9s %9s %9s %12s %12s" % ("server", "items", "stop", "loaded",
                                                 "restored", "stop s", "start s"))
    for n in (int(x) for x in args.items.split(",")):
        mem_mb = max(64, n * 200 // (1 << 20))
        for how, sig in (("graceful", signal.SIGUSR1), ("kill -9", signal.SIGKILL)):
            for name, binary in servers:
                runs = [one(name, binary, n, mem_mb, sig) for _ in range(args.repeat)]
                t_stop = statistics.median(r[2] for r in runs)
                starts = [r[3] for r in runs if r[3] is not None]
                t_start = statistics.median(starts) if starts else float("nan")
                print("%-17s %10d %-9s %9d %9d %12.3f %12.3f   (starts: %s)" % (
                    name, n, how, runs[-1][0], runs[-1][1], t_stop, t_start,
                    " ".join("%.3f" % s for s in starts)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
