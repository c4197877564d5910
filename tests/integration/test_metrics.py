"""The Prometheus endpoint (-o metrics_port, metrics_listen) and --config.

/metrics is scraped over real HTTP and parsed as the text exposition format
(HELP/TYPE before samples, one TYPE per family, label syntax, numeric
values); the numbers are checked against `stats` after real traffic.
Everything here is hardcached's alone: memcached has no /metrics endpoint
(operators run memcached_exporter beside it) and no --config.
"""
import http.client
import math
import os
import re
import socket
import time

import pytest

import binproto as bp
import hcutil

pytestmark = pytest.mark.hardcached_only

SAMPLE = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)'
    r'(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
    r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*)?\})?'
    r' (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text):
    """Parse the text format strictly; returns {(name, labels): float} and
    {name: type}. Raises AssertionError on anything malformed."""
    assert text.endswith("\n"), "exposition must end with a newline"
    samples, types, helps = {}, {}, set()
    for line in text.split("\n")[:-1]:
        if line.startswith("# HELP "):
            name = line.split(" ")[2]
            assert name not in helps, "second HELP for %s" % name
            helps.add(name)
            continue
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ")
            assert typ in ("counter", "gauge", "untyped", "summary", "histogram")
            assert name not in types, "second TYPE for %s" % name
            assert not any(k[0] == name for k in samples), \
                "TYPE for %s after its samples" % name
            types[name] = typ
            continue
        assert not line.startswith("#"), "stray comment %r" % line
        m = SAMPLE.match(line)
        assert m, "bad sample line %r" % line
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        key = (name, tuple(sorted(LABEL.findall(labels))))
        assert key not in samples, "duplicate sample %r" % (key,)
        v = float(value)
        assert not math.isnan(v)
        assert name in types, "sample %s without TYPE" % name
        if types[name] == "counter":
            assert v >= 0
        samples[key] = v
    return samples, types


def scrape(port, path="/metrics", host="127.0.0.1", method="GET"):
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request(method, path)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


@pytest.fixture
def metrics_server(start_server):
    port = hcutil.free_port()
    s = start_server("-o", "metrics_port=%d" % port)
    s.metrics_port = port
    return s


def test_metrics_off_by_default(start_server):
    """Without -o metrics_port the only listening socket is the cache's."""
    s = start_server()
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % s.pid):
        try:
            t = os.readlink("/proc/%d/fd/%s" % (s.pid, fd))
        except OSError:
            continue
        if t.startswith("socket:["):
            inodes.add(t[8:-1])
    rows = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            rows += [r.split() for r in f.read().splitlines()[1:]]
    ports = {int(r[1].split(":")[-1], 16) for r in rows
             if r[9] in inodes and r[3] == "0A"}
    assert ports == {s.port}, "unexpected listening ports %r" % ports


def test_scrape_parses_and_matches_stats(metrics_server):
    s = metrics_server
    c = s.client()
    for i in range(10):
        c.set("k%d" % i, b"v" * 100)
    for i in range(15):
        c.get("k%d" % i)            # 10 hits, 5 misses
    c.send(b"delete k0\r\n")
    c.expect(b"DELETED\r\n")
    c.send(b"delete nope\r\n")
    c.expect(b"NOT_FOUND\r\n")
    c.send(b"incr nope 1\r\n")
    c.expect(b"NOT_FOUND\r\n")
    st = c.stats()

    status, headers, body = scrape(s.metrics_port)
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert int(headers["Content-Length"]) == len(body)
    samples, types = parse_exposition(body.decode())

    def v(name, **labels):
        return samples[(name, tuple(sorted(labels.items())))]

    assert v("memcached_up") == 1
    assert types["memcached_commands_total"] == "counter"
    assert v("memcached_commands_total", command="get", status="hit") == 10
    assert v("memcached_commands_total", command="get", status="miss") == 5
    assert v("memcached_commands_total", command="set", status="hit") == 10
    assert v("memcached_commands_total", command="delete", status="hit") == 1
    assert v("memcached_commands_total", command="delete", status="miss") == 1
    assert v("memcached_commands_total", command="incr", status="miss") == 1
    assert v("memcached_current_items") == int(st["curr_items"]) == 9
    assert v("memcached_current_bytes") == int(st["bytes"])
    assert v("memcached_limit_bytes") == int(st["limit_maxbytes"])
    assert v("memcached_items_evicted_total") == int(st["evictions"])
    assert v("memcached_items_total") == int(st["total_items"])
    assert v("memcached_max_connections") == int(st["max_connections"])
    assert v("memcached_current_connections") >= 1
    assert v("memcached_connections_total") >= 1
    assert v("memcached_read_bytes_total") >= int(st["bytes_read"])
    assert v("memcached_written_bytes_total") > 0
    assert ("memcached_version", (("version", st["version"]),)) in samples
    for name in ("hardcached_auth_failures_total",
                 "hardcached_connections_rejected_total",
                 "memcached_connections_rejected_total",
                 "memcached_process_user_cpu_seconds_total"):
        assert (name, ()) in samples, name
    # `stats` itself is unchanged: no Prometheus names leak into it
    assert not any(k.startswith("memcached_") for k in st)
    c.close()


def test_rejections_are_counted(start_server):
    port = hcutil.free_port()
    s = start_server("-c", "2", "-o", "metrics_port=%d" % port)
    # the start-up probe's connection must be reaped before we fill -c
    # (the metrics port itself is not a cache connection)
    deadline = time.monotonic() + 5
    while parse_exposition(scrape(port)[2].decode())[0][
            ("memcached_current_connections", ())] != 0:
        assert time.monotonic() < deadline, "probe connection never reaped"
        time.sleep(0.05)
    held = []
    for _ in range(2):
        h = hcutil.Raw("127.0.0.1", s.port)
        h.send(b"version\r\n")
        assert h.readline().startswith(b"VERSION ")
        held.append(h)
    extra = socket.create_connection(("127.0.0.1", s.port))
    extra.settimeout(5)
    assert extra.recv(100).startswith(b"ERROR Too many open connections")
    extra.close()
    samples, _ = parse_exposition(scrape(port)[2].decode())
    assert samples[("hardcached_connections_rejected_total", ())] == 1
    assert samples[("memcached_connections_rejected_total", ())] == 1
    assert samples[("memcached_current_connections", ())] == 2
    for h in held:
        h.close()


@pytest.mark.parametrize("method,path,code", [
    ("GET", "/", 404), ("GET", "/metricsx", 404), ("GET", "/stats", 404),
    ("POST", "/metrics", 405), ("PUT", "/metrics", 405),
    ("DELETE", "/metrics", 405), ("GET", "/metrics?x=1", 200),
])
def test_other_requests(metrics_server, method, path, code):
    status, headers, _ = scrape(metrics_server.metrics_port, path, method=method)
    assert status == code
    if code == 405:
        assert headers["Allow"] == "GET"


def raw_http(port, data, timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        got = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return got
            got += chunk
    finally:
        s.close()


def test_hostile_requests_are_bounded(metrics_server):
    port = metrics_server.metrics_port
    # headers beyond the limit (METRICS_REQUEST_MAX, 8 KiB): 431, closed
    big = b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n"
    assert raw_http(port, big).startswith(b"HTTP/1.1 431 ")
    # not HTTP at all (a memcached command on the wrong port): 400
    assert raw_http(port, b"stats\r\n").startswith(b"HTTP/1.1 400 ")
    assert raw_http(port, b"GET /metrics HTTP/9.9\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    # a client that sends half a request and stalls is dropped after the
    # I/O timeout (2 s) and does not block the next scrape for longer
    stall = socket.create_connection(("127.0.0.1", port))
    stall.sendall(b"GET /metr")
    t0 = time.monotonic()
    status, _, _ = scrape(port)
    assert status == 200
    assert time.monotonic() - t0 < 4.5
    stall.settimeout(5)
    assert stall.recv(100) == b""   # closed by the server
    stall.close()
    # the cache itself never noticed
    c = metrics_server.client()
    c.set("after", b"ok")
    assert c.get("after") == b"ok"
    c.close()


def test_metrics_listen_and_refusals(start_server, run_binary):
    port = hcutil.free_port()
    s = start_server("-o", "metrics_port=%d,metrics_listen=127.0.0.1" % port)
    assert scrape(port)[0] == 200
    assert b"metrics on http://127.0.0.1:%d/metrics" % port in s.stderr()
    r = run_binary("-o", "metrics_listen=127.0.0.1")
    assert r.returncode == 64 and b"metrics_port" in r.stderr
    r = run_binary("-o", "metrics_port=70000")
    assert r.returncode == 64
    r = run_binary("-o", "metrics_listen=bad host")
    assert r.returncode == 64


def test_metrics_port_in_use_fails_start(start_server):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    try:
        with pytest.raises(RuntimeError):
            start_server("-o", "metrics_port=%d,metrics_listen=127.0.0.1" % port)
    finally:
        blocker.close()


# --config FILE


def test_config_file(start_server, tmp_path):
    conf = tmp_path / "hardcached.conf"
    port = hcutil.free_port()
    conf.write_text("# memcached.conf style\n\n-m 16\n  -c 77  \n"
                    "-o metrics_port=%d\n-v\n" % port)
    # -c on the command line wins over the file's
    s = start_server("--config", str(conf), "-c", "99")
    c = s.client()
    st = c.stats("settings")
    assert st["maxbytes"] == str(16 * 1024 * 1024)
    assert st["maxconns"] == "99"
    assert st["verbosity"] == "1"
    c.close()
    assert scrape(port)[0] == 200


def test_runtime_settings_in_every_sink(metrics_server):
    """cache_memlimit and verbosity, as text `stats`, binary STAT and
    /metrics show them: three sinks of one emitter."""
    s = metrics_server
    c = s.client()
    c.cmd(b"cache_memlimit 100\r\n", b"OK\r\n")
    c.cmd(b"verbosity 2\r\n", b"OK\r\n")
    limit = str(100 * 1024 * 1024)
    assert c.stats()["limit_maxbytes"] == limit
    st = c.stats("settings")
    assert (st["maxbytes"], st["verbosity"]) == (limit, "2")
    b = s.client()   # a connection speaks the protocol of its first byte
    b.send(bp.pack("stat", "settings"))
    binary = {}
    while True:
        r = bp.read(b)
        if not r.key:
            break
        binary[r.key.decode()] = r.value.decode()
    assert binary == st
    b.close()
    samples, _ = parse_exposition(scrape(s.metrics_port)[2].decode())
    assert samples[("memcached_limit_bytes", ())] == 100 * 1024 * 1024
    c.close()


@pytest.mark.parametrize("text,msg", [
    ("-m 16\nmemory 16\n", b":2: expected a flag"),
    ("--config=/etc/other\n", b"cannot be nested"),
    ("-m " + "1" * 2000 + "\n", b"line longer than"),
    ("-Q\n", b"unknown option"),
    ("-m 0\n", b"memory limit must be above 0"),
])
def test_config_file_errors(run_binary, tmp_path, text, msg):
    conf = tmp_path / "bad.conf"
    conf.write_text(text)
    r = run_binary("--config=%s" % conf)
    assert r.returncode == 64, r.stderr
    assert msg in r.stderr


def test_config_file_missing(run_binary):
    r = run_binary("--config", "/nonexistent/hardcached.conf")
    assert r.returncode == 64
    assert b"cannot read config file" in r.stderr


# security counters that arrived with UDP and allow lists


ADVISORY_PROBE = b"\x00\x00\x00\x00\x00\x01\x00\x00stats\r\n"


def test_udp_counters(start_server):
    """The advisory's UDP stats probe is refused (no admin over UDP) and
    the refusal shows in /metrics, as do requests and bytes."""
    mport = hcutil.free_port()
    port = hcutil.free_port()
    s = start_server("-U", str(port), "-o", "metrics_port=%d" % mport,
                     port=port, udp_flag=False)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(0.5)
    for _ in range(3):
        u.sendto(ADVISORY_PROBE, ("127.0.0.1", s.port))
    try:
        u.recv(4096)
    except socket.timeout:
        pass
    u.close()
    deadline = time.monotonic() + 5
    while True:
        samples, types = parse_exposition(scrape(mport)[2].decode())
        if samples[("hardcached_udp_requests_total", ())] >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert samples[("hardcached_udp_enabled", ())] == 1
    assert samples[("hardcached_udp_requests_total", ())] == 3
    assert samples[("hardcached_udp_read_bytes_total", ())] == 3 * len(ADVISORY_PROBE)
    dropped = sum(v for (n, _), v in samples.items() if n == "hardcached_udp_dropped_total")
    refused = samples[("hardcached_udp_admin_refused_total", ())]
    assert dropped + refused >= 3
    assert types["hardcached_udp_dropped_total"] == "counter"
    for reason in ("amplification", "rate", "acl", "auth", "malformed", "too_large"):
        assert ("hardcached_udp_dropped_total", (("reason", reason),)) in samples
    # the amplification the endpoint reports is bounded like the server's
    assert samples[("hardcached_udp_max_amplification_unvalidated_ratio", ())] <= 1.0
    st = s.client().stats()
    assert int(st["udp_requests"]) == 3


def test_allow_list_guards_metrics(start_server):
    """--allow applies to the metrics port too: a peer outside the list is
    closed without a reply and counted."""
    mport = hcutil.free_port()
    # 127.0.0.2 is not allowed; 127.0.0.1 is
    start_server("--allow", "127.0.0.1", "-o",
                 "metrics_port=%d,metrics_listen=0.0.0.0" % mport)
    c = socket.socket()
    c.bind(("127.0.0.2", 0))
    c.settimeout(5)
    c.connect(("127.0.0.2", mport))
    c.sendall(b"GET /metrics HTTP/1.1\r\n\r\n")
    try:
        got = c.recv(100)
    except ConnectionResetError:
        got = b""
    c.close()
    assert got == b""
    samples, _ = parse_exposition(scrape(mport)[2].decode())
    assert samples[("hardcached_metrics_acl_rejected_total", ())] == 1
