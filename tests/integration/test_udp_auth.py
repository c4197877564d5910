"""UDP and login together, which memcached cannot do (it refuses -U with
SASL or answers UDP despite it, memcached #501): with authentication on,
UDP is served only to addresses that logged in over TCP within the window.
A TCP connection that has not logged in validates nothing."""
import socket
import time

import pytest

import hcutil
from udputil import UdpClient, free_udp_port, frame

pytestmark = pytest.mark.hardcached_only

USER, PASSWORD = b"udpuser", b"udp-secret-123"


@pytest.fixture
def auth_server(start_server, tmp_path):
    f = tmp_path / "auth"
    f.write_bytes(USER + b":" + PASSWORD + b"\n")
    u = free_udp_port()
    s = start_server("-Y", str(f), "-U", str(u), udp_flag=False, wait=False)
    deadline = time.monotonic() + hcutil.START_TIMEOUT
    while True:   # before login only `version` is answered
        try:
            with hcutil.Raw("127.0.0.1", s.port, 1) as c:
                c.send(b"version\r\n")
                if c.readline().startswith(b"VERSION"):
                    break
        except OSError:
            pass
        assert s.alive() and time.monotonic() < deadline, s.stderr()
        time.sleep(0.1)
    s.udp_port = u
    return s


def login(port, source):
    c = socket.create_connection(("127.0.0.1", port), timeout=3,
                                 source_address=(source, 0))
    cred = USER + b" " + PASSWORD
    c.sendall(b"set auth 0 0 %d\r\n%s\r\n" % (len(cred), cred))
    assert c.recv(100) == b"STORED\r\n"
    c.sendall(b"version\r\n")   # one more request after the login
    assert c.recv(100).startswith(b"VERSION")
    return c


def test_udp_needs_login_over_tcp(auth_server):
    s = auth_server
    with UdpClient(s.udp_port, source="127.0.0.3") as u:
        assert u.ask(b"version\r\n") == []          # no TCP at all
        c = socket.create_connection(("127.0.0.1", s.port), timeout=3,
                                     source_address=("127.0.0.3", 0))
        c.sendall(b"version\r\n")
        c.recv(100)
        assert u.ask(b"version\r\n") == []          # TCP, but no login
        c.close()
        c = login(s.port, "127.0.0.3")
        c.sendall(b"set k 0 0 2\r\nok\r\n")
        assert c.recv(100) == b"STORED\r\n"
        assert u.request(b"get k\r\n") == b"VALUE k 0 2\r\nok\r\nEND\r\n"
        c.sendall(b"stats\r\n")
        time.sleep(0.2)
        stats = c.recv(1 << 16)
        assert b"STAT udp_dropped_auth 2\r\n" in stats, stats
        c.close()
    with UdpClient(s.udp_port, source="127.0.0.2") as other:
        assert other.ask(b"version\r\n") == []      # a neighbour is not


def test_udp_auth_failed_login_validates_nothing(auth_server):
    s = auth_server
    c = socket.create_connection(("127.0.0.1", s.port), timeout=3,
                                 source_address=("127.0.0.5", 0))
    bad = USER + b" wrong"
    c.sendall(b"set auth 0 0 %d\r\n%s\r\n" % (len(bad), bad))
    c.recv(100)
    with UdpClient(s.udp_port, source="127.0.0.5") as u:
        assert u.ask(b"version\r\n") == []
    c.close()


def test_protected_mode_satisfied_by_login(start_server, tmp_path):
    """-Y counts as a login for protected mode: 0.0.0.0 with -Y and no
    allow list starts (and then serves nothing before login)."""
    f = tmp_path / "auth"
    f.write_bytes(USER + b":" + PASSWORD + b"\n")
    s = start_server("-Y", str(f), host="0.0.0.0", wait=False)
    deadline = time.monotonic() + hcutil.START_TIMEOUT
    while True:
        try:
            with hcutil.Raw("127.0.0.1", s.port, 1) as c:
                c.send(b"version\r\n")
                if c.readline().startswith(b"VERSION"):
                    break
        except OSError:
            pass
        assert s.alive() and time.monotonic() < deadline, s.stderr()
        time.sleep(0.1)
