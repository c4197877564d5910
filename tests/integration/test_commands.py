"""incr/decr, flush_all, version, verbosity, quit, shutdown, cache_memlimit
and stats, exact bytes as memcached 1.6.18 sends them."""
import os
import re
import time

import pytest

import hcutil

U64_MAX = 2 ** 64 - 1


# incr / decr


def test_incr_decr_basic(client):
    client.cmd(b"set ar:n 0 0 2\r\n10\r\n", b"STORED\r\n")
    client.cmd(b"incr ar:n 5\r\n", b"15\r\n")
    client.cmd(b"decr ar:n 3\r\n", b"12\r\n")
    client.cmd(b"get ar:n\r\n", b"VALUE ar:n 0 2\r\n12\r\nEND\r\n")


def test_incr_keeps_flags(client):
    client.cmd(b"set ar:fl 77 0 1\r\n1\r\nincr ar:fl 1\r\nget ar:fl\r\n",
               b"STORED\r\n2\r\nVALUE ar:fl 77 1\r\n2\r\nEND\r\n")


def test_incr_miss(client):
    client.cmd(b"incr ar:none 1\r\n", b"NOT_FOUND\r\n")
    client.cmd(b"decr ar:none 1\r\n", b"NOT_FOUND\r\n")


def test_incr_wraps_at_2_pow_64(client):
    client.cmd(b"set ar:w 0 0 20\r\n18446744073709551615\r\nincr ar:w 1\r\n",
               b"STORED\r\n0\r\n")
    client.cmd(b"set ar:w 0 0 2\r\n99\r\nincr ar:w 18446744073709551615\r\n",
               b"STORED\r\n98\r\n")


def test_incr_max_delta(client):
    client.cmd(b"set ar:m 0 0 1\r\n0\r\nincr ar:m 18446744073709551615\r\n",
               b"STORED\r\n18446744073709551615\r\n")


def test_decr_floors_at_zero(client):
    client.cmd(b"set ar:f 0 0 2\r\n10\r\ndecr ar:f 100\r\n", b"STORED\r\n0\r\n")
    client.cmd(b"decr ar:f 1\r\n", b"0\r\n")


def test_decr_shorter_number_is_space_padded(client):
    """memcached rewrites in place: the length stays, the number is padded
    with spaces on the right ('10' decr 1 reads back as '9 ')."""
    client.cmd(b"set ar:p 0 0 2\r\n10\r\ndecr ar:p 1\r\nget ar:p\r\n",
               b"STORED\r\n9\r\nVALUE ar:p 0 2\r\n9 \r\nEND\r\n")


def test_incr_wrap_is_space_padded(client):
    client.cmd(b"set ar:wp 0 0 20\r\n18446744073709551615\r\nincr ar:wp 1\r\n"
               b"get ar:wp\r\n",
               b"STORED\r\n0\r\nVALUE ar:wp 0 20\r\n0" + b" " * 19 + b"\r\nEND\r\n")


def test_incr_longer_number_grows(client):
    client.cmd(b"set ar:g 0 0 2\r\n99\r\nincr ar:g 1\r\nget ar:g\r\n",
               b"STORED\r\n100\r\nVALUE ar:g 0 3\r\n100\r\nEND\r\n")


def test_incr_padded_value_still_numeric(client):
    client.cmd(b"set ar:pp 0 0 3\r\n 12\r\nincr ar:pp 1\r\n", b"STORED\r\n13\r\n")
    client.cmd(b"set ar:pp 0 0 3\r\n12 \r\nincr ar:pp 1\r\n", b"STORED\r\n13\r\n")
    # a long run of spaces after the number: the result keeps the length
    v = b"5" + b" " * 60
    client.cmd(b"set ar:pp 0 0 61\r\n%s\r\nincr ar:pp 1\r\n" % v, b"STORED\r\n6\r\n")
    client.cmd(b"get ar:pp\r\n", b"VALUE ar:pp 0 61\r\n6" + b" " * 60 + b"\r\nEND\r\n")


def test_incr_plus_sign_accepted(client):
    client.cmd(b"set ar:ps 0 0 2\r\n+1\r\nincr ar:ps +1\r\n", b"STORED\r\n2\r\n")


@pytest.mark.parametrize("value", [b"x", b"-1", b"1a", b"", b"184467440737095516150"])
def test_incr_non_numeric_value(client, value):
    client.cmd(b"set ar:nn 0 0 %d\r\n%s\r\n" % (len(value), value), b"STORED\r\n")
    client.cmd(b"incr ar:nn 1\r\n",
               b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n")
    client.cmd(b"decr ar:nn 1\r\n",
               b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n")


@pytest.mark.parametrize("delta", [b"-1", b"abc", b"18446744073709551616", b"1x"])
def test_incr_invalid_delta(client, delta):
    client.cmd(b"set ar:d 0 0 1\r\n5\r\n", b"STORED\r\n")
    client.cmd(b"incr ar:d " + delta + b"\r\n",
               b"CLIENT_ERROR invalid numeric delta argument\r\n")
    client.cmd(b"decr ar:d " + delta + b"\r\n",
               b"CLIENT_ERROR invalid numeric delta argument\r\n")


def test_incr_noreply(client):
    client.cmd(b"set ar:nr 0 0 1\r\n5\r\nincr ar:nr 1 noreply\r\n"
               b"decr ar:nr 3 noreply\r\nincr ar:none 1 noreply\r\nget ar:nr\r\n",
               b"STORED\r\nVALUE ar:nr 0 1\r\n3\r\nEND\r\n")


def test_incr_wrong_token_count(client):
    """1.6.45: too few tokens is a format error; extra ones are ignored."""
    client.cmd(b"incr\r\n", b"CLIENT_ERROR bad command line format\r\n")
    client.cmd(b"incr ar:n\r\n", b"CLIENT_ERROR bad command line format\r\n")
    client.cmd(b"incr ar:wtc 1 noreply extra\r\n", b"NOT_FOUND\r\n")


# version, verbosity, quit


def test_version(client):
    line = client.call(b"version\r\n")
    assert re.fullmatch(rb"VERSION \S+\r\n", line), line


def test_version_is_a_plain_release_number(client):
    """memcached 1.6.45 answers its bare release; hardcached the release it
    follows (its own version is in `stats` hardcached_version)."""
    line = client.call(b"version\r\n")
    assert re.fullmatch(rb"VERSION 1\.6\.\d+\r\n", line), line


def test_verbosity(client):
    client.cmd(b"verbosity 1\r\n", b"OK\r\n")
    client.cmd(b"verbosity 0\r\n", b"OK\r\n")
    client.cmd(b"verbosity 1 noreply\r\nverbosity 0 noreply\r\nverbosity noreply\r\n"
               b"verbosity\r\n", b"CLIENT_ERROR bad command line format\r\n")
    client.cmd(b"verbosity abc\r\n", b"CLIENT_ERROR bad command line format\r\n")
    client.cmd(b"verbosity -1\r\n", b"CLIENT_ERROR bad command line format\r\n")
    client.cmd(b"verbosity 1 2 3\r\n", b"OK\r\n")   # 1.6.45 ignores the rest


@pytest.mark.parametrize("line", [b"quit\r\n", b"quit\n", b"quit extra\r\n"])
def test_quit_closes_silently(server, line):
    with server.client() as c:
        c.send(line)
        assert c.assert_closed() == b""


def test_quit_after_pipelined_commands_flushes_replies(server):
    with server.client() as c:
        c.send(b"set ar:q 0 0 1\r\nx\r\nget ar:q\r\nquit\r\nget ar:q\r\n")
        assert c.assert_closed() == b"STORED\r\nVALUE ar:q 0 1\r\nx\r\nEND\r\n"


# shutdown


def test_shutdown_disabled_without_A(client):
    client.cmd(b"shutdown\r\n", b"SERVER_ERROR: shutdown not enabled\r\n")
    client.cmd(b"shutdown graceful\r\n", b"SERVER_ERROR: shutdown not enabled\r\n")


def test_shutdown_with_A(start_server):
    s = start_server("-A")
    with s.client() as c:
        c.send(b"shutdown\r\n")
        assert c.assert_closed() == b""
    assert s.proc.wait(10) == 0


def test_shutdown_graceful_with_A(start_server):
    s = start_server("-A")
    with s.client() as c:
        c.send(b"shutdown graceful\r\n")
        assert c.assert_closed() == b""
    assert s.proc.wait(10) == 0


def test_shutdown_bad_mode(start_server):
    s = start_server("-A")
    with s.client() as c:
        c.cmd(b"shutdown noreply\r\n", b"CLIENT_ERROR invalid shutdown mode\r\n")
    assert s.alive()


# cache_memlimit


def test_cache_memlimit(client):
    client.cmd(b"cache_memlimit 100\r\n", b"OK\r\n")
    assert client.stats()["limit_maxbytes"] == str(100 * 1024 * 1024)
    client.cmd(b"cache_memlimit 64 noreply\r\n", b"")
    assert client.stats()["limit_maxbytes"] == str(64 * 1024 * 1024)


def test_cache_memlimit_too_small(client):
    client.cmd(b"cache_memlimit 7\r\n",
               b"MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n")
    client.cmd(b"cache_memlimit 0\r\n",
               b"MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n")


def test_cache_memlimit_bad(client):
    client.cmd(b"cache_memlimit\r\n", b"ERROR\r\n")
    client.cmd(b"cache_memlimit abc\r\n", b"ERROR\r\n")
    client.cmd(b"cache_memlimit -1\r\n", b"ERROR\r\n")


# stats

GENERAL = ["pid", "uptime", "time", "version", "pointer_size", "rusage_user",
           "rusage_system", "max_connections", "curr_connections",
           "total_connections", "rejected_connections", "connection_structures",
           "cmd_get", "cmd_set", "cmd_flush", "cmd_touch", "get_hits",
           "get_misses", "get_expired", "get_flushed", "delete_misses",
           "delete_hits", "incr_misses", "incr_hits", "decr_misses", "decr_hits",
           "cas_misses", "cas_hits", "cas_badval", "touch_hits", "touch_misses",
           "bytes_read", "bytes_written", "limit_maxbytes", "accepting_conns",
           "threads", "bytes", "curr_items", "total_items", "evictions",
           "reclaimed", "expired_unfetched", "evicted_unfetched"]


def test_stats_general_fields(client, server):
    st = client.stats()
    missing = [k for k in GENERAL if k not in st]
    assert not missing, "missing stats: %s" % missing
    assert int(st["pid"]) == server.pid
    assert abs(int(st["time"]) - time.time()) < 5
    assert st["limit_maxbytes"] == str(64 * 1024 * 1024)
    assert st["threads"] == "4"
    assert st["max_connections"] == "1024"
    v = client.call(b"version\r\n")
    assert v == b"VERSION %s\r\n" % st["version"].encode()
    assert st["pointer_size"] == "64"


def _delta(before, after, key):
    return int(after[key]) - int(before[key])


def test_stats_counters_move(client):
    b = client.stats()
    client.cmd(b"set sc:a 0 0 3\r\nabc\r\nget sc:a\r\nget sc:none\r\n"
               b"get sc:a sc:none\r\n",
               b"STORED\r\nVALUE sc:a 0 3\r\nabc\r\nEND\r\nEND\r\n"
               b"VALUE sc:a 0 3\r\nabc\r\nEND\r\n")
    client.cmd(b"set sc:n 0 0 1\r\n1\r\nincr sc:n 1\r\nincr sc:none 1\r\n"
               b"decr sc:n 1\r\ndecr sc:none 1\r\ndelete sc:n\r\ndelete sc:n\r\n"
               b"touch sc:a 0\r\ntouch sc:none 0\r\n",
               b"STORED\r\n2\r\nNOT_FOUND\r\n1\r\nNOT_FOUND\r\nDELETED\r\n"
               b"NOT_FOUND\r\nTOUCHED\r\nNOT_FOUND\r\n")
    a = client.stats()
    assert _delta(b, a, "cmd_set") == 2
    assert _delta(b, a, "cmd_get") == 4
    assert _delta(b, a, "get_hits") == 2
    assert _delta(b, a, "get_misses") == 2
    assert _delta(b, a, "incr_hits") == 1
    assert _delta(b, a, "incr_misses") == 1
    assert _delta(b, a, "decr_hits") == 1
    assert _delta(b, a, "decr_misses") == 1
    assert _delta(b, a, "delete_hits") == 1
    assert _delta(b, a, "delete_misses") == 1
    assert _delta(b, a, "touch_hits") == 1
    assert _delta(b, a, "touch_misses") == 1
    assert _delta(b, a, "cmd_touch") == 2
    assert _delta(b, a, "curr_items") == 1
    assert _delta(b, a, "total_items") >= 2
    assert _delta(b, a, "bytes") > 0
    assert _delta(b, a, "bytes_read") > 0
    assert _delta(b, a, "bytes_written") > 0


def test_stats_cas_counters(client):
    b = client.stats()
    client.cmd(b"set sc:c 0 0 1\r\nx\r\n", b"STORED\r\n")
    client.send(b"gets sc:c\r\n")
    cas = int(client.readline().split()[4])
    client.expect(b"x\r\nEND\r\n")
    client.cmd(b"cas sc:c 0 0 1 %d\r\ny\r\ncas sc:c 0 0 1 %d\r\nz\r\n"
               b"cas sc:none 0 0 1 1\r\nz\r\n" % (cas, cas),
               b"STORED\r\nEXISTS\r\nNOT_FOUND\r\n")
    a = client.stats()
    assert _delta(b, a, "cas_hits") == 1
    assert _delta(b, a, "cas_badval") == 1
    assert _delta(b, a, "cas_misses") == 1


def _settled_stats(c, key, want=None, limit=3):
    """stats once `key` stops moving (closes of earlier clients are reaped
    asynchronously), or once it equals want."""
    deadline = time.monotonic() + limit
    prev = c.stats()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        cur = c.stats()
        if (want is not None and cur[key] == want) or \
                (want is None and cur[key] == prev[key]):
            return cur
        prev = cur
    return prev


def test_stats_connections(server):
    with server.client() as c:
        b = _settled_stats(c, "curr_connections")
        extra = [server.client() for _ in range(3)]
        for e in extra:
            assert e.call(b"version\r\n").startswith(b"VERSION ")
        a = c.stats()
        assert _delta(b, a, "curr_connections") == 3
        assert _delta(b, a, "total_connections") == 3
        for e in extra:
            e.close()
        deadline = time.monotonic() + 3
        while int(c.stats()["curr_connections"]) != int(b["curr_connections"]):
            assert time.monotonic() < deadline, "curr_connections did not drop"
            time.sleep(0.05)


def test_stats_uptime_moves(client):
    u1 = int(client.stats()["uptime"])
    time.sleep(1.1)
    u2 = int(client.stats()["uptime"])
    assert u2 >= u1 + 1


def test_stats_settings(start_server):
    s = start_server("-c", "100", "-m", "32", "-t", "2", "-I", "2m")
    st = s.stats("settings")
    assert st["maxbytes"] == str(32 * 1024 * 1024)
    assert st["maxconns"] == "100"
    assert st["tcpport"] == str(s.port)
    assert st["udpport"] == "0"
    assert st["num_threads"] == "2"
    assert st["item_size_max"] == str(2 * 1024 * 1024)
    assert st["evictions"] == "on"
    assert st["cas_enabled"] == "yes"
    assert st["idle_timeout"] == "0"
    assert st["flush_enabled"] == "yes"
    assert st["shutdown_command"] == "no"


def test_stats_settings_reflect_flags(start_server):
    s = start_server("-M", "-C", "-F", "-A", "-o", "idle_timeout=30")
    st = s.stats("settings")
    assert st["evictions"] == "off"
    assert st["cas_enabled"] == "no"
    assert st["flush_enabled"] == "no"
    assert st["shutdown_command"] == "yes"
    assert st["idle_timeout"] == "30"


def test_stats_items(client):
    client.cmd(b"set si:a 0 0 3\r\nabc\r\n", b"STORED\r\n")
    st = client.stats("items")
    assert st, "stats items empty with an item stored"
    for k in st:
        assert re.fullmatch(r"items:\d+:\w+", k), k
    assert sum(int(v) for k, v in st.items() if k.endswith(":number")) >= 1


def test_stats_slabs(client):
    st = client.stats("slabs")
    assert "active_slabs" in st and "total_malloced" in st


def test_stats_sizes(client):
    st = client.stats("sizes")
    for k in st:
        assert re.fullmatch(r"[\w:]+", k)


def test_stats_conns_lists_this_client(client):
    port = client.sock.getsockname()[1]
    st = client.stats("conns")
    addrs = [v for k, v in st.items() if k.endswith(":addr")]
    assert "tcp:127.0.0.1:%d" % port in addrs, addrs


def test_stats_reset(start_server):
    s = start_server()
    with s.client() as c:
        c.set("sr:a", b"1")
        assert c.get("sr:a") == b"1"
        assert c.get("sr:none") is None
        _settled_stats(c, "curr_connections", "1")
        c.cmd(b"stats reset\r\n", b"RESET\r\n")
        st = c.stats()
        for k in ("get_hits", "get_misses", "cmd_get", "cmd_set",
                  "total_items", "total_connections", "evictions"):
            assert st[k] == "0", (k, st[k])
        assert st["curr_items"] == "1"
        assert st["curr_connections"] == "1"


def test_stats_unknown_subcommand(client):
    client.cmd(b"stats nonsense\r\n", b"ERROR\r\n")


def test_stats_groups_with_nothing_to_show(start_server):
    """1.6.45's replies where it has nothing to show (pymemcache raises on
    ERROR): cachedump of an empty class, detail's usage line, extstore
    without a flash tier. A server of its own: the shared one has items."""
    with start_server().client() as client:
        client.cmd(b"stats cachedump 1 1\r\n", b"END\r\n")
        client.cmd(b"stats cachedump 1\r\n", b"CLIENT_ERROR bad command line\r\n")
        client.cmd(b"stats detail\r\n", b"CLIENT_ERROR usage: stats detail on|off|dump\r\n")
        client.cmd(b"stats extstore\r\n", b"END\r\n")


# flush_all


def test_flush_all(start_server):
    s = start_server()
    with s.client() as c:
        c.set("fl:a", b"1")
        c.set("fl:b", b"2")
        c.cmd(b"flush_all\r\n", b"OK\r\n")
        c.cmd(b"get fl:a fl:b\r\n", b"END\r\n")
        c.set("fl:a", b"3")
        c.cmd(b"get fl:a\r\n", b"VALUE fl:a 0 1\r\n3\r\nEND\r\n")
        c.cmd(b"flush_all 0\r\nget fl:a\r\n", b"OK\r\nEND\r\n")
        c.set("fl:a", b"4")
        c.cmd(b"flush_all noreply\r\nget fl:a\r\n", b"END\r\n")
        assert int(c.stats()["cmd_flush"]) == 3


def test_flush_all_delay(start_server):
    s = start_server()
    with s.client() as c:
        c.set("fl:d", b"1")
        c.cmd(b"flush_all 2\r\n", b"OK\r\n")
        assert c.get("fl:d") == b"1"
        deadline = time.monotonic() + 5
        while c.get("fl:d") is not None:
            assert time.monotonic() < deadline, "flush_all 2 did not flush in 5 s"
            time.sleep(0.2)


def test_flush_all_bad_args(client):
    client.cmd(b"flush_all abc\r\n", b"CLIENT_ERROR invalid exptime argument\r\n")
    client.cmd(b"flush_all 99999999999999999999\r\n",
               b"CLIENT_ERROR invalid exptime argument\r\n")
    client.cmd(b"flush_all noreply extra\r\n",
               b"CLIENT_ERROR invalid exptime argument\r\n")


def test_flush_all_disabled_with_F(start_server):
    s = start_server("-F")
    with s.client() as c:
        c.set("fl:f", b"1")
        c.cmd(b"flush_all\r\n", b"CLIENT_ERROR flush_all not allowed\r\n")
        assert c.get("fl:f") == b"1"


def test_cas_disabled_with_C(start_server):
    s = start_server("-C")
    with s.client() as c:
        c.set("cc:a", b"1")
        c.cmd(b"gets cc:a\r\n", b"VALUE cc:a 0 1 0\r\n1\r\nEND\r\n")


def _conn_states(c):
    st = c.stats("conns")
    return {k.split(":")[0]: v for k, v in st.items() if k.endswith(":state")}


def _fd_of(c, sock):
    port = sock.getsockname()[1]
    st = c.stats("conns")
    for k, v in st.items():
        if k.endswith(":addr") and v == "tcp:127.0.0.1:%d" % port:
            return k.split(":")[0]
    raise AssertionError("connection not listed: %r" % st)


def test_stats_conns_states(start_server):
    """stats conns shows each connection's real state, in memcached's names:
    idle, holding half a request, discarding a refused value, and the one
    asking."""
    s = start_server("-I", "1m")
    with s.client() as me, s.client() as idle, s.client() as half, \
            s.client() as swallow:
        idle.cmd(b"version\r\n", b"VERSION ")
        half.send(b"set k 0 0 10\r\nabc")
        swallow.send(b"set big 0 0 2000000\r\n" + b"x" * 1000)   # answered once read
        ids = {name: _fd_of(me, c.sock) for name, c in
               (("me", me), ("idle", idle), ("half", half), ("swallow", swallow))}
        deadline = time.time() + 5
        while True:
            states = _conn_states(me)
            got = {name: states.get(fd) for name, fd in ids.items()}
            want = {"me": "conn_parse_cmd", "idle": "conn_waiting",
                    "half": "conn_read", "swallow": "conn_swallow"}
            if got == want or time.time() > deadline:
                break
            time.sleep(0.05)
        assert got == want
