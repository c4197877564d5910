"""Per-class counts of `stats items` and `stats slabs` without a walk of the
items: kept where items are written, moved and retired. They must match
memcached 1.6.45's for the same session, add up to curr_items and bytes
through every path that drops or moves an item (expiry, flush, eviction,
compaction, defragmentation, append, touch, incr), and, once the crawler
has freed the dead, count exactly the live items a key dump lists per
class.
"""
import collections
import random
import re
import time

import pytest

import hcutil
import toolbox
from test_toolbox_crawler import crawl
from test_toolbox_stats import ITEMS_MASKED, SLABS_MASKED, stat_lines
from toolbox import MC_REF

pytestmark = pytest.mark.hardcached_only

SIZES = [0, 5, 40, 90, 200, 400, 700, 1500, 3000, 9000, 30000, 200000]


def session(c):
    """Overwrites into other classes, deletes, appends, incr, touch: the
    same on both servers, nothing that expires."""
    for i in range(120):
        n = SIZES[i % len(SIZES)]
        c.cmd(b"set s%d %d 0 %d\r\n%s\r\n" % (i, i % 2, n, b"7" * n), b"STORED\r\n")
    for i in range(0, 120, 3):
        n = SIZES[(i + 5) % len(SIZES)]
        c.cmd(b"set s%d 0 0 %d\r\n%s\r\n" % (i, n, b"7" * n), b"STORED\r\n")
    for i in range(1, 120, 7):
        c.cmd(b"delete s%d\r\n" % i, b"DELETED\r\n")
    for i in range(2, 120, 5):
        verb = b"append" if i % 2 else b"prepend"
        # STORED, or NOT_STORED where the key was deleted
        c.call(b"%s s%d 0 0 100\r\n%s\r\n" % (verb, i, b"1" * 100))
    c.cmd(b"set n 0 0 1\r\n9\r\n", b"STORED\r\n")
    c.cmd(b"incr n 5\r\n", b"14\r\n")
    c.cmd(b"touch s4 1000\r\n", b"TOUCHED\r\n")


@pytest.mark.skipif(hcutil.is_reference() or MC_REF is None,
                    reason=hcutil.REF_MISSING)
def test_counts_as_memcached_through_a_session():
    with toolbox.ref_pair() as (hc, mc):
        for s in (hc, mc):
            with s.client() as c:
                session(c)
        assert stat_lines(hc, b"items", ITEMS_MASKED) == stat_lines(mc, b"items", ITEMS_MASKED)
        # memcached's `stats slabs` also lists a class emptied since (its
        # pages stay until its rebalancer moves them, on its own time):
        # the classes in use are compared
        for s in (hc, mc):
            used = [(k, v) for k, v in stat_lines(s, b"slabs", SLABS_MASKED)
                    if k.endswith(":used_chunks") and v != "0"]
            if s is hc:
                want = used
        assert used == want


def class_sums(server):
    """(sum of number, sum of mem_requested) over the classes, and stats."""
    with server.client() as c:
        items = c.stats("items")
        st = c.stats()
    number = sum(int(v) for k, v in items.items() if k.endswith(":number"))
    mem = sum(int(v) for k, v in items.items() if k.endswith(":mem_requested"))
    return number, mem, st


def assert_sums(server, when):
    number, mem, st = class_sums(server)
    assert (number, mem) == (int(st["curr_items"]), int(st["bytes"])), when


def dumped_classes(server):
    """Live items per class, as a key dump lists them."""
    with server.client() as c:
        c.send(b"lru_crawler metadump all\r\n")
        out = c.read_until(b"END\r\n")
    return collections.Counter(m.group(1).decode()
                               for m in re.finditer(rb" cls=(\d+) ", out))


def test_counts_follow_every_path_that_drops_or_moves_an_item():
    # no crawler on its own: each figure is checked where nothing else moves it
    s = hcutil.Server(["-m", "8", "-o", "no_lru_crawler"])
    rnd = random.Random(5)
    try:
        with s.client() as c:
            for i in range(3000):
                n = rnd.choice(SIZES[:9])
                c.send(b"set k%d %d %d %d noreply\r\n%s\r\n"
                       % (i, i % 2, 1 if i % 4 == 0 else 0, n, b"7" * n))
            c.cmd(b"mn\r\n", b"MN\r\n")
            assert_sums(s, "sets")
            time.sleep(2.2)   # a quarter expire; counted until freed, as memcached
            for i in range(0, 400, 2):
                c.send(b"get k%d\r\n" % i)
                c.read_until(b"END\r\n")
            assert_sums(s, "expiry, some freed by lookups")
            for i in range(0, 3000, 3):   # overwrites, appends, deletes, incr
                c.send(b"append k%d 0 0 50 noreply\r\n%s\r\n" % (i, b"1" * 50))
                c.send(b"delete k%d noreply\r\n" % (i + 1))
                c.send(b"set k%d 0 0 3 noreply\r\n100\r\nincr k%d 7 noreply\r\n"
                       % (i + 2, i + 2))
            c.cmd(b"mn\r\n", b"MN\r\n")
            assert_sums(s, "append, delete, incr")
            c.cmd(b"flush_all\r\n", b"OK\r\n")
            assert_sums(s, "flush")
            # churn through an 8 MiB cache: eviction, compaction (the keys
            # read survive it), defragmentation of overwritten segments
            hot = [b"hot%d" % i for i in range(100)]
            c.send(b"".join(b"set %s 0 0 10 noreply\r\n0123456789\r\n" % k for k in hot))
            for i in range(24000):
                n = rnd.choice(SIZES[3:9])
                key = b"c%d" % rnd.randrange(12000) if i % 2 else b"e%d" % i
                c.send(b"set %s 0 0 %d noreply\r\n%s\r\n" % (key, n, b"7" * n))
                if i % 400 == 0:
                    c.send(b"get %s\r\n" % b" ".join(hot))
                    c.read_until(b"END\r\n")
            c.cmd(b"mn\r\n", b"MN\r\n")
            assert int(s.stats()["evictions"]) > 1000
            assert_sums(s, "eviction, compaction, defragmentation")
            assert c.call(b"lru_crawler enable\r\n") == b"OK\r\n"
        crawl(s)
        assert_sums(s, "crawl")
        with s.client() as c:
            items = c.stats("items")
        counted = {k.split(":")[1]: int(v) for k, v in items.items()
                   if k.endswith(":number") and int(v) > 0}
        assert counted == dict(dumped_classes(s))
    finally:
        s.stop()
    assert not s.sanitizer_report()
