"""Graceful stop: SIGTERM (and SIGUSR1, `shutdown graceful`) stops
accepting, runs the requests clients had already sent and delivers their
replies whole before the process exits; SIGINT stops at once."""
import re
import signal
import socket
import time

import pytest

import hcutil

pytestmark = pytest.mark.hardcached_only

BIG = 200000
GETS = 40


def _read_all(sock, timeout=15):
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(1 << 20)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
    return data


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGUSR1])
def test_stop_delivers_replies_already_owed(start_server, sig):
    s = start_server("-t", "2")
    v = b"g" * BIG
    with s.client() as c:
        c.set("big", v)
    slow = socket.create_connection(("127.0.0.1", s.port))
    slow.sendall(b"set a 0 0 1\r\n1\r\n" + b"get big\r\n" * GETS)
    time.sleep(0.3)          # the server has queued what the sockets won't take
    s.proc.send_signal(sig)
    time.sleep(0.2)
    # no new clients once stopping
    with pytest.raises(OSError):
        x = socket.create_connection(("127.0.0.1", s.port), timeout=0.5)
        x.settimeout(0.5)
        x.sendall(b"version\r\n")
        if not x.recv(100):
            raise ConnectionError("closed")
    data = _read_all(slow)
    slow.close()
    assert data.startswith(b"STORED\r\n")
    body = data[len(b"STORED\r\n"):]
    one = b"VALUE big 0 %d\r\n%s\r\nEND\r\n" % (BIG, v)
    n = len(body) // len(one)
    assert body == one * n, "a reply was cut short"
    assert n == GETS, "%d of %d replies" % (n, GETS)
    assert s.proc.wait(15) == 0
    print("%s: %d of %d replies delivered whole before exit" % (sig.name, n, GETS))


def test_shutdown_graceful_command(start_server):
    s = start_server("-A")
    with s.client() as c:
        c.send(b"set k 0 0 1\r\nx\r\nshutdown graceful\r\n")
        got = c.assert_closed()
        assert got.startswith(b"STORED\r\n"), got
    assert s.proc.wait(15) == 0
