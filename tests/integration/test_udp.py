"""UDP (-U): memcached's frame and reassembly, and the amplification bound
of CVE-2018-1000115. From a source with no TCP session (127.0.0.2) no
probe of the advisory gets back more bytes than it sent; from a validated
source (a TCP connection from the same address) gets work in full.

Tests without hardcached_only also pass against memcached -U, which
answers everyone in full (see BENCHMARKS.md for its amplification)."""
import os
import random
import socket
import struct
import time

import pytest

import hcutil
from udputil import (STATS_PROBE, STATS_PROBE_9, STATS_PROBE_ZEROS,
                     UdpClient, bin_request, frame, free_udp_port, reassemble)

BIG = os.urandom(500_000).hex().encode()[:1_000_000]  # 1,000,000 bytes
SMALL = b"hello udp"
MID = bytes(range(256)) * 20  # 5120 bytes: four datagrams


def start_udp(*args):
    u = free_udp_port()
    s = hcutil.Server(["-U", str(u), "-t", "2"] + list(args), udp_flag=False)
    s.udp_port = u
    return s


def check_stop(s):
    s.stop()
    rep = s.sanitizer_report()
    assert not rep, "sanitizer report:\n" + rep.decode(errors="replace")


@pytest.fixture(scope="module")
def userver():
    s = start_udp()
    with s.client() as c:
        c.set("small", SMALL)
        c.set("mid", MID)
        c.set("big", BIG)
    yield s
    check_stop(s)


@pytest.fixture
def udp_server():
    started = []

    def start(*args):
        s = start_udp(*args)
        started.append(s)
        return s

    yield start
    for s in started:
        check_stop(s)


def udp_stats(s):
    st = s.stats()
    return {k: v for k, v in st.items() if k.startswith(("udp_", "acl_"))}


# Probes from a source that never opened a TCP connection.

ASCII_PROBES = {
    "stats (advisory probe)": STATS_PROBE,
    "stats, 9-byte header (advisory typo)": STATS_PROBE_9,
    "stats, 10 zero bytes (advisory verification)": STATS_PROBE_ZEROS,
    "version": frame(b"version\r\n"),
    "stats settings": frame(b"stats settings\r\n"),
    "get of a 1 MB value": frame(b"get big\r\n"),
    "get of that value ten times": frame(b"get" + b" big" * 10 + b"\r\n"),
    "gets of that value": frame(b"gets big\r\n"),
}
BINARY_PROBES = {
    "binary stat": frame(bin_request(0x10)),
    "binary version": frame(bin_request(0x0b)),
    "binary get of a 1 MB value": frame(bin_request(0x00, b"big")),
    "binary getk of a 1 MB value": frame(bin_request(0x0c, b"big")),
}


@pytest.mark.hardcached_only
@pytest.mark.parametrize("name", list(ASCII_PROBES) + list(BINARY_PROBES))
def test_unvalidated_probe_not_amplified(userver, name):
    probe = {**ASCII_PROBES, **BINARY_PROBES}[name]
    with UdpClient(userver.udp_port, source="127.0.0.2") as u:
        u.send(probe)
        u.collect(quiet=0.3)
        assert u.received <= u.sent, (name, u.sent, u.received)
    assert userver.alive()


@pytest.mark.hardcached_only
def test_unvalidated_all_probes_counted(userver):
    """The whole advisory run from one spoofable source: fewer bytes back
    than sent in total, the big replies counted as amplification drops and
    the largest factor actually sent to an unvalidated source <= 1."""
    before = udp_stats(userver)
    with UdpClient(userver.udp_port, source="127.0.0.2") as u:
        for probe in list(ASCII_PROBES.values()) + list(BINARY_PROBES.values()):
            u.send(probe)
        u.collect(quiet=0.5)
        assert u.received <= u.sent
    after = udp_stats(userver)
    assert int(after["udp_dropped_amplification"]) >= \
        int(before["udp_dropped_amplification"]) + 4
    assert int(after["udp_dropped_malformed"]) > int(before["udp_dropped_malformed"])
    assert float(after["udp_max_amplification_unvalidated"]) <= 1.0
    assert int(after["udp_bytes_read"]) > int(before["udp_bytes_read"])


@pytest.mark.hardcached_only
def test_unvalidated_short_error_when_it_fits(userver):
    """A request large enough to pay for it gets a short error instead of
    silence: 'use TCP', never the reply."""
    with UdpClient(userver.udp_port, source="127.0.0.2") as u:
        got = u.ask(b"get big" + b" " * 40 + b"\r\n")
        assert u.received <= u.sent
        assert reassemble(got, 0x1234) == b"SERVER_ERROR use TCP\r\n"


@pytest.mark.hardcached_only
def test_unvalidated_small_reply_that_fits_is_sent(userver):
    """BAF <= 1, not 'never answer': a reply no larger than the request goes."""
    with UdpClient(userver.udp_port, source="127.0.0.2") as u:
        assert u.request(b"get nosuchkey_padding_padding\r\n") == b"END\r\n"
        assert u.received <= u.sent


# From a validated source.

def test_validated_gets_reassemble(userver):
    with userver.client() as c:   # TCP from 127.0.0.1 validates it
        c.send(b"version\r\n")
        c.readline()
        with UdpClient(userver.udp_port, source="127.0.0.1") as u:
            assert u.request(b"get small\r\n") == b"VALUE small 0 %d\r\n%s\r\nEND\r\n" % (
                len(SMALL), SMALL)
            assert u.request(b"get mid\r\n", req_id=7) == b"VALUE mid 0 %d\r\n%s\r\nEND\r\n" % (
                len(MID), MID)
            assert u.request(b"get nope\r\n", req_id=0xffff) == b"END\r\n"
            got = u.request(b"get big\r\n", req_id=0)
            assert got == b"VALUE big 0 %d\r\n%s\r\nEND\r\n" % (len(BIG), BIG)


def test_validated_multiple_requests_in_one_datagram(userver):
    with userver.client() as c:
        c.send(b"version\r\n")
        c.readline()
        with UdpClient(userver.udp_port) as u:
            u.send(frame(b"get small\r\nset k 0 0 1\r\nx\r\nset q 0 0 1 noreply\r\n"
                         b"y\r\nget k\r\n", 77))
            got = [d for d in u.collect(quiet=0.5)]
            # memcached frames each request's reply on its own (seq 0 of 1)
            assert [d[:8] for d in got] == [b"\x00\x4d\x00\x00\x00\x01\x00\x00"] * 3
            assert [d[8:] for d in got] == [
                b"VALUE small 0 %d\r\n%s\r\nEND\r\n" % (len(SMALL), SMALL),
                b"STORED\r\n", b"VALUE k 0 1\r\nx\r\nEND\r\n"]


@pytest.mark.hardcached_only
def test_tcp_connection_validates_its_address(userver):
    """127.0.0.3 is refused big replies until it opens a TCP connection."""
    with UdpClient(userver.udp_port, source="127.0.0.3") as u:
        assert u.ask(b"get mid\r\n") == []
        c = socket.create_connection(("127.0.0.1", userver.port),
                                     source_address=("127.0.0.3", 0))
        c.sendall(b"version\r\n")
        c.recv(100)
        c.close()
        assert u.request(b"get mid\r\n").startswith(b"VALUE mid 0 5120\r\n")


@pytest.mark.hardcached_only
def test_validation_window_zero(udp_server):
    s = udp_server("-o", "udp_validate_window=0")
    with s.client() as c:
        c.set("mid", MID)
        with UdpClient(s.udp_port) as u:
            time.sleep(1.1)   # the window counts whole milliseconds
            assert u.ask(b"get mid\r\n") == []


@pytest.mark.hardcached_only
@pytest.mark.parametrize("cmd", [b"stats\r\n", b"stats settings\r\n", b"flush_all\r\n",
                                 b"flush_all 0\r\n", b"verbosity 1\r\n",
                                 b"cache_memlimit 100\r\n", b"shutdown\r\n",
                                 b"shutdown graceful\r\n", b"stats reset\r\n",
                                 b"quit\r\n"])
def test_admin_never_over_udp(udp_server, cmd):
    s = udp_server("-A")
    with s.client() as c:
        c.set("keep", b"v")
        with UdpClient(s.udp_port) as u:
            # the refusal (35 bytes) is longer than these requests: even to
            # a validated source it is not sent, so it cannot amplify
            assert u.ask(cmd) == []
            assert u.received <= u.sent
        assert c.get("keep") == b"v"
        assert int(s.stats()["udp_admin_refused"]) == 1
    assert s.alive()


@pytest.mark.hardcached_only
def test_admin_refusal_sent_when_it_fits(userver):
    """A request at least as long as the refusal gets it: legitimate users
    learn why, and the reply is still no larger than the request."""
    with userver.client() as c:
        c.send(b"version\r\n")
        c.readline()
        with UdpClient(userver.udp_port) as u:
            got = u.request(b"stats" + b" " * 40 + b"\r\n")
            assert got == b"CLIENT_ERROR not allowed over UDP\r\n"
            assert u.received <= u.sent


@pytest.mark.hardcached_only
def test_admin_refused_binary(userver):
    with userver.client() as c:
        c.send(b"version\r\n")
        c.readline()
        before = int(userver.stats()["udp_admin_refused"])
        with UdpClient(userver.udp_port) as u:
            for op in (0x10, 0x08, 0x18, 0x1b, 0x21):
                assert u.ask(bin_request(op, b"PLAIN" if op == 0x21 else b"")) == []
        assert int(userver.stats()["udp_admin_refused"]) == before + 5
        assert c.get("big") == BIG


def _binary_value(reply):
    """The value of one binary get response (status must be 0)."""
    magic, opcode, keylen, extlen, _dt, status, bodylen = struct.unpack(
        ">BBHBBHI", reply[:12])
    assert magic == 0x81 and status == 0, (magic, status)
    assert len(reply) == 24 + bodylen
    return reply[24 + extlen + keylen:]


@pytest.mark.parametrize("key,want", [(b"small", SMALL), (b"mid", MID), (b"big", BIG)],
                         ids=["small", "mid", "big"])
def test_validated_binary_gets_reassemble(userver, key, want):
    """Binary requests over UDP, as memcached serves them, for a validated
    source: one framed binary response, correctly numbered datagrams."""
    with userver.client() as c:   # TCP from 127.0.0.1 validates it
        c.send(b"version\r\n")
        c.readline()
        with UdpClient(userver.udp_port) as u:
            assert _binary_value(u.request(bin_request(0x00, key))) == want


# Bad frames and datagrams: dropped, counted, server unharmed.

BAD_DATAGRAMS = [
    b"", b"\x00", b"\x00" * 7, b"\x00\x00\x00\x00\x00\x01\x00\x00",
    frame(b"get small\r\n", total=0), frame(b"get small\r\n", total=2),
    frame(b"get small\r\n", seq=1, total=2), frame(b"get small\r\n", total=0xffff),
    STATS_PROBE_ZEROS,
]


@pytest.mark.parametrize("i", range(len(BAD_DATAGRAMS)))
def test_bad_frames_dropped(userver, i):
    with userver.client() as c:
        c.send(b"version\r\n")
        c.readline()
        with UdpClient(userver.udp_port) as u:
            u.send(BAD_DATAGRAMS[i])
            assert u.collect(quiet=0.2) == []
            assert u.request(b"get small\r\n").startswith(b"VALUE small")
    assert userver.alive()


def test_incomplete_and_garbage_payloads(userver):
    """Requests cut short, values that never arrive, random bytes: each
    answered or dropped; the server keeps serving."""
    rnd = random.Random(4)
    payloads = [b"get", b"get small", b"set k 0 0 10\r\nabc", b"set k 0 0 100000\r\n",
                b"\x80", b"\x80" + b"\x00" * 30, bin_request(0x01, b"k", b"\x00" * 8)[:30],
                b"\r\n" * 100, b"get " + b"k" * 300 + b"\r\n", b"\xff" * 1000]
    payloads += [bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(1, 1500)))
                 for _ in range(50)]
    with userver.client() as c:
        c.send(b"version\r\n")
        c.readline()
        with UdpClient(userver.udp_port) as u:
            for p in payloads:
                u.send(frame(p))
            u.collect(quiet=0.3)
            assert u.request(b"get small\r\n", req_id=99).startswith(b"VALUE small")
    assert userver.alive()


# Rate limits for validated sources.

@pytest.mark.hardcached_only
def test_per_source_rate_limit(udp_server):
    s = udp_server("-o", "udp_src_rate=1000,udp_src_burst=6000")
    with s.client() as c:
        c.set("mid", MID)
        with UdpClient(s.udp_port) as u:
            assert u.request(b"get mid\r\n").startswith(b"VALUE mid")
            assert u.request(b"get mid\r\n") == b"SERVER_ERROR use TCP\r\n"
        st = udp_stats(s)
        assert int(st["udp_dropped_rate"]) == 1
        assert int(st["udp_short_replies"]) == 1


@pytest.mark.hardcached_only
def test_global_rate_limit(udp_server):
    s = udp_server("-o", "udp_global_rate=1000,udp_global_burst=6000")
    with s.client() as c:
        c.set("mid", MID)
        c2 = socket.create_connection(("127.0.0.1", s.port),
                                      source_address=("127.0.0.4", 0))
        c2.sendall(b"version\r\n")
        c2.recv(100)
        with UdpClient(s.udp_port) as u, UdpClient(s.udp_port, source="127.0.0.4") as v:
            assert u.request(b"get mid\r\n").startswith(b"VALUE mid")
            assert v.request(b"get mid\r\n") == b"SERVER_ERROR use TCP\r\n"
        c2.close()
        assert int(udp_stats(s)["udp_dropped_rate"]) == 1


@pytest.mark.hardcached_only
def test_reply_over_udp_limit_is_short_error(udp_server):
    """Validated, but a reply above LIMIT_UDP_REPLY_MAX (16 MiB): short
    error, built no further than the limit."""
    s = udp_server("-o", "udp_src_burst=64m,udp_global_burst=64m")
    with s.client() as c:
        c.set("big", BIG)
        with UdpClient(s.udp_port) as u:
            got = u.request(b"get" + b" big" * 17 + b"\r\n")
            assert got == b"SERVER_ERROR use TCP\r\n"
        assert int(udp_stats(s)["udp_dropped_too_large"]) == 1


@pytest.mark.hardcached_only
def test_baf_percent_configurable(udp_server):
    s = udp_server("-o", "udp_baf_percent=50")
    with UdpClient(s.udp_port, source="127.0.0.2") as u:
        u.send(STATS_PROBE_9)   # ERROR\r\n: 15 bytes for 16, above 50 %
        assert u.collect(quiet=0.3) == []
    assert s.stats("settings")["udp_baf_percent"] == "50"


@pytest.mark.hardcached_only
def test_baf_above_one_is_warned(udp_server):
    s = udp_server("-o", "udp_baf_percent=200")
    assert b"amplifies reflection" in s.stderr()


@pytest.mark.hardcached_only
@pytest.mark.parametrize("opt", ["udp_baf_percent=1001", "udp_baf_percent=-1",
                                 "udp_src_rate=abc", "udp_validate_window=x",
                                 "udp_sources_max=1", "udp_global_rate=2000000000000"])
def test_bad_udp_options(run_binary, opt):
    r = run_binary(*(hcutil.root_args() + ["-U", "0", "-o", opt]))
    assert r.returncode == 64, (r.returncode, r.stderr)


@pytest.mark.hardcached_only
def test_reflection_alert_logged(udp_server):
    s = udp_server()
    with s.client() as c:
        c.set("mid", MID)
    with UdpClient(s.udp_port, source="127.0.0.2") as u:
        for _ in range(300):
            u.send(frame(b"get mid\r\n"))
        u.collect(quiet=0.3)
        assert u.received == 0
    deadline = time.monotonic() + 5
    while b"possible reflection attempt" not in s.stderr():
        assert time.monotonic() < deadline, s.stderr()
        time.sleep(0.1)
    line = [l for l in s.stderr().splitlines() if b"reflection" in l][0]
    assert b"127.0.0.2" in line
    assert s.stderr().count(b"possible reflection attempt") == 1   # rate-limited


@pytest.mark.hardcached_only
def test_startup_line_names_udp(udp_server):
    s = udp_server()
    err = s.stderr().decode()
    line = [l for l in err.splitlines() if "listening on" in l][0]
    assert "udp 127.0.0.1:%d" % s.udp_port in line
    assert "udp off" not in line


def test_udp_ipv6(start_server):
    u = free_udp_port()
    p = hcutil.free_port(socket.AF_INET6, "::1")
    s = start_server("-U", str(u), "-p", str(p), "-l", "[::1]", listen=False,
                     host="::1", port=p, udp_flag=False)
    with s.client() as c:
        c.set("v6", b"six")
        with UdpClient(u, source="::1", host="::1") as uc:
            assert uc.request(b"get v6\r\n") == b"VALUE v6 0 3\r\nsix\r\nEND\r\n"
