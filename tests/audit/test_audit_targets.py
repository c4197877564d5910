"""Targets and the command line (issue 22, defects 4 and 8): one bad name is
one unchecked target, numbers never go to DNS, ranges stream, exclusions,
zero values, SIGINT, and a cut-short TCP line."""
import json
import signal
import struct
import subprocess
import time

from conftest import (AUDIT, FAST, Run, finding_ids, free_port,
                      memcached_lines)


def test_unresolvable_name_is_one_unchecked_target(audit, memcached):
    m = memcached(udp=True)
    r = audit("--json", "no-such-host.invalid:%d" % m.port,
              "127.0.0.1:%d" % m.port)
    ts = r.targets()
    assert len(ts) == 2, r.out + r.err
    bad = [t for t in ts if t["name"] == "no-such-host.invalid"][0]
    assert "cannot resolve" in bad["resolve_error"]
    assert bad["verdict"]["status"] == "unknown"
    assert "check_failed" in finding_ids(bad)
    good = [t for t in ts if t["address"] == "127.0.0.1"][0]
    assert good["verdict"]["status"] == "vulnerable"
    assert r.rc == 1                    # the vulnerable one still counts
    alone = audit("no-such-host.invalid")
    assert alone.rc == 2 and "cannot resolve" in alone.out
    assert "could not be checked" in alone.out


def test_zero_values_are_refused_with_a_message(audit):
    for opt in ("-t", "-c", "-p", "--amplify-size", "--max-targets"):
        r = audit(opt, "0", "127.0.0.1", fast=False)
        assert r.rc == 2, opt
        assert "expected a number from 1" in r.err, (opt, r.err)


def test_numbers_never_go_to_dns(audit):
    r = audit("256.1.1.1")
    assert r.rc == 2 and "not a valid address" in r.err, r.err
    assert "resolve" not in r.err


def test_ipv6_with_port_gets_a_bracket_hint(audit):
    r = audit("::1:11213")
    assert r.rc == 2 and "[::1]:11213" in r.err, r.err


def test_long_target_lines_are_read(audit, tmp_path):
    port = free_port()
    f = tmp_path / "targets"
    # one line of 600 targets, ~10 KiB
    f.write_text(" ".join("127.0.%d.%d:%d" % (i // 250, 1 + i % 250, port)
                          for i in range(600)) + "\n")
    assert len(f.read_text()) > 4096
    r = audit("--json", "--rate", "0", "--target-rate", "0", "-f", f,
              timeout=120)
    assert len(r.targets()) == 600, r.err
    assert all(t["verdict"]["status"] == "no_service" for t in r.targets())


def test_exclude_and_exclude_file(audit, tmp_path):
    port = free_port()
    ex = tmp_path / "exclude"
    ex.write_text("# skip these\n127.0.0.4/31\n")
    r = audit("--json", "--exclude", "127.0.0.2", "--exclude-file", ex,
              "127.0.0.0/29:%d" % port)
    addrs = sorted(t["address"] for t in r.targets())
    assert addrs == ["127.0.0.1", "127.0.0.3", "127.0.0.6"]
    summary = [o for o in r.lines if o["type"] == "summary"][0]
    assert summary["excluded"] == 3 and summary["targets"] == 3
    assert audit("--exclude", "127.0.0.2:11211", "127.0.0.1").rc == 2


def _popen(*args, out=None):
    """out: a file for stdout, when the run writes more than a pipe holds
    before we read it."""
    return subprocess.Popen([AUDIT] + FAST + [str(a) for a in args],
                            stdin=subprocess.DEVNULL,
                            stdout=out or subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _interrupt(p):
    """SIGINT, then the output; the process is reaped whatever happens."""
    try:
        p.send_signal(signal.SIGINT)
        return p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def _vm_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def test_a_slash_8_streams_and_sigint_prints_the_summary(tmp_path):
    """16 million loopback targets: expanded one at a time (no 13 GB up
    front); SIGINT stops the run with a summary."""
    port = free_port()
    with open(tmp_path / "out", "w") as f:
        p = _popen("--json", "--rate", "0", "--target-rate", "0",
                   "--timeout", "100", "--retries", "0",
                   "--max-targets", "16777216", "127.0.0.0/8:%d" % port,
                   out=f)
        time.sleep(2)
        assert p.poll() is None, p.communicate()
        hwm = _vm_hwm_kib(p.pid)
        _, err = _interrupt(p)
    out = (tmp_path / "out").read_text()
    assert hwm < 300 * 1024, hwm        # ASan build: shadow memory included
    lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    summary = [o for o in lines if o["type"] == "summary"]
    assert summary and summary[0]["interrupted"], out[-500:]
    assert summary[0]["targets"] > 100
    assert summary[0]["exit"] == 2 == p.returncode     # not all checked
    assert "AddressSanitizer" not in err


def test_sigint_during_amplify_deletes_the_value(udp_peer, fake_tcp):
    """A fake server: stats over TCP name UDP port Q; Q answers `stats` but
    never `get`. SIGINT while the audit waits for the get: the stored
    value is deleted, and the report says so."""
    def udp_reply(data):
        if b"stats" in data and data[4:6] == b"\x00\x01":
            return [data[:2] + struct.pack(">HHH", 0, 1, 0) +
                    b"STAT pid 1\r\n" + b"STAT x " + b"y" * 200 + b"\r\nEND\r\n"]
        return []
    peer = udp_peer(udp_reply)

    def store(line):
        if line.startswith("add "):
            return b"STORED\r\n"
        if line.startswith("delete "):
            return b"DELETED\r\n"
        return None
    f = fake_tcp(memcached_lines(b"STAT udpport %d\r\nSTAT item_size_max "
                                 b"1048576\r\n" % peer.port, store))
    p = _popen("--json", "--amplify", "--timeout", "3000",
               "127.0.0.1:%d" % f.port)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and \
            not any(x.startswith("add ") for x in f.lines):
        time.sleep(0.05)
    time.sleep(0.5)                     # the UDP get is now waiting
    out, err = _interrupt(p)
    key = [x.split()[1] for x in f.lines if x.startswith("add ")][0]
    assert "delete %s" % key in f.lines, f.lines
    r = Run(subprocess.CompletedProcess([], p.returncode, out, err))
    t = r.target(f.port)
    assert t["interrupted"] and t["amplify"]["deleted"]
    assert "deleted" in t["amplify"]["note"]
    assert [o for o in r.lines if o["type"] == "summary"][0]["interrupted"]


def test_unterminated_version_line_is_not_a_version(audit, fake_tcp):
    f = fake_tcp(lambda line: b"VERSION 1.4.0" if line == "version" else None)
    r = audit("--json", "127.0.0.1:%d" % f.port)
    t = r.target(f.port)
    assert t["tcp"]["version"] == "", t["tcp"]
    assert "old_version" not in finding_ids(t)
