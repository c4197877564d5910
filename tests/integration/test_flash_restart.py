"""The flash tier across a warm restart (-e with -o ext_path, issue 20).

After a graceful stop or a kill -9, every value comes back, from RAM or
from flash, byte for byte; a flash file that is not the one the last run
wrote (replaced, truncated, resized, written by a run without the
restart file, or no longer given) gives misses with a log line, never a
value; a symlink is refused; pages reused after the restart never serve
an old or another key's value."""
import os
import shutil
import signal
import socket
import time

import pytest

import hcutil
from test_flash import N, fill, flash_server, read_values, value

pytestmark = pytest.mark.hardcached_only


@pytest.fixture
def cache_file():
    path = "/dev/shm/hc-flash-restart-%d-%d" % (os.getpid(), time.monotonic_ns())
    yield path
    if os.path.lexists(path):
        os.unlink(path)


def start(start_server, cache_file, ext, size="64m", extra=()):
    return flash_server(start_server, ext, size=size, extra=("-e", cache_file) + tuple(extra))


def stop(s, sig=signal.SIGTERM):
    s.proc.send_signal(sig)
    assert s.proc.wait(30) in (0, -signal.SIGKILL)


def check_none_wrong(s, n, want):
    """Hits only with the value want(i) says (None: must miss); the hits."""
    with s.client() as c:
        got = dict(read_values(c, range(n)))
    for i, v in got.items():
        assert want(i) is not None and v == want(i), i
    return got


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGUSR1])
def test_graceful_restart_finds_flash_again(start_server, cache_file, tmp_path, sig):
    ext = tmp_path / "ext"
    s = start(start_server, cache_file, ext)
    with s.client() as c:
        fill(c, N)
    before = s.stats()
    assert int(before["extstore_objects_used"]) > N // 2, before
    stop(s, sig)
    s2 = start(start_server, cache_file, ext)
    st = s2.stats()
    assert int(st["curr_items"]) == N
    assert st["extstore_objects_used"] == before["extstore_objects_used"]
    assert st["extstore_pages_used"] == before["extstore_pages_used"]
    assert b"values found again on flash" in s2.stderr()
    # it goes on: new values flash to free pages; old and new read back
    with s2.client() as c:
        fill(c, N, gen=1, first=N)
    with s2.client() as c:
        got = dict(read_values(c, range(2 * N)))
    assert sorted(got) == list(range(2 * N))
    for i, v in got.items():
        assert v == value(i, 0 if i < N else 1), i
    st = s2.stats()
    assert int(st["get_extstore"]) > int(before["extstore_objects_used"])
    assert st["miss_from_extstore"] == "0" and st["badcrc_from_extstore"] == "0"


def test_kill9_during_a_flashing_load(start_server, cache_file, tmp_path):
    """Writers of new keys until kill -9, while compaction moves values to
    flash: after the restart every acknowledged write reads back intact
    (the device holds them all, so none may be missing), and the value in
    flight when the kill came is either whole or absent."""
    ext = tmp_path / "ext"
    s = start(start_server, cache_file, ext, size="128m", extra=("-t", "4"))
    acked = {}

    def writer(w, stop_flag):
        sock = socket.create_connection(("127.0.0.1", s.port))
        f = sock.makefile("rb")
        try:
            for n in range(4000):
                if stop_flag.is_set():
                    return
                i = w * 10000 + n
                v = value(i)
                sock.sendall(b"set k%d %d 0 %d\r\n%s\r\n" % (i, i, len(v), v))
                if f.readline() != b"STORED\r\n":
                    return
                acked[i] = True
        except OSError:
            pass

    hcutil.kill9_under_load(
        s, writer, 4, ready=lambda: int(s.stats()["extstore_objects_written"]) >= 2000)
    assert len(acked) > 2000
    s2 = start(start_server, cache_file, ext, size="128m", extra=("-t", "4"))
    assert b"a crash" in s2.stderr()
    keys = sorted(acked)
    with s2.client() as c:
        got = {}
        for j in range(0, len(keys), 200):
            c.send(b"get " + b" ".join(b"k%d" % i for i in keys[j:j + 200]) + b"\r\n")
            while True:
                line = c.readline(timeout=30)
                if line == b"END\r\n":
                    break
                k, _, n = line.split()[1:4]
                got[int(k[1:])] = c.read_exact(int(n) + 2, timeout=30)[:-2]
    missing = [i for i in keys if i not in got]
    assert not missing, missing[:10]
    for i, v in got.items():
        assert v == value(i), i
    st = s2.stats()
    assert int(st["get_extstore"]) > 1000, st
    assert st["badcrc_from_extstore"] == "0"
    assert int(st["curr_items"]) >= len(acked)


def replace(ext):
    os.unlink(ext)
    with open(ext, "wb") as f:
        f.truncate(64 << 20)
    os.chmod(ext, 0o600)


@pytest.mark.parametrize("change", ["replaced", "truncated", "extended", "resized_option",
                                    "page_size", "used_without_e", "older_copy"])
def test_another_flash_file_gives_misses(start_server, cache_file, tmp_path, change):
    """The flash file is not the one the last run wrote: its values are
    misses (logged, dropped), the RAM ones come back, nothing is wrong."""
    ext = tmp_path / "ext"
    saved = tmp_path / "saved"
    stop(start(start_server, cache_file, ext))
    shutil.copyfile(ext, saved)        # as a run before the last left it
    s = start(start_server, cache_file, ext)
    with s.client() as c:
        fill(c, N)
    in_ram = int(s.stats()["curr_items"]) - int(s.stats()["extstore_objects_used"])
    stop(s)
    size, extra = "64m", ()
    if change == "replaced":
        replace(ext)
    elif change == "truncated":
        os.truncate(ext, 32 << 20)
    elif change == "extended":
        os.truncate(ext, 65 << 20)
    elif change == "resized_option":
        size = "128m"
    elif change == "page_size":
        extra = ("-o", "ext_page_size=2")
    elif change == "used_without_e":
        other = flash_server(start_server, ext)   # same file, no restart file
        with other.client() as c:
            fill(c, N, gen=5)      # same keys and lengths, other values
        stop(other)
    elif change == "older_copy":   # a copy from before the last start
        shutil.copyfile(saved, ext)
    s2 = start(start_server, cache_file, ext, size=size, extra=extra)
    assert b"are dropped (misses)" in s2.stderr(), s2.stderr()
    st = s2.stats()
    assert int(st["curr_items"]) == in_ram
    assert st["extstore_objects_used"] == "0"
    got = check_none_wrong(s2, N, lambda i: value(i))
    assert len(got) == in_ram
    st = s2.stats()
    assert st["get_extstore"] == "0" and st["badcrc_from_extstore"] == "0"


def test_symlinked_flash_file_is_refused(start_server, run_binary, cache_file, tmp_path):
    ext = tmp_path / "ext"
    s = start(start_server, cache_file, ext)
    with s.client() as c:
        fill(c, N)
    stop(s)
    os.rename(ext, tmp_path / "real")
    os.symlink(tmp_path / "real", ext)
    r = run_binary(*hcutil.root_args(), "-p", str(hcutil.free_port()), "-U", "0",
                   "-m", "8", "-e", cache_file,
                   "-o", "ext_path=%s:64m,ext_page_size=1,ext_wbuf_size=1" % ext)
    assert r.returncode == 64
    assert b"symlink" in r.stderr, r.stderr


def test_restart_without_the_device_then_with_it(start_server, cache_file, tmp_path):
    """A restart with ext_path left out drops the items whose values were
    on flash (logged); given again the run after, the file is not trusted
    (the restart file forgot it): nothing comes back from it."""
    ext = tmp_path / "ext"
    s = start(start_server, cache_file, ext)
    with s.client() as c:
        fill(c, N)
    in_ram = int(s.stats()["curr_items"]) - int(s.stats()["extstore_objects_used"])
    stop(s)
    s2 = start_server("-m", "8", "-e", cache_file)
    assert b"is not given" in s2.stderr(), s2.stderr()
    assert int(s2.stats()["curr_items"]) == in_ram
    assert len(check_none_wrong(s2, N, lambda i: value(i))) == in_ram
    stop(s2)
    s3 = start(start_server, cache_file, ext)
    assert int(s3.stats()["curr_items"]) == in_ram
    assert s3.stats()["extstore_objects_used"] == "0"
    assert len(check_none_wrong(s3, N, lambda i: value(i))) == in_ram


@pytest.mark.parametrize("keep", ["first", "second"])
def test_two_devices_one_removed(start_server, cache_file, tmp_path, keep):
    """Two ext_paths (the first takes the writes), one left out at the
    restart: kept the first, its values come back; kept the second, now
    first in the list, it is not what the last run had there: the values
    are misses."""
    a, b = tmp_path / "a", tmp_path / "b"
    opts = "ext_page_size=1,ext_wbuf_size=1"
    s = start_server("-m", "8", "-e", cache_file, "-o",
                     "ext_path=%s:64m,ext_path=%s:64m,%s" % (a, b, opts))
    with s.client() as c:
        fill(c, N)
    flashed = int(s.stats()["extstore_objects_used"])
    assert flashed > N // 2
    stop(s)
    s2 = start_server("-m", "8", "-e", cache_file, "-o",
                      "ext_path=%s:64m,%s" % (a if keep == "first" else b, opts))
    err = s2.stderr()
    assert b"number 2 is not given" in err, err
    st = s2.stats()
    if keep == "first":
        assert int(st["extstore_objects_used"]) == flashed
        assert int(st["curr_items"]) == N
    else:
        assert b"another file than the last run's" in err, err
        assert st["extstore_objects_used"] == "0"
        assert int(st["curr_items"]) == N - flashed
    got = check_none_wrong(s2, N, lambda i: value(i))
    assert len(got) == int(st["curr_items"])
    assert s2.stats()["badcrc_from_extstore"] == "0"


def test_pages_reused_after_restart_serve_no_old_value(start_server, cache_file, tmp_path):
    """A 3-page file recycled before and after the restart, with keys
    overwritten and deleted in between: a get returns the last value
    written or nothing, a reused page is told by its version (no read
    fails its checksum), and deleted keys stay deleted."""
    ext = tmp_path / "ext"
    s = start(start_server, cache_file, ext, size="3m")
    last = {}
    with s.client() as c:
        fill(c, N)
        last = {i: value(i) for i in range(N)}
        fill(c, N // 4, gen=1)
        for i in range(N // 4):
            last[i] = value(i, 1)
        for i in range(N // 4, N // 2, 3):
            c.cmd(b"delete k%d\r\n" % i, b"DELETED\r\n")
            last[i] = None
    st = s.stats()
    assert int(st["extstore_page_evictions"]) > 0, st
    stop(s)
    s2 = start(start_server, cache_file, ext, size="3m")
    with s2.client() as c:      # recycle every page again (nothing read
        fill(c, N, gen=2, first=N)   # first: stale stubs stay in RAM)
        for i in range(N, 2 * N):
            last[i] = value(i, 2)
    assert len(check_none_wrong(s2, 2 * N, last.get)) > 0
    st = s2.stats()
    assert int(st["extstore_page_evictions"]) > 0, st
    assert st["badcrc_from_extstore"] == "0"
    stop(s2, signal.SIGKILL)
    s3 = start(start_server, cache_file, ext, size="3m")
    check_none_wrong(s3, 2 * N, last.get)
    assert s3.stats()["badcrc_from_extstore"] == "0"


@pytest.mark.skipif(not hcutil.is_asan(), reason="the kill point is in debug (ASan) builds")
def test_kill_during_a_compaction_that_flashes(start_server, cache_file, tmp_path,
                                               monkeypatch):
    """The first compaction moves values to flash and is killed while it
    rewrites its segment: the journal holds the stubs, sealed only once
    their records were written; every acknowledged value reads back."""
    ext = tmp_path / "ext"
    monkeypatch.setenv("HC_DEBUG_KILL_AT", "compact")
    s = start(start_server, cache_file, ext)
    monkeypatch.delenv("HC_DEBUG_KILL_AT")
    acked = 0
    with s.client() as c:
        try:
            for i in range(N):
                v = value(i)
                c.send(b"set k%d %d 0 %d\r\n%s\r\n" % (i, i, len(v), v))
                if c.readline() != b"STORED\r\n":
                    break
                acked += 1
        except (OSError, AssertionError, TimeoutError):
            pass
    assert s.proc.wait(10) == -signal.SIGKILL   # the kill point was reached
    assert acked > 0
    s2 = start(start_server, cache_file, ext)
    with s2.client() as c:
        got = dict(read_values(c, range(acked + 1)))
    assert set(range(acked)) <= set(got)
    for i, v in got.items():
        assert v == value(i), i
