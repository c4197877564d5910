"""Scale-out: three servers behind twemproxy (nutcracker, ketama) and behind
consistent-hashing clients (pymemcache HashClient, libmemcached ketama via
pylibmc). Keys spread over all three; dropping one server remaps only the
keys it held (about a third); every memcached command twemproxy forwards
works through it. The same tests pass against memcached (reference mode):
hardcached must be a drop-in fleet member.
"""
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

import hcutil

NUTCRACKER = shutil.which("nutcracker") or "/usr/sbin/nutcracker"
NKEYS = 3000
# One server of three holds, and on removal remaps, this share of the keys.
SHARE_MIN, SHARE_MAX = 0.20, 0.45
# Client-side rings hash "host:port", and the test ports are random, so the
# split differs from run to run (about 1 run in 25 leaves 20-45% with
# libmemcached's ketama): the bound is wider there. The exact property —
# only the removed server's keys move — is asserted separately.
CLIENT_SHARE_MIN, CLIENT_SHARE_MAX = 0.12, 0.55
PROXY_START_TIMEOUT = 10.0

pytestmark = pytest.mark.skipif(not os.access(NUTCRACKER, os.X_OK),
                                reason="nutcracker not installed (scripts/deps.sh test)")


def keys():
    return ["fleet:%05d" % i for i in range(NKEYS)]


class Proxy:
    """nutcracker on a free loopback port, config generated in tmp_path."""

    def __init__(self, tmp_path, servers, name="hc"):
        self.port = hcutil.free_port()
        self.stats_port = hcutil.free_port()
        self.dir = tmp_path / ("proxy-%d" % self.port)
        self.dir.mkdir()
        conf = self.dir / "nutcracker.yml"
        lines = ["%s:" % name,
                 "  listen: 127.0.0.1:%d" % self.port,
                 # md5 + ketama: the pairing libmemcached's ketama uses
                 "  hash: md5",
                 "  distribution: ketama",
                 "  timeout: 2000",
                 "  auto_eject_hosts: false",
                 "  servers:"]
        # the name after the weight fixes each server's place on the ring,
        # so a server keeps its keys when the others change address or go
        lines += ["   - 127.0.0.1:%d:1 %s" % (port, sname) for sname, port in servers]
        conf.write_text("\n".join(lines) + "\n")
        self.conf = conf
        check = subprocess.run([NUTCRACKER, "-t", "-c", str(conf)],
                               capture_output=True, timeout=10)
        assert check.returncode == 0, check.stderr
        self.proc = subprocess.Popen(
            [NUTCRACKER, "-c", str(conf), "-s", str(self.stats_port),
             "-a", "127.0.0.1", "-p", str(self.dir / "pid"),
             "-o", str(self.dir / "log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + PROXY_START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                assert self.proc.poll() is None, self.log()
                time.sleep(0.05)
        raise RuntimeError("nutcracker did not start: " + self.log())

    def log(self):
        try:
            return (self.dir / "log").read_text()
        except OSError:
            return ""

    def client(self):
        return hcutil.Raw("127.0.0.1", self.port, hcutil.DEFAULT_TIMEOUT)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def fleet(start_server):
    return [start_server() for _ in range(3)]


@pytest.fixture
def proxies(tmp_path):
    started = []

    def start(servers):
        p = Proxy(tmp_path, servers)
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()


def named(fleet):
    return [("s%d" % i, s.port) for i, s in enumerate(fleet)]


def holders(fleet, ks):
    """For each key, the index of the one server that holds it."""
    where = {}
    for i, s in enumerate(fleet):
        c = s.client()
        for j in range(0, len(ks), 100):
            for k in multiget(c, ks[j:j + 100]):
                assert k not in where, "key %s on servers %d and %d" % (k, where[k], i)
                where[k] = i
        c.close()
    missing = [k for k in ks if k not in where]
    assert not missing, "%d keys on no server, e.g. %s" % (len(missing), missing[0])
    return where


def assert_spread(where, n, lo=SHARE_MIN, hi=SHARE_MAX):
    for i in range(n):
        share = sum(1 for v in where.values() if v == i) / len(where)
        assert lo <= share <= hi, \
            "server %d holds %.1f%% of the keys" % (i, share * 100)


def pipelined_sets(c, ks):
    """Set every key through one connection, pipelined in batches."""
    batch = 200
    for i in range(0, len(ks), batch):
        part = ks[i:i + batch]
        c.send(b"".join(b"set %s 0 0 %d\r\n%s\r\n" % (k.encode(), len(k), k.encode())
                        for k in part))
        for _ in part:
            c.expect(b"STORED\r\n")


def multiget(c, ks):
    c.send(b"get " + b" ".join(k.encode() for k in ks) + b"\r\n")
    got = {}
    while True:
        line = c.readline()
        if line == b"END\r\n":
            return got
        parts = line.split()
        assert parts[0] == b"VALUE", line
        data = c.read_exact(int(parts[3]) + 2)[:-2]
        got[parts[1].decode()] = data


# ---- twemproxy ----

def test_proxy_spreads_and_remaps_a_third(fleet, proxies):
    ks = keys()
    p = proxies(named(fleet))
    c = p.client()
    pipelined_sets(c, ks)
    c.close()
    where = holders(fleet, ks)
    assert_spread(where, 3)

    # drop s2 from the ring: only its keys move
    p.stop()
    p2 = proxies(named(fleet)[:2])
    c = p2.client()
    hits = set()
    for i in range(0, len(ks), 100):
        hits |= set(multiget(c, ks[i:i + 100]))
    c.close()
    moved = [k for k in ks if k not in hits]
    assert SHARE_MIN <= len(moved) / len(ks) <= SHARE_MAX, \
        "%.1f%% of keys remapped" % (100 * len(moved) / len(ks))
    # exactly the keys that lived on the removed server moved
    assert set(moved) == {k for k, v in where.items() if v == 2}


def test_every_proxied_command(fleet, proxies):
    """The memcached commands twemproxy forwards, each checked for its
    reply bytes through the proxy."""
    p = proxies(named(fleet))
    c = p.client()

    def rt(req, want):
        c.send(req)
        c.expect(want)

    rt(b"set a 5 0 3\r\nabc\r\n", b"STORED\r\n")
    rt(b"get a\r\n", b"VALUE a 5 3\r\nabc\r\nEND\r\n")
    rt(b"add a 0 0 1\r\nx\r\n", b"NOT_STORED\r\n")
    rt(b"add b 0 0 1\r\nx\r\n", b"STORED\r\n")
    rt(b"replace b 7 0 2\r\nyy\r\n", b"STORED\r\n")
    rt(b"replace nob 0 0 1\r\nz\r\n", b"NOT_STORED\r\n")
    rt(b"append a 0 0 2\r\nde\r\n", b"STORED\r\n")
    rt(b"prepend a 0 0 2\r\n__\r\n", b"STORED\r\n")
    rt(b"get a b\r\n", b"VALUE a 5 7\r\n__abcde\r\nVALUE b 7 2\r\nyy\r\nEND\r\n")
    c.send(b"gets a\r\n")
    line = c.readline()
    assert line.startswith(b"VALUE a 5 7 ")
    cas = int(line.split()[4])
    c.expect(b"__abcde\r\nEND\r\n")
    rt(b"cas a 0 0 1 %d\r\nX\r\n" % (cas + 1000), b"EXISTS\r\n")
    rt(b"cas a 0 0 1 %d\r\nX\r\n" % cas, b"STORED\r\n")
    rt(b"cas nocas 0 0 1 1\r\nX\r\n", b"NOT_FOUND\r\n")
    rt(b"set n 0 0 2\r\n10\r\n", b"STORED\r\n")
    rt(b"incr n 5\r\n", b"15\r\n")
    rt(b"decr n 20\r\n", b"0\r\n")
    rt(b"incr non 1\r\n", b"NOT_FOUND\r\n")
    rt(b"touch a 100\r\n", b"TOUCHED\r\n")
    rt(b"touch non 100\r\n", b"NOT_FOUND\r\n")
    rt(b"delete a\r\n", b"DELETED\r\n")
    rt(b"delete a\r\n", b"NOT_FOUND\r\n")
    # noreply: nothing comes back, the next reply is the next command's
    c.send(b"set q 0 0 1 noreply\r\nq\r\ndelete b noreply\r\nget q b\r\n")
    c.expect(b"VALUE q 0 1\r\nq\r\nEND\r\n")
    # expiry is passed through unchanged
    rt(b"set e 0 1 1\r\ne\r\n", b"STORED\r\n")
    time.sleep(2.1)
    rt(b"get e\r\n", b"END\r\n")
    # a large value (500 KB) crosses the proxy's buffers intact
    big = os.urandom(250 * 1024).hex().encode()
    rt(b"set big 0 0 %d\r\n%s\r\n" % (len(big), big), b"STORED\r\n")
    assert c.get("big") == big
    # a multiget over many servers comes back whole and in order
    ks = ["m%03d" % i for i in range(300)]
    for k in ks:
        c.set(k, k.encode())
    c.send(b"get " + b" ".join(k.encode() for k in ks) + b"\r\n")
    for k in ks:
        c.expect(b"VALUE %s 0 %d\r\n%s\r\n" % (k.encode(), len(k), k.encode()))
    c.expect(b"END\r\n")
    c.close()
    # every server took part
    for s in fleet:
        sc = s.client()
        assert int(sc.stats()["curr_items"]) > 0
        sc.close()


def test_proxy_version_and_quit(fleet, proxies):
    p = proxies(named(fleet))
    c = p.client()
    c.send(b"version\r\n")
    assert c.readline().startswith(b"VERSION ")
    c.send(b"quit\r\n")
    assert c.sock.recv(10) == b""   # the proxy closes the client
    c.close()


def test_proxy_survives_a_lost_server(fleet, proxies):
    """A server that dies makes its keys fail (twemproxy answers
    SERVER_ERROR) while the others keep serving."""
    p = proxies(named(fleet))
    c = p.client()
    pipelined_sets(c, keys()[:600])
    where = holders(fleet, keys()[:600])
    fleet[1].stop()
    ok = [k for k, v in where.items() if v != 1][:50]
    for k in ok:
        assert c.get(k) == k.encode()
    lost = [k for k, v in where.items() if v == 1][0]
    c.send(b"get %s\r\n" % lost.encode())
    assert c.readline().startswith(b"SERVER_ERROR")
    c.close()


# ---- consistent hashing in the client ----

def test_pymemcache_hashclient(fleet):
    from pymemcache.client.hash import HashClient

    servers = [("127.0.0.1", s.port) for s in fleet]
    hc = HashClient(servers, connect_timeout=5, timeout=5)
    ks = keys()
    # noreply=False: pymemcache defaults to noreply, and holders() below
    # would then race the servers still working through the sets
    assert hc.set_many({k: k.encode() for k in ks}, noreply=False) == []
    where = holders(fleet, ks)
    assert_spread(where, 3, CLIENT_SHARE_MIN, CLIENT_SHARE_MAX)
    got = hc.get_many(ks)
    assert all(got[k] == k.encode() for k in ks)
    assert hc.incr("nope", 1) is None
    hc.set("n", b"1")
    assert hc.incr("n", 41) == 42
    assert hc.delete("n") is True
    hc.close()

    hc2 = HashClient(servers[:2], connect_timeout=5, timeout=5)
    got = hc2.get_many(ks)
    moved = [k for k in ks if k not in got]
    assert CLIENT_SHARE_MIN <= len(moved) / len(ks) <= CLIENT_SHARE_MAX
    assert set(moved) == {k for k, v in where.items() if v == 2}
    hc2.close()


def test_pylibmc_ketama(fleet):
    pylibmc = pytest.importorskip("pylibmc")
    servers = ["127.0.0.1:%d" % s.port for s in fleet]
    behaviors = {"ketama_weighted": True, "tcp_nodelay": True}
    mc = pylibmc.Client(servers, behaviors=behaviors)
    ks = keys()
    mc.set_multi({k: k.encode() for k in ks})
    where = holders(fleet, ks)
    assert_spread(where, 3, CLIENT_SHARE_MIN, CLIENT_SHARE_MAX)
    assert mc.get_multi(ks) == {k: k.encode() for k in ks}
    mc.disconnect_all()

    mc2 = pylibmc.Client(servers[:2], behaviors=behaviors)
    got = mc2.get_multi(ks)
    moved = [k for k in ks if k not in got]
    assert CLIENT_SHARE_MIN <= len(moved) / len(ks) <= CLIENT_SHARE_MAX
    assert set(moved) == {k for k, v in where.items() if v == 2}
    mc2.disconnect_all()
