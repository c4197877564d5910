"""`watch` (issue 18): memcached 1.6.45's event streams and line formats
(fetchers, mutations, evictions, connevents, deletions, several at once;
rawcmds, which 1.6.45 declares and never writes; the proxy's, silent as in
1.6.45 built without its proxy; sysevents in test_toolbox_crawler.py),
compared with 1.6.45 for the same session with the times, event ids, file
descriptors and ports masked; -W; login; the watcher limit; and a watcher
that never reads: it loses lines and is told how many (skipped=N), while
the server's memory and another client's latency stay bounded; and
watchers that come and go among many idle clients."""
import re
import socket
import time

import pytest

import hcutil
import toolbox
from toolbox import MC_REF

pytestmark = pytest.mark.hardcached_only

SESSION = (b"set a:1 0 0 1\r\nx\r\nget a:1 nokey\r\nadd a:1 0 0 1\r\ny\r\ndelete a:1\r\n"
           b"mg zz v\r\nms m 1 T10\r\nq\r\nmd m\r\ntouch a:1 1\r\nincr n 1\r\n"
           b"set big 5 0 3000\r\n" + b"b" * 3000 + b"\r\nget big\r\n")
KINDS = b"fetchers mutations deletions connevents"


def mask(out):
    out = re.sub(rb"ts=\d+\.\d+ gid=\d+ ", b"", out)
    out = re.sub(rb"(cfd|rport)=\d+", rb"\1=N", out)
    return out


def read_quiet(sock, quiet):
    """What sock receives until it is closed or silent for quiet seconds."""
    got = b""
    sock.settimeout(quiet)
    try:
        while True:
            d = sock.recv(65536)
            if not d:
                break
            got += d
    except socket.timeout:
        pass
    return got


def watch(server, kinds, session, settle=0.5):
    """What a watcher of kinds sees while another client runs session and
    leaves."""
    w = socket.create_connection(("127.0.0.1", server.port))
    w.settimeout(5)
    w.sendall(b"watch " + kinds + b"\r\n" if kinds else b"watch\r\n")
    got = b""
    while not got.endswith(b"\r\n"):
        got += w.recv(100)
    if got != b"OK\r\n":
        w.close()
        return got
    with server.client() as c:
        port = c.sock.getsockname()[1]
        c.send(session + b"mn\r\n")
        c.read_until(b"MN\r\n")
    time.sleep(settle)
    got += read_quiet(w, settle)
    w.close()
    # connection events of other clients (the start-up probes, which may
    # close just after the watch began) are not the session's
    return b"".join(ln for ln in got.splitlines(keepends=True)
                    if b"type=conn_" not in ln or b" rport=%d " % port in ln)


@pytest.mark.skipif(hcutil.is_reference() or MC_REF is None, reason=hcutil.REF_MISSING)
@pytest.mark.parametrize("kinds", [KINDS, b"", b"mutations", b"deletions connevents", b"bogus"])
def test_watch_as_memcached(kinds):
    with toolbox.ref_pair() as (hc, mc):
        got, want = mask(watch(hc, kinds, SESSION)), mask(watch(mc, kinds, SESSION))
        # 1.6.45's `mn` is itself no lookup; the close reason of a client
        # that leaves is "error" in both
        assert got.split(b"\n") == want.split(b"\n")
        if kinds != b"bogus":
            assert got.startswith(b"OK\r\n") and got.count(b"\n") > 1


@pytest.mark.skipif(hcutil.is_reference() or MC_REF is None, reason=hcutil.REF_MISSING)
def test_requests_after_watch_in_one_packet_dropped_as_memcached():
    """What a client sends after `watch` in the same packet is not run:
    no reply mixed into the stream, no write from a listening connection."""
    seen = []
    for binary in (None, MC_REF):
        s = hcutil.Server(binary=binary)
        try:
            w = socket.create_connection(("127.0.0.1", s.port))
            w.sendall(b"watch mutations\r\nset wa 0 0 1\r\nx\r\nwatch\r\nversion\r\n")
            got = read_quiet(w, 0.5)
            with s.client() as c:
                seen.append((got, c.call(b"get wa\r\n")))
            w.close()
        finally:
            s.stop()
    assert seen[0] == seen[1] == (b"OK\r\n", b"END\r\n")


@pytest.mark.skipif(hcutil.is_reference() or MC_REF is None, reason=hcutil.REF_MISSING)
def test_proxy_streams_silent_as_memcached():
    with toolbox.ref_pair() as (hc, mc):
        kinds = b"proxyreqs proxyevents proxyuser"
        assert watch(hc, kinds, SESSION) == watch(mc, kinds, SESSION) == b"OK\r\n"


def test_rawcmds_logs_each_command_line():
    """Each text and meta request's command line (not its data), in
    memcached's -vv format "<fd line" that its logger declares for
    rawcmds (1.6.45 never writes one: test_rawcmds_memcached_silent)."""
    want = [b"set a:1 0 0 1", b"get a:1 nokey", b"add a:1 0 0 1", b"delete a:1",
            b"mg zz v", b"ms m 1 T10", b"md m", b"touch a:1 1", b"incr n 1",
            b"set big 5 0 3000", b"get big", b"mn"]   # SESSION's, and watch()'s mn
    s = hcutil.Server()
    try:
        got = mask(watch(s, b"rawcmds", SESSION)).split(b"\n")
        assert got[0] == b"OK\r"
        assert [re.sub(rb"^<\d+ ", b"", ln) for ln in got[1:-1]] == want, got
        assert all(re.match(rb"<\d+ ", ln) for ln in got[1:-1])
        # a watcher's own `watch` line is not among them, nor another's (one
        # watches rawcmds meanwhile); a request's line follows the events it
        # caused
        other = s.client()
        assert other.call(b"watch rawcmds\r\n") == b"OK\r\n"
        got = mask(watch(s, b"rawcmds fetchers", b"get nokey\r\n")).split(b"\n")
        seen = other.read_until(b" mn\n")
        assert b"watch" not in seen and b" get nokey\n" in seen, seen
        other.close()
        assert [re.sub(rb"^<\d+ ", b"", ln) for ln in got[1:-1]] == [
            b"type=item_get key=nokey status=not_found clsid=0 cfd=N size=0",
            b"get nokey", b"mn"]
    finally:
        s.stop()


@pytest.mark.skipif(hcutil.is_reference() or MC_REF is None, reason=hcutil.REF_MISSING)
def test_rawcmds_memcached_silent():
    """The documented difference: 1.6.45 accepts rawcmds and writes nothing."""
    mc = hcutil.Server(binary=MC_REF)
    try:
        assert watch(mc, b"rawcmds", SESSION) == b"OK\r\n"
    finally:
        mc.stop()


@pytest.mark.skipif(hcutil.is_reference() or MC_REF is None, reason=hcutil.REF_MISSING)
def test_evictions_and_W_as_memcached():
    fill = b"".join(b"set e:%d 0 0 1000 noreply\r\n%s\r\n" % (i, b"e" * 1000)
                    for i in range(6000))
    with toolbox.ref_pair(["-m", "2"]) as (hc, mc):
        for s in (hc, mc):
            lines = watch(s, b"evictions", fill, settle=1.0).split(b"\n")
            assert lines[0] == b"OK\r"
            assert len(lines) > 100
            for ln in lines[1:-1]:
                if re.fullmatch(rb"skipped=\d+\r?", ln):
                    continue   # a watcher that fell behind (a loaded machine)
                assert re.fullmatch(rb"ts=\d+\.\d+ gid=\d+ type=eviction key=e%3A\d+ fetch=no "
                                    rb"ttl=-1 la=\d+ clsid=12 size=1000", ln), ln
    with toolbox.ref_pair(["-W"]) as (hc, mc):
        assert watch(hc, b"", b"") == watch(mc, b"", b"") == \
            b"CLIENT_ERROR watch commands not allowed\r\n"


def test_only_after_login_and_limited(tmp_path):
    with toolbox.login_server(tmp_path) as s, s.client() as c:
        assert c.call(b"watch\r\n") == b"CLIENT_ERROR unauthenticated\r\n"
        c.cmd(toolbox.LOGIN, b"STORED\r\n")
        assert c.call(b"watch\r\n") == b"OK\r\n"
    s = hcutil.Server()
    try:
        watchers = [s.client() for _ in range(9)]
        replies = [w.call(b"watch\r\n") for w in watchers]
        assert replies == [b"OK\r\n"] * 8 + [b"WATCHER_TOO_MANY log watcher limit reached\r\n"]
        watchers[0].close()   # its slot is free again
        time.sleep(0.3)
        assert watchers[8].call(b"watch\r\n") == b"OK\r\n"
        for w in watchers:
            w.close()
    finally:
        s.stop()


def test_a_watcher_that_never_reads():
    s = hcutil.Server(["-t", "1"])   # one worker: the watcher's is everyone's
    try:
        w = socket.create_connection(("127.0.0.1", s.port))
        w.sendall(b"watch fetchers mutations\r\n")
        time.sleep(0.2)
        rss_before = hcutil.rss_kb(s.pid)
        worst = 0.0
        with s.client(timeout=30) as c:
            for batch in range(40):   # 400,000 lines, about 40 MB of them
                c.send(b"".join(b"set w:%d 0 0 10 noreply\r\n0123456789\r\nget w:%d\r\n"
                                % (i, i) for i in range(batch * 5000, batch * 5000 + 5000)))
                t = time.monotonic()
                c.send(b"mn\r\n")
                c.read_until(b"MN\r\n")
                worst = max(worst, time.monotonic() - t)
        grown_mb = (hcutil.rss_kb(s.pid) - rss_before) / 1024
        assert grown_mb < 32 + hcutil.rss_slack_mb(), "server grew %.1f MB" % grown_mb
        assert worst < 10, "a batch took %.1f s" % worst
        # now it reads: what fitted, then how many lines it lost
        w.settimeout(2)
        got = b""
        try:
            while b"skipped=" not in got:
                d = w.recv(1 << 20)
                if not d:
                    break
                got += d
            while not got.endswith(b"\n"):
                got += w.recv(1 << 20)
        except socket.timeout:
            pass
        m = re.search(rb"\nskipped=(\d+)\n", got)
        assert m, got[-300:]
        assert int(m.group(1)) > 100000
        w.close()
        print("watcher: server grew %.1f MB, worst batch %.3f s, skipped %s"
              % (grown_mb, worst, m.group(1).decode()))
    finally:
        s.stop()


def test_watchers_fed_after_a_full_round_of_replies():
    """255 clients served in one round, then the watchers' wake-up in the
    same round: feeding the watchers must not overrun the round's table of
    reply spans (it did: a crash, SIGSEGV). A slow `stats items` on one
    connection holds the worker while the 255 requests arrive, and its
    `get` queues the fetch event whose wake-up comes last."""
    s = hcutil.Server(["-t", "1", "-m", "512"])
    try:
        with s.client(timeout=60) as c:
            for base in range(0, 1_000_000, 5000):
                c.send(b"".join(b"set key:%d 0 0 10 noreply\r\n0123456789\r\n" % i
                                for i in range(base, base + 5000)))
            c.cmd(b"mn\r\n", b"MN\r\n")
            watchers = []
            for _ in range(8):
                w = socket.create_connection(("127.0.0.1", s.port))
                w.sendall(b"watch fetchers\r\n")
                w.settimeout(5)
                assert w.recv(100) == b"OK\r\n"
                watchers.append(w)
            conns = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(255)]
            time.sleep(0.3)
            c.send(b"stats items\r\nget foo\r\n")
            time.sleep(0.002)
            for i, k in enumerate(conns):
                k.sendall(b"set big%03d 0 0 65400\r\n" % i + b"x" * 65400 + b"\r\n")
            for k in conns:
                k.settimeout(10)
                assert k.recv(100) == b"STORED\r\n"
                k.close()
            c.read_until(b"END\r\nEND\r\n")
            for w in watchers:
                w.close()
        assert s.proc.poll() is None, "server died: %s" % s.stderr()[-500:]
    finally:
        s.stop()


def test_a_watcher_is_never_idle():
    """-o idle_timeout closes idle clients, not watchers (memcached skips
    them): a watcher only listens."""
    s = hcutil.Server(["-o", "idle_timeout=1"])
    try:
        w = socket.create_connection(("127.0.0.1", s.port))
        w.settimeout(5)
        w.sendall(b"watch fetchers\r\n")
        assert w.recv(100) == b"OK\r\n"
        idle = socket.create_connection(("127.0.0.1", s.port))
        idle.settimeout(5)
        time.sleep(3.5)   # the sweep runs about once a second
        assert idle.recv(100) == b""   # an idle client is closed ...
        with s.client() as c:
            c.cmd(b"get w\r\n", b"END\r\n")
        assert w.recv(200).startswith(b"ts=")   # ... the watcher still hears
        w.close()
    finally:
        s.stop()


def test_watchers_coming_and_going_among_many_connections():
    """The worker feeds its watchers from a list of their own, not by
    walking every connection: watchers that join and leave at its head,
    middle and tail, among many idle clients, must each still hear every
    event, and the ones gone must not be fed (a use after free)."""
    s = hcutil.Server(["-t", "1"])   # one worker: one list for all

    def watcher():
        w = socket.create_connection(("127.0.0.1", s.port))
        w.settimeout(5)
        w.sendall(b"watch mutations\r\n")
        assert w.recv(100) == b"OK\r\n"
        return w

    def hears(w, key):
        got = b""
        while b"key=" + key + b" " not in got:
            d = w.recv(65536)
            assert d, "watcher closed"
            got += d

    try:
        idle = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(100)]
        ws = [watcher() for _ in range(4)]
        idle += [socket.create_connection(("127.0.0.1", s.port)) for _ in range(100)]
        with s.client() as c:
            for step, gone in enumerate([3, 1, 0]):   # the oldest, a middle one, the newest
                ws.pop(gone).close()
                time.sleep(0.2)   # its close is handled before the next event
                ws.append(watcher())
                key = b"step%d" % step
                c.cmd(b"set " + key + b" 0 0 1\r\nx\r\n", b"STORED\r\n")
                for w in ws:
                    hears(w, key)
            for w in ws:
                w.close()
            time.sleep(0.2)
            c.cmd(b"set after 0 0 1\r\nx\r\n", b"STORED\r\n")   # no watcher left
            ws = [watcher()]
            c.cmd(b"set again 0 0 1\r\nx\r\n", b"STORED\r\n")
            hears(ws[0], b"again")
            ws[0].close()
        for k in idle:
            k.close()
        assert s.proc.poll() is None, "server died: %s" % s.stderr()[-500:]
    finally:
        s.stop()
