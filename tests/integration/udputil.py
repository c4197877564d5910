"""UDP helpers for the integration tests: memcached's 8-byte frame, a
client bound to a chosen loopback source address, reassembly checked
field by field, and the advisory's probes."""
import socket
import struct
import time

HEADER = 8
DATAGRAM_MAX = 1400
SO_RCVBUFFORCE = 33  # linux; root may exceed rmem_max


def free_udp_port(host="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((host, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def frame(payload, req_id=0x1234, seq=0, total=1, reserved=0):
    return struct.pack(">HHHH", req_id, seq, total, reserved) + payload


def bin_request(opcode, key=b"", extras=b"", value=b""):
    """A binary-protocol request (magic 0x80)."""
    body = extras + key + value
    return struct.pack(">BBHBBHIIQ", 0x80, opcode, len(key), len(extras), 0,
                       0, len(body), 0, 0) + body


# The advisory's probes and their mistyped variants (ADVISORY.md).
STATS_PROBE = b"\x00\x00\x00\x00\x00\x01\x00\x00stats\r\n"
STATS_PROBE_9 = b"\x00\x00\x00\x00\x00\x01\x00\x00\x00stats\r\n"
STATS_PROBE_ZEROS = b"\x00" * 10 + b"stats\r\n"


class UdpClient:
    """A UDP socket bound to `source` (127.0.0.2 has no TCP session with
    the server unless a test opens one from it)."""

    def __init__(self, port, source="127.0.0.1", host="127.0.0.1"):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.s = socket.socket(fam, socket.SOCK_DGRAM)
        try:
            self.s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 32 << 20)
        except OSError:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 20)
        self.s.bind((source, 0))
        self.addr = (host, port)
        self.sent = 0
        self.received = 0

    def close(self):
        self.s.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, datagram):
        self.s.sendto(datagram, self.addr)
        self.sent += len(datagram)

    def collect(self, quiet=0.25, limit=5.0, single=False):
        """Datagrams until `quiet` seconds pass with none, or `limit`
        seconds; single: stop once the first reply's datagrams are in."""
        out = []
        want = None
        end = time.monotonic() + limit
        while time.monotonic() < end:
            if want is not None and len(out) >= want:
                break
            self.s.settimeout(quiet)
            try:
                d, _ = self.s.recvfrom(65536)
            except socket.timeout:
                break
            assert len(d) <= DATAGRAM_MAX, "datagram of %d bytes" % len(d)
            self.received += len(d)
            out.append(d)
            if single and len(out) == 1 and len(d) >= HEADER:
                want = struct.unpack(">H", d[4:6])[0]
        return out

    def ask(self, payload, req_id=0x1234, **kw):
        self.send(frame(payload, req_id))
        return self.collect(single=True, **kw)

    def request(self, payload, req_id=0x4321, quiet=1.0):
        """Send one request, return the reassembled reply (checks every
        header field and that no sequence number is missing)."""
        return reassemble(self.ask(payload, req_id, quiet=quiet), req_id)


def reassemble(datagrams, req_id):
    assert datagrams, "no reply"
    parts = {}
    total = None
    for d in datagrams:
        rid, seq, tot, res = struct.unpack(">HHHH", d[:HEADER])
        assert rid == req_id, (rid, req_id)
        assert res == 0
        assert total in (None, tot), "total changed"
        total = tot
        assert seq < tot and seq not in parts, (seq, tot)
        parts[seq] = d[HEADER:]
    assert sorted(parts) == list(range(total)), "missing datagrams: got %d of %d" % (
        len(parts), total)
    for seq in range(total - 1):
        assert len(parts[seq]) + HEADER == DATAGRAM_MAX  # only the last is short
    return b"".join(parts[i] for i in range(total))
