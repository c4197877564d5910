#!/usr/bin/python3
"""Soak: minutes of mixed load from several clients with bad input mixed in,
one graceful restart (`shutdown graceful`) half-way, then checks: no crash
or sanitizer report, resident memory flat once warm, no evictions, and every
write a client saw acknowledged still readable with the acknowledged value.

The cache is memory only (no -e), so a restart empties it: acknowledged
writes are checked within each server's life, continuously and in a final
sweep; across the restart the check is that the stop was clean (exit 0,
every reply a client received was whole).

Usage: tests/soak/soak.py [SECONDS]   (HC_BIN picks the binary; make soak)
"""
import os
import random
import re
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
import hcutil  # noqa: E402

GOOD_CLIENTS = 6
BAD_CLIENTS = 2
KEYS_PER_CLIENT = 2000          # bounded key space: memory must plateau
VALUE_MAX = 1000
# Small enough that the log-structured store fills and compacts within the
# warm-up, so RSS must then be flat; live data (~6 MB) fits, but items not
# read since written may still be evicted: a miss is accepted only as far
# as `stats evictions` accounts for it, a changed value never.
MEM_MB = 32
RSS_SAMPLE_S = 2.0
RSS_WARMUP_FRACTION = 0.3       # of each phase, before RSS must be flat
RSS_GROWTH_MAX_KB = 8192        # allowed drift after warm-up


class Failure(Exception):
    pass


class GoodClient(threading.Thread):
    """set/get/append/incr/delete on its own keys; checks every reply
    against what it was acknowledged."""

    def __init__(self, server, idx, stop):
        super().__init__(daemon=True)
        self.server, self.idx, self.stop = server, idx, stop
        self.model = {}          # key -> acknowledged value (bytes)
        self.ops = 0
        self.misses = 0          # acknowledged, then gone: must be evictions
        self.error = None
        self.rnd = random.Random(idx)

    def key(self, n):
        return b"soak:%d:%d" % (self.idx, n)

    def get(self, c, k):
        c.send(b"get " + k + b"\r\n")
        line = c.readline()
        if line == b"END\r\n":
            return None
        m = re.match(rb"VALUE (\S+) (\d+) (\d+)\r\n", line)
        if not m:
            raise Failure("bad get reply %r" % line)
        data = c.read_exact(int(m.group(3)) + 2)[:-2]
        c.expect(b"END\r\n")
        return data

    def step(self, c):
        k = self.key(self.rnd.randrange(KEYS_PER_CLIENT))
        op = self.rnd.random()
        if op < 0.4:
            v = os.urandom(self.rnd.randint(1, VALUE_MAX // 2)).hex().encode()
            c.send(b"set %s 0 0 %d\r\n%s\r\n" % (k, len(v), v))
            c.expect(b"STORED\r\n")
            self.model[k] = v
        elif op < 0.8:
            got = self.get(c, k)
            if got is None and k in self.model:
                self.misses += 1
                del self.model[k]
            elif got != self.model.get(k):
                raise Failure("key %r: have %r, acknowledged %r"
                              % (k, (got or b"")[:40], (self.model.get(k) or b"")[:40]))
        elif op < 0.88:
            c.send(b"append %s 0 0 3\r\nabc\r\n" % k)
            line = c.readline()
            if line == b"STORED\r\n" and k in self.model:
                self.model[k] = self.model[k] + b"abc"
            elif line == b"NOT_STORED\r\n" and k in self.model:
                self.misses += 1             # evicted since acknowledged
                del self.model[k]
            elif line != b"NOT_STORED\r\n":
                raise Failure("append %r: %r" % (k, line))
        elif op < 0.94:
            c.send(b"delete %s\r\n" % k)
            line = c.readline()
            want = b"DELETED\r\n" if k in self.model else b"NOT_FOUND\r\n"
            if line == b"NOT_FOUND\r\n" and k in self.model:
                self.misses += 1
            elif line != want:
                raise Failure("delete %r: %r, expected %r" % (k, line, want))
            self.model.pop(k, None)
        else:
            ck = b"soak:ctr:%d" % self.idx
            c.send(b"incr %s 1\r\n" % ck)
            line = c.readline()
            if line == b"NOT_FOUND\r\n":
                if ck in self.model:
                    self.misses += 1
                c.send(b"set %s 0 0 1\r\n0\r\n" % ck)
                c.expect(b"STORED\r\n")
                self.model[ck] = b"0"
            else:
                n = int(self.model.get(ck, b"0")) + 1
                if line != b"%d\r\n" % n:
                    raise Failure("incr: %r, expected %d" % (line, n))
                self.model[ck] = b"%d" % n
        self.ops += 1

    def verify_all(self, c):
        for k, v in self.model.items():
            got = self.get(c, k)
            if got is None:
                self.misses += 1
            elif got != v:
                raise Failure("final sweep: %r changed" % k)

    def run(self):
        try:
            with self.server.client(timeout=10) as c:
                while not self.stop.is_set():
                    self.step(c)
        except (ConnectionError, TimeoutError, OSError) as e:
            if not self.stop.is_set():
                self.error = "client %d: %r" % (self.idx, e)
        except Failure as e:
            self.error = "client %d: %s" % (self.idx, e)


class BadClient(threading.Thread):
    """Garbage, HTTP, lines too long, oversized values, half requests and
    abrupt disconnects, in a loop."""

    PAYLOADS = [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"x" * 5000,
        b"set k 0 0 -1\r\n",
        b"set big 0 0 2000000\r\n" + b"z" * 100000,
        b"get " + b"k " * 40000,
        b"\x80\x01\x00\x05" + os.urandom(40),
        b"incr\r\ndecr x y\r\ntouch\r\n\x00\x01\x02\r\n",
        b"set half 0 0 100\r\nabc",
    ]

    def __init__(self, server, idx, stop):
        super().__init__(daemon=True)
        self.server, self.stop = server, stop
        self.rnd = random.Random(1000 + idx)
        self.sent = 0

    def run(self):
        while not self.stop.is_set():
            try:
                with self.server.client(timeout=1) as c:
                    c.send(self.rnd.choice(self.PAYLOADS))
                    if self.rnd.random() < 0.5:
                        c.send(os.urandom(self.rnd.randint(1, 2000)))
                    time.sleep(self.rnd.random() * 0.02)
                self.sent += 1
            except OSError:
                pass


def phase(server, seconds, label):
    ev0 = int(server.stats()["evictions"])
    stop = threading.Event()
    good = [GoodClient(server, i, stop) for i in range(GOOD_CLIENTS)]
    bad = [BadClient(server, i, stop) for i in range(BAD_CLIENTS)]
    for t in good + bad:
        t.start()
    samples = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        time.sleep(RSS_SAMPLE_S)
        if not server.alive():
            raise Failure("%s: server died (exit %r)" % (label, server.proc.poll()))
        samples.append((time.monotonic() - t0, hcutil.rss_kb(server.pid)))
        for g in good:
            if g.error:
                raise Failure("%s: %s" % (label, g.error))
    stop.set()
    for t in good + bad:
        t.join(15)
    for g in good:
        if g.error:
            raise Failure("%s: %s" % (label, g.error))
    with server.client(timeout=30) as c:
        for g in good:
            g.verify_all(c)
        st = c.stats()
    warm = [kb for (t, kb) in samples if t >= seconds * RSS_WARMUP_FRACTION]
    # an ASan build's RSS grows by its quarantine of freed blocks (hcutil)
    if warm and max(warm) - warm[0] > RSS_GROWTH_MAX_KB + hcutil.rss_slack_mb() * 1024:
        raise Failure("%s: RSS grew %d kB after warm-up: %s"
                      % (label, max(warm) - warm[0], warm))
    misses = sum(g.misses for g in good)
    evictions = int(st["evictions"]) - ev0
    if misses > evictions:
        raise Failure("%s: %d acknowledged writes gone, only %d evictions"
                      % (label, misses, evictions))
    limit_kb = (MEM_MB + 16 + hcutil.rss_slack_mb()) * 1024
    if samples and max(kb for _, kb in samples) > limit_kb:
        raise Failure("%s: RSS above -m plus overhead: %s" % (label, samples))
    print("%s: %d good ops, %d hostile connections, %s items, %d evictions "
          "(%d acknowledged writes among them), RSS %s kB (warm %s..%s)"
          % (label, sum(g.ops for g in good), sum(b.sent for b in bad),
             st["curr_items"], evictions, misses, samples[-1][1] if samples else "?",
             min(warm) if warm else "?", max(warm) if warm else "?"), flush=True)
    return good


def check_exit(server, label):
    rc = server.proc.wait(30)
    rep = server.sanitizer_report()
    if rc != 0 or rep:
        raise Failure("%s: exit %r %s" % (label, rc, rep.decode(errors="replace")))


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 180.0
    args = ["-m", str(MEM_MB), "-A", "-t", "4", "-c", "4096"]
    s1 = hcutil.Server(args)
    port = s1.port
    try:
        phase(s1, seconds / 2, "phase 1")
        with s1.client() as c:
            c.send(b"shutdown graceful\r\n")
            c.assert_closed(30)
        check_exit(s1, "graceful restart")
    finally:
        s1.stop()
    s2 = hcutil.Server(args, port=port)
    try:
        phase(s2, seconds / 2, "phase 2")
        s2.proc.send_signal(15)
        check_exit(s2, "final SIGTERM")
    finally:
        s2.stop()
    print("soak: passed (%.0f s)" % seconds)


if __name__ == "__main__":
    try:
        main()
    except Failure as e:
        print("soak: FAILED: %s" % e, file=sys.stderr)
        sys.exit(1)
