"""The get and touch counters, and why a lookup missed, over the wire in
each protocol, as memcached 1.6 counts them (checked against Debian's
memcached 1.6.18: HC_BIN=/usr/bin/memcached runs this file against it).

memcached counts a get-and-touch (text gat/gats, binary GAT/GATK/TOUCH,
meta mg with T on an item it has) in cmd_touch and touch_hits or
touch_misses only, and every lookup of any command that meets an expired
or flushed item in get_expired or get_flushed (do_item_get).
"""
import struct
import time

import pytest

from binproto import call, store_extras

COUNTERS = ("cmd_get", "cmd_touch", "get_hits", "get_misses", "touch_hits",
            "touch_misses", "get_expired", "get_flushed")


def moved(server, action):
    """The counters that action moved, by how much."""
    before = server.stats()
    action()
    after = server.stats()
    return {k: int(after[k]) - int(before[k]) for k in COUNTERS
            if after[k] != before[k]}


@pytest.fixture
def c(server):
    cl = server.client()
    yield cl
    cl.close()


def check_moves(server, c, steps):
    """Run each (command, its reply, the counters it moves) in turn; a
    reply of None is read up to END (gats: the CAS is the server's)."""
    for cmd, reply, want in steps:
        if reply is None:
            run = lambda: (c.send(cmd), c.read_until(b"END\r\n"))
        else:
            run = lambda: c.cmd(cmd, reply)
        assert moved(server, run) == want, cmd


def test_text_gat_counts_the_touch_only(server, c):
    c.cmd(b"set lc:g 0 0 1\r\nx\r\n", b"STORED\r\n")
    check_moves(server, c, [
        (b"gat 100 lc:g\r\n", b"VALUE lc:g 0 1\r\nx\r\nEND\r\n",
         {"cmd_touch": 1, "touch_hits": 1}),
        (b"gat 100 lc:none\r\n", b"END\r\n", {"cmd_touch": 1, "touch_misses": 1}),
        (b"gats 100 lc:g lc:none\r\n", None,
         {"cmd_touch": 2, "touch_hits": 1, "touch_misses": 1}),
        (b"get lc:g lc:none\r\n", b"VALUE lc:g 0 1\r\nx\r\nEND\r\n",
         {"cmd_get": 2, "get_hits": 1, "get_misses": 1}),
        (b"touch lc:g 100\r\n", b"TOUCHED\r\n", {"cmd_touch": 1, "touch_hits": 1}),
        (b"touch lc:none 100\r\n", b"NOT_FOUND\r\n", {"cmd_touch": 1, "touch_misses": 1}),
    ])


def test_meta_mg_t_counts_the_touch_only(server, c):
    c.cmd(b"set lc:m 0 0 1\r\nx\r\n", b"STORED\r\n")
    check_moves(server, c, [
        (b"mg lc:m v T100\r\n", b"VA 1\r\nx\r\n", {"cmd_touch": 1, "touch_hits": 1}),
        (b"mg lc:m v\r\n", b"VA 1\r\nx\r\n", {"cmd_get": 1, "get_hits": 1}),
        # memcached applies T to an item it has: a miss is a get miss
        (b"mg lc:none v T100\r\n", b"EN\r\n", {"cmd_get": 1, "get_misses": 1}),
    ])


def test_binary_gat_counts_the_touch_only(server, c):
    exp = struct.pack(">I", 100)
    assert call(c, "set", "lc:b", store_extras(), b"x").status == 0
    assert moved(server, lambda: call(c, "gat", "lc:b", exp)) == \
        {"cmd_touch": 1, "touch_hits": 1}
    assert moved(server, lambda: call(c, "gatk", "lc:none", exp)) == \
        {"cmd_touch": 1, "touch_misses": 1}
    assert moved(server, lambda: call(c, "touch", "lc:b", exp)) == \
        {"cmd_touch": 1, "touch_hits": 1}
    assert moved(server, lambda: call(c, "get", "lc:b")) == \
        {"cmd_get": 1, "get_hits": 1}


# memcached's LRU crawler and maintainer reap expired items in the
# background, before a lookup can meet them: the tests of expiry turn them
# off (hardcached has neither, and takes the options as memcached's).
NO_REAPER = ("-o", "no_lru_crawler,no_lru_maintainer")


@pytest.fixture
def quiet(start_server):
    s = start_server(*NO_REAPER)
    cl = s.client()
    yield s, cl
    cl.close()


def test_get_expired(quiet):
    server, c = quiet
    c.cmd(b"set lc:e 0 1 1\r\nx\r\n", b"STORED\r\n")
    time.sleep(2.1)
    assert moved(server, lambda: c.cmd(b"get lc:e\r\n", b"END\r\n")) == \
        {"cmd_get": 1, "get_misses": 1, "get_expired": 1}
    # gone now: a plain miss
    assert moved(server, lambda: c.cmd(b"get lc:e\r\n", b"END\r\n")) == \
        {"cmd_get": 1, "get_misses": 1}


def test_get_flushed(server, c):
    c.cmd(b"set lc:f 0 0 1\r\nx\r\n", b"STORED\r\n")
    c.cmd(b"flush_all\r\n", b"OK\r\n")
    assert moved(server, lambda: c.cmd(b"get lc:f\r\n", b"END\r\n")) == \
        {"cmd_get": 1, "get_misses": 1, "get_flushed": 1}


def test_every_lookup_counts_an_expired_item(quiet):
    """memcached's do_item_get counts it for any command, not only gets."""
    server, c = quiet
    cmds = {
        b"gat 10 lc:x1\r\n": (b"END\r\n", {"cmd_touch": 1, "touch_misses": 1}),
        b"mg lc:x2 v T10\r\n": (b"EN\r\n", {"cmd_get": 1, "get_misses": 1}),
        b"touch lc:x3 10\r\n": (b"NOT_FOUND\r\n", {"cmd_touch": 1, "touch_misses": 1}),
        b"delete lc:x4\r\n": (b"NOT_FOUND\r\n", {}),
        b"incr lc:x5 1\r\n": (b"NOT_FOUND\r\n", {}),
    }
    expect_each_counts_an_expired_item(server, c, cmds)


@pytest.mark.hardcached_only
def test_a_write_over_an_expired_item_counts_it(quiet):
    """memcached's do_store_item looks the key up too, but its item_alloc
    first reaps expired items at the LRU tail (as `reclaimed`), so whether
    its add or set still meets the item depends on the LRU's order."""
    server, c = quiet
    cmds = {
        b"add lc:w1 0 0 1\r\ny\r\n": (b"STORED\r\n", {}),
        b"set lc:w2 0 0 1\r\ny\r\n": (b"STORED\r\n", {}),
        b"append lc:w3 0 0 1\r\ny\r\n": (b"NOT_STORED\r\n", {}),
    }
    expect_each_counts_an_expired_item(server, c, cmds)


def expect_each_counts_an_expired_item(server, c, cmds):
    """Store each command's key with a 1 s expiry, let them expire, then
    run each: it counts get_expired once, besides its own counters."""
    for cmd in cmds:
        key = cmd.split()[1] if not cmd.startswith(b"gat") else cmd.split()[2]
        c.cmd(b"set %s 0 1 1\r\n1\r\n" % key, b"STORED\r\n")
    time.sleep(2.1)
    check_moves(server, c, [(cmd, reply, dict(counts, get_expired=1))
                            for cmd, (reply, counts) in cmds.items()])
