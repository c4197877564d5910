#!/usr/bin/env python3
"""bench/flash_compact.py: what flash compaction keeps (issue 20).

hardcached with -m 8 and a 12 MiB flash file of 1 MiB pages: N values of
4000 bytes are loaded (about 8 MiB of them go to flash), two of every
three deleted (the pages go two-thirds dead), then M more values loaded.
Printed per run: how many of the kept first values and of the M new ones
still read back (each compared byte for byte), the pages reused whole
(extstore_page_evictions) with the values that lost, the values
compaction moved, and the write amplification (extstore_bytes_written /
value bytes flashed). Compaction off is ext_max_frag=0 (no page is ever
fragmented enough: the oldest full page is reused, as before compaction
existed); on is memcached's default 0.8. Deterministic up to the
compaction thread's timing.
Usage: flash_compact.py [--new M ...]   Environment: HC_BIN.
"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time

HC_BIN = os.environ.get("HC_BIN", "build/release/hardcached")
N, VLEN = 4000, 4000


def value(i):
    return (b"%07d|" % i) * (VLEN // 8)


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            self.buf += self.s.recv(65536)
        out, self.buf = self.buf.split(b"\r\n", 1)
        return out

    def exact(self, n):
        while len(self.buf) < n:
            self.buf += self.s.recv(65536)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send_all(self, cmds):
        for j in range(0, len(cmds), 64):
            self.s.sendall(b"".join(cmds[j:j + 64]))
        self.s.sendall(b"mn\r\n")
        assert self.line() == b"MN"

    def hits(self, keys):
        """How many of keys read back with their own value."""
        good = 0
        for j in range(0, len(keys), 100):
            self.s.sendall(b"get " + b" ".join(b"k%d" % i for i in keys[j:j + 100]) + b"\r\n")
            while True:
                head = self.line()
                if head == b"END":
                    break
                _, key, _, n = head.split()
                data = self.exact(int(n) + 2)[:-2]
                good += data == value(int(key[1:]))
        return good

    def stats(self):
        self.s.sendall(b"stats\r\n")
        st = {}
        while True:
            ln = self.line()
            if ln == b"END":
                return st
            _, k, v = ln.decode().split(" ", 2)
            st[k] = v


def run(max_frag, new):
    d = tempfile.mkdtemp(prefix="hc-fcompact-")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    opts = ("ext_path=%s/ext:12m,ext_page_size=1,ext_wbuf_size=1,ext_compact_under=6,"
            "ext_drop_under=6,ext_max_frag=%s,ext_max_sleep=10000,ext_recache_rate=0"
            % (d, max_frag))
    argv = [HC_BIN, "-p", str(port), "-l", "127.0.0.1", "-U", "0", "-m", "8", "-o", opts]
    if os.geteuid() == 0:
        argv += ["-u", "root"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                c = Conn(port)
                break
            except OSError:
                time.sleep(0.05)
        c.send_all([b"set k%d 0 0 %d noreply\r\n%s\r\n" % (i, VLEN, value(i)) for i in range(N)])
        c.send_all([b"delete k%d noreply\r\n" % i for i in range(N) if i % 3])
        time.sleep(1)
        c.send_all([b"set k%d 0 0 %d noreply\r\n%s\r\n" % (i, VLEN, value(i))
                    for i in range(N, N + new)])
        time.sleep(1)
        kept = [i for i in range(N) if i % 3 == 0]
        st = c.stats()
        return (c.hits(kept), len(kept), c.hits(list(range(N, N + new))), new,
                st["extstore_page_evictions"], st["extstore_objects_evicted"],
                st["extstore_compact_rescues"],
                int(st["extstore_bytes_written"]) / int(st["extstore_value_bytes_flashed"]))
    finally:
        proc.terminate()
        proc.wait(10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--new", type=int, nargs="+", default=[2000, 3000, 4000])
    a = ap.parse_args()
    print("| new values | compaction | kept values read | new values read | pages reused "
          "(values lost) | values moved | write amp. |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for new in a.new:
        for frag, name in (("0", "off"), ("0.8", "on")):
            r = run(frag, new)
            print("| %d | %s | %d / %d | %d / %d | %s (%s) | %s | %.3f |"
                  % ((new, name) + r))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
