"""Fixtures for hardcache-audit's tests: real servers (memcached, hardcached)
and fake UDP peers on free loopback ports, always killed at the end, and a
runner for the audit binary with a time bound.

HC_AUDIT names the audit binary (make audit-test passes the ASan build);
HC_BIN names hardcached, whose tests are skipped when the file is missing.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
AUDIT = os.environ.get("HC_AUDIT",
                       os.path.join(ROOT, "build/asan/hardcache-audit"))
HC_BIN = os.environ.get("HC_BIN", os.path.join(ROOT, "build/release/hardcached"))
MEMCACHED = shutil.which("memcached") or "/usr/bin/memcached"
# fast but patient enough for a loaded machine
FAST = ["-q", "--timeout", "400", "--retries", "1"]


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    """A port free for both TCP and UDP right now."""
    for _ in range(200):
        t = socket.socket(family, socket.SOCK_STREAM)
        t.bind((host, 0))
        port = t.getsockname()[1]
        u = socket.socket(family, socket.SOCK_DGRAM)
        try:
            u.bind((host, port))
        except OSError:
            continue
        finally:
            u.close()
            t.close()
        return port
    raise RuntimeError("no free port")


def wait_tcp(host, port, proc, deadline=5.0, source=None):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("server exited with %s" % proc.returncode)
        try:
            socket.create_connection((host, port), timeout=0.2,
                                     source_address=(source, 0) if source else None).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not listen on %s:%d" % (host, port))


class Proc:
    """A server process; stop() is idempotent and always reaps it."""

    def __init__(self, argv, host, port, source=None):
        """source: the address the readiness check connects from (a server
        that validates addresses by TCP handshake then trusts only it)."""
        self.argv = argv
        self.host = host
        self.port = port
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)
        try:
            wait_tcp(host, port, self.p, source=source)
        except Exception:
            self.stop()
            raise

    @property
    def pid(self):
        return self.p.pid

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(timeout=3)


@pytest.fixture
def memcached(request):
    """Factory: memcached(udp=True, host='127.0.0.1', extra=[]) -> Proc."""
    started = []

    def start(udp=True, host="127.0.0.1", extra=()):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        port = free_port(family, host)
        argv = [MEMCACHED, "-u", "root", "-p", str(port), "-l", host,
                "-U", str(port if udp else 0), "-t", "1"] + list(extra)
        p = Proc(argv, host, port)
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()


@pytest.fixture
def hardcached():
    if not os.path.exists(HC_BIN):
        pytest.skip("HC_BIN %s does not exist yet" % HC_BIN)
    port = free_port()
    p = Proc([HC_BIN, "-p", str(port), "-l", "127.0.0.1", "-u", "root"],
             "127.0.0.1", port)
    yield p
    p.stop()


class UdpPeer:
    """A UDP socket on loopback with a handler thread: handler(data) returns
    a list of datagrams to send back (empty = a silent sink)."""

    def __init__(self, handler=None, family=socket.AF_INET, host="127.0.0.1"):
        self.s = socket.socket(family, socket.SOCK_DGRAM)
        self.s.bind((host, 0))
        self.s.settimeout(0.1)
        self.port = self.s.getsockname()[1]
        self.handler = handler or (lambda data: [])
        self.received = []
        self.stopping = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stopping:
            try:
                data, addr = self.s.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            self.received.append(data)
            for out in self.handler(data):
                self.s.sendto(out, addr)

    def stop(self):
        self.stopping = True
        self.t.join(timeout=2)
        self.s.close()


@pytest.fixture
def udp_peer():
    peers = []

    def start(handler=None, **kw):
        p = UdpPeer(handler, **kw)
        peers.append(p)
        return p

    yield start
    for p in peers:
        p.stop()


class Run:
    def __init__(self, cp):
        self.rc = cp.returncode
        self.out = cp.stdout
        self.err = cp.stderr
        self.lines = []
        for line in cp.stdout.splitlines():
            if line.startswith("{"):
                self.lines.append(json.loads(line))

    def targets(self):
        return [o for o in self.lines if o["type"] == "target"]

    def target(self, port):
        found = [o for o in self.targets() if o["port"] == port]
        assert len(found) == 1, self.out
        return found[0]

    def local(self):
        found = [o for o in self.lines if o["type"] == "local"]
        assert len(found) == 1, self.out
        return found[0]


def probe(t, name):
    found = [p for p in t["udp"]["probes"] if p["name"] == name]
    assert len(found) == 1, t
    return found[0]


def finding_ids(obj):
    return [f["id"] for f in obj["verdict"]["findings"]]


@pytest.fixture
def audit():
    if not os.path.exists(AUDIT):
        pytest.fail("audit binary %s missing (make asan)" % AUDIT)

    def run(*args, timeout=60, fast=True):
        argv = [AUDIT] + (FAST if fast else []) + [str(a) for a in args]
        cp = subprocess.run(argv, stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=timeout)
        assert "AddressSanitizer" not in cp.stderr, cp.stderr
        assert "runtime error" not in cp.stderr, cp.stderr
        return Run(cp)

    return run


def isolated(script, timeout=60):
    """Runs a shell script as the first process of a new pid namespace with
    its own /proc: a local audit started there sees only the processes the
    script starts (other suites' servers stay out), and all of them die with
    it. Skips when namespaces cannot be made here."""
    base = ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc"]
    try:
        probe_ns = subprocess.run(base + ["true"], capture_output=True,
                                  text=True, timeout=10)
        why = probe_ns.stderr.strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        probe_ns, why = None, str(e)
    if probe_ns is None or probe_ns.returncode != 0:
        pytest.skip("cannot create a pid namespace with unshare: %s" % why)
    cp = subprocess.run(base + ["sh", "-c", script], stdin=subprocess.DEVNULL,
                        capture_output=True, text=True, timeout=timeout)
    assert "AddressSanitizer" not in cp.stderr, cp.stderr
    assert "runtime error" not in cp.stderr, cp.stderr
    return Run(cp)
class FakeTcp:
    """A TCP peer on loopback that answers each request line with
    reply(line) (bytes, or None to say nothing); every line it got is kept
    in .lines. Data after an `add` line is swallowed as the value."""

    def __init__(self, reply):
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(16)
        self.srv.settimeout(0.1)
        self.port = self.srv.getsockname()[1]
        self.reply = reply
        self.lines = []
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self.accept, daemon=True)
        self.t.start()

    def accept(self):
        while not self.stop_ev.is_set():
            try:
                c, _ = self.srv.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        buf, skip = b"", 0
        c.settimeout(0.2)
        try:
            while not self.stop_ev.is_set():
                try:
                    data = c.recv(65536)
                except socket.timeout:
                    continue
                if not data:
                    return
                buf += data
                while True:
                    if skip:
                        n = min(skip, len(buf))
                        buf, skip = buf[n:], skip - n
                        if skip:
                            break
                    if b"\n" not in buf:
                        break
                    line, buf = buf.split(b"\n", 1)
                    line = line.rstrip(b"\r").decode("latin-1")
                    self.lines.append(line)
                    if line.startswith("add "):
                        skip = int(line.split()[4]) + 2
                    out = self.reply(line)
                    if out:
                        c.sendall(out)
        except OSError:
            pass
        finally:
            c.close()

    def stop(self):
        self.stop_ev.set()
        self.t.join(timeout=2)
        self.srv.close()


@pytest.fixture
def fake_tcp():
    started = []

    def start(reply):
        f = FakeTcp(reply)
        started.append(f)
        return f

    yield start
    for f in started:
        f.stop()


def memcached_lines(settings=b"", more=None):
    """A reply function for FakeTcp: an unauthenticated memcached 1.6.18
    whose `stats settings` holds the STAT lines `settings`; more(line),
    when given, answers first (None: fall through)."""
    def reply(line):
        out = more(line) if more else None
        if out is not None:
            return out
        if line == "version":
            return b"VERSION 1.6.18\r\n"
        if line == "stats":
            return b"STAT pid 1\r\nSTAT libevent 2.1\r\nEND\r\n"
        if line == "stats settings":
            return settings + b"END\r\n"
        return b"ERROR\r\n"
    return reply
