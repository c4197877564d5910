"""Allow lists (--allow, --allow-file) and protected mode. A connection
from outside the list is closed before a byte is read and counted; every
UDP datagram is checked too. A server on a non-loopback address with no
login and no allow list refuses to start and says how to fix it."""
import socket
import time

import pytest

import hcutil
from udputil import UdpClient, free_udp_port, frame

pytestmark = pytest.mark.hardcached_only


def connect_from(port, source, host="127.0.0.1"):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    c = socket.socket(fam, socket.SOCK_STREAM)
    c.settimeout(3)
    c.bind((source, 0))
    c.connect((host, port))
    return c


def closed_without_a_byte(c):
    """The server closes without reading or answering: a request sent
    now gets EOF or a reset, never a reply."""
    try:
        c.sendall(b"version\r\n")
        return c.recv(100) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


def test_allow_tcp(start_server):
    s = start_server("--allow", "127.0.0.1/32")
    c = connect_from(s.port, "127.0.0.2")
    assert closed_without_a_byte(c)
    c.close()
    with s.client() as ok:   # 127.0.0.1
        ok.set("k", b"v")
        # closed connections (the start-up probe's, the refused one) are
        # reaped asynchronously: wait, bounded, for the count to settle
        deadline = time.monotonic() + 5
        while ok.stats()["curr_connections"] != "1" and time.monotonic() < deadline:
            time.sleep(0.05)
        st = ok.stats()
        assert st["acl_rejected_connections"] == "1"
        assert st["curr_connections"] == "1"
    assert s.stats("settings")["allow_list_entries"] == "1"


def test_allow_network_and_several_flags(start_server):
    s = start_server("--allow", "127.0.0.0/30", "--allow", "10.0.0.0/8,::1")
    for src in ("127.0.0.1", "127.0.0.2", "127.0.0.3"):
        c = connect_from(s.port, src)
        c.sendall(b"version\r\n")
        assert c.recv(100).startswith(b"VERSION")
        c.close()
    c = connect_from(s.port, "127.0.0.4")
    assert closed_without_a_byte(c)
    c.close()
    assert s.stats("settings")["allow_list_entries"] == "3"


def test_allow_ipv6(start_server):
    p = hcutil.free_port()
    s = start_server("-p", str(p), "-l", "127.0.0.1,::1", "--allow", "::1",
                     listen=False, port=p, wait=False)
    deadline = time.monotonic() + hcutil.START_TIMEOUT
    while True:
        try:
            c = connect_from(p, "::1", "::1")
            c.sendall(b"version\r\n")
            if c.recv(100).startswith(b"VERSION"):
                c.close()
                break
        except OSError:
            pass
        assert time.monotonic() < deadline and s.alive()
        time.sleep(0.1)
    c = connect_from(p, "127.0.0.1")
    assert closed_without_a_byte(c)
    c.close()


def test_allow_udp(start_server):
    u = free_udp_port()
    s = start_server("-U", str(u), "--allow", "127.0.0.1", udp_flag=False)
    with s.client() as c:
        c.set("k", b"v")
        with UdpClient(u, source="127.0.0.1") as ok:
            assert ok.request(b"get k\r\n") == b"VALUE k 0 1\r\nv\r\nEND\r\n"
        with UdpClient(u, source="127.0.0.2") as bad:
            for _ in range(3):
                bad.send(frame(b"get k\r\n"))
            assert bad.collect(quiet=0.3) == []
        st = c.stats()
        assert st["udp_dropped_acl"] == "3"


def test_allow_file(start_server, tmp_path):
    f = tmp_path / "allow"
    f.write_text("# test clients\n127.0.0.1   # local\n\n10.0.0.0/8, 192.168.0.0/16\n"
                 "2001:db8::/32")
    s = start_server("--allow-file", str(f))
    assert s.stats("settings")["allow_list_entries"] == "4"
    c = connect_from(s.port, "127.0.0.9")
    assert closed_without_a_byte(c)
    c.close()


@pytest.mark.parametrize("text, where", [
    ("127.0.0.1\n10.0.0.1/8\n", "allow:2"),
    ("127.0.0.1\n\n\n10.0.0.0/33", "allow:4"),
    ("localhost", "allow:1"),
    ("1.2.3.4;5.6.7.8", "allow:1"),
    ("# only comments\n", "lists no address"),
    ("", "lists no address"),
])
def test_allow_file_errors(run_binary, tmp_path, text, where):
    f = tmp_path / "allow"
    f.write_text(text)
    r = run_binary(*(hcutil.root_args() + ["-p", str(hcutil.free_port()),
                                           "--allow-file", str(f)]))
    assert r.returncode == 64, r
    assert where.encode() in r.stderr, r.stderr


def test_allow_file_missing_or_huge(run_binary, tmp_path):
    r = run_binary(*(hcutil.root_args() + ["--allow-file", str(tmp_path / "nope")]))
    assert r.returncode == 64 and b"nope" in r.stderr
    big = tmp_path / "big"
    big.write_text("127.0.0.1\n" * 200_000)
    r = run_binary(*(hcutil.root_args() + ["--allow-file", str(big)]))
    assert r.returncode == 64 and b"larger" in r.stderr


@pytest.mark.parametrize("value", ["", "10.0.0.0/33", "300.1.1.1", "10.0.0.1/8",
                                   "::1/129", "host.example", ",", "1.2.3.4/"])
def test_bad_allow_values(run_binary, value):
    r = run_binary(*(hcutil.root_args() + ["--allow", value]))
    assert r.returncode == 64, (value, r)
    assert r.stderr.strip()


# Protected mode.

def _refused(run_binary, *args):
    r = run_binary(*(hcutil.root_args() + ["-p", str(hcutil.free_port())] + list(args)))
    return r


@pytest.mark.parametrize("listen", ["0.0.0.0", "::", "127.0.0.1,::"])
def test_protected_mode_refuses_open_server(run_binary, listen):
    r = _refused(run_binary, "-l", listen)
    assert r.returncode == 64, r
    err = r.stderr.decode()
    assert "protected mode" in err
    # it says exactly how to fix it
    for fix in ("-l 127.0.0.1", "--allow", "--allow-file", "-S", "-Y",
                "--disable-protected-mode"):
        assert fix in err, (fix, err)


def test_protected_mode_decides_before_binding(run_binary):
    """The refusal comes before any socket is bound: an exposed address is
    never listened on, even for a moment, so a port someone else holds
    gets the protected-mode answer, not a bind error."""
    held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    held.bind(("0.0.0.0", 0))
    held.listen(1)
    try:
        port = held.getsockname()[1]
        r = run_binary(*(hcutil.root_args() + ["-p", str(port), "-l", "0.0.0.0"]))
        assert r.returncode == 64, r
        assert b"protected mode" in r.stderr and b"0.0.0.0:%d" % port in r.stderr, r.stderr
    finally:
        held.close()


def test_protected_mode_with_udp_mentions_reflection(run_binary):
    r = _refused(run_binary, "-l", "0.0.0.0", "-U", str(free_udp_port()))
    assert r.returncode == 64
    assert b"reflect" in r.stderr


def test_protected_mode_loopback_and_unix_are_fine(start_server, tmp_path):
    start_server()   # -l 127.0.0.1
    sock = str(tmp_path / "hc.sock")
    start_server("-s", sock, listen=False, unix=sock)


def test_protected_mode_override(start_server):
    s = start_server("--disable-protected-mode", host="0.0.0.0", wait=False)
    deadline = time.monotonic() + hcutil.START_TIMEOUT
    while True:
        try:
            with hcutil.Raw("127.0.0.1", s.port, 1) as c:
                c.send(b"version\r\n")
                assert c.readline().startswith(b"VERSION")
                break
        except OSError:
            assert time.monotonic() < deadline and s.alive(), s.stderr()
            time.sleep(0.1)
    assert s.stats("settings")["protected_mode"] == "no"


def test_protected_mode_satisfied_by_allow_list(start_server):
    s = start_server("--allow", "127.0.0.1", host="0.0.0.0", wait=False)
    deadline = time.monotonic() + hcutil.START_TIMEOUT
    while True:
        try:
            with hcutil.Raw("127.0.0.1", s.port, 1) as c:
                c.send(b"version\r\n")
                assert c.readline().startswith(b"VERSION")
                break
        except OSError:
            assert time.monotonic() < deadline and s.alive(), s.stderr()
            time.sleep(0.1)
    c = connect_from(s.port, "127.0.0.2")
    assert closed_without_a_byte(c)
    c.close()


def test_help_names_the_new_flags(run_binary):
    out = run_binary("-h").stdout
    for flag in (b"--allow", b"--allow-file", b"--disable-protected-mode",
                 b"udp_baf_percent", b"udp_validate_window", b"udp_src_rate"):
        assert flag in out, flag
