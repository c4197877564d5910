"""Binary protocol: every opcode, memcached's status codes, quiet forms,
CAS, and the historical binary bug classes of memcached as regression
tests (checked against memcached 1.6.18 unless marked hardcached_only)."""
import socket
import struct
import subprocess
import time

import pytest

import binproto as bp
from binproto import call, pack, read, store_extras, arith_extras


@pytest.fixture
def b(server):
    c = server.client()
    yield c
    c.close()


def test_set_get_getk(b):
    r = call(b, "set", "bk1", store_extras(0xdeadbeef), b"hello", opaque=7)
    assert (r.op, r.status, r.opaque) == (0x01, bp.OK, 7) and r.cas != 0
    r = call(b, "get", "bk1")
    assert r.status == bp.OK and r.value == b"hello" and r.key == b""
    assert r.extras == struct.pack(">I", 0xdeadbeef)
    r = call(b, "getk", "bk1")
    assert r.key == b"bk1" and r.value == b"hello"


def test_get_miss_messages(b):
    r = call(b, "get", "bmiss")
    assert (r.status, r.value) == (bp.ENOENT, b"Not found")
    r = call(b, "getk", "bmiss")
    assert (r.status, r.key, r.value) == (bp.ENOENT, b"bmiss", b"")


def test_quiet_gets_and_noop(b):
    call(b, "set", "bq1", store_extras(), b"v1")
    b.send(pack("getq", "bq-miss") + pack("getkq", "bq1") + pack("getq", "bq1")
           + pack("noop"))
    r1, r2, r3 = read(b), read(b), read(b)
    assert (r1.op, r1.key, r1.value) == (0x0d, b"bq1", b"v1")
    assert (r2.op, r2.key, r2.value) == (0x09, b"", b"v1")
    assert r3.op == 0x0a


def test_add_replace_cas(b):
    call(b, "delete", "bc")
    assert call(b, "replace", "bc", store_extras(), b"x").status == bp.ENOENT
    r = call(b, "add", "bc", store_extras(), b"x")
    assert r.status == bp.OK
    assert call(b, "add", "bc", store_extras(), b"y").status == bp.EEXISTS
    assert call(b, "set", "bc", store_extras(), b"z", cas=r.cas + 999).status == bp.EEXISTS
    r2 = call(b, "set", "bc", store_extras(), b"z", cas=r.cas)
    assert r2.status == bp.OK and r2.cas != r.cas
    assert call(b, "set", "bc-none", store_extras(), b"z", cas=5).status == bp.ENOENT
    assert call(b, "delete", "bc", cas=r.cas).status == bp.EEXISTS
    assert call(b, "delete", "bc", cas=r2.cas).status == bp.OK
    assert call(b, "delete", "bc").status == bp.ENOENT


def test_quiet_stores_report_only_errors(b):
    b.send(pack("setq", "bs", store_extras(), b"1") + pack("addq", "bs", store_extras(), b"2")
           + pack("deleteq", "bs-none") + pack("appendq", "bs", value=b"0")
           + pack("incrq", "bs", extras=arith_extras(5)) + pack("noop"))
    rs = [read(b) for _ in range(3)]
    assert [(r.op, r.status) for r in rs] == [(0x12, bp.EEXISTS), (0x14, bp.ENOENT), (0x0a, 0)]
    assert call(b, "get", "bs").value == b"15"


def test_append_prepend(b):
    assert call(b, "append", "bap-none", value=b"x").status == bp.NOT_STORED
    call(b, "set", "bap", store_extras(3), b"mid")
    assert call(b, "append", "bap", value=b">").status == bp.OK
    assert call(b, "prepend", "bap", value=b"<").status == bp.OK
    r = call(b, "get", "bap")
    assert r.value == b"<mid>" and r.extras == struct.pack(">I", 3)


def test_incr_decr(b):
    call(b, "delete", "bn")
    r = call(b, "incr", "bn", arith_extras(1, 10, 0xffffffff))
    assert r.status == bp.ENOENT
    r = call(b, "incr", "bn", arith_extras(1, 10))
    assert (r.status, r.value) == (bp.OK, struct.pack(">Q", 10))
    r = call(b, "incr", "bn", arith_extras(5, 10))
    assert r.value == struct.pack(">Q", 15)
    r = call(b, "decr", "bn", arith_extras(100))
    assert r.value == struct.pack(">Q", 0)
    r = call(b, "incr", "bn", arith_extras(2**64 - 1))
    assert r.value == struct.pack(">Q", 2**64 - 1)
    call(b, "set", "bnn", store_extras(), b"abc")
    r = call(b, "incr", "bnn", arith_extras(1))
    assert (r.status, r.value) == (bp.BADVAL, b"Non-numeric server-side value for incr or decr")


def test_touch_gat(b):
    call(b, "set", "bt", store_extras(9), b"tv")
    r = call(b, "touch", "bt", struct.pack(">I", 100))
    assert (r.status, r.extras, r.value) == (bp.OK, struct.pack(">I", 9), b"")
    r = call(b, "gat", "bt", struct.pack(">I", 100))
    assert (r.status, r.value) == (bp.OK, b"tv")
    r = call(b, "gatk", "bt", struct.pack(">I", 100))
    assert (r.key, r.value) == (b"bt", b"tv")
    assert call(b, "touch", "bt-none", struct.pack(">I", 1)).status == bp.ENOENT
    b.send(pack("gatq", "bt-none", struct.pack(">I", 1)) +
           pack("gatkq", "bt", struct.pack(">I", 1)) + pack("noop"))
    assert read(b).key == b"bt"
    assert read(b).op == 0x0a
    time.sleep(2.1)
    assert call(b, "get", "bt").status == bp.ENOENT


def test_version_stat_flush(b):
    r = call(b, "version")
    assert r.status == bp.OK and r.value[:1].isdigit()
    b.send(pack("stat"))
    names = {}
    while True:
        r = read(b)
        if not r.key:
            break
        names[r.key] = r.value
    assert b"pid" in names and b"curr_items" in names
    b.send(pack("stat", "settings"))
    seen = []
    while True:
        r = read(b)
        if not r.key:
            break
        seen.append(r.key)
    assert b"maxbytes" in seen
    assert call(b, "stat", "nonsense").status == bp.ENOENT
    call(b, "set", "bf", store_extras(), b"x")
    assert call(b, "flush").status == bp.OK
    assert call(b, "get", "bf").status == bp.ENOENT
    b.send(pack("flushq") + pack("noop"))
    assert read(b).op == 0x0a


def test_quit_and_quitq(server):
    with server.client() as c:
        r = call(c, "quit")
        assert (r.op, r.status) == (0x07, bp.OK)
        assert c.assert_closed() == b""
    with server.client() as c:
        c.send(pack("quitq"))
        assert c.assert_closed() == b""


@pytest.mark.hardcached_only
def test_unknown_opcode_skips_body(b):
    """memcached 1.6.18 answers an unknown opcode only when it has no body;
    with one it never replies. hardcached answers and skips the body."""
    r = call(b, 0x50, "k", value=b"x" * 100)
    assert (r.op, r.status, r.value) == (0x50, bp.UNKNOWN, b"Unknown command")
    assert call(b, "noop").status == bp.OK


def test_sasl_without_auth_is_unknown(b):
    assert call(b, "sasl_list").status == bp.UNKNOWN


def test_too_large_value_is_refused_and_skipped(server, b):
    call(b, "set", "big", store_extras(), b"old")
    r = call(b, "set", "big", store_extras(), b"x" * (1024 * 1024 + 1))
    assert (r.status, r.value) == (bp.E2BIG, b"Too large.")
    assert call(b, "get", "big").status == bp.ENOENT   # memcached drops it
    assert call(b, "noop").status == bp.OK


# ---- memcached's historical binary bug classes ----

def expect_error_close(c, status):
    r = read(c)
    assert r.status == status, r
    c.assert_closed()


@pytest.mark.parametrize("op,extras,keylen,bodylen", [
    ("set", store_extras(), 10, 5),          # CVE-2016-8704: body < key + extras
    ("append", b"", 20, 10),                 # CVE-2016-8705
    ("sasl_auth", b"", 8, 4),                # CVE-2016-8706
    # memcached 1.6.18 leaves these two hanging without a reply
    pytest.param("get", b"", 100, 50, marks=pytest.mark.hardcached_only),
    pytest.param("delete", b"", 0xffff, 0,   # CVE-2017-9951: huge keylen
                 marks=pytest.mark.hardcached_only),
])
def test_body_shorter_than_key_and_extras(server, bystander, op, extras, keylen, bodylen):
    """Answered "Unknown command" and closed, before any body is read."""
    with server.client() as c:
        c.send(pack(op, "k" * min(keylen, 20), extras, keylen=keylen, bodylen=bodylen))
        expect_error_close(c, bp.UNKNOWN)
    bystander.check()


def test_body_over_int_max(server, bystander):
    with server.client() as c:
        c.send(pack("set", "k", store_extras(), bodylen=0x80000010))
        r = read(c)
        assert r.status == bp.E2BIG
        c.send(b"x" * 65536)
        # memcached swallows the 2 GB; hardcached closes past -I's ceiling
    bystander.check()


@pytest.mark.hardcached_only
def test_huge_body_closes(server, bystander):
    """CVE-2011-4971: a huge body length. hardcached refuses a value larger
    than the largest -I at once and closes instead of reading 4 GB."""
    with server.client() as c:
        c.send(pack("set", "k", store_extras(), bodylen=0xffffffff))
        expect_error_close(c, bp.E2BIG)
    with server.client() as c:
        c.send(pack(0x42, bodylen=0xffffffff) + b"x" * 1000)
        r = read(c)
        assert r.status == bp.UNKNOWN
    bystander.check()


@pytest.mark.parametrize("extlen", [21, 255])
def test_extras_over_20(server, bystander, extlen):
    """CVE-2020-10931: extras longer than any opcode uses."""
    with server.client() as c:
        c.send(pack("set", "k", b"e" * extlen, b"v"))
        expect_error_close(c, bp.EINVAL)
    bystander.check()


def test_key_over_250(server, bystander):
    with server.client() as c:
        c.send(pack("get", "k" * 251))
        expect_error_close(c, bp.EINVAL)
    bystander.check()


def test_wrong_extras_for_opcode(server):
    for req in (pack("get", "k", b"1234"), pack("incr", "k", b"x" * 8),
                pack("flush", extras=b"12"), pack("version", "k"),
                pack("noop", value=b"x"), pack("set", "", store_extras(), b"v")):
        with server.client() as c:
            c.send(req)
            expect_error_close(c, bp.EINVAL)


def test_bad_magic_closes(server):
    with server.client() as c:
        c.send(pack("get", "k") + pack("get", "k", magic=0x81))
        assert read(c).status == bp.ENOENT
        assert c.assert_closed() == b""


def test_same_key_repeated_in_huge_getkq(server, bystander):
    """CVE-2018-1000127: one key fetched 100,000 times in one pipeline,
    from a client that does not read until it has sent everything."""
    with server.client(timeout=30) as c:
        call(c, "set", "rep", store_extras(), b"v" * 100)
        one = pack("getkq", "rep")
        n = 100000
        data = one * n + pack("noop")
        c.sock.setblocking(False)
        got, sent = bytearray(), 0
        deadline = time.monotonic() + 30
        want = n * (24 + 4 + 3 + 100) + 24
        while len(got) < want and time.monotonic() < deadline:
            if sent < len(data):
                try:
                    sent += c.sock.send(data[sent:sent + 65536])
                except BlockingIOError:
                    pass
            try:
                chunk = c.sock.recv(1 << 20)
                if not chunk:
                    break
                got += chunk
            except BlockingIOError:
                time.sleep(0.001)
        assert len(got) == want
    bystander.check()


def test_partial_header_then_rest(b):
    req = pack("set", "split", store_extras(), b"value")
    for i in range(len(req)):
        b.send(req[i:i + 1])
    assert read(b).status == bp.OK
    assert call(b, "get", "split").value == b"value"


def test_memccapable_binary(start_server):
    """All memccapable binary tests pass against memcached 1.6.18 too."""
    s = start_server()
    r = subprocess.run(["memccapable", "-h", "127.0.0.1", "-p", str(s.port), "-b"],
                       capture_output=True, timeout=120)
    out = r.stdout + r.stderr
    assert r.returncode == 0 and b"All tests passed" in out, out[-2000:]


def test_append_beyond_the_item_limit_counts_no_store_too_large(start_server):
    """An append whose own data fit but whose result would not: not stored,
    and not counted as a value too large, in text and binary alike (as
    memcached: store_too_large counts values refused for their own size)."""
    s = start_server("-I", "1m")
    with s.client() as c:
        c.set("big", b"a" * 700000)
        before = int(c.stats()["store_too_large"])
        c.cmd(b"append big 0 0 400000\r\n" + b"b" * 400000 + b"\r\n", b"NOT_STORED\r\n")
        with s.client() as b:   # a connection's first byte picks its protocol
            r = call(b, "append", key="big", value=b"c" * 400000)
            assert r.status == bp.NOT_STORED, r
        assert int(c.stats()["store_too_large"]) == before
