"""Item memory on transparent huge pages, and what the data gives back:
a 2 MiB range that holds a segment given back must lie out of the
huge-page advice, or khugepaged (and MADV_COLLAPSE) fill it back in whole
and RSS climbs back to the high-water mark (seg.c; issue 21, reviewer's
thp_collapse.py). Read through /proc/PID/smaps and /proc/PID/pagemap."""
import ctypes
import os
import struct

import pytest

import hcutil
from test_memory import _overwrite, _rss_mb, _thp_available

pytestmark = pytest.mark.hardcached_only

HUGE = 2 << 20          # the kernel's PMD huge page, seg.c SEG_HUGE_PAGE
SEG = 64 << 10          # segment size for -m of 4 MiB and more (store.c)
PAGE = os.sysconf("SC_PAGE_SIZE")
KEYS = 64000            # 1 KiB each: about 70 MiB, 35 ranges
BLOCK = 4000            # keys written one after another: about 2 ranges


def _mappings(pid):
    """(start, end, VmFlags) of each mapping, in address order."""
    out = []
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            head = line.split(None, 1)[0]
            if "-" in head and not head.endswith(":"):
                a, b = head.split("-")
                out.append([int(a, 16), int(b, 16), ""])
            elif head == "VmFlags:":
                out[-1][2] = " " + line.split(None, 1)[1].strip() + " "
    return out


def _region(pid):
    """The item region's mappings: the huge-page advised ones (hg) and the
    contiguous ones next to them that the server took out (nh); all are
    MAP_NORESERVE (nr), thread stacks and their guard pages are not."""
    maps = _mappings(pid)
    keep = set()
    for i, (_, _, flags) in enumerate(maps):
        if " hg " not in flags or " nr " not in flags:
            continue
        keep.add(i)
        for step in (-1, 1):
            j = i
            while (0 <= j + step < len(maps) and
                   maps[min(j, j + step)][1] == maps[max(j, j + step)][0] and
                   " nr " in maps[j + step][2] and
                   (" nh " in maps[j + step][2] or " hg " in maps[j + step][2])):
                j += step
                keep.add(j)
    return [maps[i] for i in sorted(keep)]


def _present(pid, start, end):
    """One bool per page of [start, end): resident?"""
    n = (end - start) // PAGE
    with open("/proc/%d/pagemap" % pid, "rb") as f:
        f.seek(start // PAGE * 8)
        words = struct.unpack("<%dQ" % n, f.read(n * 8))
    return [bool(w >> 63) for w in words]


def _refillable(pid, region):
    """2 MiB ranges under the advice that hold a resident page and a whole
    segment of none: a segment given back (or, at the end of what was
    ever handed out, never used) that a collapse would make resident."""
    out = []
    per_seg = SEG // PAGE
    for start, end, flags in region:
        if " hg " not in flags:
            continue
        for r in range((start + HUGE - 1) // HUGE * HUGE, end - HUGE + 1, HUGE):
            p = _present(pid, r, r + HUGE)
            if any(p) and any(not any(p[i:i + per_seg]) for i in range(0, len(p), per_seg)):
                out.append(r)
    return out


def _collapse(pid, region):
    """process_madvise(MADV_COLLAPSE) on every advised 2 MiB range, as
    khugepaged would in time. False if the kernel refuses it here."""
    libc = ctypes.CDLL(None, use_errno=True)
    SYS_process_madvise, MADV_COLLAPSE = 440, 25

    class iovec(ctypes.Structure):
        _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]

    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return False
    try:
        for start, end, flags in region:
            if " hg " not in flags:
                continue
            for r in range((start + HUGE - 1) // HUGE * HUGE, end - HUGE + 1, HUGE):
                v = iovec(r, HUGE)
                # a range never written is refused (EINVAL), not collapsed
                if libc.syscall(SYS_process_madvise, pidfd, ctypes.byref(v), 1,
                                MADV_COLLAPSE, 0) < 0 and ctypes.get_errno() in (
                                    1, 38):   # EPERM, ENOSYS
                    return False
    finally:
        os.close(pidfd)
    return True


def _nohuge(region):
    return [m for m in region if " nh " in m[2]]


def _check_region(pid):
    """The item region: whole 2 MiB ranges, not segments, are out of the
    advice (one such page per range blocks a collapse, and VMAs stay
    few), and no range under it holds a segment given back, but for one
    at the end of what was ever handed out. Returns the region."""
    region = _region(pid)
    assert region, "no huge-page advised item memory"
    for start, end, _ in _nohuge(region):
        assert start % HUGE == 0 and end % HUGE == 0, (hex(start), hex(end))
    refill = _refillable(pid, region)
    assert len(refill) <= 1, "ranges under the advice with segments given " \
        "back: %s" % [hex(r) for r in refill]
    return region


def _shrink_collapse_regrow(start_server):
    """1 KiB values, then every other block of them overwritten by 32 B
    ones: their segments are given back, the others' stay in use, so
    ranges out of the advice alternate with advised ones. Every advised
    range is then collapsed, as khugepaged would in time: that may fill
    only ranges whose segments are in use or pooled (a few MiB here).
    Then the blocks get 1 KiB values again, taking the segments given
    back: their ranges go back under the advice. Returns the mappings
    of the region out of the advice, after the shrink and after that."""
    if not _thp_available():
        pytest.skip("transparent huge pages are off here")
    s = start_server("-m", "256", "-t", "4")
    blocks = [k for k in range(KEYS) if k // BLOCK % 2 == 0]
    with s.client(timeout=60) as c:
        _overwrite(c, range(KEYS), 1024)
        high = _rss_mb(s)
        _overwrite(c, blocks, 32)
        low = _rss_mb(s)
        shrunk = _nohuge(_check_region(s.pid))
        grown = _rss_mb(s) - low if _collapse(s.pid, _region(s.pid)) else None
        assert c.get(b"ow1") == b"v" * 32
        assert c.get(b"ow%d" % BLOCK) == b"v" * 1024
        _overwrite(c, blocks, 1024)
        regrown = _nohuge(_check_region(s.pid))
        assert c.get(b"ow1") == b"v" * 1024
    print("1 KiB -> 32 B: RSS %.1f -> %.1f MiB, a collapse brought back %s MiB; "
          "item region out of the advice in %d mappings, %d after the regrowth"
          % (high, low, grown, len(shrunk), len(regrown)))
    assert high - low > 10
    assert shrunk, "no range left the huge-page advice"
    if grown is not None:
        assert grown <= (high - low) / 4
    assert len(regrown) < len(shrunk)
    assert s.alive()
    return shrunk, regrown


def test_given_back_ranges_leave_the_advice(start_server):
    shrunk, _ = _shrink_collapse_regrow(start_server)
    # several runs out of the advice, as the blocks were (the bound on
    # them below is then passed)
    assert len(shrunk) > 2


@pytest.mark.skipif(not hcutil.is_asan(), reason="HC_DEBUG_NOHUGE_RUNS: the debug (ASan) build")
def test_given_back_ranges_past_the_vma_bound(start_server, monkeypatch):
    """With the bound on runs out of the advice lowered to 2 (it takes a
    region of 32 GiB to pass the real one), a range joins the nearest run
    instead of starting one: still nothing given back lies under the
    advice, and the region stays in a handful of mappings."""
    monkeypatch.setenv("HC_DEBUG_NOHUGE_RUNS", "2")
    shrunk, regrown = _shrink_collapse_regrow(start_server)
    assert len(shrunk) <= 2 and len(regrown) <= 2


def test_lowered_memlimit_leaves_the_advice(start_server):
    """cache_memlimit below what the items hold: the segments evicted past
    the new limit are given back like any others, so the region beyond
    it is out of the advice too, and a collapse cannot take RSS back over
    the lowered limit."""
    if not _thp_available():
        pytest.skip("transparent huge pages are off here")
    s = start_server("-m", "256", "-t", "4")
    with s.client(timeout=60) as c:
        _overwrite(c, range(KEYS), 1024)
        high = _rss_mb(s)
        c.cmd(b"cache_memlimit 16\r\n", b"OK\r\n")
        _overwrite(c, range(KEYS), 32)      # each store evicts down to the limit
        low = _rss_mb(s)
        _check_region(s.pid)
        grown = _rss_mb(s) - low if _collapse(s.pid, _region(s.pid)) else None
        st = c.stats()
    print("1 KiB, cache_memlimit 16, 32 B: RSS %.1f -> %.1f MiB, a collapse "
          "brought back %s MiB; bytes %s, evictions %s"
          % (high, low, grown, st["bytes"], st["evictions"]))
    assert int(st["bytes"]) <= 16 << 20
    assert high - low > 40
    if grown is not None:
        assert grown <= 4
