"""The flash tier (issue 20, memcached's extstore).

Its options: parsed with memcached's units and bounds and shown in
`stats settings` under memcached's names. Its values: evicted from RAM to
the ext_path file, read back intact by every protocol, pipelined and in
multi-gets, in order; a full, torn or vanished file gives misses, never a
wrong value."""
import os
import random
import re
import signal
import socket
import subprocess

import pytest

import binproto
import hcutil

pytestmark = pytest.mark.hardcached_only

# memcached 1.6.45's `stats settings` names and defaults (memcached.c)
MEMCACHED_EXT_DEFAULTS = {
    "ext_item_size": "512", "ext_item_age": "4294967295", "ext_low_ttl": "0",
    "ext_recache_rate": "2000", "ext_wbuf_size": "4194304",
    "ext_compact_under": "0", "ext_drop_under": "0", "ext_max_sleep": "1000000",
    "ext_max_frag": "0.80", "ext_drop_unread": "no",
}


def ext_settings(stats):
    return {k: v for k, v in stats.items() if k.startswith("ext_")}


def test_stats_settings_has_memcacheds_ext_defaults(start_server):
    got = ext_settings(start_server().stats("settings"))
    for name, value in MEMCACHED_EXT_DEFAULTS.items():
        assert got.get(name) == value, name
    assert got["ext_page_size"] == str(64 << 20)


def test_ext_names_match_memcached_145(start_server):
    """Every ext_* line memcached 1.6.45 shows, with its default value."""
    ref = hcutil.memcached_145()
    if ref is None:
        pytest.skip(hcutil.REF_MISSING)
    want = ext_settings(start_server(binary=ref).stats("settings"))
    got = ext_settings(start_server().stats("settings"))
    assert want
    for name, value in want.items():
        assert got.get(name) == value, name


def test_ext_options_shown_in_memcacheds_units(start_server):
    s = start_server("-o", "ext_item_size=1024,ext_item_age=30,ext_low_ttl=5,"
                     "ext_recache_rate=10,ext_wbuf_size=8,ext_page_size=16,"
                     "ext_compact_under=3,ext_drop_under=2,ext_max_sleep=50,"
                     "ext_max_frag=0.5,ext_drop_unread,ext_threads=4,ext_io_depth=8")
    got = ext_settings(s.stats("settings"))
    assert got["ext_item_size"] == "1024"
    assert got["ext_item_age"] == "30"
    assert got["ext_low_ttl"] == "5"
    assert got["ext_recache_rate"] == "10"
    assert got["ext_wbuf_size"] == str(8 << 20)     # given in MiB
    assert got["ext_page_size"] == str(16 << 20)
    assert got["ext_compact_under"] == "3"
    assert got["ext_drop_under"] == "2"
    assert got["ext_max_sleep"] == "50"
    assert got["ext_max_frag"] == "0.50"
    assert got["ext_drop_unread"] == "yes"
    assert got["ext_threads"] == "4"
    assert got["ext_io_depth"] == "8"


@pytest.mark.parametrize("opt", [
    "ext_path", "ext_path=/tmp/x", "ext_path=/tmp/x:64", "ext_path=/tmp/x:64k",
    "ext_path=/tmp/x:0m", "ext_path=/tmp/x:64m:lowttl", "ext_page_size=0",
    "ext_page_size=abc", "ext_wbuf_size=1000", "ext_threads=0", "ext_io_depth=0",
    "ext_item_age=-1", "ext_max_frag=2", "ext_max_frag=x", "ext_bogus=1",
    "ext_io_backend", "ext_io_backend=aio"])
def test_bad_ext_option_exit_64(run_binary, opt):
    r = run_binary(*hcutil.root_args(), "-U", "0", "-o", opt)
    assert r.returncode == 64
    assert r.stderr.strip()


@pytest.mark.parametrize("args, word", [
    (["-U", "11311", "-o", "ext_path=/tmp/hc-flash-never:64m"], b"UDP"),
    (["-U", "0", "-I", "8m", "-m", "64", "-o", "ext_path=/tmp/hc-flash-never:64m"],
     b"ext_wbuf_size"),
    (["-U", "0", "-o", "ext_path=/tmp/hc-flash-never:32m"], b"page"),
])
def test_ext_checks_between_options(run_binary, args, word):
    """memcached's storage_check_config: no UDP, -I within a write buffer,
    a file of at least one page."""
    r = run_binary(*hcutil.root_args(), *args)
    assert r.returncode == 64
    assert word in r.stderr


# ---- values on flash ----

VSIZE = 4000          # over ext_item_size (512): every value qualifies


def value(i, gen=0):
    return (b"%07d:%03d|" % (i, gen)) * (VSIZE // 12) + b"#" * (VSIZE % 12)


# Reads from flash go through io_uring or the pread threads: each test of
# values on flash runs with both (ext_io_backend, hardcached's own).
BACKENDS = ("uring", "pool")


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def flash_server(start_server, path, size="64m", mem="8", extra=(), backend=None,
                 binary=None):
    """RAM of 8 MB, 1 MiB pages: a few thousand 4 KB values spill."""
    opts = "ext_path=%s:%s,ext_page_size=1,ext_wbuf_size=1" % (path, size)
    if backend:
        opts += ",ext_io_backend=" + backend
    s = start_server("-m", mem, "-o", opts, *extra, binary=binary)
    if backend:
        assert s.stats("settings")["ext_io_backend"] == backend
    return s


def fill(c, n, gen=0, first=0):
    """n pipelined noreply sets of value(i, gen), then a round trip."""
    batch = []
    for i in range(first, first + n):
        v = value(i, gen)
        batch.append(b"set k%d %d 0 %d noreply\r\n%s\r\n" % (i, i, len(v), v))
        if len(batch) == 64:
            c.send(b"".join(batch))
            batch = []
    c.send(b"".join(batch) + b"version\r\n")
    assert c.readline(timeout=60).startswith(b"VERSION ")


def read_values(c, keys):
    """One text multi-get: {key index: value} of the hits, in reply order."""
    c.send(b"get " + b" ".join(b"k%d" % i for i in keys) + b"\r\n")
    got = []
    while True:
        line = c.readline(timeout=30)
        if line == b"END\r\n":
            return got
        m = re.match(rb"VALUE k(\d+) (\d+) (\d+)\r\n", line)
        assert m, line
        data = c.read_exact(int(m.group(3)) + 2, timeout=30)
        assert int(m.group(2)) == int(m.group(1))     # its flags
        got.append((int(m.group(1)), data[:-2]))


N = 4000              # 16 MB of values: half of them at least on flash


@pytest.fixture
def flashed(start_server, tmp_path, backend):
    s = flash_server(start_server, tmp_path / "ext", backend=backend)
    with s.client() as c:
        fill(c, N)
    st = s.stats()
    assert int(st["extstore_objects_written"]) > N // 2, st
    return s


def test_values_land_on_flash_and_come_back(flashed, tmp_path):
    st = flashed.stats()
    assert int(st["curr_items"]) == N      # nothing evicted: it went to flash
    assert int(st["evictions"]) == 0
    assert int(st["extstore_bytes_written"]) >= int(st["extstore_objects_written"]) * VSIZE
    assert os.stat(tmp_path / "ext").st_mode & 0o777 == 0o600
    with flashed.client() as c:
        for i in range(N):
            assert c.get("k%d" % i) == value(i), i
    st = flashed.stats()
    assert int(st["get_hits"]) == N
    assert int(st["get_extstore"]) == int(st["extstore_objects_written"])
    assert int(st["extstore_objects_read"]) == int(st["get_extstore"])
    assert st["miss_from_extstore"] == "0" and st["badcrc_from_extstore"] == "0"


def test_multiget_and_pipeline_keep_order(flashed):
    """One write: multi-gets over flashed and RAM keys, meta and other
    commands between them; the replies come in request order."""
    keys = list(range(0, N, 7))
    random.Random(1).shuffle(keys)
    with flashed.client() as c:
        req = b""
        for j in range(0, len(keys), 50):
            part = keys[j:j + 50]
            req += b"get " + b" ".join(b"k%d" % i for i in part) + b"\r\n"
            req += b"mg k%d v k f s\r\nversion\r\n" % part[0]
        c.send(req)
        for j in range(0, len(keys), 50):
            part = keys[j:j + 50]
            for i in part:
                v = value(i)
                c.expect(b"VALUE k%d %d %d\r\n%s\r\n" % (i, i, len(v), v), timeout=30)
            c.expect(b"END\r\n")
            v = value(part[0])
            c.expect(b"VA %d kk%d f%d s%d\r\n%s\r\n" % (len(v), part[0], part[0], len(v), v))
            assert c.readline().startswith(b"VERSION ")


def test_multiget_with_repeats_and_ram_keys(flashed):
    """A key twice, RAM keys (just written) between flashed ones, a miss:
    each in its place; the reads asked for ahead are all used or freed."""
    with flashed.client() as c:
        c.set("k1", b"ram", flags=1)
        keys = [0, 1, 2, 2, N + 1, 3, 0, 1, 2]
        got = read_values(c, keys)
        want = [(i, b"ram" if i == 1 else value(i)) for i in keys if i < N]
        assert got == want
        st = flashed.stats()
        assert st["get_misses"] == "1" and st["get_aborted_extstore"] == "0"


def test_meta_and_binary_read_flashed_values(flashed):
    with flashed.client() as c:
        for i in (0, 1, 2, N // 3):
            v = value(i)
            c.send(b"mg k%d v t c\r\n" % i)
            line = c.readline(timeout=30)
            assert line.startswith(b"VA %d t-1 c" % len(v)), line
            c.expect(v + b"\r\n")
            c.cmd(b"mg k%d s q\r\nmn\r\n" % i, b"HD s%d\r\nMN\r\n" % len(v))
    with flashed.client() as c:   # a connection's first byte picks its protocol
        # binary: GET, GETK, and quiet GETKQs pipelined ahead of a NOOP
        r = binproto.call(c, "get", b"k5")
        assert r.status == binproto.OK and r.value == value(5)
        r = binproto.call(c, "getk", b"k6")
        assert r.status == binproto.OK and r.key == b"k6" and r.value == value(6)
        ks = [7, 8, 9, N + 5, 10]      # N + 5: a miss, silent
        c.send(b"".join(binproto.pack("getkq", b"k%d" % i, opaque=i) for i in ks) +
               binproto.pack("noop", opaque=99))
        for i in (7, 8, 9, 10):
            r = binproto.read(c, timeout=30)
            assert (r.key, r.opaque, r.value) == (b"k%d" % i, i, value(i))
        assert binproto.read(c).opaque == 99


def test_writes_on_flashed_items(flashed):
    """Overwrite, delete, touch, append and incr on items whose value is on
    flash: memcached's answers, and the new value wins."""
    with flashed.client() as c:
        c.set("k0", b"new")
        assert c.get("k0") == b"new"
        c.cmd(b"delete k1\r\n", b"DELETED\r\n")
        assert c.get("k1") is None
        c.cmd(b"touch k2 1000\r\n", b"TOUCHED\r\n")
        assert c.get("k2") == value(2)
        c.cmd(b"append k3 0 0 1\r\nx\r\n", b"NOT_STORED\r\n")    # as memcached
        c.cmd(b"incr k4 1\r\n",
              b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n")
        assert c.get("k3") == value(3) and c.get("k4") == value(4)


def test_close_while_a_read_is_pending(flashed):
    """Clients that leave with reads in flight: nothing leaks or crashes."""
    for i in range(20):
        c = flashed.client()
        c.send(b"get k%d k%d\r\n" % (i, i + 1))
        c.close()
    with flashed.client() as c:
        assert c.get("k30") == value(30)
    assert flashed.stats()["get_aborted_extstore"] == "0"   # none turned away


def test_graceful_stop_finishes_reads_from_flash(flashed):
    """SIGTERM with a multi-get of flashed values just sent: the stop
    waits for the reads and the client gets every value, then END."""
    keys = list(range(0, N, 2))   # dozens of batches of reads: still going
    c = flashed.client()
    c.send(b"get " + b" ".join(b"k%d" % i for i in keys) + b"\r\n")
    flashed.proc.send_signal(signal.SIGTERM)
    for i in keys:
        v = value(i)
        c.expect(b"VALUE k%d %d %d\r\n%s\r\n" % (i, i, len(v), v), timeout=30)
    c.expect(b"END\r\n")
    c.close()
    assert flashed.proc.wait(30) == 0


def test_device_that_fills_up(start_server, tmp_path, backend):
    """A 2 MiB file takes 2 pages: the oldest is reused, its values become
    misses (counted), the rest read back intact, never another's bytes."""
    s = flash_server(start_server, tmp_path / "ext", size="2m", backend=backend)
    with s.client() as c:
        fill(c, N)
        got = dict(read_values(c, range(0, N)))
    st = s.stats()
    assert int(st["extstore_page_evictions"]) > 0, st
    assert st["extstore_limit_maxbytes"] == str(2 << 20)
    assert 0 < len(got) < N
    for i, v in got.items():
        assert v == value(i), i
    assert int(st["get_misses"]) == N - len(got)
    assert st["miss_from_extstore"] == st["get_misses"]   # all misses were on flash
    assert st["badcrc_from_extstore"] == "0"     # a reused page is told by version


def test_torn_page_is_a_miss_never_wrong_data(flashed, tmp_path):
    """Bytes flipped in the file under the running server: every read of a
    damaged record is a miss counted in badcrc_from_extstore."""
    path = tmp_path / "ext"
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        for off in range(4096, min(size, 8 << 20), 9973):
            f.seek(off)
            b = f.read(1)
            f.seek(off)
            f.write(bytes([b[0] ^ 0x5a]) if b else b"\xff")
    with flashed.client() as c:
        got = dict(read_values(c, range(N)))
    for i, v in got.items():
        assert v == value(i), i
    st = flashed.stats()
    assert int(st["badcrc_from_extstore"]) > 0
    assert int(st["miss_from_extstore"]) == N - len(got)
    # the damaged ones were dropped: read again, they miss without a read
    with flashed.client() as c:
        assert dict(read_values(c, range(N))) == got
    st2 = flashed.stats()
    assert st2["miss_from_extstore"] == st["miss_from_extstore"]
    assert int(st2["curr_items"]) == len(got)
    assert flashed.alive()


def test_vanished_device_degrades_to_ram(flashed, tmp_path):
    """The file cut to nothing under the server: reads fail, the device is
    marked failed with a log line and a counter; the cache goes on in RAM."""
    os.truncate(tmp_path / "ext", 0)
    with flashed.client() as c:
        got = dict(read_values(c, range(N)))
        for i, v in got.items():
            assert v == value(i), i
        assert len(got) < N
        fill(c, 200, gen=1, first=N)        # still stores (in RAM)
        assert c.get("k%d" % (N + 199)) == value(N + 199, 1)
    st = flashed.stats()
    assert st["extstore_devices_failed"] == "1"
    assert int(st["extstore_io_errors"]) >= 1
    assert b"flash" in flashed.stderr() and b"continues without it" in flashed.stderr()


def test_device_full_of_errors_degrades_to_ram(start_server, tmp_path, backend):
    """A 16 MiB ext_path on a 2 MiB tmpfs (mounted in a private mount
    namespace): writes past 2 MiB fail with ENOSPC; the device is marked
    failed with a log line, the cache evicts as without a tier, and no
    value read is wrong."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    wrap = tmp_path / "wrap.sh"
    wrap.write_text("#!/bin/sh\nexec unshare -m sh -c 'mount -t tmpfs -o size=2m tmpfs "
                    "\"$0\" && hc=\"$1\" && shift && exec \"$hc\" \"$@\"' %s %s \"$@\"\n"
                    % (mnt, hcutil.HC_BIN))
    wrap.chmod(0o755)
    if os.geteuid() != 0 or os.system("unshare -m true 2>/dev/null") != 0:
        pytest.skip("needs root and mount namespaces")
    s = start_server("-m", "8", "-o", "ext_path=%s/ext:16m,ext_page_size=1,"
                     "ext_wbuf_size=1,ext_io_backend=%s" % (mnt, backend), binary=str(wrap))
    with s.client() as c:
        fill(c, N)
        got = dict(read_values(c, range(N)))
    for i, v in got.items():
        assert v == value(i), i
    st = s.stats()
    assert st["extstore_devices_failed"] == "1"
    assert int(st["extstore_io_errors"]) >= 1
    assert int(st["evictions"]) > 0              # RAM-only from then on
    assert b"No space left on device" in s.stderr()
    assert s.alive()


def test_churn_both_tiers_under_the_limit(start_server, tmp_path, backend):
    """Overwrites and deletes at random across RAM and flash, with the flash
    file recycled too: a get returns the last value written or nothing,
    and item memory stays within -m."""
    s = flash_server(start_server, tmp_path / "ext", size="4m", backend=backend)
    keys = 3000
    gen = {}
    rnd = random.Random(7)
    with s.client() as c:
        fill(c, keys)
        gen = {i: 0 for i in range(keys)}
        for rnd_no in range(1, 4):
            batch = []
            for i in rnd.sample(range(keys), keys // 3):
                if rnd.random() < 0.2:
                    batch.append(b"delete k%d noreply\r\n" % i)
                    gen[i] = None
                else:
                    v = value(i, rnd_no)
                    batch.append(b"set k%d %d 0 %d noreply\r\n%s\r\n" % (i, i, len(v), v))
                    gen[i] = rnd_no
            for j in range(0, len(batch), 64):
                c.send(b"".join(batch[j:j + 64]))
            c.cmd(b"mn\r\n", b"MN\r\n")
            got = dict(read_values(c, rnd.sample(range(keys), 400)))
            for i, v in got.items():
                assert gen[i] is not None and v == value(i, gen[i]), i
    st = s.stats()
    assert int(st["memory_used"]) <= 8 << 20
    assert int(st["extstore_objects_written"]) > keys // 2
    assert int(st["extstore_page_evictions"]) > 0


def test_extstore_command_tunes_the_running_tier(start_server, tmp_path):
    """`extstore item_size N` (memcached's knob) acts at once: values under
    it stay in RAM and are evicted instead; stats settings shows it."""
    s = flash_server(start_server, tmp_path / "ext")
    with s.client() as c:
        c.cmd(b"extstore item_size 100000\r\n", b"OK\r\n")
        c.cmd(b"extstore low_ttl 5\r\n", b"OK\r\n")
        fill(c, N)
    st = s.stats()
    assert st["extstore_objects_written"] == "0"
    assert int(st["evictions"]) > 0
    got = s.stats("settings")
    assert got["ext_item_size"] == "100000" and got["ext_low_ttl"] == "5"


# ---- where io_uring cannot be had ----

def no_uring_wrapper(tmp_path):
    """A wrapper that runs the server with io_uring_setup failing (EPERM), as
    under Docker's default seccomp profile: a filter installed with
    libseccomp through ctypes, then exec."""
    wrap = tmp_path / "no_uring.py"
    wrap.write_text(
        "#!/usr/bin/python3\n"
        "import ctypes, errno, os, sys\n"
        "lib = ctypes.CDLL('libseccomp.so.2')\n"
        "lib.seccomp_init.restype = ctypes.c_void_p\n"
        "ctx = ctypes.c_void_p(lib.seccomp_init(0x7fff0000))\n"          # ALLOW
        "nr = lib.seccomp_syscall_resolve_name(b'io_uring_setup')\n"
        "assert lib.seccomp_rule_add(ctx, 0x00050000 | errno.EPERM, nr, 0) == 0\n"
        "assert lib.seccomp_load(ctx) == 0\n"
        "os.execv(%r, [%r] + sys.argv[1:])\n" % (hcutil.HC_BIN, hcutil.HC_BIN))
    wrap.chmod(0o755)
    return str(wrap)


def test_ring_that_cannot_be_set_up_falls_back_to_threads(start_server, tmp_path):
    """Where io_uring_setup is refused, the tier says so in a log line and
    reads through the pread threads: every value comes back."""
    s = flash_server(start_server, tmp_path / "ext", binary=no_uring_wrapper(tmp_path))
    assert s.stats("settings")["ext_io_backend"] == "pool"
    with s.client() as c:
        fill(c, N)
        got = dict(read_values(c, range(N)))
    assert len(got) == N
    for i, v in got.items():
        assert v == value(i), i
    assert int(s.stats()["extstore_objects_read"]) > N // 2
    assert b"io_uring" in s.stderr() and b"pread threads instead" in s.stderr()


def test_auto_reads_through_io_uring_where_it_works(start_server, tmp_path):
    """With no ext_io_backend the kernel decides: io_uring here, unless this
    machine refuses it (then the fallback test above covers it)."""
    s = flash_server(start_server, tmp_path / "ext")
    if s.stats("settings")["ext_io_backend"] == "pool":
        pytest.skip("io_uring is not available here")
    assert s.stats("settings")["ext_io_backend"] == "uring"
    assert b"pread threads instead" not in s.stderr()


def test_uring_insisted_on_but_refused_exits(tmp_path):
    """ext_io_backend=uring where io_uring_setup fails: no silent fallback."""
    r = subprocess.run([no_uring_wrapper(tmp_path), *hcutil.root_args(), "-U", "0",
                        "-l", "127.0.0.1", "-p", str(hcutil.free_port()), "-o",
                        "ext_path=%s:64m,ext_io_backend=uring" % (tmp_path / "ext")],
                       capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    assert r.returncode == 71
    assert b"ext_io_backend=uring" in r.stderr and b"not permitted" in r.stderr
