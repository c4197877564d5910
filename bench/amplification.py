#!/usr/bin/python3
"""UDP amplification, hardcached vs memcached, side by side.

Starts Debian's memcached and hardcached with UDP on loopback, stores a
1,000,000-byte value over TCP, then sends the advisory's probes (and its
mistyped variants) from 127.0.0.2, an address that never opened a TCP
connection (a spoofer's victim), and, for hardcached, also from 127.0.0.1
after a TCP connection (a validated client). Counts the UDP payload bytes
and datagrams that come back; BAF = reply bytes / request bytes (Rossow,
NDSS 2014), frame headers included on both sides.

    bench/amplification.py                    # print the table
    bench/amplification.py --update BENCHMARKS.md   # also rewrite its section
"""
import argparse
import os
import re
import socket
import struct
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEMCACHED = os.environ.get("MEMCACHED", "/usr/bin/memcached")
HARDCACHED = os.environ.get("HARDCACHED", os.path.join(ROOT, "build/release/hardcached"))
BEGIN = "<!-- amplification: begin (bench/amplification.py --update) -->"
END = "<!-- amplification: end -->"
SO_RCVBUFFORCE = 33
VALUE = b"v" * 1_000_000


def frame(payload, req_id=1):
    return struct.pack(">HHHH", req_id, 0, 1, 0) + payload


def bin_request(opcode, key=b""):
    return struct.pack(">BBHBBHIIQ", 0x80, opcode, len(key), 0, 0, 0, len(key), 0, 0) + key


PROBES = [
    ("`stats`, correct 8-byte header (advisory probe)",
     b"\x00\x00\x00\x00\x00\x01\x00\x00stats\r\n"),
    ("`stats`, 9-byte header (advisory's typo)",
     b"\x00\x00\x00\x00\x00\x01\x00\x00\x00stats\r\n"),
    ("`stats` after 10 zero bytes (advisory's verification)", b"\x00" * 10 + b"stats\r\n"),
    ("`version`", frame(b"version\r\n")),
    ("`stats settings`", frame(b"stats settings\r\n")),
    ("`get` of a 1,000,000-byte value", frame(b"get big\r\n")),
    ("one datagram: `get big` x10", frame(b"get" + b" big" * 10 + b"\r\n")),
    ("binary `stat`", frame(bin_request(0x10))),
    ("binary `get` of the 1 MB value", frame(bin_request(0x00, b"big"))),
]


def free_port():
    for _ in range(50):
        t = socket.socket()
        t.bind(("127.0.0.1", 0))
        p = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", p))
            return p
        except OSError:
            continue
        finally:
            t.close()
            u.close()
    raise RuntimeError("no free port")


def start(argv, port):
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            c = socket.create_connection(("127.0.0.1", port), timeout=1)
            c.sendall(b"set big 0 0 %d\r\n" % len(VALUE) + VALUE + b"\r\n")
            buf = b""
            while not buf.endswith(b"\r\n"):
                buf += c.recv(100)
            assert buf == b"STORED\r\n", buf
            return p, c
        except OSError:
            if p.poll() is not None:
                raise RuntimeError("%s did not start: %s" % (argv[0], p.stderr.read()))
            time.sleep(0.1)
    p.kill()
    raise RuntimeError("%s did not start" % argv[0])


def probe(port, source, datagram):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20)
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
    s.bind((source, 0))
    s.sendto(datagram, ("127.0.0.1", port))
    got = n = 0
    s.settimeout(0.5)
    while True:
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        got += len(d)
        n += 1
    s.close()
    return got, n


def cell(req, got, n):
    if got == 0:
        return "0 (nothing)", "0"
    return "{:,} ({:,} dgram{})".format(got, n, "s" if n > 1 else ""), "{:,.2f}x".format(got / req)


def measure():
    rows = []
    mport, hport = free_port(), free_port()
    root = ["-u", "root"] if os.geteuid() == 0 else []
    m, mc = start([MEMCACHED, "-p", str(mport), "-U", str(mport), "-l", "127.0.0.1",
                   "-t", "1"] + root, mport)
    try:
        h, hc = start([HARDCACHED, "-p", str(hport), "-U", str(hport), "-l", "127.0.0.1",
                       "-t", "1"] + root, hport)
    except Exception:
        m.kill()
        raise
    try:
        for name, dg in PROBES:
            mg = probe(mport, "127.0.0.2", dg)
            hu = probe(hport, "127.0.0.2", dg)
            hc.sendall(b"version\r\n")   # keeps 127.0.0.1 validated
            hc.recv(100)
            hv = probe(hport, "127.0.0.1", dg)
            rows.append((name, len(dg), mg, hu, hv))
        hc.sendall(b"stats\r\n")
        time.sleep(0.3)
        st = dict(re.findall(rb"STAT (udp_\S+) (\S+)", hc.recv(1 << 16)))
    finally:
        for p in (m, h):
            p.terminate()
            p.wait(5)
        mc.close()
        hc.close()
    return rows, st


def table(rows, st):
    out = ["| probe | request bytes | memcached 1.6.18: reply bytes | BAF | "
           "hardcached, unvalidated source: reply bytes | BAF | "
           "hardcached, validated source: reply bytes | BAF |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, req, mg, hu, hv in rows:
        out.append("| {} | {} | {} | {} | {} | {} | {} | {} |".format(
            name, req, *cell(req, *mg), *cell(req, *hu), *cell(req, *hv)))
    tot_req = sum(r[1] for r in rows)
    tot_m = sum(r[2][0] for r in rows)
    tot_u = sum(r[3][0] for r in rows)
    out.append("| **all probes** | {:,} | {:,} | {:,.0f}x | {:,} | {:,.2f}x | | |".format(
        tot_req, tot_m, tot_m / tot_req, tot_u, tot_u / tot_req))
    out.append("")
    out.append("hardcached's own counters after the run: " + ", ".join(
        "`{}` {}".format(k.decode(), v.decode()) for k, v in sorted(st.items())
        if k.startswith((b"udp_dropped", b"udp_max", b"udp_short", b"udp_admin"))) + ".")
    return "\n".join(out)


def update(path, text):
    with open(path) as f:
        doc = f.read()
    section = "{}\n{}\n{}".format(BEGIN, text, END)
    if BEGIN in doc and END in doc:
        doc = doc[:doc.index(BEGIN)] + section + doc[doc.index(END) + len(END):]
    else:
        doc = doc.rstrip("\n") + "\n\n" + section + "\n"
    with open(path, "w") as f:
        f.write(doc)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--update", metavar="BENCHMARKS.md",
                    help="replace the table between the markers in this file")
    a = ap.parse_args()
    for b in (MEMCACHED, HARDCACHED):
        if not os.access(b, os.X_OK):
            print("amplification.py: %s missing" % b, file=sys.stderr)
            return 1
    rows, st = measure()
    text = table(rows, st)
    print(text)
    if a.update:
        update(a.update, text)
    # the guarantee itself: never more bytes to an unvalidated source
    bad = [r[0] for r in rows if r[3][0] > r[1]]
    if bad:
        print("amplification.py: hardcached amplified: %s" % bad, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
