"""hcbench --null-server: the do-nothing server `make bench` measures the
ceiling with. Without -v every get is a miss (END); with -v N every key
of a get is a hit of N bytes, which hcbench's own checks accept."""
import os
import socket
import subprocess
import time

import pytest

HCBENCH = "build/release/hcbench"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def null_server(root, make):
    make(HCBENCH)
    procs = []

    def start(*args):
        port = free_port()
        p = subprocess.Popen([os.path.join(root, HCBENCH), "--null-server", str(port),
                              "-d", "30"] + list(args),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(p)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return port
            except OSError:
                time.sleep(0.05)
        raise AssertionError("null server did not listen on %d" % port)
    yield start
    for p in procs:
        p.kill()
        p.wait()


def ask(port, request, until):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request)
        got = b""
        while not got.endswith(until):
            chunk = s.recv(65536)
            assert chunk, got
            got += chunk
        return got


def test_misses_without_value_size(null_server):
    port = null_server()
    assert ask(port, b"get a bb\r\n", b"END\r\n") == b"END\r\n"
    assert ask(port, b"set k 0 0 3\r\nabc\r\n", b"\r\n") == b"STORED\r\n"


def test_hits_of_the_given_size(null_server):
    port = null_server("-v", "100")
    value = b"x" * 100 + b"\r\n"
    assert ask(port, b"get a bb\r\n", b"END\r\n") == (
        b"VALUE a 0 100\r\n" + value + b"VALUE bb 0 100\r\n" + value + b"END\r\n")
    # a storage command's data is skipped, whatever -v says
    assert ask(port, b"set k 0 0 3\r\nabc\r\nget c\r\n", b"END\r\n") == (
        b"STORED\r\nVALUE c 0 100\r\n" + value + b"END\r\n")


def test_hcbench_counts_its_hits(root, null_server):
    port = null_server("-v", "1024")
    out = subprocess.run([os.path.join(root, HCBENCH), "-s", "127.0.0.1:%d" % port,
                          "-c", "4", "-p", "4", "-v", "1024", "-d", "0.5"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    res = dict(f.split("=", 1) for f in out.stdout.split("RESULT ", 1)[1].split() if "=" in f)
    assert int(res["gets"]) > 0
    assert res["hits"] == res["gets"] and res["misses"] == "0"
    assert res["bad_values"] == "0" and res["errors"] == "0"


def test_kept_values(null_server):
    """--null-keep: stored data goes into the ring and hits are read from
    it, from the slot the key names: a value just stored under the only
    key of a one-key space comes back."""
    port = null_server("-v", "5", "-k", "1", "--null-keep", "4")
    assert ask(port, b"set k 0 0 5\r\nhello\r\n", b"\r\n") == b"STORED\r\n"
    # the ring holds "hello\r\n" from its start; the one slot is there
    assert ask(port, b"get k\r\n", b"END\r\n") == b"VALUE k 0 5\r\nhello\r\nEND\r\n"


def test_keep_below_its_minimum_refused(root, make):
    """A ring under NULL_KEEP_MIN_MB could not hold a value of MAX_VALUE."""
    make(HCBENCH)
    r = subprocess.run([os.path.join(root, HCBENCH), "--null-server", "0", "--null-keep", "1"],
                       capture_output=True, timeout=30)
    assert r.returncode == 2
