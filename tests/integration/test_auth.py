"""Authentication: ascii logins (-Y), binary SASL PLAIN (-S), one password
file with plain and hashed entries reloaded on SIGHUP, nothing served
before login on any listener or protocol, failed logins throttled per
source address and counted in stats.

hardcached serves `version` before login (memcached refuses it), so the
whole module is hardcached's; the wire strings were checked against
memcached 1.6.18 -Y."""
import os
import signal
import socket
import subprocess
import time

import pylibmc
import pytest
from pymemcache.client.base import Client as PmClient

import binproto as bp
import hcutil
from binproto import call, pack, read, store_extras

pytestmark = pytest.mark.hardcached_only

UNAUTH = b"CLIENT_ERROR unauthenticated\r\n"
FAIL = b"CLIENT_ERROR authentication failure\r\n"


def login_line(user, pw):
    tok = user + b" " + pw
    return b"set auth 0 0 %d\r\n%s\r\n" % (len(tok), tok)


@pytest.fixture(scope="module")
def pwfile(tmp_path_factory):
    d = tmp_path_factory.mktemp("auth")
    hashed = subprocess.run([hcutil.HC_BIN, "--hash-password"], input=b"c0rrect horse\n",
                            capture_output=True, check=True).stdout.strip()
    assert hashed.startswith(b"$y$")
    p = d / "pw"
    # many entries, a hashed one, and a last line without newline
    lines = [b"user%d:pass%d" % (i, i) for i in range(300)]
    lines += [b"carol:" + hashed, b"alice:secret"]
    p.write_bytes(b"\n".join(lines))
    return p


@pytest.fixture(scope="module")
def asrv(pwfile):
    s = hcutil.Server(["-S", "-Y", str(pwfile)])
    yield s
    s.stop()
    rep = s.sanitizer_report()
    assert not rep, rep.decode(errors="replace")


_addr = [0]


def conn(server):
    """A client from a source address of its own (127.0.1.N), so that one
    test's failed logins do not throttle another's."""
    _addr[0] += 1
    return client_from(server, "127.0.%d.%d" % (1 + _addr[0] // 250, 1 + _addr[0] % 250))


def test_nothing_but_login_and_version_before_login(asrv):
    with conn(asrv) as c:
        for line in (b"get a\r\n", b"gets a\r\n", b"stats\r\n", b"stats settings\r\n",
                     b"delete a\r\n", b"incr a 1\r\n", b"touch a 0\r\n",
                     b"flush_all\r\n", b"mg a v\r\n", b"ms a 1\r\nx\r\n", b"mn\r\n",
                     b"me a\r\n", b"md a\r\n", b"ma a\r\n", b"verbosity 1\r\n",
                     b"bogus\r\n", b"quit\r\n"):
            c.cmd(line, UNAUTH)
        c.cmd(b"add a 0 0 1\r\nx\r\n", UNAUTH)
        c.cmd(b"version\r\n", b"VERSION ")
        c.readline()
        assert asrv.alive()


def test_ascii_login_wrong_then_right(asrv):
    with conn(asrv) as c:
        c.cmd(login_line(b"alice", b"wrong"), FAIL)
        c.cmd(b"get a\r\n", UNAUTH)
        c.cmd(b"set auth 0 0 5\r\nalice\r\n",
              b"CLIENT_ERROR bad authentication token format\r\n")
        c.cmd(login_line(b"alice", b"secret"), b"STORED\r\n")
        c.cmd(b"set a 0 0 1\r\nx\r\n", b"STORED\r\n")
        c.cmd(b"get a\r\n", b"VALUE a 0 1\r\nx\r\nEND\r\n")
        c.cmd(b"mg a v\r\n", b"VA 1\r\nx\r\n")   # meta too, once logged in
        c.cmd(b"mn\r\n", b"MN\r\n")


def test_last_line_hashed_and_many_entries(asrv):
    for user, pw in ((b"alice", b"secret"), (b"carol", b"c0rrect horse"),
                     (b"user0", b"pass0"), (b"user299", b"pass299")):
        with conn(asrv) as c:
            c.cmd(login_line(user, pw), b"STORED\r\n")
            c.cmd(b"get nokey\r\n", b"END\r\n")
    with conn(asrv) as c:
        c.cmd(login_line(b"carol", b"c0rrect horsE"), FAIL)
        c.cmd(login_line(b"user1", b"pass1 "), FAIL)   # no early exit on length


def test_login_value_too_large_closes(asrv):
    with conn(asrv) as c:
        c.send(b"set auth 0 0 5000\r\n" + b"x" * 5000 + b"\r\n")
        assert c.assert_closed() == UNAUTH


def test_pymemcache_ascii_login(pwfile, start_server):
    asrv = start_server("-Y", str(pwfile))
    c = PmClient(("127.0.0.1", asrv.port), default_noreply=False)
    with pytest.raises(Exception):
        c.get("k")
    c.close()
    c = PmClient(("127.0.0.1", asrv.port), default_noreply=False)
    assert c.set("auth", "alice secret") is True   # memcached's ascii login
    c.set("pm", "v")
    assert c.get("pm") == b"v"
    c.close()


def test_binary_before_login(asrv):
    for req in (pack("get", "k"), pack("stat"), pack("flush"), pack("noop"),
                pack("set", "k", store_extras(), b"v")):
        with conn(asrv) as c:
            c.send(req)
            r = read(c)
            assert (r.status, r.value) == (bp.AUTH_ERROR, b"Auth failure.")
            c.assert_closed()
    with conn(asrv) as c:
        assert call(c, "version").status == bp.OK
        r = call(c, "sasl_list")
        assert (r.status, r.value) == (bp.OK, b"PLAIN")   # carol: yescrypt only
        assert call(c, "sasl_auth", "PLAIN", value=b"\0alice\0bad").status == bp.AUTH_ERROR
        assert call(c, "sasl_auth", "CRAM-MD5", value=b"x").status == bp.AUTH_ERROR
        r = call(c, "sasl_auth", "PLAIN", value=b"\0alice\0secret")
        assert (r.status, r.value) == (bp.OK, b"Authenticated")
        assert call(c, "get", "nope").status == bp.ENOENT
    with conn(asrv) as c:
        for bad in (b"no-nuls", b"\0only-one", b""):
            assert call(c, "sasl_auth", "PLAIN", value=bad).status == bp.AUTH_ERROR


def test_pylibmc_sasl(pwfile, start_server):
    asrv = start_server("-S", "-Y", str(pwfile))
    c = pylibmc.Client(["127.0.0.1:%d" % asrv.port], binary=True,
                       username="carol", password="c0rrect horse")
    c.set("pl", "value")
    assert c.get("pl") == "value"
    bad = pylibmc.Client(["127.0.0.1:%d" % asrv.port], binary=True,
                         username="carol", password="guess")
    with pytest.raises(pylibmc.Error):
        bad.set("pl", "evil")
    assert c.get("pl") == "value"


def test_stats_count_logins(asrv):
    with conn(asrv) as c:
        c.cmd(login_line(b"alice", b"secret"), b"STORED\r\n")
        before = c.stats()
        s = c.stats("settings")
    assert s["auth_enabled_sasl"] == "yes"
    assert s["auth_enabled_ascii"].endswith("pw")
    with conn(asrv) as c:
        c.cmd(login_line(b"user5", b"bad"), FAIL)
    with conn(asrv) as c:
        c.cmd(login_line(b"user5", b"pass5"), b"STORED\r\n")
        after = c.stats()
    assert int(after["auth_cmds"]) - int(before["auth_cmds"]) == 2
    assert int(after["auth_errors"]) - int(before["auth_errors"]) == 1


def test_unix_socket_needs_login(pwfile, tmp_path, start_server):
    path = str(tmp_path / "hc.sock")
    s = start_server("-s", path, "-Y", str(pwfile), listen=False, unix=path)
    with s.client() as c:
        c.cmd(b"get a\r\n", UNAUTH)
        c.cmd(b"stats\r\n", UNAUTH)
        c.cmd(login_line(b"alice", b"secret"), b"STORED\r\n")
        c.cmd(b"get a\r\n", b"END\r\n")
    with s.client() as c:
        c.send(pack("get", "k"))
        assert read(c).status == bp.AUTH_ERROR
        c.assert_closed()


def test_ascii_only_refuses_binary_sasl(pwfile, start_server):
    s = start_server("-Y", str(pwfile))
    with s.client() as c:
        assert call(c, "sasl_list").status == bp.UNKNOWN
    with s.client() as c:
        c.send(pack("get", "k"))
        assert read(c).status == bp.AUTH_ERROR
    with s.client() as c:
        c.cmd(b"stats settings\r\n", UNAUTH)


def test_sasl_only_refuses_ascii_login(pwfile, start_server):
    env = dict(os.environ, MEMCACHED_SASL_PWDB=str(pwfile))
    old = os.environ.get("MEMCACHED_SASL_PWDB")
    os.environ["MEMCACHED_SASL_PWDB"] = str(pwfile)
    try:
        s = start_server("-S")
    finally:
        if old is None:
            del os.environ["MEMCACHED_SASL_PWDB"]
        else:
            os.environ["MEMCACHED_SASL_PWDB"] = old
    assert env
    with s.client() as c:
        c.cmd(login_line(b"alice", b"secret"), UNAUTH)
    with s.client() as c:
        assert call(c, "sasl_auth", "PLAIN", value=b"\0alice\0secret").status == bp.OK


def test_sasl_without_file_refused(run_binary):
    env_had = os.environ.pop("MEMCACHED_SASL_PWDB", None)
    try:
        r = run_binary("-S")
    finally:
        if env_had is not None:
            os.environ["MEMCACHED_SASL_PWDB"] = env_had
    assert r.returncode == 64 and b"password file" in r.stderr


@pytest.mark.parametrize("content", [b"", b"nocolon\n", b":nouser\n", b"user:\n",
                                     b"x" * 5000 + b"\n"])
def test_bad_password_file_refused(run_binary, tmp_path, content):
    p = tmp_path / "pw"
    p.write_bytes(content)
    r = run_binary("-Y", str(p))
    assert r.returncode == 64, r.stderr


def test_hash_password_cli(run_binary):
    r = subprocess.run([hcutil.HC_BIN, "--hash-password"], input=b"", capture_output=True)
    assert r.returncode == 64
    r1 = subprocess.run([hcutil.HC_BIN, "--hash-password"], input=b"pw\n", capture_output=True)
    r2 = subprocess.run([hcutil.HC_BIN, "--hash-password"], input=b"pw\n", capture_output=True)
    assert r1.stdout.startswith(b"$y$") and r1.stdout != r2.stdout   # salted


def test_sighup_reloads(tmp_path, start_server):
    p = tmp_path / "pw"
    p.write_bytes(b"old:one")
    s = start_server("-Y", str(p))
    with s.client() as c:
        c.cmd(login_line(b"old", b"one"), b"STORED\r\n")
    p.write_bytes(b"new:two\n")
    s.proc.send_signal(signal.SIGHUP)
    time.sleep(1.5)
    with s.client() as c:
        c.cmd(login_line(b"old", b"one"), FAIL)
    with s.client() as c:
        c.cmd(login_line(b"new", b"two"), b"STORED\r\n")
    p.write_bytes(b"broken line\n")     # a bad file keeps the old entries
    s.proc.send_signal(signal.SIGHUP)
    time.sleep(1.5)
    with s.client() as c:
        c.cmd(login_line(b"new", b"two"), b"STORED\r\n")
    assert b"not reloaded" in s.stderr()


def client_from(server, src):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(5)
    sock.bind((src, 0))
    sock.connect(("127.0.0.1", server.port))
    raw = hcutil.Raw.__new__(hcutil.Raw)
    raw.sock, raw.timeout, raw.buf = sock, 5, b""
    return raw


def test_brute_force_throttled_per_address(pwfile, start_server):
    s = start_server("-Y", str(pwfile))
    with client_from(s, "127.0.0.1") as c:
        for i in range(3):
            c.cmd(login_line(b"alice", b"guess%d" % i), FAIL)
        # throttled: even the right password is not checked now
        c.cmd(login_line(b"alice", b"secret"), FAIL)
        # a new connection from the same address does not help
    with client_from(s, "127.0.0.1") as c:
        c.cmd(login_line(b"alice", b"secret"), FAIL)
    # another address is not slowed
    with client_from(s, "127.0.0.2") as c:
        c.cmd(login_line(b"alice", b"secret"), b"STORED\r\n")
    # the loop is slowed, not locked out: after the back-off it is checked
    time.sleep(0.6)
    with client_from(s, "127.0.0.1") as c:
        c.cmd(login_line(b"alice", b"wrong"), FAIL)
        c.cmd(login_line(b"alice", b"secret"), FAIL)   # now 1 s back-off
        time.sleep(1.1)
        c.cmd(login_line(b"alice", b"secret"), b"STORED\r\n")
        st = c.stats()
    assert int(st["auth_errors"]) >= 6


def test_brute_force_loop_gets_slower(pwfile, start_server):
    """Guessing as fast as it can for 2 s, one address gets only a handful
    of guesses checked (3 free, then one after 0.5 s, 1 s...); the rest are
    refused unchecked and counted as auth_throttled."""
    s = start_server("-Y", str(pwfile))
    n = 0
    with client_from(s, "127.0.0.1") as c:
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            c.cmd(login_line(b"alice", b"x%d" % n), FAIL)
            n += 1
        c.cmd(login_line(b"alice", b"secret"), FAIL)
        st = c.stats() if False else None
    with client_from(s, "127.0.0.2") as c:
        c.cmd(login_line(b"alice", b"secret"), b"STORED\r\n")
        st = c.stats()
    checked = int(st["auth_cmds"]) - int(st["auth_throttled"])
    assert n > 100
    assert int(st["auth_throttled"]) >= n + 1 - 6
    assert checked <= 7, st


def test_world_readable_file_warned(tmp_path, start_server):
    p = tmp_path / "pw"
    p.write_bytes(b"a:b\n")
    p.chmod(0o644)
    s = start_server("-Y", str(p))
    assert b"can be read by other users" in s.stderr()
    p.chmod(0o600)
    s2 = start_server("-Y", str(p))
    assert b"can be read by other users" not in s2.stderr()


def test_sasl_brute_force_throttled(pwfile, start_server):
    s = start_server("-S", "-Y", str(pwfile))
    with client_from(s, "127.0.0.1") as c:
        for i in range(3):
            assert call(c, "sasl_auth", "PLAIN", value=b"\0alice\0g%d" % i).status == bp.AUTH_ERROR
        assert call(c, "sasl_auth", "PLAIN", value=b"\0alice\0secret").status == bp.AUTH_ERROR
    with client_from(s, "127.0.0.3") as c:
        assert call(c, "sasl_auth", "PLAIN", value=b"\0alice\0secret").status == bp.OK
        c.send(pack("stat"))
        st = {}
        while True:
            r = read(c)
            if not r.key:
                break
            st[r.key] = r.value
    assert int(st[b"auth_throttled"]) == 1 and int(st[b"auth_errors"]) == 4


def test_malformed_login_token_counts_nothing(asrv):
    """memcached counts a login only once it checks one: a token without
    "user pass" is refused before that (proto_text.c process_ascii_auth)."""
    with conn(asrv) as c:
        c.cmd(login_line(b"alice", b"secret"), b"STORED\r\n")
        before = c.stats()
    with conn(asrv) as c:
        c.cmd(b"set a 0 0 5\r\nnopw!\r\n",
              b"CLIENT_ERROR bad authentication token format\r\n")
    with conn(asrv) as c:
        c.cmd(login_line(b"alice", b"secret"), b"STORED\r\n")
        after = c.stats()
    assert int(after["auth_cmds"]) - int(before["auth_cmds"]) == 1
    assert int(after["auth_errors"]) - int(before["auth_errors"]) == 0
