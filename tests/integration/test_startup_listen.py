"""-l as memcached 1.6.45 reads it: ',' or ';' between listeners, and the
prefixes notls:/btls:/mtls: (TLS per listener), proto[ascii|binary|
negotiating]: and tag[name]:. The syntax and protocol tests run against
memcached 1.6.45 too (skipped when it is not built); the TLS ones use
test_tls's certificates."""
import socket
import ssl
import struct
import subprocess
import time

import pytest

import hcutil
import ref145
import udputil
from test_tls import OPENSSL, TlsRaw, certs, client_ctx, refused  # noqa: F401

BOTH = pytest.mark.parametrize("binary", ref145.servers())
BIN_VERSION = struct.pack(">BBHBBHIIQ", 0x80, 0x0b, 0, 0, 0, 0, 0, 0, 0)


def ports(n):
    return [hcutil.free_port() for _ in range(n)]


def start_on(start_server, binary, spec, *args, wait_port=None, tls_ctx=None, version="ascii"):
    """A server whose listeners are all in spec; ready once wait_port
    answers `version` (over TLS with tls_ctx; version="binary": the binary
    protocol's)."""
    p = wait_port or int(spec.split(":")[-1].split(",")[0].split(";")[0])
    s = start_server("-p", str(hcutil.free_port()), "-l", spec, *args,
                     listen=False, binary=binary, wait=False)
    s.port = p
    deadline = time.monotonic() + hcutil.START_TIMEOUT
    while time.monotonic() < deadline:
        assert s.alive(), s.stderr()
        try:
            c = TlsRaw(p, tls_ctx, timeout=2) if tls_ctx else hcutil.Raw("127.0.0.1", p, 2)
            with c:
                if version == "binary":
                    c.send(BIN_VERSION)
                    c.expect(b"\x81\x0b")
                else:
                    c.cmd(b"version\r\n", b"VERSION ")
                return s
        except (OSError, AssertionError, TimeoutError):
            time.sleep(0.05)
    raise RuntimeError("not started: %r" % s.stderr())


def text_version(port):
    with hcutil.Raw("127.0.0.1", port) as c:
        return c.call(b"version\r\n")


def binary_version(port):
    with hcutil.Raw("127.0.0.1", port) as c:
        c.send(BIN_VERSION)
        return c.read_exact(24)[:2]


@BOTH
def test_semicolon_separates_listeners(start_server, binary):
    p, q = ports(2)
    start_on(start_server, binary, "127.0.0.1:%d;127.0.0.1:%d" % (p, q))
    assert text_version(p).startswith(b"VERSION ")
    assert text_version(q).startswith(b"VERSION ")


@BOTH
def test_proto_and_tag_prefixes(start_server, binary):
    a, b, n = ports(3)
    start_on(start_server, binary, "proto[ascii]:127.0.0.1:%d,proto[binary]:127.0.0.1:%d;"
             "proto[negotiating]:tag[abc]:127.0.0.1:%d" % (a, b, n), wait_port=a)
    assert text_version(a).startswith(b"VERSION ")
    assert binary_version(b) == b"\x81\x0b"
    assert binary_version(n) == b"\x81\x0b"
    assert text_version(n).startswith(b"VERSION ")
    with hcutil.Raw("127.0.0.1", b) as c:   # text on a binary listener
        c.send(b"version\r\n")
        got = b""
        try:
            got = c.read_exact(8, timeout=0.5)
        except (TimeoutError, OSError):
            pass
        assert b"VERSION" not in got
    with hcutil.Raw("127.0.0.1", a) as c:   # binary on an ascii listener
        c.send(BIN_VERSION)
        c.nothing_pending(0.5)


@BOTH
@pytest.mark.parametrize("proto", ["ascii", "binary"])
def test_udp_picks_protocol_per_datagram(start_server, binary, proto):
    """-B and proto[...] choose the protocol of TCP listeners only: each
    datagram is text or binary by its first byte (memcached 1.6.45). UDP
    binds the port -l names, as TCP does; -U only turns it on."""
    t = hcutil.free_port()
    start_on(start_server, binary, "proto[%s]:127.0.0.1:%d" % (proto, t), "-U", "1",
             "-B", proto, wait_port=t, version=proto)
    with udputil.UdpClient(t) as c:
        assert c.request(b"version\r\n").startswith(b"VERSION ")
        assert c.request(BIN_VERSION)[:2] == b"\x81\x0b"


@BOTH
def test_tag_underscore_form(start_server, binary):
    p, = ports(1)
    start_on(start_server, binary, "tag_tools_:127.0.0.1:%d" % p)
    assert text_version(p).startswith(b"VERSION ")


@BOTH
@pytest.mark.parametrize("prefix,why", [
    ("tag[ninechars]:", b"Listener tags must be between 1 and 8 characters"),
    ("notls:", b"'notls' option is valid only when SSL is enabled")])
def test_bad_prefix_refused(binary, prefix, why):
    r = subprocess.run([binary, "-l", "%s127.0.0.1:%d" % (prefix, hcutil.free_port()),
                        "-U", "0"] + hcutil.root_args(), capture_output=True, timeout=20)
    assert r.returncode != 0
    assert why in r.stderr, r.stderr


@pytest.mark.hardcached_only
def test_binary_listener_with_ascii_auth_refused(tmp_path):
    """memcached's own refusal: -Y logins are ascii only."""
    pw = tmp_path / "pw"
    pw.write_text("u:p\n")
    r = subprocess.run([hcutil.HC_BIN, "-Y", str(pw), "-l", "proto[binary]:127.0.0.1:%d"
                        % hcutil.free_port()] + hcutil.root_args(),
                       capture_output=True, timeout=20)
    assert r.returncode == 64
    assert b"Cannot use binary protocol when ascii authentication enabled" in r.stderr


def tls_opts(certs, extra=""):
    return "ssl_chain_cert=%s,ssl_key=%s,ssl_ca_cert=%s%s" % (
        certs("server.pem"), certs("server.key"), certs("ca.pem"), extra)


@pytest.mark.hardcached_only
def test_tls_per_listener(start_server, certs):
    """-Z: default listeners speak TLS, notls: is plain, btls: never asks
    for a client certificate, mtls: requires one from ssl_ca_cert."""
    plain, dflt, basic, mutual = ports(4)
    start_on(start_server, hcutil.HC_BIN,
             "notls:127.0.0.1:%d,127.0.0.1:%d,btls:127.0.0.1:%d;mtls:127.0.0.1:%d"
             % (plain, dflt, basic, mutual), "-Z", "-o", tls_opts(certs), wait_port=plain)
    assert text_version(plain).startswith(b"VERSION ")
    anon = client_ctx(certs)
    for p in (dflt, basic):
        with TlsRaw(p, anon) as c:
            c.cmd(b"version\r\n", b"VERSION ")
    assert refused(mutual, anon)
    with TlsRaw(mutual, client_ctx(certs, "client")) as c:
        c.cmd(b"version\r\n", b"VERSION ")
    assert refused(mutual, client_ctx(certs, "rogue_client"))
    with pytest.raises((ssl.SSLError, OSError, TimeoutError)):   # plain on TLS
        text_version(dflt)


@pytest.mark.hardcached_only
def test_btls_on_mutual_tls_server(start_server, certs):
    """ssl_verify_mode=2 for the server, btls: for one listener: that one
    serves clients without a certificate (memcached's MC_SSL_ENABLED_NOPEER)."""
    strict, basic = ports(2)
    start_on(start_server, hcutil.HC_BIN, "127.0.0.1:%d,btls:127.0.0.1:%d" % (strict, basic),
             "-Z", "-o", tls_opts(certs, ",ssl_verify_mode=2"), wait_port=basic,
             tls_ctx=client_ctx(certs))
    assert refused(strict, client_ctx(certs))
    with TlsRaw(strict, client_ctx(certs, "client")) as c:
        c.cmd(b"version\r\n", b"VERSION ")


@pytest.mark.hardcached_only
def test_protected_mode_judges_each_listener(certs):
    """Mutual TLS counts as a login, but only where it is required: a
    notls: listener on every interface is an open server."""
    base = [hcutil.HC_BIN, "-Z", "-o", tls_opts(certs, ",ssl_verify_mode=2")] + hcutil.root_args()
    # the second port is found free on every interface, where it is bound
    r = subprocess.run(base + ["-l", "127.0.0.1:%d,notls:0.0.0.0:%d"
                               % (hcutil.free_port(), hcutil.free_port(host="0.0.0.0"))],
                       capture_output=True, timeout=20)
    assert r.returncode == 64 and b"protected mode" in r.stderr, r.stderr


@pytest.mark.hardcached_only
def test_mtls_listener_is_protected(start_server, certs):
    for _ in range(5):   # a client elsewhere may take the port first
        p = hcutil.free_port(host="0.0.0.0")
        s = start_server("-p", str(p), "-l", "mtls:0.0.0.0:%d" % p, "-Z", "-o",
                         tls_opts(certs), listen=False, wait=False)
        time.sleep(0.2)
        if s.alive() or b"Address already in use" not in s.stderr():
            break
    deadline = time.monotonic() + hcutil.START_TIMEOUT
    while True:
        assert s.alive(), s.stderr()
        try:
            with TlsRaw(p, client_ctx(certs, "client"), timeout=2) as c:
                c.cmd(b"version\r\n", b"VERSION ")
                break
        except (OSError, AssertionError, TimeoutError):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert refused(p, client_ctx(certs))
