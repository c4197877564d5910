"""No false all-clear (issue 22): UDP on another port than TCP, replies
that are not memcached frames, probes a responder tries to hold forever,
and verdicts on a source-validating server that must not depend on the
auditor's own earlier runs."""
import os
import socket
import struct
import threading
import time

import pytest

from conftest import (HC_BIN, Proc, finding_ids, free_port, memcached_lines,
                      probe)


def test_verify_probes_the_udp_port_the_server_names(audit, memcached):
    """memcached -p P -U Q: `stats settings` says udpport Q, and Q
    amplifies; --verify must fail, not pass on P's silence."""
    q = free_port()
    m = memcached(udp=False, extra=["-U", str(q)])   # the last -U wins
    r = audit("--json", "--verify", "127.0.0.1:%d" % m.port)
    t = r.target(m.port)
    assert t["tcp"]["settings"]["udpport"] == q
    assert t["udp"]["port"] == q and t["udp"]["port_from_settings"]
    assert probe(t, "stats")["result"] == "reply"
    assert "udp_amplifier" in finding_ids(t)
    assert r.rc == 1, r.out


def test_udp_enabled_in_settings_counts_in_verify_mode(audit, fake_tcp):
    """The server says UDP is on at Q, but Q is silent from here (a
    firewall on the path): still a finding in --verify, not all clear."""
    q = free_port()
    f = fake_tcp(memcached_lines(b"STAT udpport %d\r\n" % q))
    r = audit("--json", "--verify", "127.0.0.1:%d" % f.port)
    t = r.target(f.port)
    assert "udp_enabled_in_settings" in finding_ids(t)
    sev = {x["id"]: x["severity"] for x in t["verdict"]["findings"]}
    assert sev["udp_enabled_in_settings"] != "info"
    assert r.rc == 1, r.out


def test_unparseable_replies_count_as_replies(audit, udp_peer):
    """A port answering every datagram with 600 random bytes is not
    silent: 40x its requests, an amplifier, in --verify too."""
    peer = udp_peer(lambda data: [os.urandom(600)])
    for mode in ([], ["--verify"]):
        r = audit("--json", *mode, "127.0.0.1:%d" % peer.port)
        t = r.target(peer.port)
        assert t["udp"]["state"] == "reply", t["udp"]
        stats = probe(t, "stats")
        assert stats["foreign_bytes"] == 600 * stats["foreign_packets"] > 0
        assert stats["baf"] == pytest.approx(600 / 15, rel=0.01)
        assert stats["attempts"] == 1       # an answer: never re-asked
        ids = finding_ids(t)
        assert "udp_amplifier" in ids and "udp_reply_not_memcached" in ids
        assert r.rc == 1, r.out


def _repeater(reply_for, interval, stop):
    """A UDP peer that, for every request, sends reply_for(request) again
    and again every `interval` seconds until stop is set."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.05)
    peers = []

    def run():
        last = 0.0
        while not stop.is_set():
            try:
                data, addr = s.recvfrom(65536)
                peers.append((addr, reply_for(data)))
            except socket.timeout:
                pass
            except OSError:
                return
            now = time.monotonic()
            if now - last >= interval:
                last = now
                for addr, out in peers:
                    try:
                        s.sendto(out, addr)
                    except OSError:
                        pass
    th = threading.Thread(target=run, daemon=True)
    th.start()
    return s, th


def test_a_repeating_responder_cannot_hold_a_probe(audit):
    """One datagram of a 2-part reply, repeated every 0.1 s forever: the
    probe ends at its absolute deadline (or its cap on repeats)."""
    stop = threading.Event()

    def part(data):
        return data[:2] + struct.pack(">HHH", 0, 2, 0) + b"STAT pid 1\r\n"
    s, th = _repeater(part, 0.1, stop)
    port = s.getsockname()[1]
    try:
        start = time.monotonic()
        r = audit("--json", "--timeout", "300", "127.0.0.1:%d" % port,
                  fast=False, timeout=60)
        took = time.monotonic() - start
    finally:
        stop.set()
        th.join(timeout=2)
        s.close()
    stats = probe(r.target(port), "stats")
    assert stats["result"] == "reply"
    assert stats["capped"], stats
    assert stats["reply_packets"] <= 10, stats      # UDP_DUP_MAX + 1 + slack
    # 3 attempts' worth plus one tail timeout, not "as long as it talks"
    assert stats["duration_ms"] <= 4 * 300 + 200, stats
    assert took < 15, took


def test_a_flood_of_repeats_is_capped(audit, udp_peer):
    """200 copies of the same datagram at once: counted up to the cap."""
    def flood(data):
        return [data[:2] + struct.pack(">HHH", 0, 2, 0) + b"x" * 100] * 200
    peer = udp_peer(flood)
    r = audit("--json", "127.0.0.1:%d" % peer.port)
    stats = probe(r.target(peer.port), "stats")
    assert stats["capped"] and stats["reply_packets"] < 20, stats


def test_malformed_probe_is_not_retried_when_the_target_answers(audit,
                                                                memcached):
    """The advisory's 10-zero-byte probe is dropped by every server; when
    the well-formed probes are answered it must not cost 3 x timeout."""
    m = memcached(udp=True)
    r = audit("--json", "--timeout", "1000", "--retries", "2",
              "127.0.0.1:%d" % m.port, fast=False)
    t = r.target(m.port)
    bad = probe(t, "advisory_verify_10_zero_bytes")
    assert bad["attempts"] == 1
    assert t["elapsed_ms"] < 2500, t["elapsed_ms"]   # 3 x 1000 ms before


def _hardcached_udp(port, udp_port=None, host="127.0.0.1"):
    if not os.path.exists(HC_BIN):
        pytest.skip("HC_BIN %s does not exist yet" % HC_BIN)
    # the readiness check connects from an address the audit never uses
    src = "127.0.0.3" if host == "127.0.0.1" else None
    return Proc([HC_BIN, "-p", str(port), "-U", str(udp_port or port),
                 "-l", host, "-u", "root"], host, port, source=src)


def test_spoofers_view_does_not_depend_on_earlier_runs(audit):
    """hardcached trusts a source for 600 s after a TCP connection. The
    first run connects over TCP; the second must still report what a
    spoofer gets (reflector at most), with the validated view apart."""
    port = free_port()
    p = _hardcached_udp(port)
    try:
        first = audit("--json", "127.0.0.1:%d" % port).target(port)
        second = audit("--json", "127.0.0.1:%d" % port)
        t = second.target(port)
        for run in (first, t):
            ids = finding_ids(run)
            assert "udp_amplifier" not in ids, run
            assert run["udp"]["source"].startswith("127.")
            assert run["udp"]["source"] != "127.0.0.1"
        assert first["udp"]["source"] != t["udp"]["source"]   # per run
        v = t["udp"]["validated_view"]
        assert v is not None and v["baf"] > 1.0, v     # what a client gets
        assert "udp_validated_view" in finding_ids(t)
        # --amplify measures the spoofer's view too, not 47,894x
        amp = audit("--json", "--amplify", "127.0.0.1:%d" % port,
                    timeout=90).target(port)
        assert amp["amplify"]["stored"] and amp["amplify"]["deleted"]
        assert all(pr["baf"] <= 1.0 for pr in amp["udp"]["probes"]), \
            amp["udp"]["probes"]
    finally:
        p.stop()


def test_warns_when_the_run_validated_its_own_source(audit):
    """On ::1 there is no second loopback address: the UDP port named in
    stats settings is probed after our TCP connection, from the same
    address, and the report says the figures may be the validated view."""
    try:
        port = free_port(socket.AF_INET6, "::1")
        uport = free_port(socket.AF_INET6, "::1")
    except OSError:
        pytest.skip("no IPv6 loopback")
    p = _hardcached_udp(port, uport, host="::1")
    try:
        r = audit("--json", "[::1]:%d" % port)
        t = r.target(port)
        assert t["udp"]["port"] == uport and t["udp"]["self_validated"]
        assert "udp_source_validated_by_audit" in finding_ids(t)
        # the server's own counter, the spoofer's view where we have none
        assert float(t["tcp"]["udp_max_amplification_unvalidated"]) <= 1.0
        warn = [f for f in t["verdict"]["findings"]
                if f["id"] == "udp_source_validated_by_audit"][0]
        assert "unvalidated sources got at most" in warn["detail"]
        plain = audit("[::1]:%d" % port)
        assert "udp_source_validated_by_audit" in plain.out
    finally:
        p.stop()
