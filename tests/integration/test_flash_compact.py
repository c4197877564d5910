"""Flash pages compacted and reclaimed (issue 20, memcached's extstore
compaction), values recached from flash, and `stats extstore`.

A small flash file is filled, most of its values deleted so its pages go
mostly dead, and the compaction thread (ext_compact_under, ext_max_frag)
rewrites the live values elsewhere and frees the pages: every live value
still reads back byte for byte, also for reads racing the moves."""
import os
import re
import signal
import threading
import time

import pytest

import hcutil
from test_flash import N, fill, read_values, value

pytestmark = pytest.mark.hardcached_only

PAGES = 12            # of 1 MiB: RAM (8 MB) spills about 8 of them


def compact_server(start_server, tmp_path, *opts, args=()):
    """12 pages; compaction starts under 6 free, looks every 10 ms; no
    recache (a recached value leaves flash) unless asked."""
    return start_server("-m", "8", "-o", ",".join((
        "ext_path=%s:%dm" % (tmp_path / "ext", PAGES), "ext_page_size=1",
        "ext_wbuf_size=1", "ext_compact_under=6", "ext_drop_under=6",
        "ext_max_sleep=10000", "ext_recache_rate=0") + opts), *args)


def delete_most(c, keep):
    """Delete every key i that keep(i) refuses; noreply, then a round trip."""
    batch = [b"delete k%d noreply\r\n" % i for i in range(N) if not keep(i)]
    for j in range(0, len(batch), 64):
        c.send(b"".join(batch[j:j + 64]))
    c.cmd(b"mn\r\n", b"MN\r\n")


def wait_for(s, cond, what, timeout=60):
    """Poll stats until cond(stats) holds (a bound against a hang)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        st = s.stats()
        if cond(st):
            return st
        time.sleep(0.05)
    pytest.fail("%s: %s" % (what, {k: v for k, v in st.items() if "extstore" in k}))


def compacted(st):
    return (int(st["extstore_compact_rescues"]) > 0 and
            int(st["extstore_pages_free"]) >= 6)


def keep_third(i):
    return i % 3 == 0


def test_partly_dead_pages_are_compacted_and_live_values_kept(start_server, tmp_path):
    s = compact_server(start_server, tmp_path)
    with s.client() as c:
        fill(c, N)
        before = s.stats()
        assert int(before["extstore_pages_free"]) < 6, before   # it will compact
        delete_most(c, keep_third)
        st = wait_for(s, compacted, "no compaction")
        got = dict(read_values(c, range(N)))
    assert sorted(got) == [i for i in range(N) if keep_third(i)]
    for i, v in got.items():
        assert v == value(i), i
    st = s.stats()
    assert int(st["extstore_compact_rescues"]) > 0
    assert st["extstore_compact_lost"] == "0"
    assert st["extstore_compact_skipped"] == "0"
    assert st["extstore_page_evictions"] == "0"      # nothing recycled: reclaimed
    assert int(st["extstore_page_reclaims"]) > int(before["extstore_page_reclaims"])
    assert int(st["extstore_pages_used"]) < int(before["extstore_pages_used"])
    assert st["miss_from_extstore"] == "0"
    # moved values are written again, but were flashed once: write
    # amplification (bytes written / value bytes flashed) shows the moves
    assert st["extstore_values_flashed"] == before["extstore_values_flashed"]
    assert int(st["extstore_objects_written"]) >= \
        int(before["extstore_objects_written"]) + int(st["extstore_compact_rescues"])
    # live bytes are what the pages hold: what stats extstore adds up
    pages = s.stats("extstore")
    assert sum(int(v) for k, v in pages.items() if k.endswith(":bytes")) == \
        int(st["extstore_bytes_used"])


def test_reads_racing_the_moves_never_get_a_wrong_value(start_server, tmp_path):
    """Readers hammer the live keys while their values move: each hit is
    the key's own value; once compaction is done every key hits."""
    s = compact_server(start_server, tmp_path)
    live = [i for i in range(N) if keep_third(i)]
    stop = threading.Event()
    wrong, hits = [], [0]

    def reader(seed):
        with s.client() as rc:
            k = seed
            while not stop.is_set():
                keys = [live[(k + j * 7) % len(live)] for j in range(16)]
                k += 97
                for i, v in read_values(rc, keys):
                    hits[0] += 1
                    if v != value(i):
                        wrong.append(i)

    with s.client() as c:
        fill(c, N)
        threads = [threading.Thread(target=reader, args=(t * 131,)) for t in range(4)]
        for t in threads:
            t.start()
        try:
            delete_most(c, keep_third)
            wait_for(s, compacted, "no compaction")
            time.sleep(0.2)
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        got = dict(read_values(c, live))
    assert not wrong
    assert hits[0] > 0
    assert sorted(got) == live
    for i, v in got.items():
        assert v == value(i), i
    assert s.stats()["badcrc_from_extstore"] == "0"


def test_drop_unread_drops_values_never_read(start_server, tmp_path):
    """With ext_drop_unread and no page fragmented enough (max_frag 0),
    the oldest page is compacted keeping only values read since they were
    flashed: those still read back, the others are dropped (skipped)."""
    s = compact_server(start_server, tmp_path, "ext_compact_under=1", "ext_drop_under=1")
    with s.client() as c:
        fill(c, N)
        read = [i for i in range(N) if i % 2 == 0]
        assert len(read_values(c, read)) == len(read)   # marks them read
        for cmd in (b"max_frag 0", b"drop_unread 1", b"drop_under 12",
                    b"compact_under 12"):
            c.cmd(b"extstore " + cmd + b"\r\n", b"OK\r\n")
        wait_for(s, lambda st: int(st["extstore_compact_skipped"]) > 100, "nothing dropped")
        c.cmd(b"extstore compact_under 1\r\n", b"OK\r\n")
        c.cmd(b"extstore drop_unread 0\r\n", b"OK\r\n")
        time.sleep(0.1)
        got = dict(read_values(c, range(N)))
    for i, v in got.items():
        assert v == value(i), i
    assert set(read) <= set(got)          # every value read was kept
    assert len(got) < N                    # unread ones were dropped
    st = s.stats()
    assert int(st["extstore_compact_rescues"]) > 0
    assert s.stats("settings")["ext_drop_unread"] == "no"


def test_recache_brings_values_back_to_ram(start_server, tmp_path):
    """A value read from flash whose item was read before (memcached: hit
    at least twice) goes back into RAM at rate 1: the next read of it is
    not a flash read. (No compaction: a value it moves while a read of it
    is queued is read again, counted twice.)"""
    s = compact_server(start_server, tmp_path, "ext_recache_rate=1", "ext_compact_under=1")
    with s.client() as c:
        fill(c, N)
        first = dict(read_values(c, range(200)))
        st1 = s.stats()
        assert int(st1["get_extstore"]) > 0
        assert st1["recache_from_extstore"] == "0"      # first reads: none
        got = dict(read_values(c, range(200)))
        st = s.stats()
        flashed = int(st["get_extstore"]) - int(st1["get_extstore"])
        assert flashed == int(st1["get_extstore"])     # still on flash
        assert st["recache_from_extstore"] == str(flashed)
        again = dict(read_values(c, range(200)))
        st2 = s.stats()
    assert first == got == again and len(got) == 200
    for i, v in got.items():
        assert v == value(i), i
    assert st2["get_extstore"] == st["get_extstore"]   # now served from RAM


def test_recache_rate_one_in_n(start_server, tmp_path):
    s = compact_server(start_server, tmp_path, "ext_recache_rate=4", "ext_compact_under=1",
                       args=("-t", "1"))
    with s.client() as c:
        fill(c, N)
        read_values(c, range(400))
        before = int(s.stats()["get_extstore"])
        read_values(c, range(400))
        st = s.stats()
    reads = int(st["get_extstore"]) - before
    assert reads >= 40
    assert int(st["recache_from_extstore"]) == reads // 4   # the 4th, 8th, ...


PAGE_LINE = re.compile(r"^(\d+):(version|bytes|bucket|free_bucket)$")


def page_stats(s):
    """`stats extstore` as (page, field, value), in reply order."""
    with s.client() as c:
        c.send(b"stats extstore\r\n")
        lines = []
        while True:
            line = c.readline(timeout=10)
            if line == b"END\r\n":
                return lines
            _, name, v = line.decode().split()
            m = PAGE_LINE.match(name)
            assert m, line
            lines.append((int(m.group(1)), m.group(2), int(v)))


def test_stats_extstore_per_page_lines(start_server, tmp_path):
    s = compact_server(start_server, tmp_path)
    empty = page_stats(s)
    assert [(p, f) for p, f, _ in empty] == \
        [(p, f) for p in range(PAGES) for f in ("version", "bytes", "bucket", "free_bucket")]
    assert all(v == 0 for _, _, v in empty)
    with s.client() as c:
        fill(c, N)
    lines = page_stats(s)
    st = s.stats()
    versions = [v for _, f, v in lines if f == "version"]
    used = [v for v in versions if v != 0]
    assert len(used) == int(st["extstore_pages_used"])
    assert len(set(used)) == len(used)               # allocation order, unique
    assert sum(v for _, f, v in lines if f == "bytes") == int(st["extstore_bytes_used"])


def test_stats_extstore_names_match_memcached_145(start_server, tmp_path):
    ref = hcutil.memcached_145()
    if ref is None:
        pytest.skip(hcutil.REF_MISSING)
    opts = "ext_path=%s:16m,ext_page_size=2,ext_wbuf_size=2"  # memcached: 2 MiB units
    mc = start_server("-o", opts % (tmp_path / "mc"), binary=ref)
    hc = start_server("-o", opts % (tmp_path / "hc"))
    want, got = page_stats(mc), page_stats(hc)
    assert [(p, f) for p, f, _ in got] == [(p, f) for p, f, _ in want]
    assert got == want                    # all free: every value 0, as memcached
    # with a file, compact_under and drop_under of 0 become 1% of its pages
    for name in ("ext_compact_under", "ext_drop_under", "ext_max_frag"):
        assert hc.stats("settings")[name] == mc.stats("settings")[name], name


def test_stats_extstore_without_a_tier_is_end(start_server):
    assert page_stats(start_server()) == []


@pytest.mark.parametrize("age", [None, 1])
def test_item_age_flashes_values_read_but_idle(start_server, tmp_path, age):
    """Values read once then idle: eviction keeps read items in RAM only
    up to half a segment and evicts the rest; with ext_item_age they go
    to flash instead once idle that long, and all read back."""
    opts = ("ext_compact_under=1",) + (("ext_item_age=%d" % age,) if age else ())
    s = compact_server(start_server, tmp_path, *opts)
    with s.client() as c:
        fill(c, 1000)                                 # 4 MB: all in RAM
        assert len(read_values(c, range(1000))) == 1000
        assert s.stats()["get_extstore"] == "0"
        time.sleep(2.2)
        fill(c, 3000, first=1000)                     # 12 MB more: eviction
        got = dict(read_values(c, range(1000)))
    st = s.stats()
    for i, v in got.items():
        assert v == value(i), i
    if age is None:   # memcached's default: no age limit, read ones stay
        assert len(got) < 1000 and int(st["evictions"]) > 0
    else:
        assert len(got) == 1000 and st["evictions"] == "0"
        assert int(st["get_extstore"]) > 500


def test_compaction_after_a_warm_restart(start_server, tmp_path):
    """With -e: a restart rebuilds each page's live bytes too (what
    compaction chooses by); compaction then moves values whose items live
    in the restart file (their stubs rewritten as sealed copies), and a
    second restart finds every moved value at its new place."""
    cache = "/dev/shm/hc-flash-compact-%d-%d" % (os.getpid(), time.monotonic_ns())
    try:
        def server():
            return compact_server(start_server, tmp_path, args=("-e", cache))

        s = server()
        with s.client() as c:
            fill(c, N)
        before = s.stats()
        s.proc.send_signal(signal.SIGTERM)
        assert s.proc.wait(30) == 0
        s = server()
        st = s.stats()
        assert st["extstore_bytes_used"] == before["extstore_bytes_used"]
        assert st["extstore_objects_used"] == before["extstore_objects_used"]
        with s.client() as c:
            delete_most(c, keep_third)
            wait_for(s, compacted, "no compaction after the restart")
        moved = int(s.stats()["extstore_compact_rescues"])
        s.proc.send_signal(signal.SIGTERM)
        assert s.proc.wait(30) == 0
        s = server()
        with s.client() as c:
            got = dict(read_values(c, range(N)))
        st = s.stats()
    finally:
        if os.path.lexists(cache):
            os.unlink(cache)
    assert moved > 0
    assert sorted(got) == [i for i in range(N) if keep_third(i)]
    for i, v in got.items():
        assert v == value(i), i
    assert st["miss_from_extstore"] == "0" and st["badcrc_from_extstore"] == "0"
