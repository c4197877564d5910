"""Key dumps (issue 18): `lru_crawler metadump|mgdump` and `stats
cachedump` in memcached 1.6.45's formats, compared with memcached for the
same items; their safety (-X, login, never over UDP, counted); and a dump
of 1,000,000 keys that leaves another client's latency and the server's
memory bounded. memcached-tool `dump` and `keys` read hardcached.

memcached lists items in its LRU order, hardcached in its segments' order:
lines are compared sorted. Times (exp, la) are Unix times from each
server's own start and the CAS values each server's own: masked.
"""
import os
import re
import socket
import subprocess
import threading
import time

import pytest

import hcutil
import toolbox
import udputil

from toolbox import MC_REF
MEMCACHED_TOOL = "/usr/share/memcached/scripts/memcached-tool"
need_ref = pytest.mark.skipif(
    hcutil.is_reference() or MC_REF is None,
    reason=hcutil.REF_MISSING)
pytestmark = pytest.mark.hardcached_only

ITEMS = [(b"plain", 0, 0, b"hello"), (b"with%20pct", 3, 1000, b"x" * 300),
         (b"k~._-", 7, 0, b"y" * 2000), (b"big", 0, 5000, b"z" * 40000)]


def fill(server):
    with server.client() as c:
        for key, flags, exp, val in ITEMS:
            c.cmd(b"set %s %d %d %d\r\n%s\r\n" % (key, flags, exp, len(val), val),
                  b"STORED\r\n")
        c.send(b"get plain\r\n")
        c.read_until(b"END\r\n")


def request(server, line, end):
    with server.client() as c:
        c.send(line)
        return c.read_until(end)


def masked(out):
    out = re.sub(rb"(exp|la)=(\d+)", lambda m: m.group(1) + b"=T"
                 if m.group(2) != b"-1" else m.group(0), out)
    out = re.sub(rb"cas=\d+", b"cas=C", out)
    out = re.sub(rb"; \d{6,} s\]", b"; T s]", out)
    lines = out.split(b"\n")
    return lines[0], sorted(lines[1:-2]), lines[-2:]


@pytest.fixture(scope="module")
def pair():
    with toolbox.ref_pair(fill=fill) as p:
        yield p


@need_ref
@pytest.mark.parametrize("line,end", [
    (b"lru_crawler metadump all\r\n", b"END\r\n"),
    (b"lru_crawler metadump hash\r\n", b"END\r\n"),
    (b"lru_crawler metadump 1,13\r\n", b"END\r\n"),
    (b"lru_crawler metadump 3\r\n", b"END\r\n"),
    (b"lru_crawler mgdump all\r\n", b"EN\r\n"),
    (b"lru_crawler mgdump 7,1\r\n", b"EN\r\n"),
    (b"lru_crawler metadump 64\r\n", b"\r\n"),
    (b"lru_crawler metadump x\r\n", b"\r\n"),
    (b"stats cachedump 1 0\r\n", b"END\r\n"),
    (b"stats cachedump 13 0\r\n", b"END\r\n"),
    (b"stats cachedump 64 0\r\n", b"\r\n"),
    (b"stats cachedump 1\r\n", b"\r\n"),
    (b"stats cachedump a b\r\n", b"\r\n"),
])
def test_dumps_as_memcached(pair, line, end):
    hc, mc = pair
    if line.startswith(b"stats cachedump"):
        # memcached dumps only its cold LRU: let its maintainer move them
        deadline = time.time() + 10
        while time.time() < deadline and b"ITEM" not in request(
                mc, b"stats cachedump 1 0\r\n", b"END\r\n"):
            time.sleep(0.2)
    assert masked(request(hc, line, end)) == masked(request(mc, line, end))


def test_dump_then_pipelined_commands(pair):
    hc, _ = pair
    with hc.client() as c:
        c.send(b"lru_crawler metadump all\r\nversion\r\n")
        out = c.read_until(b"END\r\n")
        assert out.startswith(b"OK\r\nkey=")
        assert out.count(b"\nkey=") + out.startswith(b"OK\r\nkey=") >= len(ITEMS)
        assert c.readline().startswith(b"VERSION ")


def test_disabled_with_X_as_memcached():
    servers = [hcutil.Server(["-X"])]
    if MC_REF and not hcutil.is_reference():
        servers.append(hcutil.Server(["-X"], binary=MC_REF))
    try:
        for s in servers:
            with s.client() as c:
                assert c.call(b"lru_crawler metadump all\r\n") == b"ERROR metadump not allowed\r\n"
                assert c.call(b"lru_crawler mgdump all\r\n") == b"ERROR key dump not allowed\r\n"
                assert c.call(b"stats cachedump 1 0\r\n") == \
                    b"CLIENT_ERROR stats cachedump not allowed\r\n"
    finally:
        for s in servers:
            s.stop()


def test_counted_in_stats():
    s = hcutil.Server()
    try:
        fill(s)
        request(s, b"lru_crawler metadump all\r\n", b"END\r\n")
        request(s, b"lru_crawler mgdump all\r\n", b"EN\r\n")
        request(s, b"stats cachedump 1 1\r\n", b"END\r\n")
        st = s.stats()
        assert st["dump_requests"] == "3"
        assert st["dump_keys"] == str(2 * len(ITEMS) + 1)
    finally:
        s.stop()


def test_only_after_login(tmp_path):
    with toolbox.login_server(tmp_path) as s, s.client() as c:
        for line in (b"lru_crawler metadump all\r\n", b"lru_crawler mgdump all\r\n",
                     b"stats cachedump 1 0\r\n"):
            assert c.call(line) == b"CLIENT_ERROR unauthenticated\r\n"
        c.cmd(toolbox.LOGIN, b"STORED\r\n")
        c.cmd(b"set k 0 0 1\r\nv\r\n", b"STORED\r\n")
        assert c.call(b"lru_crawler mgdump all\r\n") == b"OK\r\n"
        assert c.read_until(b"EN\r\n") == b"mg k\r\nEN\r\n"


def test_never_over_udp():
    port = udputil.free_udp_port()
    s = hcutil.Server(["-U", str(port)], udp_flag=False)
    try:
        fill(s)
        # from a validated source (it has a TCP connection), padded so the
        # refusal fits (it is never larger than the request)
        with s.client() as c, udputil.UdpClient(port) as u:
            c.call(b"version\r\n")
            for line in (b"lru_crawler metadump all", b"lru_crawler mgdump all",
                         b"stats cachedump 1 0"):
                got = u.request(line + b" " * 20 + b"\r\n")
                assert got == b"CLIENT_ERROR not allowed over UDP\r\n"
        st = s.stats()
        assert st["dump_requests"] == "0" and st["udp_admin_refused"] == "3"
    finally:
        s.stop()


@pytest.mark.skipif(not os.path.exists(MEMCACHED_TOOL), reason="needs memcached-tool")
def test_memcached_tool_dump_and_keys(pair):
    hc, _ = pair
    tool = ["perl", MEMCACHED_TOOL, "127.0.0.1:%d" % hc.port]
    keys = subprocess.run(tool + ["keys"], capture_output=True, timeout=30, check=True)
    assert sorted(re.findall(rb"key=(\S+)", keys.stdout)) == \
        sorted(re.sub(rb"[^A-Za-z0-9._~-]", lambda m: b"%%%02X" % m.group(0)[0], k)
               for k, _, _, _ in ITEMS)
    dump = subprocess.run(tool + ["dump"], capture_output=True, timeout=30, check=True)
    for key, flags, exp, val in ITEMS:
        assert re.search(rb"add %s %d %s %d\r\n%s\r\n" % (
            re.escape(key), flags, rb"\d+" if exp else b"0", len(val), val), dump.stdout), key


N_KEYS = 1_000_000


def test_dump_of_a_million_keys_keeps_serving():
    """A dump read slowly: the server's memory stays near the data's, and a
    bystander's requests keep being answered (bounds only catch a dump
    that buffers everything or blocks the worker)."""
    s = hcutil.Server(["-m", "512", "-t", "1"])   # one worker: the same one serves both
    try:
        with s.client(timeout=120) as c:
            batch = 10000
            for start in range(0, N_KEYS, batch):
                c.send(b"".join(b"set key:%07d 0 0 8 noreply\r\nvalue--8\r\n" % i
                                for i in range(start, start + batch)))
            c.cmd(b"version\r\n", b"VERSION ")
            c.readline()
        assert int(s.stats()["curr_items"]) == N_KEYS
        rss_before = hcutil.rss_kb(s.pid)
        worst = [0.0]
        stop = threading.Event()

        def bystander():
            with s.client(timeout=30) as b:
                while not stop.is_set():
                    t = time.monotonic()
                    b.cmd(b"get key:0000001\r\n",
                          b"VALUE key:0000001 0 8\r\nvalue--8\r\nEND\r\n")
                    worst[0] = max(worst[0], time.monotonic() - t)
                    time.sleep(0.01)

        th = threading.Thread(target=bystander)
        th.start()
        # a dump whose client never reads: it stops at the output buffer
        idle = socket.create_connection(("127.0.0.1", s.port))
        idle.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        idle.sendall(b"lru_crawler metadump all\r\n")
        time.sleep(1.0)
        rss_peak = hcutil.rss_kb(s.pid)
        sock = socket.create_connection(("127.0.0.1", s.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.sendall(b"lru_crawler metadump all\r\n")
        got, tail, n = 0, b"", 0
        deadline = time.monotonic() + 300
        while not tail.endswith(b"END\r\n"):
            assert time.monotonic() < deadline, "dump did not finish"
            chunk = sock.recv(256 * 1024)
            assert chunk, "closed mid-dump"
            got += len(chunk)
            n += chunk.count(b"\n")   # one line a key, and OK and END
            tail = (tail + chunk)[-16:]
            if n % 50 == 0:
                time.sleep(0.001)   # a slow reader
                rss_peak = max(rss_peak, hcutil.rss_kb(s.pid))
        sock.close()
        idle.close()
        stop.set()
        th.join()
        assert n == N_KEYS + 2
        grown_mb = (rss_peak - rss_before) / 1024
        assert grown_mb < 64 + hcutil.rss_slack_mb(), "server grew %.0f MB during a %d MB dump" % (
            grown_mb, got >> 20)
        assert worst[0] < 5.0, "bystander waited %.1f s" % worst[0]
        print("dump: %d MB, server grew %.1f MB, bystander worst %.3f s"
              % (got >> 20, grown_mb, worst[0]))
    finally:
        s.stop()
