"""Differential: one seeded random stream of commands to hardcached and to
memcached side by side, compared reply by reply: Debian's 1.6.18 and, when
it is there (scripts/memcached-ref.sh), 1.6.45, the newest release.

The stream mixes every storage command (with and without noreply), get,
gets, gat, gats, cas (with the CAS the same server gave, an older one it
gave, or one no server gave), delete, incr/decr (numbers, padding,
wrap-around, non-numbers), touch, flush_all and meta mg/ms/md/ma, over a
small key space so that keys collide, with values from empty to 100 kB
(larger than a segment). CAS values differ between the servers by design,
so each server's are renamed in the order it first shows them: a server
that gives a new CAS where the other keeps one (or the reverse) shows up as
a different name. A number left by incr/decr is compared without its
padding: memcached pads it only when it rewrites in place, which it does
or not depending on whether another of its threads holds the item at that
moment (its LRU maintainer), so either form is memcached's. Each command is followed by `mn` (meta no-op), whose `MN`
ends its replies on both servers. A failure names the seed and the step;
the same seed replays the same stream. A second stream does the same in
the binary protocol (quiet and key-returning variants, CAS on store and
delete, incr/decr with initial values and the no-create expiry), each
request followed by a noop.
"""
import collections
import os
import random
import re
import struct

import pytest

import binproto
import hcutil

SEEDS = tuple(range(1, int(os.environ.get("DIFF_SEEDS", "6")) + 1))
STEPS = 2000
BOGUS_CAS = 999999999999   # neither server hands this out in a short run

pytestmark = pytest.mark.skipif(
    hcutil.is_reference(), reason="compares hardcached with memcached: HC_BIN is memcached")


Memcached = collections.namedtuple("Memcached", "version path")


@pytest.fixture(params=["1.6.18", "1.6.45"])
def memcached(request):
    """The memcached to compare with; a test skips if it is absent."""
    if request.param == "1.6.18":
        path = hcutil.DEBIAN_MEMCACHED
        if not os.path.exists(path):
            pytest.skip("Debian's memcached 1.6.18 not installed (apt-get install memcached)")
    else:
        path = hcutil.memcached_145()
        if path is None:
            pytest.skip(hcutil.REF_MISSING)
    return Memcached(request.param, path)

KEYS = [b"d:%d" % i for i in range(10)] + [b"n:%d" % i for i in range(4)]


class Side:
    """One server's connection and what it has shown: CAS values by key
    (newest last) and the names given to them."""

    def __init__(self, server):
        self.c = server.client(timeout=20)
        self.cas_seen = {}
        self.names = {}

    def name(self, cas):
        if cas not in self.names:
            self.names[cas] = b"c%d" % (len(self.names) + 1)
        return self.names[cas]

    def run(self, cmd):
        """Send one command and the no-op; the replies, CAS renamed."""
        self.c.send(cmd + b"mn\r\n")
        out = self.c.read_until(b"MN\r\n")[:-4]
        return self.rename(out)

    def rename(self, out):
        lines = out.split(b"\r\n")
        i = 0
        res = []
        while i < len(lines):
            ln = lines[i]
            m = re.fullmatch(rb"VALUE (\S+) (\d+) (\d+) (\d+)", ln)
            if m:
                cas = int(m.group(4))
                self.cas_seen.setdefault(m.group(1), []).append(cas)
                n, data = number(m.group(3), lines[i + 1])
                ln = b"VALUE %s %s %s %s" % (m.group(1), m.group(2), n, self.name(cas))
                res.append(ln)
                res.append(data)   # the data line (no CR LF inside)
                i += 2
                continue
            m = re.fullmatch(rb"VALUE (\S+) (\d+) (\d+)", ln)
            if m:
                n, data = number(m.group(3), lines[i + 1])
                res.append(b"VALUE %s %s %s" % (m.group(1), m.group(2), n))
                res.append(data)
                i += 2
                continue
            m = re.fullmatch(rb"VA (\d+)(.*)", ln)
            if m and i + 1 < len(lines):
                n, data = number(m.group(1), lines[i + 1])
                lines[i + 1] = data
                ln = b"VA " + n + m.group(2)
            if ln[:2] in (b"VA", b"HD", b"EN", b"NF", b"NS", b"EX"):
                toks = ln.split(b" ")
                key = next((t[1:] for t in toks[1:] if t.startswith(b"k")), None)
                for j, t in enumerate(toks):
                    if j > 0 and re.fullmatch(rb"c\d+", t):
                        cas = int(t[1:])
                        if key is not None:
                            self.cas_seen.setdefault(key, []).append(cas)
                        toks[j] = self.name(cas)
                ln = b" ".join(toks)
            res.append(ln)
            i += 1
        return b"\r\n".join(res)


def number(length, data):
    """A value that is a number, padded or not, as (b"#", the number)."""
    if re.fullmatch(rb"\d+ *", data):
        return b"#", data.rstrip(b" ")
    return length, data


def value(rng, key):
    if key.startswith(b"n:") and rng.random() < 0.8:
        n = rng.choice([0, 1, 9, 10, 99, 100, 12345, 2 ** 64 - 2, 2 ** 64 - 1,
                        rng.randrange(10 ** 6)])
        v = b"%d" % n
        if rng.random() < 0.2:
            v += b"  "
        return v
    r = rng.random()
    if r < 0.03:
        n = 100000
    elif r < 0.08:
        n = rng.randrange(200, 3000)
    else:
        n = rng.randrange(0, 40)
    chunk = bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(16))
    return (chunk * (n // 16 + 1))[:n]


def command(rng, step, cas_pick, malformed):
    """One command as bytes. cas_pick(key) -> an index into that key's
    CAS history (the same on both sides) or None for the bogus value."""
    key = rng.choice(KEYS)
    noreply = b" noreply" if rng.random() < 0.1 else b""
    flags = rng.choice([0, 0, 1, 77, 4294967295])
    exp = rng.choice([0, 0, 0, 1000])
    r = rng.random()
    if r < 0.30:
        op = rng.choice([b"set", b"set", b"add", b"replace", b"append", b"prepend"])
        if key.startswith(b"n:") and op in (b"append", b"prepend"):
            op = b"set"   # a padded number (see number()) would not stay one
        v = value(rng, key)
        return b"%s %s %d %d %d%s\r\n%s\r\n" % (op, key, flags, exp, len(v), noreply, v)
    if r < 0.38:
        v = value(rng, key)
        return (b"cas %s %d %d %d {CAS:%s:%d}%s\r\n%s\r\n"
                % (key, flags, exp, len(v), key, cas_pick(), noreply, v))
    if r < 0.55:
        keys = b" ".join(rng.choice(KEYS) for _ in range(rng.randrange(1, 4)))
        return b"%s %s\r\n" % (rng.choice([b"get", b"gets", b"gets"]), keys)
    if r < 0.60:
        keys = b" ".join(rng.choice(KEYS) for _ in range(rng.randrange(1, 3)))
        return b"%s %d %s\r\n" % (rng.choice([b"gat", b"gats"]), exp, keys)
    if r < 0.66:
        return b"delete %s%s\r\n" % (key, noreply)
    if r < 0.76:
        delta = rng.choice([0, 1, 5, 100, 2 ** 64 - 1, rng.randrange(1000)])
        return b"%s %s %d%s\r\n" % (rng.choice([b"incr", b"decr"]), key, delta, noreply)
    if r < 0.80:
        return b"touch %s %d%s\r\n" % (key, exp, noreply)
    if r < 0.805:
        return b"flush_all\r\n"
    if r < 0.90:
        fl = b" ".join(rng.sample([b"v", b"f", b"c", b"k", b"O%d" % step, b"q"],
                                  rng.randrange(0, 4)))
        return b"mg %s %s\r\n" % (key, fl) if fl else b"mg %s\r\n" % key
    if r < 0.95:
        v = value(rng, key)
        modes = [b" ME"] if key.startswith(b"n:") else [b" MA", b" MP", b" ME"]
        extra = rng.choice([b"", b" c", b" F%d" % flags] + modes + [
                            b" C{CAS:%s:%d}" % (key, cas_pick()),
                            b" I C{CAS:%s:%d}" % (key, cas_pick())])
        return b"ms %s %d%s\r\n%s\r\n" % (key, len(v), extra, v)
    if r < 0.97:
        return b"md %s%s\r\n" % (key, rng.choice([b"", b" q", b" C{CAS:%s:%d}" % (key, cas_pick())]))
    if r < 0.99:
        return b"ma %s%s\r\n" % (key, rng.choice([b"", b" v", b" MD v", b" N0 J5 v", b" D7 v c"]))
    return rng.choice(malformed) % {b"k": key}


# Requests memcached refuses, between the others: the error, and what
# the state is after it, must be the same.
MALFORMED = [
    b"set %(k)s abc 0 1\r\nx\r\n", b"set %(k)s 0 0 -1\r\n", b"get\r\n", b"gets\r\n",
    b"incr %(k)s abc\r\n", b"decr %(k)s -1\r\n", b"touch %(k)s\r\n", b"delete %(k)s 5\r\n",
    b"cas %(k)s 0 0 1\r\nx\r\n", b"set %(k)s 0 0 1\r\nxyz\r\n", b"foo %(k)s\r\n",
    b"get " + b"k" * 251 + b"\r\n", b"set " + b"k" * 251 + b" 0 0 1\r\nx\r\n",
    b"mg %(k)s zz\r\n", b"ms %(k)s abc\r\nx\r\n", b"ma %(k)s D-1\r\n",
    b"gat abc %(k)s\r\n", b"incr %(k)s 18446744073709551616\r\n",
]


# 1.6.45 answers these unlike 1.6.18, mostly CLIENT_ERROR for ERROR and
# the data block swallowed; hardcached follows 1.6.45 (issue 17), so
# 1.6.18's stream leaves them out. A get of a 251-byte key is a documented
# difference from 1.6.45 (test_diff_sessions.py): its stream leaves it out.
CHANGED_IN_145 = {
    b"set %(k)s abc 0 1\r\nx\r\n", b"get\r\n", b"gets\r\n", b"touch %(k)s\r\n",
    b"delete %(k)s 5\r\n", b"cas %(k)s 0 0 1\r\nx\r\n", b"set %(k)s 0 0 1\r\nxyz\r\n",
    b"set " + b"k" * 251 + b" 0 0 1\r\nx\r\n", b"ms %(k)s abc\r\nx\r\n",
}
DIFFERS_FROM_145 = {b"get " + b"k" * 251 + b"\r\n"}


def fill_cas(cmd, side):
    """Put in the CAS a placeholder asks for: the n-th newest this side
    showed for the key (or the bogus one, if it showed fewer)."""
    def sub(m):
        seen = side.cas_seen.get(m.group(1), [])
        n = int(m.group(2))
        return b"%d" % (seen[-1 - n] if n >= 0 and n < len(seen) else BOGUS_CAS)
    return re.sub(rb"\{CAS:(\S+?):(-?\d+)\}", sub, cmd)


def start_pair(start_server, memcached, side):
    """Fresh hardcached and memcached, each behind a `side` (Side or
    BinSide). memcached runs without its background LRU threads: they
    hold items now and then, which decides whether it rewrites a number
    in place."""
    return (side(start_server("-m", "64")),
            side(start_server("-m", "64", "-o", "no_lru_crawler,no_lru_maintainer",
                              binary=memcached.path)))


NON_NUMERIC_TEXT = b"CLIENT_ERROR cannot increment or decrement non-numeric value"
BIN_DELTA_BADVAL = 6


def memcached_quirk(a, b):
    """True when memcached (b) called a number non-numeric where hardcached
    (a) answered an incr/decr with a number of 2^63 or more: memcached
    1.6.18 does that now and then for a number created or left near 2^64
    (the same stream replayed, or the same two commands sent alone 300
    times, give the number). A run that meets it ends there as matching:
    the two servers' states differ from then on. A hardcached that took
    "12abc" for a number would still fail: its number would be small."""
    if isinstance(a, list):   # binary: lists of response tuples
        return (len(a) == len(b) == 1 and b[0][1] == BIN_DELTA_BADVAL and
                a[0][1] == 0 and len(a[0][6]) == 8 and
                struct.unpack(">Q", a[0][6])[0] >= 2 ** 63)
    if NON_NUMERIC_TEXT not in b:
        return False
    return any(int(t) >= 2 ** 63 for t in re.findall(rb"\d{19,20}", a))


def three_runs(run_one, start_server, memcached, seed):
    """memcached 1.6.18 itself now and then answers an incr or ma of a
    number near 2^64 with "non-numeric" where the same stream replayed
    gives the number (seen with the seeds of DIFF_SEEDS=60): a difference
    fails only if it comes back in three runs of the seed, as a difference
    of hardcached's (deterministic for one connection) would."""
    diffs = []
    for attempt in range(3):
        d = run_one(start_server, memcached, seed)
        if d is None:
            return
        diffs.append(d)
    step, req, a, b = diffs[0]
    pytest.fail("seed %d step %d: %r\nhardcached: %r\nmemcached:  %r\n(%d of 3 runs differ)"
                % (seed, step, req[:200], a, b, len(diffs)))


def run_stream(start_server, memcached, seed):
    """The whole stream of one seed on fresh servers: None if every reply
    matched, else (step, command, hardcached's, memcached's)."""
    hc, mc = start_pair(start_server, memcached, Side)
    rng = random.Random(seed)
    left_out = CHANGED_IN_145 if memcached.version == "1.6.18" else DIFFERS_FROM_145
    malformed = [m for m in MALFORMED if m not in left_out]
    try:
        for step in range(STEPS):
            cmd = command(rng, step, lambda: rng.choice([0, 0, 0, 1, 2, -1]), malformed)
            a = hc.run(fill_cas(cmd, hc))
            b = mc.run(fill_cas(cmd, mc))
            if a != b and memcached_quirk(a, b):
                return None
            if a != b:
                return step, cmd, a, b
        return None
    finally:
        hc.c.close()
        mc.c.close()


@pytest.mark.parametrize("seed", SEEDS)
def test_random_stream_same_replies(start_server, memcached, seed):
    three_runs(run_stream, start_server, memcached, seed)


# ---- the binary protocol ----

class BinSide:
    """One server's binary connection; CAS values renamed as in Side."""

    def __init__(self, server):
        self.c = server.client(timeout=20)
        self.cas_seen = {}
        self.names = {}

    def name(self, cas):
        if cas == 0:
            return 0
        if cas not in self.names:
            self.names[cas] = len(self.names) + 1
        return self.names[cas]

    def run(self, req, key):
        """Send one request and a noop; every response up to the noop's,
        as tuples with the CAS renamed."""
        self.c.send(req + binproto.pack("noop", opaque=0xfeed))
        out = []
        while True:
            r = binproto.read(self.c)
            if r.op == binproto.OP["noop"] and r.opaque == 0xfeed:
                return out
            if r.cas:
                self.cas_seen.setdefault(key, []).append(r.cas)
            out.append((r.op, r.status, r.opaque, self.name(r.cas), r.extras, r.key,
                        r.value))


def bin_request(rng, step, side_cas):
    """One binary request (bytes) and its key; side_cas(key, n) gives the
    CAS to send, chosen alike on both sides."""
    key = rng.choice(KEYS)
    op = rng.choice(["get", "getq", "getk", "getkq", "set", "setq", "add", "addq",
                     "replace", "replaceq", "append", "prepend", "appendq",
                     "delete", "deleteq", "incr", "decr", "incrq", "touch", "gat",
                     "gatk", "gatq"])
    n = rng.choice([0, 0, 0, 1, -1])
    opaque = step
    if op in ("set", "setq", "add", "addq", "replace", "replaceq"):
        v = value(rng, key)
        return binproto.pack(op, key, binproto.store_extras(rng.choice([0, 5, 4294967295]),
                                                            rng.choice([0, 0, 1000])),
                             v, cas=side_cas(key, n) if rng.random() < 0.3 else 0,
                             opaque=opaque), key
    if op in ("append", "prepend", "appendq"):
        if key.startswith(b"n:"):
            key = b"d:0"
        return binproto.pack(op, key, value=value(rng, key), opaque=opaque), key
    if op in ("delete", "deleteq"):
        return binproto.pack(op, key, cas=side_cas(key, n) if rng.random() < 0.3 else 0,
                             opaque=opaque), key
    if op in ("incr", "decr", "incrq"):
        ex = rng.choice([0, 0, 1000, 0xffffffff])
        return binproto.pack(op, key, binproto.arith_extras(
            rng.choice([0, 1, 7, 2 ** 64 - 1]), rng.choice([0, 10, 2 ** 64 - 1]), ex),
            opaque=opaque), key
    if op in ("touch", "gat", "gatk", "gatq"):
        return binproto.pack(op, key, struct.pack(">I", rng.choice([0, 1000])),
                             opaque=opaque), key
    return binproto.pack(op, key, opaque=opaque), key


def run_bin_stream(start_server, memcached, seed):
    hc, mc = start_pair(start_server, memcached, BinSide)
    rng = random.Random(seed)
    try:
        for step in range(STEPS):
            marks = []
            req = bin_request(rng, step, lambda k, n: marks.append((k, n)) or 0)
            data, key = req
            if marks:   # a CAS to send: each side its own
                k, n = marks[0]
                a = hc.run(with_cas(data, hc.cas_seen.get(k, []), n), key)
                b = mc.run(with_cas(data, mc.cas_seen.get(k, []), n), key)
            else:
                a = hc.run(data, key)
                b = mc.run(data, key)
            if a != b and memcached_quirk(a, b):
                return None
            if a != b:
                return step, data[:40], a, b
        return None
    finally:
        hc.c.close()
        mc.c.close()


def with_cas(req, seen, n):
    cas = seen[-1 - n] if 0 <= n < len(seen) else BOGUS_CAS
    return req[:16] + struct.pack(">Q", cas) + req[24:]


@pytest.mark.parametrize("seed", SEEDS)
def test_binary_stream_same_replies(start_server, memcached, seed):
    """The same for the binary protocol: every response's opcode, status,
    opaque, CAS (renamed), extras, key and value."""
    three_runs(run_bin_stream, start_server, memcached, seed)
