"""Differential, -vv: memcached 1.6.45 and hardcached, each started with
-vv, get the same session (text, meta, errors, noreply, binary), and
their traces must be the same lines once descriptor numbers are renamed:
1.6.45 prints only some replies (not meta, delete/incr/touch, stats
listings, errors found after parsing), and operators' tools read it.
Skipped where 1.6.45 is absent.
"""
import re
import struct
import time

import pytest

import binproto
import hcutil

pytestmark = [
    pytest.mark.skipif(hcutil.is_reference(), reason="compares hardcached with memcached 1.6.45"),
    pytest.mark.skipif(hcutil.memcached_145() is None, reason=hcutil.REF_MISSING),
]

LONG = b"k" * 251
TEXT = [
    b"set a 0 0 1\r\nA\r\n", b"get a b\r\n", b"gets a\r\n", b"get nope\r\n",
    b"add a 0 0 1\r\nB\r\n", b"replace zz 0 0 1\r\nB\r\n", b"append a 0 0 1\r\nC\r\n",
    b"cas nope 0 0 1 999\r\nD\r\n", b"set n 0 0 1\r\n5\r\n", b"incr n 3\r\n", b"decr n 1\r\n",
    b"incr nope 1\r\n", b"incr a 1\r\n", b"incr n abc\r\n", b"incr\r\n", b"touch a 100\r\n",
    b"touch k\r\n", b"gat 100 a\r\n", b"gat abc a\r\n", b"delete a\r\n", b"delete a\r\n",
    b"delete\r\n", b"set q 0 0 1 noreply\r\nQ\r\n", b"add q 0 0 1 noreply\r\nQ\r\n",
    b"set r 0 0 1 noreply\r\nxyz\r\n", b"delete q noreply\r\n", b"foo\r\n", b"get\r\n",
    b"set k 0 0 abc\r\n", b"set k abc 0 1\r\nx\r\n", b"set %s 0 0 1\r\nx\r\n" % LONG,
    b"get %s\r\n" % LONG, b"set big 0 0 1048577\r\n" + b"x" * 1048577 + b"\r\n",
    b"version\r\n", b"verbosity 2\r\n", b"verbosity 2 noreply\r\n", b"verbosity\r\n",
    b"flush_all 0\r\n", b"flush_all noreply\r\n",
    b"ms m1 2\r\nhi\r\n", b"ms m1 2 T0 F5 c\r\nhi\r\n", b"mg m1 v f\r\n", b"mg nope v\r\n",
    b"mg nope v q\r\nmn\r\n", b"md m1\r\n", b"md m1 q\r\n", b"ma nope\r\n", b"ms c1 1\r\n5\r\n",
    b"ma c1 v\r\n", b"me c1\r\n", b"me nope\r\n", b"me\r\n", b"mg\r\n", b"mg %s v\r\n" % LONG,
    b"mg k zz\r\n", b"ms k\r\n", b"ms m2 abc\r\nxx\r\n", b"md\r\n", b"mz\r\n",
    b"stats\r\n", b"stats settings\r\n", b"stats detail on\r\n", b"stats detail dump\r\n",
    b"stats detail off\r\n", b"stats cachedump 1 1\r\n", b"stats nosuch\r\n",
    b"stats reset\r\n", b"shutdown\r\n", b"mn\r\n",
]
BINARY = (binproto.pack("get", b"bnope") + binproto.pack("getk", b"bnope")
          + binproto.pack("delete", b"bnope") + binproto.pack("append", b"bnope", value=b"v")
          + binproto.pack("incr", b"bnope", struct.pack(">QQI", 1, 0, 0xffffffff))
          + binproto.pack("version")
          + binproto.pack(0x50) + binproto.pack("noop"))


def closed(s, n):
    """Wait until the server traced n closed connections: a connection's
    last line comes from another thread than the next one's first."""
    deadline = time.monotonic() + 10
    while s.stderr().count(b"connection closed.") < n and time.monotonic() < deadline:
        time.sleep(0.05)


def trace(binary):
    """The server's -vv lines for the session, descriptors renamed."""
    s = hcutil.Server(["-vv"], binary=binary)
    try:
        closed(s, 1)   # the start-up probe's
        with s.client() as c:
            c.send(b"".join(TEXT))
            c.read_until(b"SERVER_ERROR: shutdown not enabled\r\nMN\r\n", timeout=20)
        closed(s, 2)
        with s.client() as c:
            c.send(BINARY)
            c.read_until(struct.pack(">BB", binproto.RES, binproto.OP["noop"]), timeout=20)
            c.read_exact(22)
        closed(s, 3)
        # "connection closed." lines pace the session above; compared they
        # are not: 1.6.45 once printed a client's close over 10 s late
        return [re.sub(rb"^([<>]?)\d+([: ])", rb"\1N\2", ln)
                for block in connections(s.stderr().splitlines()) for ln in block
                if not ln.endswith(b" connection closed.")]
    finally:
        s.stop()


def connections(lines):
    """The trace cut into client connections, each its lines in order
    (a line with no descriptor, as "Deleting k", goes with the connection
    of the line before): threads interleave whole lines, and 1.6.45 prints
    its start-up slab table while the start-up probe is served. Left out:
    start-up lines, and connections that only asked `version` (the probe,
    or another test's that took this server's port for free)."""
    blocks, live, last = [], {}, None
    for ln in lines:
        if re.search(rb"slab class|perslab|server listening|^hardcached \d", ln):
            continue
        m = re.match(rb"^[<>]?(\d+)[: ]", ln)
        if m is None:
            if last is not None:
                last.append(ln)
            continue
        fd = m.group(1)
        if re.match(rb"<\d+ new ", ln):
            live[fd] = last = [ln]
            blocks.append(last)
            continue
        if fd not in live:
            continue
        last = live[fd]
        last.append(ln)
        if ln.endswith(b" connection closed."):
            del live[fd]
    def asked(block):
        return [ln.split(b" ", 1)[1] for ln in block
                if re.match(rb"<\d+ (?!new |connection closed)", ln)]
    return [b for b in blocks if asked(b) != [b"version"]]


def test_vv_trace_is_1_6_45s():
    ref, ours = trace(hcutil.memcached_145()), trace(None)
    assert b"<N mg m1 v f" in ref and b">N NOREPLY STORED" in ref
    assert ours == ref
