"""ThreadSanitizer: hardcached with 4 worker threads under concurrent load.

The store is shared by all workers (sharded, a mutex per shard), and the
read-ahead prefetches index buckets without a lock (the table's address is
published with relaxed atomics). This runs the TSan build through the
paths where threads meet: pipelined and pipeline-1 load from 60
connections on 2 client threads, eviction under a small -m, and index
growth while the others read; any ThreadSanitizer report fails the test.

HC_TSAN_BIN: the TSan build; HC_HCBENCH: the load generator (bench/).
"""
import os
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request

import pytest

BIN = os.environ.get("HC_TSAN_BIN", "")
HCBENCH = os.environ.get("HC_HCBENCH", "")

pytestmark = pytest.mark.skipif(not (BIN and HCBENCH),
                                reason="HC_TSAN_BIN and HC_HCBENCH not set")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(mem_mb, *extra):
    port = free_port()
    err = tempfile.TemporaryFile()
    env = dict(os.environ, TSAN_OPTIONS="halt_on_error=0 exitcode=0")
    # setarch -R: TSan needs the address space layout without ASLR's
    # high-entropy mmap base on newer kernels
    proc = subprocess.Popen(["setarch", "-R", BIN, "-p", str(port), "-l", "127.0.0.1",
                             "-U", "0", "-t", "4", "-m", str(mem_mb), "-u", "root",
                             "-o", "no_sandbox"] + list(extra),
                            stdout=subprocess.DEVNULL, stderr=err, env=env)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"version\r\n")
                if s.recv(100).startswith(b"VERSION"):
                    return proc, port, err
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("TSan server did not start")


def load(port, *args):
    out = subprocess.run([HCBENCH, "-s", "127.0.0.1:%d" % port, "-c", "60", "-t", "2",
                          "-K", "16"] + list(args),
                         capture_output=True, timeout=120, text=True)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return out.stdout


def stop_and_report(proc, err):
    proc.send_signal(2)
    proc.wait(timeout=60)
    err.seek(0)
    return err.read().decode(errors="replace")


@pytest.mark.parametrize("mem_mb, args", [
    # pipelined and pipeline-1 mixes, with eviction (60 MB of items in 48)
    (48, [["-p", "16", "-r", "0.5", "-k", "200000", "-v", "300", "-d", "4"],
          ["-p", "1", "-r", "0.5", "-k", "200000", "-v", "300", "-d", "3"]]),
    # index growth (2M keys, no eviction) while gets run
    (512, [["-p", "16", "-r", "0.3", "-k", "2000000", "-v", "32", "-d", "5"]]),
])
def test_no_data_races(mem_mb, args):
    proc, port, err = start(mem_mb)
    try:
        for a in args:
            load(port, *a)
    finally:
        report = stop_and_report(proc, err)
    assert "ThreadSanitizer" not in report, report[:6000]


@pytest.mark.parametrize("backend", ["uring", "pool"])
def test_flash_tier_race_free(tmp_path, backend):
    """The flash tier: compactions of several shards writing to it, gets
    parked on a read (through each worker's io_uring, or the I/O threads)
    and resumed by their workers (1 KB values, 16 MB of RAM: most reads go
    to flash)."""
    proc, port, err = start(16, "-o", "ext_path=%s:256m,ext_page_size=1,ext_wbuf_size=1"
                            % (tmp_path / "ext"), "-o", "ext_threads=2",
                            "-o", "ext_io_backend=" + backend)
    try:
        load(port, "-p", "16", "-r", "0.5", "-k", "60000", "-v", "1000", "-d", "4")
        load(port, "-p", "1", "-r", "0.9", "-k", "60000", "-v", "1000", "-d", "3")
    finally:
        report = stop_and_report(proc, err)
    assert "ThreadSanitizer" not in report, report[:6000]


def text_until(sock, end, count=1):
    data = b""
    while data.count(end) < count:
        got = sock.recv(65536)
        assert got, data
        data += got
    return data


def test_runtime_settings_race_free():
    """cache_memlimit and verbosity change settings while `stats`, `stats
    settings`, /metrics and the idle sweep's log line read them."""
    mport = free_port()
    proc, port, err = start(64, "-o", "metrics_port=%d" % mport, "-o", "idle_timeout=1")
    stop = threading.Event()
    failures = []

    def writer():
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            i = 0
            while not stop.is_set():
                s.sendall(b"cache_memlimit %d\r\nverbosity %d\r\n" % (64 + i % 2, i % 2))
                text_until(s, b"OK\r\n", 2)
                i += 1

    def stats_reader():
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            while not stop.is_set():
                s.sendall(b"stats settings\r\nstats\r\n")
                text_until(s, b"END\r\n", 2)

    def metrics_reader():
        while not stop.is_set():
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport,
                                        timeout=10) as r:
                assert r.status == 200 and r.read()

    def idler():
        # connections the idle sweep closes (with a log_info) on every worker
        idle = []
        while not stop.is_set():
            idle += [socket.create_connection(("127.0.0.1", port), timeout=10)
                     for _ in range(4)]
            time.sleep(0.3)
        for s in idle:
            s.close()

    def guard(fn):
        def run():
            try:
                fn()
            except Exception as e:  # reported below, with the server's stderr
                failures.append(repr(e))
                stop.set()
        return run

    threads = [threading.Thread(target=guard(f))
               for f in (writer, stats_reader, stats_reader, metrics_reader, idler)]
    try:
        for t in threads:
            t.start()
        time.sleep(4)
        stop.set()
        for t in threads:
            t.join(timeout=30)
    finally:
        stop.set()
        report = stop_and_report(proc, err)
    assert not failures, failures
    assert "ThreadSanitizer" not in report, report[:6000]
