"""Data stays right: CAS values across commands, expiry set by touch/gat,
and many clients on many worker threads at once (-t 4)."""
import re
import threading
import time

import pytest

import hcutil


def _cas(c, key):
    c.send(b"gets %s\r\n" % key)
    m = re.fullmatch(rb"VALUE \S+ \d+ \d+ (\d+)\r\n", c.readline())
    assert m
    c.read_until(b"END\r\n")
    return int(m.group(1))


def test_cas_kept_by_touch_and_gat_changed_by_writes(client):
    client.set("cs:k", b"1")
    c0 = _cas(client, b"cs:k")
    client.cmd(b"touch cs:k 100\r\n", b"TOUCHED\r\n")
    assert _cas(client, b"cs:k") == c0
    client.send(b"gat 100 cs:k\r\n")
    client.read_until(b"END\r\n")
    assert _cas(client, b"cs:k") == c0
    client.cmd(b"incr cs:k 1\r\n", b"2\r\n")
    c1 = _cas(client, b"cs:k")
    assert c1 != c0
    client.cmd(b"append cs:k 0 0 1\r\n0\r\n", b"STORED\r\n")
    c2 = _cas(client, b"cs:k")
    assert c2 not in (c0, c1)
    client.cmd(b"cas cs:k 0 0 1 %d\r\nx\r\n" % c1, b"EXISTS\r\n")
    client.cmd(b"cas cs:k 0 0 1 %d\r\nx\r\n" % c2, b"STORED\r\n")


def _gets(c, key):
    c.send(b"gets %s\r\n" % key)
    line = c.readline()
    m = re.fullmatch(rb"VALUE \S+ \d+ (\d+) (\d+)\r\n", line)
    assert m, line
    value = c.read_exact(int(m.group(1)) + 2)[:-2]
    c.expect(b"END\r\n")
    return int(m.group(2)), value


def test_cas_unique_and_growing_per_key_with_large_values_between(start_server):
    """Every write gets a CAS no other write had, and a later write of a
    key a larger one, also when values too large for one segment (each
    alone in its own) come between small ones: meta ms I compares CAS
    values as older and newer. hardcached takes the CAS from where an item
    was written (a large item from a filler in the head)."""
    s = start_server()
    big = b"B" * 150000
    seen, last = set(), {}
    with s.client(timeout=20) as c:
        for i in range(400):
            key = b"cg:%d" % (i % 7)
            value = big if i % 11 == 3 else b"v%d" % i
            c.cmd(b"set %s 0 0 %d\r\n%s\r\n" % (key, len(value), value), b"STORED\r\n")
            cas, got = _gets(c, key)
            assert got == value
            assert cas not in seen
            assert cas > last.get(key, 0), (i, key, cas, last.get(key))
            seen.add(cas)
            last[key] = cas


def test_hot_item_keeps_cas_through_eviction(start_server):
    """A key read all along stays while 12 MB of others pass through an
    8 MB limit; its CAS does not change while it is not written, though
    hardcached's compaction moves it (it keeps the CAS in a stored
    field), and a cas with it still succeeds."""
    s = start_server("-m", "8")
    with s.client(timeout=30) as c:
        c.cmd(b"set cv:hot 3 0 5\r\nvalue\r\n", b"STORED\r\n")
        cas0, _ = _gets(c, b"cv:hot")
        filler = b"f" * 1000
        for i in range(12000):
            c.send(b"set cv:cold%d 0 0 1000 noreply\r\n%s\r\n" % (i, filler))
            if i % 100 == 0:
                assert _gets(c, b"cv:hot") == (cas0, b"value"), i
        assert int(c.stats()["evictions"]) > 0
        assert _gets(c, b"cv:hot") == (cas0, b"value")
        c.cmd(b"cas cv:hot 3 0 3 %d\r\nnew\r\n" % cas0, b"STORED\r\n")
        assert _gets(c, b"cv:hot")[1] == b"new"


def test_same_key_twice_in_gets(client):
    client.set("cs:tw", b"20")
    c = _cas(client, b"cs:tw")
    client.cmd(b"gets cs:tw cs:tw\r\n",
               b"VALUE cs:tw 0 2 %d\r\n20\r\nVALUE cs:tw 0 2 %d\r\n20\r\nEND\r\n" % (c, c))


def _wait_gone(client, key, limit):
    deadline = time.monotonic() + limit
    while client.get(key) is not None:
        assert time.monotonic() < deadline, "%r not expired after %ss" % (key, limit)
        time.sleep(0.2)


def test_touch_sets_new_expiry(client):
    client.set("cs:t", b"x")
    client.cmd(b"touch cs:t 1\r\n", b"TOUCHED\r\n")
    _wait_gone(client, "cs:t", 4)


def test_gat_sets_new_expiry(client):
    client.set("cs:g", b"x")
    client.cmd(b"gat 1 cs:g\r\n", b"VALUE cs:g 0 1\r\nx\r\nEND\r\n")
    _wait_gone(client, "cs:g", 4)


def test_touch_zero_makes_permanent(client):
    client.cmd(b"set cs:p 0 1 1\r\nx\r\ntouch cs:p 0\r\n", b"STORED\r\nTOUCHED\r\n")
    time.sleep(2.2)
    assert client.get("cs:p") == b"x"


def test_add_after_expiry_and_after_flushless_delete(client):
    client.cmd(b"set cs:a 0 -1 1\r\nx\r\nadd cs:a 0 0 1\r\ny\r\nget cs:a\r\n",
               b"STORED\r\nSTORED\r\nVALUE cs:a 0 1\r\ny\r\nEND\r\n")
    client.cmd(b"delete cs:a\r\nadd cs:a 0 0 1\r\nz\r\n", b"DELETED\r\nSTORED\r\n")


# many clients at once

THREADS = 8
OPS = 600


def test_parallel_clients_keep_their_data(start_server):
    s = start_server("-t", "4")
    errors = []

    def worker(n):
        try:
            with s.client(timeout=20) as c:
                mine = {}
                for i in range(OPS):
                    k = b"w%d:%d" % (n, i % 50)
                    v = b"%d-%d-" % (n, i) + b"p" * (i * 37 % 3000)
                    c.set(k, v)
                    mine[k] = v
                    if i % 3 == 0:
                        got = c.get(k)
                        if got != v:
                            errors.append((k, got[:40] if got else got))
                    c.send(b"incr shared 1\r\n")
                    c.readline()
                for k, v in mine.items():
                    if c.get(k) != v:
                        errors.append(("final", k))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    with s.client() as c:
        c.set("shared", b"0")
    ts = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not any(t.is_alive() for t in ts), "workers hung"
    assert not errors, errors[:5]
    with s.client() as c:
        assert int(c.get("shared")) == THREADS * OPS


def test_parallel_cas_increments_are_not_lost(start_server):
    s = start_server("-t", "4")
    wins = [0] * 6

    def worker(n):
        with s.client(timeout=20) as c:
            deadline = time.monotonic() + 20
            while wins[n] < 100 and time.monotonic() < deadline:
                c.send(b"gets ctr\r\n")
                m = re.fullmatch(rb"VALUE ctr 0 \d+ (\d+)\r\n", c.readline())
                val = c.read_until(b"\r\n")[:-2]
                c.expect(b"END\r\n")
                new = b"%d" % (int(val) + 1)
                c.send(b"cas ctr 0 0 %d %s\r\n%s\r\n" % (len(new), m.group(1), new))
                r = c.readline()
                assert r in (b"STORED\r\n", b"EXISTS\r\n"), r
                wins[n] += r == b"STORED\r\n"

    with s.client() as c:
        c.set("ctr", b"0")
    ts = [threading.Thread(target=worker, args=(n,)) for n in range(len(wins))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    with s.client() as c:
        assert int(c.get("ctr")) == sum(wins) == 100 * len(wins)
