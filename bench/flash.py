#!/usr/bin/env python3
"""bench/flash.py: the flash tier's yardstick (issue 20): hardcached and
memcached 1.6.45 with extstore, same load, RAM = 1/8 of the data.

It starts each server with -m RAM_MB and ext_path=DIR/file:FLASH, loads N
values of VLEN bytes (keys "k%d", pipelined noreply sets, PACE seconds
between batches of 1 MiB: memcached's extstore flushes in the background
and evicts what it has not written when the load outruns it; hardcached
writes to flash as it evicts), then does GETS uniform random gets in
multi-gets of 50 and prints: hit rate (values compared byte for byte),
gets per server CPU-second (rusage; noisy on a shared machine), write
amplification (extstore_bytes_written / value bytes flashed), RSS and
RSS per item.
Usage: flash.py [--server hardcached|memcached|both] [--items N] [--vlen B]
                [--ram-mb M] [--pace S] [--gets G]
Environment: HC_BIN and MEMCACHED_REF (binaries), FLASH_DIR (a directory on
disk).
"""
import argparse
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time

MEMCACHED = os.environ.get("MEMCACHED_REF", os.path.expanduser(
    "~/.cache/hardcache-ref/memcached-1.6.45/memcached"))
HARDCACHED = os.environ.get("HC_BIN", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "build", "release", "hardcached"))
NAMES = {"hardcached": "hardcached", "memcached": "memcached 1.6.45 extstore"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def until(s, token):
    buf = b""
    while not buf.endswith(token):
        d = s.recv(1 << 20)
        if not d:
            sys.exit("server closed the connection")
        buf += d
    return buf


def stats(s):
    s.sendall(b"stats\r\n")
    return {k.decode(): v.decode() for k, v in
            re.findall(rb"STAT (\S+) (\S+)", until(s, b"END\r\n"))}


def cpu(st):
    return float(st["rusage_user"]) + float(st["rusage_system"])


def value(i, vlen):
    return (b"%08d" % i) * (vlen // 8)


def run(server, a):
    flash_mb = 2 * a.items * a.vlen // (1 << 20) + 64
    d = tempfile.mkdtemp(dir=os.environ.get("FLASH_DIR", "/var/tmp"))
    os.chmod(d, 0o777)   # the servers run as nobody
    binary = HARDCACHED if server == "hardcached" else MEMCACHED
    port = free_port()
    argv = [binary, "-u", "nobody", "-p", str(port), "-l", "127.0.0.1", "-U", "0",
            "-m", str(a.ram_mb), "-o", "ext_path=%s/f:%dm" % (d, flash_mb)]
    srv = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                s = socket.create_connection(("127.0.0.1", port))
                break
            except OSError:
                time.sleep(0.05)
        per_batch = max(1, (1 << 20) // a.vlen)
        t0 = time.time()
        for base in range(0, a.items, per_batch):
            s.sendall(b"".join(b"set k%d 0 0 %d noreply\r\n%s\r\n" % (i, a.vlen, value(i, a.vlen))
                               for i in range(base, min(a.items, base + per_batch))))
            time.sleep(a.pace)
        s.sendall(b"mn\r\n")
        until(s, b"MN\r\n")
        load_s = time.time() - t0
        time.sleep(3)   # memcached's flusher's last pages
        st = stats(s)
        random.seed(1)
        keys = [random.randrange(a.items) for _ in range(a.gets)]
        hits = wrong = 0
        for base in range(0, a.gets, 50):
            ks = keys[base:base + 50]
            s.sendall(b"get " + b" ".join(b"k%d" % k for k in ks) + b"\r\n")
            got = until(s, b"END\r\n")
            for k in ks:
                head = b"VALUE k%d 0 %d\r\n" % (k, a.vlen)
                j = got.find(head)
                if j >= 0:
                    ok = got[j + len(head):j + len(head) + a.vlen] == value(k, a.vlen)
                    hits += ok
                    wrong += not ok
        st2 = stats(s)
        flashed = int(st["extstore_objects_written"]) * a.vlen
        rss_kb = int(open("/proc/%d/statm" % srv.pid).read().split()[1]) * 4
        print("%s: %d x %d B, -m %d, load %.1f s" %
              (NAMES[server], a.items, a.vlen, a.ram_mb, load_s))
        print("  items %s, evicted %s, flashed %s objects" %
              (st["curr_items"], st["evictions"], st["extstore_objects_written"]))
        print("  hit rate %.4f (%d wrong values), %d gets/server-CPU-s, reads from flash %s" %
              (hits / a.gets, wrong, a.gets / max(cpu(st2) - cpu(st), 1e-6),
               st2["extstore_objects_read"]))
        print("  write amplification %.3f (extstore_bytes_written / value bytes flashed)" %
              (int(st["extstore_bytes_written"]) / max(flashed, 1)))
        print("  RSS %d MiB, %.0f bytes per item" %
              (rss_kb // 1024, rss_kb * 1024 / max(int(st["curr_items"]), 1)))
    finally:
        srv.terminate()
        srv.wait()
        for f in os.listdir(d):
            os.unlink(os.path.join(d, f))
        os.rmdir(d)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", choices=("hardcached", "memcached", "both"), default="both")
    ap.add_argument("--items", type=int, default=131072)
    ap.add_argument("--vlen", type=int, default=4096)
    ap.add_argument("--ram-mb", type=int, default=64)
    ap.add_argument("--pace", type=float, default=0.02)
    ap.add_argument("--gets", type=int, default=20000)
    a = ap.parse_args()
    for server in ("hardcached", "memcached") if a.server == "both" else (a.server,):
        run(server, a)


if __name__ == "__main__":
    main()
