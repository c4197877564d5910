"""-e FILE: the cache survives a restart. After a graceful stop (SIGTERM,
SIGUSR1, `shutdown graceful`) and after kill -9, every item comes back with
its value, flags, CAS and expiry; an unsafe file is refused, an
incompatible or damaged one gives an empty cache, never wrong data."""
import mmap
import os
import re
import signal
import socket
import struct
import threading
import time

import pytest

import hcutil

pytestmark = pytest.mark.hardcached_only

SHM = "/dev/shm"


@pytest.fixture
def cache_file():
    path = os.path.join(SHM, "hc-restart-%d-%d" % (os.getpid(), time.monotonic_ns()))
    yield path
    if os.path.lexists(path):
        os.unlink(path)


def stop(s, sig=signal.SIGTERM):
    s.proc.send_signal(sig)
    s.proc.wait(20)


def gets(c, key):
    """(flags, cas, value) or None."""
    c.send(b"gets " + key.encode() + b"\r\n")
    line = c.readline()
    if line == b"END\r\n":
        return None
    m = re.match(rb"VALUE \S+ (\d+) (\d+) (\d+)\r\n", line)
    assert m, line
    data = c.read_exact(int(m.group(2)) + 2)[:-2]
    c.expect(b"END\r\n")
    return int(m.group(1)), int(m.group(3)), data


def fill(c, n, prefix="k", pad=0):
    out = {}
    for i in range(n):
        key = "%s%d" % (prefix, i)
        val = (b"v%d-" % i) * (1 + i % 7) + b"p" * pad
        c.cmd(b"set %s %d 0 %d\r\n%s\r\n" % (key.encode(), i, len(val), val), b"STORED\r\n")
        out[key] = val
    return out


@pytest.mark.parametrize("how", ["SIGTERM", "SIGUSR1", "shutdown", "SIGKILL"])
def test_restart_keeps_every_item(start_server, cache_file, how):
    args = ("-e", cache_file, "-m", "64", "-A")
    s = start_server(*args)
    with s.client() as c:
        items = fill(c, 3000)
        c.cmd(b"set ttl 7 1000 2\r\nhi\r\n", b"STORED\r\n")
        c.cmd(b"set gone 0 1 2\r\nno\r\n", b"STORED\r\n")
        c.cmd(b"set deleted 0 0 2\r\nno\r\n", b"STORED\r\n")
        c.cmd(b"delete deleted\r\n", b"DELETED\r\n")
        c.cmd(b"set over 0 0 3\r\nold\r\n", b"STORED\r\n")
        c.cmd(b"set over 3 0 3\r\nnew\r\n", b"STORED\r\n")
        before = {k: gets(c, k) for k in list(items) + ["ttl", "over"]}
        c.send(b"mg ttl t\r\n")
        ttl_before = int(c.readline().split(b"t")[-1])
    assert os.stat(cache_file).st_mode & 0o777 == 0o600
    if how == "shutdown":
        with s.client() as c:
            c.send(b"shutdown graceful\r\n")
        s.proc.wait(20)
    else:
        stop(s, getattr(signal, how))
    time.sleep(1.1)   # "gone" (1 s) expires meanwhile
    s2 = start_server(*args)
    with s2.client() as c:
        for k, want in before.items():
            assert gets(c, k) == want, k
        assert gets(c, "gone") is None
        assert gets(c, "deleted") is None
        c.send(b"mg ttl t\r\n")
        ttl_after = int(c.readline().split(b"t")[-1])
        assert ttl_before - 3 <= ttl_after <= ttl_before
        # new writes get new CAS values, never one handed out before
        c.cmd(b"set fresh 0 0 1\r\nx\r\n", b"STORED\r\n")
        assert gets(c, "fresh")[1] not in {v[1] for v in before.values()}
    assert int(s2.stats()["curr_items"]) == len(before) + 1
    word = b"a graceful stop" if how != "SIGKILL" else b"a crash"
    assert word in s2.stderr(), s2.stderr()


def test_flush_survives_restart(start_server, cache_file):
    s = start_server("-e", cache_file)
    with s.client() as c:
        fill(c, 100)
        c.cmd(b"flush_all\r\n", b"OK\r\n")
        c.cmd(b"set after 0 0 1\r\nz\r\n", b"STORED\r\n")
    stop(s, signal.SIGKILL)
    s2 = start_server("-e", cache_file)
    with s2.client() as c:
        assert gets(c, "k1") is None
        assert gets(c, "after")[2] == b"z"


def test_kill9_under_write_load(start_server, cache_file):
    """Writers run until kill -9; every write whose reply arrived is
    served after the restart (the last one acknowledged per key, or a
    newer one whose reply was lost), and no value is torn."""
    s = start_server("-e", cache_file, "-m", "64", "-t", "4")
    acked = {}

    def writer(w, stop_flag):
        sock = socket.create_connection(("127.0.0.1", s.port))
        f = sock.makefile("rb")
        n = 0
        try:
            while not stop_flag.is_set():
                key = "w%d-%d" % (w, n % 500)
                val = (b"%d:%d|" % (w, n)) * (1 + n % 40)
                sock.sendall(b"set %s 0 0 %d\r\n%s\r\n" % (key.encode(), len(val), val))
                if f.readline() != b"STORED\r\n":
                    break
                acked.setdefault(key, []).append(val)
                n += 1
        except OSError:
            pass

    hcutil.kill9_under_load(s, writer, 4)
    assert len(acked) > 100
    s2 = start_server("-e", cache_file, "-m", "64", "-t", "4")
    with s2.client() as c:
        for key, vals in acked.items():
            got = gets(c, key)
            assert got is not None, key
            # the last acknowledged value, or the one in flight after it
            w, n = map(int, vals[-1].split(b"|")[0].split(b":"))
            ok = {vals[-1], (b"%d:%d|" % (w, n + 500)) * (1 + (n + 500) % 40)}
            assert got[2] in ok, (key, got[2][:40])


def test_memory_limit_and_eviction_after_restart(start_server, cache_file):
    args = ("-e", cache_file, "-m", "8")
    s = start_server(*args)
    with s.client() as c:
        fill(c, 5000, "a", 1000)
    stop(s)
    s2 = start_server(*args)
    st = s2.stats()
    assert int(st["curr_items"]) > 4000
    assert int(st["bytes"]) <= 8 << 20
    with s2.client() as c:
        fill(c, 20000, "b", 1000)
        st = s2.stats()
        assert int(st["evictions"]) > 0
        assert gets(c, "b19999") is not None
    limit = 8 << 20
    st = s2.stats()
    assert int(st["limit_maxbytes"]) == limit


def test_incompatible_settings_start_empty(start_server, cache_file):
    s = start_server("-e", cache_file, "-m", "64")
    with s.client() as c:
        fill(c, 10)
    stop(s)
    s2 = start_server("-e", cache_file, "-m", "32")
    with s2.client() as c:
        assert gets(c, "k1") is None
    assert b"another memory limit (-m)" in s2.stderr()
    stop(s2)
    s3 = start_server("-e", cache_file, "-m", "32", "-I", "2m")
    assert b"another item size limit (-I)" in s3.stderr()


def _version_field_offset():
    return 8   # after the 8-byte magic (storage/persist.c, struct persist_hdr)


def test_other_format_version_is_refused_cleanly(start_server, cache_file):
    s = start_server("-e", cache_file)
    with s.client() as c:
        fill(c, 10)
    stop(s)
    with open(cache_file, "r+b") as f:
        f.seek(_version_field_offset())
        (v,) = struct.unpack("<I", f.read(4))
        f.seek(_version_field_offset())
        f.write(struct.pack("<I", v + 1))
    s2 = start_server("-e", cache_file)
    assert b"another version of the file format" in s2.stderr()
    with s2.client() as c:
        assert gets(c, "k1") is None
        fill(c, 10)
    stop(s2)
    s3 = start_server("-e", cache_file)   # the reset file works
    with s3.client() as c:
        assert gets(c, "k1") is not None


def test_damaged_segments_are_refused(start_server, cache_file):
    """Bytes flipped inside item data: the segments holding them are not
    trusted, every other item is still served, none with a wrong value."""
    s = start_server("-e", cache_file, "-m", "64")
    with s.client() as c:
        items = fill(c, 5000)
    stop(s)
    size = (64 << 20) + 65536   # the header and the standard segments
    with open(cache_file, "r+b") as f:
        data = bytearray(f.read(size))
        hits = 0
        for pos in range(65536 + 200, size, 65536 * 3):
            if data[pos - 200:pos].count(b"-") > 3:   # inside items
                data[pos] ^= 0x55
                hits += 1
        f.seek(0)
        f.write(data)
    assert hits > 0
    s2 = start_server("-e", cache_file, "-m", "64")
    with s2.client() as c:
        served = 0
        for k, v in items.items():
            got = gets(c, k)
            if got is not None:
                assert got[2] == v
                served += 1
    assert 0 < served < len(items)
    assert b"segments refused" in s2.stderr()


def test_unsafe_files_are_refused(run_binary, cache_file, tmp_path):
    root = hcutil.root_args()
    # open to others
    with open(cache_file, "wb"):
        pass
    os.chmod(cache_file, 0o644)
    r = run_binary(*root, "-p", "0", "-e", cache_file)
    assert r.returncode != 0 and b"open to other users" in r.stderr
    os.unlink(cache_file)
    # a symlink
    os.symlink(os.path.join(SHM, "elsewhere"), cache_file)
    r = run_binary(*root, "-p", "0", "-e", cache_file)
    assert r.returncode != 0 and b"symlink" in r.stderr
    os.unlink(cache_file)
    # not on tmpfs (a disk-backed file system), unless tmp_path is tmpfs
    disk = str(tmp_path / "cache")
    st = os.statvfs(str(tmp_path))
    r = run_binary(*root, "-p", "0", "-e", disk)
    if b"neither on tmpfs" not in r.stderr:
        pytest.skip("tmp_path is on tmpfs here: %r" % st)
    assert r.returncode != 0


def test_help_explains_e(run_binary):
    out = run_binary("--help").stdout
    assert b"-e, --memory-file" in out and b"kill -9" in out


def test_items_larger_than_a_segment_are_kept(start_server, cache_file):
    """Items over 64 KiB have segments of their own, in the file too: a
    restart (graceful or kill -9) serves them, the newest copy of a key
    (never the smaller value it replaced), and a freed one stays gone."""
    args = ("-e", cache_file, "-I", "2m")
    s = start_server(*args)
    bigs = {"b%d" % i: bytes([65 + i]) * ((64 << 10) + i * 100003) for i in range(12)}
    with s.client() as c:
        c.cmd(b"set k 0 0 5\r\nsmall\r\n", b"STORED\r\n")
        for k, v in [("k", bigs["b3"])] + list(bigs.items()):
            c.cmd(b"set %s 9 0 %d\r\n%s\r\n" % (k.encode(), len(v), v), b"STORED\r\n")
        c.cmd(b"set gone 0 0 %d\r\n%s\r\n" % (len(bigs["b5"]), bigs["b5"]), b"STORED\r\n")
        c.cmd(b"delete gone\r\n", b"DELETED\r\n")
        c.cmd(b"set other 0 0 2\r\nok\r\n", b"STORED\r\n")
        want = {k: gets(c, k) for k in list(bigs) + ["k"]}
    for sig in (signal.SIGTERM, signal.SIGKILL):
        stop(s, sig)
        s = start_server(*args)
        with s.client() as c:
            for k, w in want.items():
                assert gets(c, k) == w, k
            assert gets(c, "gone") is None
            assert gets(c, "other")[2] == b"ok"
    with s.client() as c:   # a large item was the newest: small ones still go to a head
        small = fill(c, 2000, "s", 40)
    stop(s, signal.SIGKILL)
    s = start_server(*args)
    with s.client() as c:
        for k, v in small.items():
            assert gets(c, k)[2] == v, k
        for k, w in want.items():
            assert gets(c, k) == w, k
    stop(s)
    with open(cache_file, "r+b") as f, mmap.mmap(f.fileno(), 0) as m:
        pos = m.find(b"H" * 4096)   # inside b7's value
        assert pos > 0
        m[pos + 100] ^= 0x55
    s = start_server(*args)
    with s.client() as c:
        assert gets(c, "b7") is None   # damaged: not trusted
        assert gets(c, "b6") == want["b6"]
    assert b"1 segments refused" in s.stderr()


@pytest.mark.skipif(not hcutil.is_asan(), reason="the kill point is in debug (ASan) builds")
def test_kill_during_defragmentation_keeps_every_write(start_server, cache_file, monkeypatch):
    """Overwrites leave mostly dead segments, whose live items
    defragmentation moves to the head; killed mid-move (the moved copy
    sealed, the old one not yet marked dead), the restart serves the
    last acknowledged value of every key."""
    args = ("-e", cache_file, "-m", "64")
    monkeypatch.setenv("HC_DEBUG_KILL_AT", "defrag")
    s = start_server(*args)
    monkeypatch.delenv("HC_DEBUG_KILL_AT")
    acked = {}
    sent = None
    try:
        with s.client() as c:
            for n in range(200000):
                key = "d%d" % (n % 300 if n % 7 else n)   # most overwritten, some not
                val = (b"%d|" % n) * 200
                sent = (key, val)
                c.send(b"set %s 0 0 %d\r\n%s\r\n" % (key.encode(), len(val), val))
                if c.readline() != b"STORED\r\n":
                    break
                acked[key] = val
    except (OSError, AssertionError, TimeoutError, ConnectionError):
        pass
    assert s.proc.wait(10) == -signal.SIGKILL   # the kill point was reached
    assert len(acked) > 300
    s2 = start_server(*args)
    with s2.client() as c:
        for key, val in acked.items():
            got = gets(c, key)
            # the write the kill cut (defragmentation runs after a store
            # is complete, before its reply) may be there
            assert got is not None and (got[2] == val or (key, got[2]) == sent), key


def test_memlimit_cannot_grow_past_the_file(start_server, cache_file):
    """Segments past the file would be lost on a restart: with -e the
    limit may be lowered and raised back, never raised past -m (memcached
    refuses any change of a preallocated limit with the same line)."""
    args = ("-e", cache_file, "-m", "8")
    s = start_server(*args)
    with s.client() as c:
        c.cmd(b"cache_memlimit 16\r\n",
              b"MEMLIMIT_ADJUST_FAILED out of bounds or unable to adjust\r\n")
        assert int(s.stats()["limit_maxbytes"]) == 8 << 20
        c.cmd(b"cache_memlimit 8\r\n", b"OK\r\n")
        fill(c, 20000, "b", 1000)   # fills the whole limit, all in the file
    stop(s, signal.SIGKILL)
    s2 = start_server(*args)
    assert int(s2.stats()["curr_items"]) > 4000
    with s2.client() as c:
        assert gets(c, "b19999") is not None


@pytest.mark.skipif(not hcutil.is_asan(), reason="the kill point is in debug (ASan) builds")
def test_kill_during_compaction_keeps_its_items(start_server, cache_file, monkeypatch):
    """Eviction compacts a segment in place; a kill while it is rewritten
    (HC_DEBUG_KILL_AT stops the server there, under a write load) must not
    lose the items it keeps (read ones) nor any acknowledged write."""
    args = ("-e", cache_file, "-m", "8", "-t", "4")
    monkeypatch.setenv("HC_DEBUG_KILL_AT", "compact")
    s = start_server(*args)
    monkeypatch.delenv("HC_DEBUG_KILL_AT")
    hot = {}
    with s.client() as c:
        items = fill(c, 3000, "h", 1000)
        for i in range(0, 3000, 5):   # read: compaction keeps these
            key = "h%d" % i
            assert gets(c, key)[2] == items[key]
            hot[key] = items[key]
    acked = {}

    def writer(w):
        try:
            with s.client() as c:
                for n in range(100000):
                    key = "w%d-%d" % (w, n)
                    val = (b"%d:%d|" % (w, n)) * 100
                    c.send(b"set %s 0 0 %d\r\n%s\r\n" % (key.encode(), len(val), val))
                    if c.readline() != b"STORED\r\n":
                        return
                    acked[key] = val
        except (OSError, AssertionError, TimeoutError):
            pass

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert s.proc.wait(10) == -signal.SIGKILL   # the kill point was reached
    assert acked
    s2 = start_server(*args)
    with s2.client() as c:
        for key, val in list(hot.items()) + list(acked.items()):
            got = gets(c, key)
            assert got is not None and got[2] == val, key
        for i in range(3000):   # the rest: evicted, or whole
            got = gets(c, "h%d" % i)
            assert got is None or got[2] == items["h%d" % i]
