"""Remote audit against real servers and fake UDP peers on loopback."""
import struct
import time

import os

import pytest

from conftest import HC_BIN, Proc, finding_ids, free_port, probe


def test_memcached_udp_is_vulnerable_with_fix(audit, memcached):
    m = memcached(udp=True)
    r = audit("--json", "127.0.0.1:%d" % m.port)
    assert r.rc == 1, r.out + r.err
    t = r.target(m.port)
    assert t["tcp"]["state"] == "open"
    assert t["tcp"]["server"] == "memcached"
    assert t["tcp"]["version"].startswith("1.6")
    assert t["tcp"]["auth"] == "none"
    assert t["tcp"]["settings"]["udpport"] == m.port
    assert t["udp"]["state"] == "reply"
    stats = probe(t, "stats")
    assert stats["result"] == "reply"
    assert stats["request_bytes"] == 15          # 8-byte header + "stats\r\n"
    assert stats["reply_packets"] == stats["unique_packets"] == \
        stats["expected_packets"] >= 2
    assert stats["baf"] > 50, stats            # ~148 on 1.6.18
    assert stats["baf"] == round(stats["reply_bytes"] / 15, 2)
    assert stats["paf"] == stats["reply_packets"]
    assert stats["first_line"].startswith("STAT pid")
    assert probe(t, "version")["first_line"].startswith("VERSION")
    assert t["verdict"]["status"] == "vulnerable"
    amp = [f for f in t["verdict"]["findings"] if f["id"] == "udp_amplifier"]
    assert amp and amp[0]["severity"] == "high"      # private address
    advice = amp[0]["advice"]
    for words in ("-U 0", "1.5.6", "backported", "/etc/memcached.conf",
                  "systemctl restart memcached",
                  "nft add rule inet filter input udp dport %d drop" % m.port,
                  "iptables -I INPUT -p udp --dport %d -j DROP" % m.port,
                  "ufw deny %d/udp" % m.port,
                  "hardcache-audit --verify --require-service 127.0.0.1:%d"
                  % m.port):
        assert words in advice, words
    assert "11211" not in advice
    assert "memcached refuses to start with UDP and authentication" in advice
    assert "tcp_no_auth" in finding_ids(t)
    assert "public_address_reachable" not in finding_ids(t)


def test_amplify_large_get_measures_attackers_factor(audit, memcached):
    m = memcached(udp=True, extra=["-m", "64"])
    r = audit("--json", "--amplify", "127.0.0.1:%d" % m.port, timeout=90)
    t = r.target(m.port)
    assert t["amplify"]["stored"] and t["amplify"]["deleted"], t["amplify"]
    get = probe(t, "amplify_get")
    assert get["result"] == "reply"
    assert get["expected_packets"] > 500
    assert get["reply_bytes"] > 900000
    assert get["baf"] > 10000, get           # ~46,000x measured
    assert get["paf"] > 500
    # the advisory's worst case: one datagram asking for the value 10 times;
    # memcached sends the whole value once per key, same sequence numbers
    multi = probe(t, "amplify_multiget")
    assert multi["result"] == "reply"
    assert multi["unique_packets"] == get["unique_packets"]
    assert multi["reply_packets"] > 5 * get["reply_packets"], multi
    assert multi["baf"] > 50000, multi       # ~108,000x measured
    # the probe cleaned up after itself
    import socket
    s = socket.create_connection(("127.0.0.1", m.port), timeout=2)
    s.sendall(b"stats\r\n")
    data = b""
    while not data.endswith(b"END\r\n"):
        data += s.recv(65536)
    s.close()
    assert b"STAT curr_items 0\r\n" in data


def test_amplify_is_off_by_default(audit, memcached):
    m = memcached(udp=True)
    r = audit("--json", "127.0.0.1:%d" % m.port)
    t = r.target(m.port)
    assert t["amplify"] is None
    assert "amplify_get" not in [p["name"] for p in t["udp"]["probes"]]


def test_memcached_udp_off_is_clean_over_udp(audit, memcached):
    m = memcached(udp=False)
    r = audit("--json", "127.0.0.1:%d" % m.port)
    t = r.target(m.port)
    assert t["tcp"]["state"] == "open"
    assert t["tcp"]["settings"]["udpport"] == 0
    assert t["udp"]["state"] == "closed"     # ICMP port unreachable
    ids = finding_ids(t)
    assert "udp_amplifier" not in ids and "udp_enabled_in_settings" not in ids
    for p in t["udp"]["probes"]:
        assert p["reply_bytes"] == 0
    # the advisory's own setup (-l 127.0.0.1 -U 0): no login, but bound to
    # loopback only, which memcached says in `inter`: info, exit 0
    assert t["tcp"]["settings"]["inter"] == "127.0.0.1"
    no_auth = [f for f in t["verdict"]["findings"] if f["id"] == "tcp_no_auth"]
    assert no_auth and no_auth[0]["severity"] == "info"
    assert t["verdict"]["status"] == "clean"
    assert r.rc == 0


def test_closed_port(audit):
    from conftest import free_port
    port = free_port()
    r = audit("--json", "127.0.0.1:%d" % port)
    t = r.target(port)
    assert t["tcp"]["state"] == "refused"
    assert t["udp"]["state"] == "closed"
    # nothing answers: not "clean" (a typo must not look like a fix)
    assert t["verdict"]["status"] == "no_service"
    assert "no_service" in finding_ids(t)
    assert r.rc == 0


def test_udp_port_without_listener_is_closed_not_silent(audit, udp_peer):
    # a TCP-only peer: nothing on UDP at all
    import socket
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(1)
    port = tcp.getsockname()[1]
    try:
        r = audit("--json", "127.0.0.1:%d" % port)
    finally:
        tcp.close()
    t = r.target(port)
    assert t["tcp"]["state"] == "open"
    assert t["tcp"]["auth"] == "refused"        # connected, nothing answered
    for p in t["udp"]["probes"]:
        assert p["result"] == "closed", p
        assert p["attempts"] == 1               # no retry after ICMP


def test_silent_udp_sink_is_filtered_or_open(audit, udp_peer):
    sink = udp_peer()
    r = audit("--json", "127.0.0.1:%d" % sink.port)
    t = r.target(sink.port)
    assert t["udp"]["state"] == "silent"
    stats = probe(t, "stats")
    assert stats["attempts"] == 2               # --retries 1
    assert "filtered" in stats["note"]
    assert "udp_no_reply" in finding_ids(t)
    # every probe reached the sink: 4 probes x 2 attempts, and the
    # malformed one once (its silence proves nothing: never retried)
    assert len(sink.received) == 9
    hdr = b"\x00\x00\x00\x00\x00\x01\x00\x00"   # the advisory's header
    assert sum(d == hdr + b"stats\r\n" for d in sink.received) == 2
    assert sum(d == hdr + b"\x00stats\r\n" for d in sink.received) == 2
    assert sum(d == b"\x00" * 10 + b"stats\r\n" for d in sink.received) == 1


def test_advisory_traps(audit, memcached):
    m = memcached(udp=True)
    r = audit("--json", "--verify", "127.0.0.1:%d" % m.port)
    t = r.target(m.port)
    typo = probe(t, "advisory_probe_9byte_header")
    assert typo["result"] == "reply" and typo["first_line"] == "ERROR"
    assert "still detects" in typo["note"]
    bad = probe(t, "advisory_verify_10_zero_bytes")
    assert bad["malformed"] and not bad["well_formed"]
    assert bad["result"] == "silent"            # memcached drops it...
    assert bad["note"] == "malformed, proves nothing"
    assert "advisory_verify_probe_malformed" in finding_ids(t)
    # ...yet the server is wide open, and verification says so
    assert probe(t, "advisory_probe")["result"] == "reply"
    assert "udp_amplifier" in finding_ids(t)
    assert r.rc == 1


def test_reassembly_by_request_id_and_sequence(audit, udp_peer):
    """A fake server answers out of order, with a duplicate, a datagram for
    another request id and malformed headers: only the three real parts
    count."""
    def handler(data):
        if len(data) < 8 or data[4:6] != b"\x00\x01":
            return []
        rid = data[:2]
        part = lambda seq, body: rid + struct.pack(">HHH", seq, 3, 0) + body
        return [part(2, b"C" * 100 + b"\r\nEND\r\n"),
                struct.pack(">HHHH", (rid[0] << 8 | rid[1]) ^ 0xffff, 0, 1, 0)
                + b"X" * 500,                       # foreign request id
                rid + struct.pack(">HHH", 5, 3, 0),  # seq >= total
                rid + struct.pack(">HHH", 0, 0, 0),  # total 0
                part(0, b"STAT pid 1\r\n"),
                part(0, b"STAT pid 1\r\n"),          # duplicate
                part(1, b"B" * 100)]
    peer = udp_peer(handler)
    r = audit("--json", "127.0.0.1:%d" % peer.port)
    t = r.target(peer.port)
    stats = probe(t, "stats")
    assert stats["result"] == "reply"
    assert stats["unique_packets"] == 3 and stats["expected_packets"] == 3
    assert stats["foreign_packets"] == 3
    # the repeat is counted: a victim receives it too
    assert stats["reply_packets"] == 4
    assert stats["reply_bytes"] == 8 * 4 + 12 + 12 + 100 + 107
    assert stats["first_line"] == "STAT pid 1"
    assert stats["attempts"] == 1
    # the advisory probes use request id 0: they get their own replies
    assert probe(t, "advisory_probe")["unique_packets"] == 3


def test_partial_reply_counts_what_arrived(audit, udp_peer):
    def handler(data):
        rid = data[:2]
        return [rid + struct.pack(">HHH", 0, 4, 0) + b"STAT a b\r\n"]
    peer = udp_peer(handler)
    r = audit("--json", "127.0.0.1:%d" % peer.port)
    stats = probe(r.target(peer.port), "stats")
    assert stats["result"] == "reply"
    assert stats["unique_packets"] == 1 and stats["expected_packets"] == 4
    assert stats["lost_packets"] == 3
    assert stats["attempts"] == 1       # never re-asked once data flowed


def test_hardcached(audit, hardcached):
    r = audit("--json", "--verify", "127.0.0.1:%d" % hardcached.port)
    t = r.target(hardcached.port)
    assert t["tcp"]["state"] == "open"
    assert t["tcp"]["server"] == "hardcached"   # by stats hardcached_version
    assert t["udp"]["state"] in ("closed", "silent")
    assert "udp_amplifier" not in finding_ids(t)
    assert r.rc == 0, r.out


def test_hardcached_udp_reflects_without_amplifying(audit):
    """hardcached with -U answers a spoofer-like source (UDP probes run
    before our TCP probe validates us) but never with more bytes than it
    got: udp_reflector, not udp_amplifier; memcached -U is the amplifier."""
    if not os.path.exists(HC_BIN):
        pytest.skip("HC_BIN %s does not exist yet" % HC_BIN)
    port = free_port()
    p = Proc([HC_BIN, "-p", str(port), "-U", str(port), "-l", "127.0.0.1",
              "-u", "root"], "127.0.0.1", port, source="127.0.0.3")
    try:
        r = audit("--json", "127.0.0.1:%d" % port)
        t = r.target(port)
        ids = finding_ids(t)
        assert "udp_amplifier" not in ids, t
        assert "udp_reflector" in ids, t
        assert all(pr["baf"] <= 1.0 for pr in t["udp"]["probes"]
                   if pr["result"] == "reply"), t["udp"]["probes"]
        assert r.rc == 1
        # hardcached starts with -U and -S/-Y together: the advice must
        # not tell its operator that a login ends UDP (memcached's rule)
        advice = [f for f in t["verdict"]["findings"]
                  if f["id"] == "udp_reflector"][0]["advice"]
        assert "refuses to start" not in advice, advice
        assert "hardcached keeps UDP with a login" in advice, advice
        assert "-U 0" in advice
    finally:
        p.stop()


def test_ipv6_target(audit, memcached):
    m = memcached(udp=True, host="::1")
    r = audit("--json", "[::1]:%d" % m.port)
    t = r.target(m.port)
    assert t["family"] == "ipv6" and t["target"] == "[::1]:%d" % m.port
    assert t["udp"]["state"] == "reply"
    assert r.rc == 1


def test_cidr_and_file_targets(audit, memcached, tmp_path):
    m = memcached(udp=True)
    f = tmp_path / "targets"
    f.write_text("# comment\n127.0.0.1:%d  127.0.0.2:%d\n" % (m.port, m.port))
    r = audit("--json", "-f", f, "127.0.0.0/30:%d" % m.port, "-p", m.port)
    addrs = sorted(t["address"] for t in r.targets())
    # a range leaves out its network and broadcast addresses
    assert addrs == sorted(["127.0.0.1", "127.0.0.2",
                            "127.0.0.1", "127.0.0.2"])
    vuln = [t for t in r.targets() if t["address"] == "127.0.0.1"]
    assert all(t["verdict"]["status"] == "vulnerable" for t in vuln)
    summary = [o for o in r.lines if o["type"] == "summary"]
    assert summary and summary[0]["targets"] == 4 and summary[0]["exit"] == 1


def test_range_over_cap_is_refused(audit):
    r = audit("10.0.0.0/8")
    assert r.rc == 2 and "cap" in r.err


def test_rate_limit_bounds_the_send_rate(audit, udp_peer):
    sink = udp_peer()
    start = time.monotonic()
    # 1 connect + 4 datagrams x 3 attempts + 1 malformed = 14 sends at 10/s
    r = audit("--json", "--rate", "10", "--timeout", "200",
              "127.0.0.1:%d" % sink.port, fast=False)
    took = time.monotonic() - start
    assert r.target(sink.port)["udp"]["state"] == "silent"
    assert took >= 0.9, took


def test_table_output_has_no_colour_off_a_terminal(audit, memcached):
    m = memcached(udp=True)
    r = audit("127.0.0.1:%d" % m.port)
    assert r.rc == 1
    assert "\033[" not in r.out
    assert "TARGET" in r.out and "vulnerable" in r.out
    # the fix is said once, after the table, with the real port
    assert r.out.count("how to fix") == 1
    assert "dport %d drop" % m.port in r.out
    assert "exit 1 (findings)" in r.out


def test_ascii_auth_is_recognised(audit, memcached, tmp_path):
    auth = tmp_path / "auth"
    auth.write_text("user:secret\n")
    m = memcached(udp=False, extra=["-Y", str(auth)])
    r = audit("--json", "127.0.0.1:%d" % m.port)
    t = r.target(m.port)
    assert t["tcp"]["state"] == "open"
    assert t["tcp"]["auth"] == "ascii", t["tcp"]
    assert not t["tcp"]["stats_without_auth"]
    assert "tcp_no_auth" not in finding_ids(t)
    # and the local audit reads the flag
    local = audit("--json", "--local", "--no-local-probe").local()
    p = [p for p in local["processes"] if p["pid"] == m.pid][0]
    assert p["flags"]["auth_file"]
    assert not any("pid %d " % m.pid in f["detail"] + " "
                   for f in local["verdict"]["findings"]
                   if f["id"] == "local_no_auth")


def test_bare_ipv6_and_default_port_option(audit, memcached):
    m = memcached(udp=True, host="::1")
    r = audit("--json", "-p", m.port, "::1", "[::1/128]")
    assert [t["target"] for t in r.targets()] == ["[::1]:%d" % m.port] * 2


def test_hostile_tcp_peer_is_bounded(audit):
    """A fake old server: `version` says 1.4.25, then `stats` never ends.
    The audit caps what it buffers, finishes in time and still judges."""
    import socket
    import threading
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.2)
    port = srv.getsockname()[1]
    stop = threading.Event()

    def serve(c):
        try:
            c.settimeout(5)
            buf = b""
            while not stop.is_set():
                data = c.recv(4096)
                if not data:
                    return
                buf += data
                if buf.startswith(b"version\r\n"):
                    c.sendall(b"VERSION 1.4.25\r\n")
                    buf = buf[9:]
                if buf.startswith(b"stats"):
                    line = b"STAT junk " + b"x" * 1000 + b"\r\n"
                    while not stop.is_set():
                        c.sendall(line)
        except OSError:
            pass
        finally:
            c.close()

    def accept():
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=serve, args=(c,), daemon=True).start()

    th = threading.Thread(target=accept, daemon=True)
    th.start()
    try:
        start = time.monotonic()
        r = audit("--json", "127.0.0.1:%d" % port, timeout=30)
        took = time.monotonic() - start
    finally:
        stop.set()
        th.join(timeout=2)
        srv.close()
    t = r.target(port)
    assert t["tcp"]["version"] == "1.4.25"
    assert t["tcp"]["server"] == "memcached-protocol"
    assert "old_version" in finding_ids(t)
    old = [f for f in t["verdict"]["findings"] if f["id"] == "old_version"][0]
    assert "proves nothing" in old["title"]
    assert took < 10, took


def test_range_scan_finds_the_one_amplifier(audit, memcached):
    m = memcached(udp=True)     # bound to 127.0.0.1 only
    start = time.monotonic()
    r = audit("--json", "--rate", "0", "--target-rate", "0", "-c", "128",
              "127.0.0.0/24:%d" % m.port, timeout=60)
    took = time.monotonic() - start
    ts = r.targets()
    assert len(ts) == 254          # no network, no broadcast address
    vuln = [t["address"] for t in ts if t["verdict"]["status"] == "vulnerable"]
    assert vuln == ["127.0.0.1"]
    assert sum(t["tcp"]["state"] == "refused" for t in ts) == 253
    assert r.rc == 1
    assert took < 30, took


def test_progress_and_colour_only_on_a_terminal(audit):
    import subprocess
    from conftest import AUDIT, free_port
    cmd = "%s --timeout 300 --retries 0 127.0.0.1:%d 127.0.0.1:%d" % (
        AUDIT, free_port(), free_port())
    cp = subprocess.run(["script", "-qec", cmd, "/dev/null"],
                        capture_output=True, text=True, timeout=60)
    assert "[1/2]" in cp.stdout            # progress, on the tty
    assert "\033[33mno_service" in cp.stdout    # colour, on the tty
    plain = audit("127.0.0.1:%d" % free_port(), fast=False)
    assert "[1/" not in plain.err and "\033[" not in plain.out


def test_public_address_in_a_network_namespace(audit):
    """A memcached on a non-private address (TEST-NET-2, on a veth pair into
    a namespace this test creates; nothing leaves the machine) is critical
    and gets 'public address reachable'."""
    import os
    import subprocess
    import pytest
    from conftest import MEMCACHED, wait_tcp
    tag = "%d" % (os.getpid() % 100000)
    ns, a, b = "hca" + tag, "hca%sa" % tag, "hca%sb" % tag
    net = 4 * (os.getpid() % 60)
    host_ip, ns_ip = "198.51.100.%d" % (net + 1), "198.51.100.%d" % (net + 2)

    def sh(*cmd, check=True):
        return subprocess.run(list(cmd), capture_output=True, text=True,
                              timeout=10, check=check)

    if sh("ip", "netns", "add", ns, check=False).returncode != 0:
        pytest.skip("cannot create a network namespace")
    proc = None
    try:
        sh("ip", "link", "add", a, "type", "veth", "peer", "name", b)
        sh("ip", "link", "set", b, "netns", ns)
        sh("ip", "addr", "add", host_ip + "/30", "dev", a)
        sh("ip", "link", "set", a, "up")
        sh("ip", "netns", "exec", ns, "ip", "addr", "add", ns_ip + "/30",
           "dev", b)
        sh("ip", "netns", "exec", ns, "ip", "link", "set", b, "up")
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        proc = subprocess.Popen(["ip", "netns", "exec", ns, MEMCACHED,
                                 "-u", "root", "-p", "11211", "-U", "11211",
                                 "-l", ns_ip, "-t", "1"],
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        wait_tcp(ns_ip, 11211, proc)
        r = audit("--json", ns_ip)
        t = r.target(11211)
        assert t["private"] is False
        ids = finding_ids(t)
        assert "public_address_reachable" in ids
        sev = {f["id"]: f["severity"] for f in t["verdict"]["findings"]}
        assert sev["udp_amplifier"] == "critical"
        assert sev["tcp_no_auth"] == "high"
        assert t["verdict"]["severity"] == "critical"
        assert r.rc == 1
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=3)
        sh("ip", "link", "del", a, check=False)
        sh("ip", "netns", "del", ns, check=False)


def test_sasl_server_is_recognised_over_binary(audit):
    """A SASL-only server (memcached -S) refuses ascii; the audit falls back
    to the binary protocol's version and SASL mechanism list."""
    import socket
    import threading
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.2)
    port = srv.getsockname()[1]
    stop = threading.Event()

    def bin_reply(opcode, body):
        return struct.pack(">BBHBBHIIQ", 0x81, opcode, 0, 0, 0, 0,
                           len(body), 0, 0) + body

    def serve(c):
        try:
            c.settimeout(5)
            first = c.recv(1)
            if first != b"\x80":
                return                      # ascii: close, like memcached -S
            buf = first
            while True:
                while len(buf) < 24:
                    more = c.recv(4096)
                    if not more:
                        return
                    buf += more
                op = buf[1]
                buf = buf[24:]
                if op == 0x0b:
                    c.sendall(bin_reply(0x0b, b"1.6.18"))
                elif op == 0x20:
                    c.sendall(bin_reply(0x20, b"PLAIN"))
        except OSError:
            pass
        finally:
            c.close()

    def accept():
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=serve, args=(c,), daemon=True).start()

    th = threading.Thread(target=accept, daemon=True)
    th.start()
    try:
        r = audit("--json", "127.0.0.1:%d" % port)
    finally:
        stop.set()
        th.join(timeout=2)
        srv.close()
    tcp = r.target(port)["tcp"]
    assert tcp["state"] == "open"
    assert not tcp["ascii"] and tcp["binary"]
    assert tcp["version"] == "1.6.18"
    assert tcp["auth"] == "sasl" and tcp["sasl_mechs"] == "PLAIN"
    assert "tcp_no_auth" not in finding_ids(r.target(port))
