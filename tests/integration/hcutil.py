"""Helpers shared by the integration tests: start a server, talk raw bytes.

Every expected byte in this suite was first checked against the real
memcached 1.6.18 (HC_BIN=/usr/bin/memcached); hardcached must give the same
bytes unless a test is marked hardcached_only.
"""
import atexit
import ctypes
import os
import re
import select
import signal
import socket
import subprocess
import tempfile
import time

HC_BIN = os.environ.get("HC_BIN", "build/release/hardcached")
DEFAULT_TIMEOUT = 5.0
START_TIMEOUT = 15.0  # ASan builds start slowly on a 2-core machine

_ref = None


def is_reference():
    """True when HC_BIN is the real memcached (reference mode)."""
    global _ref
    if _ref is None:
        if os.path.basename(HC_BIN) == "memcached":
            _ref = True
        else:
            try:
                out = subprocess.run([HC_BIN, "-V"], capture_output=True,
                                     timeout=10).stdout
                # -V: "memcached 1.6.x", then hardcached's own line
                _ref = b"hardcached" not in out
            except (OSError, subprocess.TimeoutExpired):
                _ref = False
    return _ref


# The two memcached releases hardcached is compared with: Debian's (what
# CI and users have) and the newest, the yardstick (built from source by
# scripts/memcached-ref.sh, so often absent: tests then skip and say so).
DEBIAN_MEMCACHED = "/usr/bin/memcached"
REF_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                          "scripts", "memcached-ref.sh")
REF_MISSING = ("memcached 1.6.45 not found (MEMCACHED_REF, or build it: "
               "scripts/memcached-ref.sh --build)")
_ref145 = []


def memcached_145():
    """memcached 1.6.45's path as scripts/memcached-ref.sh finds it, or None."""
    if not _ref145:
        out = subprocess.run(["sh", REF_SCRIPT], capture_output=True, timeout=10)
        _ref145.append(out.stdout.decode().strip() if out.returncode == 0 else None)
    return _ref145[0]


def root_args():
    """Both servers refuse to run as root without -u."""
    return ["-u", "root"] if os.geteuid() == 0 else []


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    """A TCP port that is free right now on host (tiny race, retried by Server)."""
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.bind((host, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def proc_status(pid):
    """/proc/PID/status as a dict of str -> str."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


_asan = None


def is_asan():
    """True when HC_BIN is an AddressSanitizer build: its RSS includes shadow
    memory and a quarantine of freed blocks (256 MiB by default)."""
    global _asan
    if _asan is None:
        try:
            with open(HC_BIN, "rb") as f:
                _asan = b"__asan_init" in f.read()
        except OSError:
            _asan = False
    return _asan


ASAN_RSS_SLACK_MB = 400


def rss_slack_mb():
    return ASAN_RSS_SLACK_MB if is_asan() else 0


def rss_kb(pid):
    return int(proc_status(pid)["VmRSS"].split()[0])


_live = set()


@atexit.register
def _kill_leftovers():
    """Safety net: no server outlives the test run, even after an error in
    a fixture."""
    for proc in list(_live):
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def _die_with_parent():
    """Runs in the child before exec: SIGKILL it if pytest dies (cleared by
    the kernel when the server changes uid, e.g. -u nobody)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Server:
    """One server process on a random loopback port, killed on stop()."""

    def __init__(self, args=(), port=None, host="127.0.0.1", listen=True,
                 wait=True, user=None, udp_flag=True, unix=None, binary=None):
        """listen=False: pass no -p/-l; user: -u USER instead of -u root;
        udp_flag=False: pass no -U 0; unix: a -s path to wait on instead of
        TCP; binary: another server than HC_BIN (the differential test's
        memcached)."""
        self.host = host
        self.unix = unix
        self.args = list(args)
        self.proc = None
        self.port = port
        self.stderr_file = tempfile.TemporaryFile()
        for attempt in range(5):
            # a port free on the address we bind (0.0.0.0 checks all)
            self.port = port or free_port(host=host if ":" not in host else "127.0.0.1")
            argv = [binary or HC_BIN]
            if listen:
                argv += ["-p", str(self.port), "-l", host]
            if udp_flag:
                argv += ["-U", "0"]
            argv += (["-u", user] if user else root_args()) + self.args
            self.argv = argv
            self.stderr_file.seek(0)
            self.stderr_file.truncate()
            self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                         stderr=self.stderr_file,
                                         stdin=subprocess.DEVNULL,
                                         preexec_fn=_die_with_parent)
            _live.add(self.proc)
            if not wait:
                return
            if self._wait_ready():
                return
            self.stop()
            if port:
                break
        raise RuntimeError("server did not start: %r\nstderr: %r"
                           % (self.argv, self.stderr()))

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if self.unix:
                    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    c.settimeout(1)
                    c.connect(self.unix)
                else:
                    c = socket.create_connection((self.host, self.port),
                                                 timeout=1)
                c.settimeout(2)
                c.sendall(b"version\r\n")
                if c.recv(100).startswith(b"VERSION "):
                    c.close()
                    return True
                c.close()
            except OSError:
                pass
            time.sleep(0.05)
        return False

    @property
    def pid(self):
        return self.proc.pid

    def stderr(self):
        self.stderr_file.flush()
        self.stderr_file.seek(0)
        return self.stderr_file.read()

    def client(self, timeout=DEFAULT_TIMEOUT):
        if self.unix:
            return Raw(timeout=timeout, unix=self.unix)
        return Raw(self.host, self.port, timeout)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """Kill the server. memcached takes ~1 s to honour SIGTERM, so the
        reference run uses SIGKILL; an ASan build gets SIGTERM so that
        LeakSanitizer runs at exit (see sanitizer_report)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM if is_asan() else signal.SIGKILL)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        _live.discard(self.proc)

    def sanitizer_report(self):
        """The ASan/UBSan/LSan report the server printed, or b''."""
        err = self.stderr()
        for marker in (b"ERROR: AddressSanitizer", b"ERROR: LeakSanitizer",
                       b"runtime error:"):
            i = err.find(marker)
            if i >= 0:
                return err[max(0, i - 200):i + 4000]
        return b""

    def stats(self, sub=""):
        with self.client() as c:
            return c.stats(sub)



def kill9_under_load(server, writer, nthreads, ready=lambda: time.sleep(1.5) or True,
                     timeout=60):
    """Run writer(w, stop) on nthreads threads (stop: a threading.Event it
    must honour), kill -9 the server once ready() is true (polled up to
    timeout seconds), then stop and join the writers."""
    import threading
    stop = threading.Event()
    threads = [threading.Thread(target=writer, args=(w, stop)) for w in range(nthreads)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    while not ready() and time.monotonic() < deadline:
        time.sleep(0.05)
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(10)
    stop.set()
    for t in threads:
        t.join(10)


class Raw:
    """A raw TCP (or unix) client: send exact bytes, expect exact bytes."""

    def __init__(self, host="127.0.0.1", port=None, timeout=DEFAULT_TIMEOUT,
                 unix=None):
        if unix:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(unix)
        else:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        self.timeout = timeout
        self.buf = b""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out; have %r" % self.buf[:300])
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(1 << 20)
        except socket.timeout:
            raise TimeoutError("timed out; have %r" % self.buf[:300])
        if not chunk:
            raise ConnectionError("closed by server; have %r" % self.buf[:300])
        self.buf += chunk

    def read_exact(self, n, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while len(self.buf) < n:
            self._fill(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_until(self, term, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while term not in self.buf:
            self._fill(deadline)
        i = self.buf.index(term) + len(term)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def readline(self, timeout=None):
        return self.read_until(b"\r\n", timeout)

    def expect(self, want, timeout=None):
        """Read exactly len(want) bytes and assert they are want."""
        got = self.read_exact(len(want), timeout)
        assert got == want, "expected %r, got %r" % (want, got)

    def cmd(self, data, want):
        self.send(data)
        self.expect(want)

    def call(self, line):
        """Send one line, return one reply line."""
        self.send(line)
        return self.readline()

    def nothing_pending(self, wait=0.2):
        """Assert the server sends nothing more within `wait` seconds."""
        if self.buf:
            raise AssertionError("unexpected bytes %r" % self.buf[:300])
        r, _, _ = select.select([self.sock], [], [], wait)
        if r:
            data = self.sock.recv(65536)
            raise AssertionError("unexpected bytes %r" % data[:300])

    def assert_closed(self, timeout=None):
        """Assert the server closes the connection (EOF or RST) in time.

        Any bytes it sends before closing are returned."""
        deadline = time.monotonic() + (timeout or self.timeout)
        got = self.buf
        self.buf = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("connection still open; got %r" % got[:300])
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(1 << 20)
            except socket.timeout:
                raise AssertionError("connection still open; got %r" % got[:300])
            except (ConnectionResetError, BrokenPipeError):
                return got
            if not chunk:
                return got
            got += chunk

    def stats(self, sub=""):
        self.send(("stats %s\r\n" % sub if sub else "stats\r\n").encode())
        out = {}
        while True:
            line = self.readline()
            if line == b"END\r\n":
                return out
            m = re.match(rb"STAT (\S+) (.*)\r\n", line)
            assert m, "bad stats line %r" % line
            out[m.group(1).decode()] = m.group(2).decode()

    def set(self, key, value, flags=0, exptime=0):
        if isinstance(key, str):
            key = key.encode()
        self.send(b"set %s %d %d %d\r\n%s\r\n" % (key, flags, exptime,
                                                  len(value), value))
        self.expect(b"STORED\r\n")

    def get(self, key):
        """Value bytes or None."""
        if isinstance(key, str):
            key = key.encode()
        self.send(b"get %s\r\n" % key)
        line = self.readline()
        if line == b"END\r\n":
            return None
        m = re.match(rb"VALUE (\S+) (\d+) (\d+)\r\n", line)
        assert m, "bad get reply %r" % line
        data = self.read_exact(int(m.group(3)) + 2)
        self.expect(b"END\r\n")
        return data[:-2]


class Bystander:
    """A second client with its own keys, checked after each hostile test."""

    def __init__(self, server, n=20):
        self.server = server
        self.items = {("bystander:%d" % i).encode(): os.urandom(50 + i * 37)
                      .hex().encode() for i in range(n)}
        self.conn = server.client()
        for k, v in self.items.items():
            self.conn.set(k, v)

    def check(self):
        """Data still there, on both the old connection and a new one."""
        assert self.server.alive(), "server died"
        for c in (self.conn, self.server.client()):
            for k, v in self.items.items():
                assert c.get(k) == v, "bystander lost %r" % k
        self.conn.send(b"version\r\n")
        assert self.conn.readline().startswith(b"VERSION ")

    def close(self):
        self.conn.close()
