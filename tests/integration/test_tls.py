"""TLS (-Z): memcached's flags, real clients (openssl s_client, pymemcache),
mutual TLS, TLS 1.1 and plain-text clients refused, certificate reload on
SIGHUP while connections stay up. Certificates are made per run with the
openssl tool."""
import os
import warnings
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest

import hcutil

pytestmark = pytest.mark.hardcached_only   # memcached here is built without TLS

OPENSSL = shutil.which("openssl")
if OPENSSL is None:
    pytest.skip("the openssl tool is not installed", allow_module_level=True)


def _run(*args, cwd):
    subprocess.run([OPENSSL] + list(args), cwd=cwd, check=True,
                   capture_output=True, timeout=60)


def _ca(d, name):
    _run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", name + ".key", "-out", name + ".pem",
         "-subj", "/CN=" + name, "-days", "2", cwd=d)


def _leaf(d, name, ca, usage):
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                "extendedKeyUsage=%s\n" % usage)
    _run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
         "-subj", "/CN=" + name, cwd=d)
    _run("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
         "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile", ext, cwd=d)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """ca: the good CA; server, server2 (for reload) and client signed by it;
    rogue_client signed by another CA."""
    d = str(tmp_path_factory.mktemp("tls"))
    _ca(d, "ca")
    _ca(d, "rogue_ca")
    _leaf(d, "server", "ca", "serverAuth")
    _leaf(d, "server2", "ca", "serverAuth")
    _leaf(d, "client", "ca", "clientAuth")
    _leaf(d, "rogue_client", "rogue_ca", "clientAuth")
    return lambda name: os.path.join(d, name)


def client_ctx(certs, cert=None, max_version=None):
    ctx = ssl.create_default_context(cafile=certs("ca.pem"))
    if cert:
        ctx.load_cert_chain(certs(cert + ".pem"), certs(cert + ".key"))
    if max_version:
        ctx.maximum_version = max_version
    return ctx


class TlsRaw(hcutil.Raw):
    """hcutil.Raw over TLS."""

    def __init__(self, port, ctx, timeout=hcutil.DEFAULT_TIMEOUT):
        super().__init__("127.0.0.1", port, timeout)
        self.sock = ctx.wrap_socket(self.sock, server_hostname="127.0.0.1")


def tls_server(start_server, certs, *extra, key="server"):
    """A -Z server; ready once a TLS client gets VERSION."""
    opts = "ssl_chain_cert=%s,ssl_key=%s" % (certs(key + ".pem"), certs(key + ".key"))
    s = start_server("-Z", "-o", opts, *extra, wait=False)
    ctx = client_ctx(certs, "client")
    deadline = time.monotonic() + hcutil.START_TIMEOUT
    while time.monotonic() < deadline:
        assert s.alive(), s.stderr()
        try:
            with TlsRaw(s.port, ctx, timeout=2) as c:
                c.cmd(b"version\r\n", b"VERSION ")
                return s
        except (OSError, AssertionError, TimeoutError):
            time.sleep(0.05)
    raise RuntimeError("TLS server did not start: %r" % s.stderr())


def tls_stats(s, certs, sub=""):
    with TlsRaw(s.port, client_ctx(certs, "client")) as c:
        return c.stats(sub)


def wait_handshake_errors(s, certs, n):
    """Wait until ssl_handshake_errors reaches n (the alert reaches the
    client just before the server counts it)."""
    deadline = time.monotonic() + 10
    while int(tls_stats(s, certs)["ssl_handshake_errors"]) < n:
        assert time.monotonic() < deadline, "handshake errors not counted"
        time.sleep(0.05)
    return int(tls_stats(s, certs)["ssl_handshake_errors"])


def refused(port, ctx):
    """True if the server will not serve a TLS client with ctx: the handshake
    fails, or (TLS 1.3 checks the client's certificate after the client has
    finished) the first request gets an alert or EOF, never a reply."""
    try:
        with TlsRaw(port, ctx) as c:
            c.send(b"version\r\n")
            got = c.assert_closed()
            return not got
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return True


def test_s_client_round_trip(start_server, certs):
    s = tls_server(start_server, certs)
    out = subprocess.run(
        [OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % s.port, "-CAfile",
         certs("ca.pem"), "-verify_return_error", "-quiet"],
        input=b"version\r\nset k 0 0 5\r\nhello\r\nget k\r\nquit\r\n",
        capture_output=True, timeout=30)
    assert out.stdout.startswith(b"VERSION "), out
    assert b"STORED\r\nVALUE k 0 5\r\nhello\r\nEND\r\n" in out.stdout, out
    st = tls_stats(s, certs, "settings")
    assert st["ssl_enabled"] == "yes" and st["ssl_min_version"] == "tlsv1.2"


def test_tls13_preferred_and_plain_unix_untouched(start_server, certs):
    s = tls_server(start_server, certs)
    with TlsRaw(s.port, client_ctx(certs)) as c:
        assert c.sock.version() == "TLSv1.3"
        c.cmd(b"set a 1 0 3\r\nabc\r\n", b"STORED\r\n")
    with TlsRaw(s.port, client_ctx(certs, max_version=ssl.TLSVersion.TLSv1_2)) as c:
        assert c.sock.version() == "TLSv1.2"
        c.cmd(b"get a\r\n", b"VALUE a 1 3\r\nabc\r\nEND\r\n")


def test_pymemcache_over_tls(start_server, certs):
    from pymemcache.client.base import Client
    s = tls_server(start_server, certs)
    c = Client(("127.0.0.1", s.port), tls_context=client_ctx(certs),
               connect_timeout=5, timeout=5)
    try:
        assert c.set("greeting", b"hello over tls")
        assert c.get("greeting") == b"hello over tls"
        assert c.incr("n", 1) is None
        c.set("n", b"41")
        assert c.incr("n", 1) == 42
    finally:
        c.close()


def test_wrong_server_certificate_rejected_by_client(start_server, certs):
    """A client that trusts another CA refuses this server (and the failed
    handshake is counted)."""
    s = tls_server(start_server, certs)
    before = int(tls_stats(s, certs)["ssl_handshake_errors"])
    ctx = ssl.create_default_context(cafile=certs("rogue_ca.pem"))
    with pytest.raises(ssl.SSLCertVerificationError):
        TlsRaw(s.port, ctx)
    assert wait_handshake_errors(s, certs, before + 1) == before + 1


def test_tls11_refused(start_server, certs):
    s = tls_server(start_server, certs)
    before = int(tls_stats(s, certs)["ssl_handshake_errors"])
    ctx = client_ctx(certs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.set_ciphers("DEFAULT@SECLEVEL=0")
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        TlsRaw(s.port, ctx)
    # the server refused it (the client did offer TLS 1.1)
    assert wait_handshake_errors(s, certs, before + 1) == before + 1
    # ssl_min_version=tlsv1.3 refuses 1.2 as well
    s13 = tls_server(start_server, certs, "-o", "ssl_min_version=tlsv1.3")
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        TlsRaw(s13.port, client_ctx(certs, max_version=ssl.TLSVersion.TLSv1_2))
    with TlsRaw(s13.port, client_ctx(certs)) as c:
        c.cmd(b"version\r\n", b"VERSION ")


def test_plain_text_client_on_tls_port_closed(start_server, certs):
    mport = hcutil.free_port()
    s = tls_server(start_server, certs, "-o", "metrics_port=%d" % mport)
    before = int(tls_stats(s, certs)["ssl_handshake_errors"])
    with hcutil.Raw(port=s.port) as c:
        c.send(b"set plain 0 0 1\r\nx\r\nversion\r\n")
        got = c.assert_closed()
    assert b"VERSION" not in got and b"STORED" not in got, got
    with TlsRaw(s.port, client_ctx(certs)) as c:
        c.cmd(b"get plain\r\n", b"END\r\n")
    assert wait_handshake_errors(s, certs, before + 1) == before + 1
    assert s.alive()
    with socket.create_connection(("127.0.0.1", mport), timeout=5) as m:
        m.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
        body = b""
        while True:
            chunk = m.recv(65536)
            if not chunk:
                break
            body += chunk
    assert b"\nhardcached_tls_handshake_failures_total %d\n" % (before + 1) in body


@pytest.mark.parametrize("mode", ["2", "3"])
def test_mutual_tls(start_server, certs, mode):
    s = tls_server(start_server, certs, "-o", "ssl_verify_mode=%s,ssl_ca_cert=%s"
                   % (mode, certs("ca.pem")))
    assert refused(s.port, client_ctx(certs)), "served a client without a certificate"
    assert refused(s.port, client_ctx(certs, "rogue_client")), \
        "served a client certificate from another CA"
    with TlsRaw(s.port, client_ctx(certs, "client")) as c:
        c.cmd(b"set m 0 0 2\r\nok\r\n", b"STORED\r\n")
        c.cmd(b"get m\r\n", b"VALUE m 0 2\r\nok\r\nEND\r\n")
    assert wait_handshake_errors(s, certs, 2) == 2


def test_verify_mode_needs_ca(run_binary, certs):
    r = run_binary("-Z", "-o", "ssl_chain_cert=%s,ssl_key=%s,ssl_verify_mode=2"
                   % (certs("server.pem"), certs("server.key")), *hcutil.root_args())
    assert r.returncode == 64 and b"ssl_ca_cert" in r.stderr
    r = run_binary("-Z", *hcutil.root_args())
    assert r.returncode == 64 and b"ssl_chain_cert" in r.stderr
    r = run_binary("-Z", "-o", "ssl_chain_cert=/nonexistent,ssl_key=/nonexistent",
                   "-p", str(hcutil.free_port()), *hcutil.root_args())
    assert r.returncode == 64 and b"/nonexistent" in r.stderr
    for bad in ("tlsv1.4", "4", "-1"):
        r = run_binary("-o", "ssl_min_version=" + bad, *hcutil.root_args())
        assert r.returncode == 64 and b"ssl_min_version" in r.stderr, r


def _der(path):
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def live_cert_server(start_server, certs, tmp_path):
    """A -Z server on copies of server.pem/key (to be rewritten), and a
    connection to it: (server, cert path, key path, connection)."""
    cert, key = str(tmp_path / "live.pem"), str(tmp_path / "live.key")
    shutil.copy(certs("server.pem"), cert)
    shutil.copy(certs("server.key"), key)
    s = start_server("-Z", "-o", "ssl_chain_cert=%s,ssl_key=%s" % (cert, key), wait=False)
    deadline = time.monotonic() + hcutil.START_TIMEOUT
    while True:
        try:
            return s, cert, key, TlsRaw(s.port, client_ctx(certs))
        except OSError:
            assert time.monotonic() < deadline and s.alive(), s.stderr()
            time.sleep(0.05)


def test_sighup_reloads_certificate_keeping_connections(start_server, certs, tmp_path):
    s, cert, key, old = live_cert_server(start_server, certs, tmp_path)
    ctx = client_ctx(certs)
    assert old.sock.getpeercert(binary_form=True) == _der(certs("server.pem"))
    old.cmd(b"set before 0 0 1\r\n1\r\n", b"STORED\r\n")

    # a broken certificate is not taken: the old one keeps serving
    with open(cert, "w") as f:
        f.write("not a certificate\n")
    os.kill(s.pid, signal.SIGHUP)
    deadline = time.monotonic() + 10
    while b"not reloaded" not in s.stderr():
        assert time.monotonic() < deadline, s.stderr()
        time.sleep(0.05)
    with TlsRaw(s.port, ctx) as c:
        assert c.sock.getpeercert(binary_form=True) == _der(certs("server.pem"))

    shutil.copy(certs("server2.pem"), cert)
    shutil.copy(certs("server2.key"), key)
    os.kill(s.pid, signal.SIGHUP)
    deadline = time.monotonic() + 10
    while True:
        with TlsRaw(s.port, ctx) as c:
            if c.sock.getpeercert(binary_form=True) == _der(certs("server2.pem")):
                c.cmd(b"get before\r\n", b"VALUE before 0 1\r\n1\r\nEND\r\n")
                break
        assert time.monotonic() < deadline, "new certificate not served"
        time.sleep(0.05)
    # the connection made before the reload was not dropped
    old.cmd(b"get before\r\n", b"VALUE before 0 1\r\n1\r\nEND\r\n")
    old.cmd(b"set after 0 0 1\r\n2\r\n", b"STORED\r\n")
    old.close()


def test_large_values_and_pipelining_over_tls(start_server, certs):
    """Replies bigger than a TLS record and than the socket buffer: partial
    writes resumed on EPOLLOUT."""
    s = tls_server(start_server, certs)
    big = os.urandom(900 * 1024)
    with TlsRaw(s.port, client_ctx(certs), timeout=30) as c:
        c.cmd(b"set big 0 0 %d\r\n%s\r\n" % (len(big), big), b"STORED\r\n")
        c.send(b"get big\r\n" * 8)
        for _ in range(8):
            c.expect(b"VALUE big 0 %d\r\n" % len(big))
            assert c.read_exact(len(big)) == big
            c.expect(b"\r\nEND\r\n")


def test_mutual_tls_satisfies_protected_mode(start_server, run_binary, certs):
    """A reachable address needs a login or an allow list; TLS alone is not
    one, a required client certificate is."""
    opts = "ssl_chain_cert=%s,ssl_key=%s" % (certs("server.pem"), certs("server.key"))
    r = run_binary("-Z", "-o", opts, "-l", "0.0.0.0", "-p", str(hcutil.free_port(host="0.0.0.0")),
                   *hcutil.root_args())
    assert r.returncode == 64 and b"protected mode" in r.stderr, r
    assert b"ssl_verify_mode=2" in r.stderr
    s = start_server("-Z", "-o", opts + ",ssl_verify_mode=2,ssl_ca_cert=" + certs("ca.pem"),
                     host="0.0.0.0", wait=False)
    deadline = time.monotonic() + hcutil.START_TIMEOUT
    while True:
        try:
            with TlsRaw(s.port, client_ctx(certs, "client"), timeout=2) as c:
                c.cmd(b"version\r\n", b"VERSION ")
                break
        except (OSError, TimeoutError):
            assert time.monotonic() < deadline and s.alive(), s.stderr()
            time.sleep(0.05)


def test_refresh_certs_command(start_server, certs, tmp_path):
    """memcached's `refresh_certs`: what SIGHUP does, answered on the
    connection: OK, or an Error line while the old certificate serves."""
    s, cert, key, c = live_cert_server(start_server, certs, tmp_path)
    ctx = client_ctx(certs)
    with open(cert, "w") as f:
        f.write("not a certificate\n")
    line = c.call(b"refresh_certs\r\n")
    assert line.startswith(b"Error ") and cert.encode() in line, line
    with TlsRaw(s.port, ctx) as c2:
        assert c2.sock.getpeercert(binary_form=True) == _der(certs("server.pem"))
    shutil.copy(certs("server2.pem"), cert)
    shutil.copy(certs("server2.key"), key)
    c.cmd(b"refresh_certs\r\n", b"OK\r\n")
    with TlsRaw(s.port, ctx) as c2:
        assert c2.sock.getpeercert(binary_form=True) == _der(certs("server2.pem"))
    c.cmd(b"version\r\n", b"VERSION ")
    c.close()


def _resumed(port, ctx):
    """Connect twice with one session; was the second one resumed?"""
    with TlsRaw(port, ctx) as c:
        c.cmd(b"version\r\n", b"VERSION ")   # TLS 1.3 tickets arrive after
        sess = c.sock.session
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    s = ctx.wrap_socket(raw, server_hostname="127.0.0.1", session=sess)
    try:
        s.sendall(b"version\r\n")
        s.recv(100)
        return s.session_reused
    finally:
        s.close()


def test_ssl_session_cache(start_server, certs):
    """memcached: no resumption unless -o ssl_session_cache."""
    ctx = client_ctx(certs)
    plain = tls_server(start_server, certs)
    assert not _resumed(plain.port, ctx)
    assert tls_stats(plain, certs, "settings")["ssl_session_cache"] == "no"
    cached = tls_server(start_server, certs, "-o", "ssl_session_cache")
    assert _resumed(cached.port, ctx)
    assert tls_stats(cached, certs, "settings")["ssl_session_cache"] == "yes"


def test_ssl_min_version_numbers_and_warning(start_server, certs):
    """memcached's 0..3; below TLS 1.2 is allowed with a warning."""
    s = tls_server(start_server, certs, "-o", "ssl_min_version=3")
    assert tls_stats(s, certs, "settings")["ssl_min_version"] == "tlsv1.3"
    with pytest.raises(ssl.SSLError):
        TlsRaw(s.port, client_ctx(certs, max_version=ssl.TLSVersion.TLSv1_2))
    old = tls_server(start_server, certs, "-o", "ssl_min_version=1")
    assert tls_stats(old, certs, "settings")["ssl_min_version"] == "tlsv1.1"
    assert b"WARNING" in old.stderr() and b"ssl_min_version" in old.stderr()


def test_ssl_keyformat_der_and_options_shown(start_server, certs, tmp_path):
    der = str(tmp_path / "server.der")
    _run("pkey", "-in", certs("server.key"), "-outform", "DER", "-out", der, cwd=str(tmp_path))
    s = start_server("-Z", "-o", "ssl_chain_cert=%s,ssl_key=%s,ssl_keyformat=2,"
                     "ssl_kernel_tls,ssl_wbuf_size=32" % (certs("server.pem"), der), wait=False)
    deadline = time.monotonic() + hcutil.START_TIMEOUT
    while True:
        try:
            st = tls_stats(s, certs, "settings")
            break
        except OSError:
            assert time.monotonic() < deadline and s.alive(), s.stderr()
            time.sleep(0.05)
    assert st["ssl_keyformat"] == "2" and st["ssl_kernel_tls"] == "yes"
    assert st["ssl_wbuf_size"] == str(32 * 1024)
