"""Real clients: pymemcache, pylibmc (ascii), libmemcached's memccapable -a,
and 10,000 concurrent connections."""
import re
import resource
import selectors
import socket
import subprocess
import time

import pytest

import hcutil

pymemcache = pytest.importorskip("pymemcache.client.base")
pylibmc = pytest.importorskip("pylibmc")


@pytest.fixture
def pm(server):
    c = pymemcache.Client(("127.0.0.1", server.port), connect_timeout=5,
                          timeout=5)
    yield c
    c.close()


def test_pymemcache_set_get(pm):
    assert pm.set("pm:a", b"hello") is True
    assert pm.get("pm:a") == b"hello"
    assert pm.get("pm:none") is None


def test_pymemcache_many(pm):
    data = {"pm:m%d" % i: b"v%d" % i for i in range(100)}
    assert pm.set_many(data) == []
    got = pm.get_many(list(data) + ["pm:none"])
    assert got == data


def test_pymemcache_add_replace_append_prepend(pm):
    pm.delete("pm:x")
    assert pm.add("pm:x", b"1", noreply=False) is True
    assert pm.add("pm:x", b"2", noreply=False) is False
    assert pm.replace("pm:x", b"3", noreply=False) is True
    assert pm.replace("pm:nx", b"3", noreply=False) is False
    assert pm.append("pm:x", b"4", noreply=False) is True
    assert pm.prepend("pm:x", b"2", noreply=False) is True
    assert pm.get("pm:x") == b"234"


def test_pymemcache_cas_gets(pm):
    pm.set("pm:c", b"1")
    value, cas = pm.gets("pm:c")
    assert value == b"1" and cas
    assert pm.cas("pm:c", b"2", cas) is True
    assert pm.cas("pm:c", b"3", cas) is False
    assert pm.cas("pm:cnone", b"3", cas) is None
    assert pm.get("pm:c") == b"2"


def test_pymemcache_incr_decr(pm):
    pm.set("pm:n", b"10")
    assert pm.incr("pm:n", 5) == 15
    assert pm.decr("pm:n", 20) == 0
    assert pm.incr("pm:nnone", 1) is None


def test_pymemcache_touch_delete(pm):
    pm.set("pm:t", b"x")
    assert pm.touch("pm:t", 100, noreply=False) is True
    assert pm.touch("pm:tnone", 100, noreply=False) is False
    assert pm.delete("pm:t", noreply=False) is True
    assert pm.delete("pm:t", noreply=False) is False


def test_pymemcache_stats_version(pm):
    st = pm.stats()
    assert b"curr_items" in st or "curr_items" in st
    assert pm.version()


def test_pymemcache_flush_all(start_server):
    s = start_server()
    c = pymemcache.Client(("127.0.0.1", s.port), timeout=5)
    try:
        c.set("f", b"1")
        assert c.flush_all(noreply=False) is True
        assert c.get("f") is None
    finally:
        c.close()


def test_pymemcache_large_value(pm):
    v = b"L" * (1024 * 1024 - 1024)
    assert pm.set("pm:big", v) is True
    assert pm.get("pm:big") == v


@pytest.fixture
def lm(server):
    c = pylibmc.Client(["127.0.0.1:%d" % server.port], binary=False)
    yield c
    c.disconnect_all()


def test_pylibmc_basic(lm):
    assert lm.set("lm:a", "hello")
    assert lm.get("lm:a") == "hello"
    assert lm.get("lm:none") is None
    assert lm.add("lm:a", "x") is False
    assert lm.replace("lm:a", "y")
    assert lm.append("lm:a", "z")
    assert lm.prepend("lm:a", "w")
    assert lm.get("lm:a") == "wyz"
    assert lm.delete("lm:a")
    assert lm.get("lm:a") is None


def test_pylibmc_multi_and_objects(lm):
    data = {"lm:k%d" % i: {"i": i, "s": "x" * i} for i in range(50)}
    assert lm.set_multi(data) == []
    assert lm.get_multi(list(data)) == data


def test_pylibmc_incr_decr_touch(lm):
    lm.set("lm:n", 10)
    assert lm.incr("lm:n", 5) == 15
    assert lm.decr("lm:n", 100) == 0
    assert lm.touch("lm:n", 100)


def test_pylibmc_cas(start_server):
    s = start_server()
    c = pylibmc.Client(["127.0.0.1:%d" % s.port], binary=False,
                       behaviors={"cas": True})
    try:
        c.set("c", "1")
        v, cas = c.gets("c")
        assert v == "1"
        assert c.cas("c", "2", cas)
        assert not c.cas("c", "3", cas)
        assert c.get("c") == "2"
    finally:
        c.disconnect_all()


def test_pylibmc_stats(lm):
    stats = lm.get_stats()
    assert stats and "curr_items" in stats[0][1]


# libmemcached's own conformance checker


def test_memccapable_ascii(start_server):
    """memccapable's 27 ascii tests: all pass but the two delete tests,
    which expect 1.6.18's refusal of a hold time ("delete k 10");
    memcached 1.6.45 ignores it and fails those two alike (issue 17)."""
    s = start_server()
    r = subprocess.run(["memccapable", "-h", "127.0.0.1", "-p", str(s.port),
                        "-a", "-t", "5"], capture_output=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    out = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
    assert "2 of 27 tests failed" in out and out.count("[pass]") == 25, out
    assert not re.search(r"ascii delete( noreply)? +\[pass\]", out), out


def test_memcslap_short_run(start_server):
    s = start_server()
    r = subprocess.run(["memcslap", "--servers=127.0.0.1:%d" % s.port,
                        "--concurrency=8", "--execute-number=2000"],
                       capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    with s.client() as c:
        st = c.stats()
    assert int(st["cmd_set"]) > 0


# 10,000 concurrent connections

N_CONNS = 10000


@pytest.fixture
def nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 2 * N_CONNS + 500) if hard != resource.RLIM_INFINITY \
        else 2 * N_CONNS + 500
    if want < N_CONNS + 200:
        pytest.skip("RLIMIT_NOFILE hard limit %d too low" % hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_10000_concurrent_connections(nofile, start_server):
    s = start_server("-c", "10240")
    t0 = time.monotonic()
    socks = []
    sel = selectors.DefaultSelector()
    try:
        for i in range(N_CONNS):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            c.setblocking(False)
            socks.append(c)
            if i % 500 == 0:
                assert time.monotonic() - t0 < 30
        t_conn = time.monotonic() - t0
        for c in socks:
            c.send(b"version\r\n")
            sel.register(c, selectors.EVENT_READ)
        bufs = {}
        pending = len(socks)
        deadline = time.monotonic() + 30
        while pending and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1):
                c = key.fileobj
                data = c.recv(4096)
                assert data, "a connection was closed by the server"
                b = bufs.get(c.fileno(), b"") + data
                bufs[c.fileno()] = b
                if b.endswith(b"\r\n"):
                    assert b.startswith(b"VERSION "), b
                    sel.unregister(c)
                    pending -= 1
        assert pending == 0, "%d connections never answered" % pending
        with s.client() as c:
            st = c.stats()
        print("10000 connections: connected in %.1f s, all answered in %.1f s, "
              "curr_connections %s, rejected %s" % (t_conn, time.monotonic() - t0,
                                                    st["curr_connections"],
                                                    st["rejected_connections"]))
        assert int(st["curr_connections"]) >= N_CONNS
        assert st["rejected_connections"] == "0"
        assert time.monotonic() - t0 < 30
    finally:
        sel.close()
        for c in socks:
            c.close()
