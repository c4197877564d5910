"""Overload and hostile clients, each bounded in time: while others
misbehave at scale, a well-behaved client keeps getting correct answers
quickly, resident memory stays within the documented bounds, and `stats`
shows what happened. (test_hostile.py covers single hostile connections;
these are the many-at-once cases.)"""
import os
import resource
import socket
import threading
import time

import pytest

import hcutil

pytestmark = pytest.mark.hardcached_only

SLOWLORIS_CONNS = 2000
# What each slow connection may cost beyond the bytes it sent (struct conn,
# socket, epoll entry, allocator rounding).
PER_CONN_OVERHEAD_KB = 4
GOOD_LATENCY_MAX_S = 1.0
GOOD_ROUNDS = 50


@pytest.fixture
def nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, SLOWLORIS_CONNS * 2 + 500)
    if want < SLOWLORIS_CONNS + 200:
        pytest.skip("RLIMIT_NOFILE hard limit %d too low" % hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def well_behaved(server, tag, rounds=GOOD_ROUNDS):
    """A client doing set/get/delete of its own keys: every reply exact,
    every round trip under GOOD_LATENCY_MAX_S. Returns the worst latency."""
    worst = 0.0
    with server.client(timeout=10) as c:
        for i in range(rounds):
            k = "%s:%d" % (tag, i)
            v = os.urandom(64).hex().encode()
            t0 = time.monotonic()
            c.set(k, v)
            assert c.get(k) == v
            worst = max(worst, time.monotonic() - t0)
    assert worst < GOOD_LATENCY_MAX_S, "good client waited %.2fs" % worst
    return worst


def test_slowloris_idle_partial_requests(nofile, start_server):
    """Thousands of connections each send part of a request and go quiet
    (half a command line, or a value that announces 1 MB and sends 100
    bytes). They cost memory by what they sent, not by what they announced;
    others are served meanwhile."""
    s = start_server("-c", str(SLOWLORIS_CONNS + 100))
    rss0 = hcutil.rss_kb(s.pid)
    socks = []
    try:
        for i in range(SLOWLORIS_CONNS):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            c.sendall(b"get slow%d" % i if i % 2 else
                      b"set slow%d 0 0 1000000\r\n" % i + b"s" * 100)
            socks.append(c)
        for c in socks[::2]:           # a second trickle: the value grows
            c.sendall(b"t" * 10)
        time.sleep(0.5)
        well_behaved(s, "slowloris")
        st = s.stats()
        rss = hcutil.rss_kb(s.pid)
        growth_kb = rss - rss0
        print("slowloris: %d partial requests, curr_connections %s, RSS +%d kB"
              % (len(socks), st["curr_connections"], growth_kb))
        assert int(st["curr_connections"]) >= SLOWLORIS_CONNS
        bound = SLOWLORIS_CONNS * PER_CONN_OVERHEAD_KB + hcutil.rss_slack_mb() * 1024
        assert growth_kb < bound, "RSS grew %d kB (bound %d)" % (growth_kb, bound)
    finally:
        for c in socks:
            c.close()
    deadline = time.monotonic() + 10
    while int(s.stats()["curr_connections"]) > 5:
        assert time.monotonic() < deadline, "closed connections not reaped"
        time.sleep(0.1)


NONREADERS = 16
NONREADER_SECONDS = 2.0


def test_many_clients_send_without_reading(start_server):
    """Many clients ask for a large value over and over and never read:
    each holds at most the output high-water mark plus one value."""
    s = start_server("-m", "64", "-t", "2")
    v = b"N" * 200000
    with s.client() as c:
        c.set("big", v)
    rss0 = hcutil.rss_kb(s.pid)
    stop = threading.Event()

    def hog():
        h = socket.create_connection(("127.0.0.1", s.port))
        h.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        h.setblocking(False)
        try:
            while not stop.is_set():
                try:
                    h.send(b"get big\r\n" * 100)
                except BlockingIOError:
                    time.sleep(0.02)
        finally:
            h.close()

    threads = [threading.Thread(target=hog) for _ in range(NONREADERS)]
    for t in threads:
        t.start()
    try:
        time.sleep(NONREADER_SECONDS)
        well_behaved(s, "nonreader", rounds=20)
        peak = hcutil.rss_kb(s.pid)
    finally:
        stop.set()
        for t in threads:
            t.join()
    # per hog: 256 KiB high water + one 200 KB value + socket-side slack
    bound_kb = NONREADERS * 1024 + hcutil.rss_slack_mb() * 1024
    print("%d non-readers: RSS %d -> %d kB" % (NONREADERS, rss0, peak))
    assert peak - rss0 < bound_kb
    assert s.alive()


FLOODERS = 4
FLOOD_SECONDS = 2.0


def test_flood_of_malformed_lines(start_server):
    """Several clients pour malformed lines (unknown commands, bad
    numbers, control bytes, half a binary header) as fast as they can;
    every one gets its error reply, and the good client is served."""
    s = start_server("-t", "2")
    junk = (b"bogus\r\nset k 0 0 -5\r\nincr\r\ngat abc \x01\x02\r\n"
            b"touch k abc\r\nset k x y z\r\n\x00\x00\r\ndelete\r\n")
    stop = threading.Event()
    counts = []

    def flood():
        n = 0
        with s.client(timeout=10) as c:
            while not stop.is_set():
                c.send(junk * 50)
                # 8 lines, 8 error replies each time: read them all
                for _ in range(8 * 50):
                    line = c.readline()
                    assert line.startswith((b"ERROR", b"CLIENT_ERROR")), line
                n += 8 * 50
        counts.append(n)

    threads = [threading.Thread(target=flood) for _ in range(FLOODERS)]
    b0 = int(s.stats()["bytes_read"])
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        well_behaved(s, "flood")
        time.sleep(max(0, FLOOD_SECONDS - 0.3))
    finally:
        stop.set()
        for t in threads:
            t.join()
    st = s.stats()
    print("malformed flood: %d error replies, bytes_read +%d"
          % (sum(counts), int(st["bytes_read"]) - b0))
    assert len(counts) == FLOODERS and min(counts) > 0
    assert int(st["bytes_read"]) - b0 >= sum(counts) * 5
    assert s.alive()


def test_oversized_values_streamed(start_server):
    """Clients keep sending values over -I: each is refused and its bytes
    discarded as they arrive (never buffered); store_too_large counts."""
    s = start_server("-I", "64k", "-m", "16")
    rss0 = hcutil.rss_kb(s.pid)
    n = 2 * 1024 * 1024
    chunk = b"o" * 65536
    clients = [s.client(timeout=10) for _ in range(4)]
    try:
        for c in clients:
            c.send(b"set huge 0 0 %d\r\n" % n)
        for _ in range(n // len(chunk)):
            for c in clients:
                c.send(chunk)
        for c in clients:
            c.send(b"\r\n")
            c.expect(b"SERVER_ERROR object too large for cache\r\n")
            c.cmd(b"get huge\r\n", b"END\r\n")
        well_behaved(s, "oversized")
        rss = hcutil.rss_kb(s.pid)
    finally:
        for c in clients:
            c.close()
    st = s.stats()
    assert int(st["store_too_large"]) == len(clients)
    assert rss - rss0 < 4096 + hcutil.rss_slack_mb() * 1024, (rss0, rss)


def test_conn_limit_flood_keeps_existing_clients(start_server):
    """-c exhausted and hammered with new connections: each is refused at
    accept with an error line; the clients already in keep working, and
    rejected_connections counts every refusal."""
    limit = 20
    s = start_server("-c", str(limit))
    keep = []
    deadline = time.monotonic() + 10
    while len(keep) < limit:        # exactly `limit` admitted clients
        c = s.client()
        c.send(b"version\r\n")
        if c.readline().startswith(b"VERSION "):
            keep.append(c)
        else:                       # start-up probe not yet reaped
            c.close()
            assert time.monotonic() < deadline
            time.sleep(0.05)
    attempts = 300
    try:
        for _ in range(attempts):
            try:
                with socket.create_connection(("127.0.0.1", s.port), timeout=5) as x:
                    x.settimeout(5)
                    got = x.recv(100)
                    assert got in (b"ERROR Too many open connections\r\n", b""), got
            except (ConnectionResetError, BrokenPipeError):
                pass
        for i, c in enumerate(keep):
            c.set("kept%d" % i, b"%d" % i)
            assert c.get("kept%d" % i) == b"%d" % i
        st = keep[0].stats()
    finally:
        for c in keep:
            c.close()
    assert int(st["rejected_connections"]) >= attempts
    assert int(st["curr_connections"]) == limit


MIXED_WRITERS = 4
MIXED_SECONDS = 3.0
MEM_MB = 8


def test_memory_limit_under_mixed_load(start_server):
    """-m reached under several writers of random sizes and readers, with
    -M: the bystander's data written first is never lost, the writers get
    SERVER_ERROR out of memory (store_no_memory counts them), and RSS stays
    within -m plus the documented overhead."""
    s = start_server("-m", str(MEM_MB), "-M", "-t", "2")
    by = hcutil.Bystander(s)
    stop = threading.Event()
    results = []

    def writer(seed):
        import random
        rnd = random.Random(seed)
        ok = oom = 0
        with s.client(timeout=10) as c:
            i = 0
            while not stop.is_set():
                v = b"w" * rnd.randint(10, 50000)
                c.send(b"set w%d:%d 0 0 %d\r\n%s\r\n" % (seed, i, len(v), v))
                line = c.readline()
                if line == b"STORED\r\n":
                    ok += 1
                else:
                    assert line == b"SERVER_ERROR out of memory storing object\r\n", line
                    oom += 1
                c.send(b"get w%d:%d\r\n" % (seed, rnd.randint(0, i)))
                c.read_until(b"END\r\n")
                i += 1
        results.append((ok, oom))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(MIXED_WRITERS)]
    for t in threads:
        t.start()
    try:
        time.sleep(MIXED_SECONDS)
        by.check()
        rss_mb = hcutil.rss_kb(s.pid) / 1024
    finally:
        stop.set()
        for t in threads:
            t.join()
    st = s.stats()
    by.check()
    by.close()
    oom = sum(r[1] for r in results)
    print("mixed load at -m %d -M: %d stored, %d refused, store_no_memory %s, "
          "RSS %.1f MiB" % (MEM_MB, sum(r[0] for r in results), oom,
                            st["store_no_memory"], rss_mb))
    assert oom > 0 and int(st["store_no_memory"]) >= oom
    # README "Memory": code, stacks and libc about 3 MB, plus buffers
    assert rss_mb < MEM_MB + 16 + hcutil.rss_slack_mb()


def test_a_client_sending_faster_than_its_requests_run_is_not_buffered():
    """With -R 1 a connection runs one request per turn; a client that
    pipelines 1 KiB noreply sets without pause sends far faster than
    that. The server must stop reading it while it holds requests not yet
    run (as memcached does: it reads again only when they have run), not
    buffer everything the client sends: 64 MiB sent, the server's RSS
    must not grow by anything like it."""
    s = hcutil.Server(["-R", "1", "-m", "64", "-t", "1"])
    try:
        value = b"v" * 1024
        batch = b"".join(b"set k%d 0 0 1024 noreply\r\n%s\r\n" % (i % 100, value)
                         for i in range(1000))   # about 1 MiB
        rss0 = hcutil.rss_kb(s.pid)
        peak = rss0
        with s.client(timeout=120) as c:
            done = threading.Event()

            def send():
                for _ in range(64):
                    c.sock.sendall(batch)
                done.set()
            t = threading.Thread(target=send, daemon=True)
            t.start()
            while not done.wait(0.05):
                peak = max(peak, hcutil.rss_kb(s.pid))
            t.join()
            c.send(b"mn\r\n")
            c.read_until(b"MN\r\n")
            peak = max(peak, hcutil.rss_kb(s.pid))
            c.cmd(b"get k7\r\n", b"VALUE k7 0 1024\r\n" + value + b"\r\nEND\r\n")
        grown_mb = (peak - rss0) / 1024
        assert grown_mb < 24 + hcutil.rss_slack_mb(), "server grew %.1f MB" % grown_mb
    finally:
        s.stop()
