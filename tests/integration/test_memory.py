"""Memory bounds: -m caps item memory, eviction when full (counted in
stats evictions), -M answers out of memory instead, resident memory stays
within -m plus a documented overhead, -I for small and large limits."""
import os
import random
import resource

import pytest

import hcutil

# hardcached's promise: RSS <= -m + this, for any mix of item sizes.
RSS_OVERHEAD_MB = 48
# memcached 1.6.18 measured here: about 70 MiB RSS for -m 64 filled with
# mixed sizes. The shared bound only proves "bounded", not tight.
SHARED_RSS_OVERHEAD_MB = 64


def _fill(c, prefix, sizes, total_bytes):
    """Store values of the given sizes round-robin until total_bytes were
    sent. Returns (count stored, set of distinct replies)."""
    sent = stored = 0
    replies = set()
    i = 0
    batch = []
    while sent < total_bytes:
        n = sizes[i % len(sizes)]
        batch.append(b"set %s%d 0 0 %d\r\n%s\r\n" % (prefix, i, n, b"m" * n))
        sent += n
        i += 1
        if len(batch) == 32 or sent >= total_bytes:
            c.send(b"".join(batch))
            for _ in batch:
                r = c.readline(timeout=20)
                replies.add(r)
                stored += r == b"STORED\r\n"
            batch = []
    return stored, replies


def test_eviction_when_full(start_server):
    s = start_server("-m", "8")
    with s.client(timeout=20) as c:
        stored, replies = _fill(c, b"ev", [100000], 50 * 1024 * 1024)
        assert replies == {b"STORED\r\n"}, replies
        st = c.stats()
        print("-m 8, 50 MB of 100 kB values: curr_items %s bytes %s evictions %s"
              % (st["curr_items"], st["bytes"], st["evictions"]))
        assert int(st["evictions"]) > 0
        assert int(st["bytes"]) <= 8 * 1024 * 1024 * 1.1
        assert int(st["curr_items"]) < stored
        assert c.get(b"ev%d" % (stored - 1)) == b"m" * 100000
        assert c.get(b"ev0") is None


def test_M_out_of_memory(start_server):
    s = start_server("-m", "8", "-M")
    with s.client(timeout=20) as c:
        stored, replies = _fill(c, b"om", [100000], 30 * 1024 * 1024)
        assert b"SERVER_ERROR out of memory storing object\r\n" in replies, replies
        assert replies <= {b"STORED\r\n",
                           b"SERVER_ERROR out of memory storing object\r\n"}
        st = c.stats()
        assert st["evictions"] == "0"
        assert c.get(b"om0") == b"m" * 100000
        # the connection is still in sync after the error
        c.cmd(b"get om:none\r\n", b"END\r\n")


def test_M_out_of_memory_noreply_silent(start_server):
    s = start_server("-m", "8", "-M")
    with s.client(timeout=20) as c:
        v = b"q" * 100000
        c.send(b"".join(b"set nr%d 0 0 %d noreply\r\n%s\r\n" % (i, len(v), v)
                        for i in range(200)))
        c.cmd(b"get nr:none\r\n", b"END\r\n")


def test_rss_bounded_by_m(start_server):
    s = start_server("-m", "64")
    with s.client(timeout=30) as c:
        _fill(c, b"rs", [100, 1000, 10000, 100000, 500000, 50], 200 * 1024 * 1024)
        c.cmd(b"get none\r\n", b"END\r\n")
        rss = hcutil.rss_kb(s.pid) / 1024
        st = c.stats()
    limit = 64 + (SHARED_RSS_OVERHEAD_MB if hcutil.is_reference()
                  else RSS_OVERHEAD_MB) + hcutil.rss_slack_mb()
    print("-m 64 after 200 MB of mixed sets: RSS %.1f MiB (limit %d), bytes %s, "
          "evictions %s" % (rss, limit, st["bytes"], st["evictions"]))
    assert int(st["evictions"]) > 0
    assert rss <= limit


def _thp_available():
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            return "[never]" not in f.read()
    except OSError:
        return False


def _anon_huge_kb(pid):
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("AnonHugePages:"):
                return int(line.split()[1])
    return 0


def _nohuge_vmas(pid):
    """Mappings of the process that madvise(MADV_NOHUGEPAGE) marked, but
    for thread stacks and their guard pages (glibc marks them too)."""
    stack_kb = resource.getrlimit(resource.RLIMIT_STACK)[0] // 1024
    n = size_kb = 0
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            if line.startswith("Size:"):
                size_kb = int(line.split()[1])
            elif (line.startswith("VmFlags:") and " nh" in line and
                  size_kb % 64 == 0 and size_kb != stack_kb):
                n += 1
    return n


@pytest.mark.parametrize("flags", [["-L"], []], ids=["L", "default"])
def test_L_large_pages(start_server, flags):
    """-L (memcached: large memory pages) puts item memory on transparent
    huge pages where the kernel offers them, and hardcached does so
    without it too (issue 21: 1 KiB items over 100 MB missed the TLB);
    -m still bounds resident memory and eviction still works."""
    if not flags and hcutil.is_reference():
        pytest.skip("memcached uses huge pages only with -L")
    s = start_server(*flags, "-m", "64")
    with s.client(timeout=30) as c:
        stored, replies = _fill(c, b"lp", [1000], 150 * 1024 * 1024)
        assert replies == {b"STORED\r\n"}, replies
        assert c.get(b"lp%d" % (stored - 1)) == b"m" * 1000
        st = c.stats()
        rss = hcutil.rss_kb(s.pid) / 1024
        huge = _anon_huge_kb(s.pid) / 1024
    limit = 64 + (SHARED_RSS_OVERHEAD_MB if hcutil.is_reference()
                  else RSS_OVERHEAD_MB) + hcutil.rss_slack_mb()
    print("%s -m 64 after 150 MB of 1 kB sets: RSS %.1f MiB (limit %d), "
          "huge pages %.1f MiB, evictions %s"
          % (" ".join(flags), rss, limit, huge, st["evictions"]))
    assert int(st["evictions"]) > 0
    assert rss <= limit
    if _thp_available():
        assert huge >= 32


def test_rss_bounded_small_items(start_server):
    """Many tiny items: per-item overhead counts against -m too."""
    s = start_server("-m", "16")
    with s.client(timeout=30) as c:
        _fill(c, b"t", [1, 5, 10], 3 * 1024 * 1024)
        rss = hcutil.rss_kb(s.pid) / 1024
        st = c.stats()
    limit = 16 + (SHARED_RSS_OVERHEAD_MB if hcutil.is_reference()
                  else RSS_OVERHEAD_MB) + hcutil.rss_slack_mb()
    print("-m 16 with %s tiny items: RSS %.1f MiB (limit %d), evictions %s"
          % (st["curr_items"], rss, limit, st["evictions"]))
    assert rss <= limit


def test_I_large(start_server):
    s = start_server("-I", "2m", "-m", "64")
    with s.client(timeout=20) as c:
        v = os.urandom(2 * 1024 * 1024 - 4096)
        c.set("big", v)
        assert c.get("big") == v
        n = 2 * 1024 * 1024 + 1
        c.cmd(b"set big2 0 0 %d\r\n%s\r\n" % (n, b"x" * n),
              b"SERVER_ERROR object too large for cache\r\n")


def test_I_512k(start_server):
    """The smallest -I memcached 1.6.18 takes with its default
    slab_chunk_max."""
    s = start_server("-I", "512k")
    with s.client() as c:
        v = b"y" * (512 * 1024 - 1024)
        c.set("v", v)
        assert c.get("v") == v
        n = 512 * 1024 + 1
        c.cmd(b"set v2 0 0 %d\r\n%s\r\nget v2\r\n" % (n, b"x" * n),
              b"SERVER_ERROR object too large for cache\r\nEND\r\n")


@pytest.mark.hardcached_only
def test_I_2k(start_server):
    """-I 2k. Not comparable with memcached 1.6.18: it refuses -I below
    512k unless -o slab_chunk_max is lowered too, and with that it
    segfaults on the first value that needs a chunked item (measured:
    -I 2k -o slab_chunk_max=1, then a 1500-byte set -> SIGSEGV)."""
    s = start_server("-I", "2k")
    with s.client() as c:
        v = b"z" * 1500
        c.set("v", v)
        assert c.get("v") == v
        c.cmd(b"set v2 0 0 2049\r\n%s\r\nget v2\r\n" % (b"x" * 2049),
              b"SERVER_ERROR object too large for cache\r\nEND\r\n")
        c.cmd(b"set v3 0 0 100000\r\n%s\r\nversion\r\n" % (b"x" * 100000),
              b"SERVER_ERROR object too large for cache\r\n")
        assert c.readline().startswith(b"VERSION ")


# Overwrites at random leave dead copies in the log; resident memory must
# follow the live data, not the limit (issue 21: 1 KiB values overwritten
# under -m 1024 once took the whole gigabyte). memcached 1.6.45 needs about
# 1.25x its `bytes` here (slab chunks); the goal is within 2x of that.
OVERWRITE_KEYS = 20000
OVERWRITE_PASSES = 8
OVERWRITE_RSS_PER_LIVE = 2.5


def _overwrite(c, keys, size):
    """Set each key of `keys`, in that order, to a value of `size` bytes,
    256 sets in flight at most: a client that never waits for replies
    could make the server buffer its input, and RSS would measure that."""
    value = b"v" * size
    for i in range(0, len(keys), 256):
        chunk = keys[i:i + 256]
        c.send(b"".join(b"set ow%d 0 0 %d\r\n%s\r\n" % (k, size, value)
                        for k in chunk))
        c.expect(b"STORED\r\n" * len(chunk))


def _rss_mb(s):
    return hcutil.rss_kb(s.pid) / 1024


def _random_keys(passes):
    """OVERWRITE_KEYS * passes keys drawn at random (the same each run)."""
    rng = random.Random(21)
    return [rng.randrange(OVERWRITE_KEYS) for _ in range(OVERWRITE_KEYS * passes)]


def test_rss_follows_live_data_under_overwrites(start_server):
    """32 B values, then 1 KiB ones overwritten at random for 8 passes:
    resident memory grows by at most 2.5 times the live bytes."""
    s = start_server("-m", "1024")
    with s.client(timeout=60) as c:
        rss0 = _rss_mb(s)
        _overwrite(c, range(OVERWRITE_KEYS), 32)
        _overwrite(c, _random_keys(OVERWRITE_PASSES), 1024)
        grown = _rss_mb(s) - rss0
        st = c.stats()
    live = int(st["bytes"]) / (1024 * 1024)
    limit = OVERWRITE_RSS_PER_LIVE * live + 2 + hcutil.rss_slack_mb()
    print("%d keys of 1 KiB after %d passes of random overwrites: RSS grew "
          "%.1f MiB for %.1f MiB live (limit %.1f)"
          % (OVERWRITE_KEYS, OVERWRITE_PASSES, grown, live, limit))
    assert int(st["curr_items"]) == OVERWRITE_KEYS
    assert int(st["evictions"]) == 0
    assert grown <= limit


@pytest.mark.hardcached_only
def test_rss_shrinks_with_live_data(start_server):
    """The same keys' values shrink from 1 KiB to 32 B: the segments their
    old copies held go back to the kernel (memcached keeps its slab pages,
    so its RSS stays at the high-water mark)."""
    s = start_server("-m", "1024")
    with s.client(timeout=60) as c:
        rss0 = _rss_mb(s)
        _overwrite(c, range(OVERWRITE_KEYS), 1024)
        _overwrite(c, _random_keys(2), 1024)
        high = _rss_mb(s) - rss0
        _overwrite(c, range(OVERWRITE_KEYS), 32)
        low = _rss_mb(s) - rss0
        st = c.stats()
        nohuge = _nohuge_vmas(s.pid)
    live = int(st["bytes"]) / (1024 * 1024)
    # what stays: each shard's last few segments (defragmentation leaves
    # shards of under 8 segments alone), the pool (64 segments) and the
    # hash table: half the high-water mark is plenty for that
    limit = min(high / 2, 24) + hcutil.rss_slack_mb()
    print("1 KiB -> 32 B values: RSS grew %.1f MiB at most, %.1f MiB after "
          "(%.1f MiB live, limit %.1f), %d mappings out of huge pages"
          % (high, low, live, limit, nohuge))
    assert int(st["curr_items"]) == OVERWRITE_KEYS
    assert high > 30
    assert low <= limit
    # the segments given back left the huge-page advice, or khugepaged
    # would fill their 2 MiB ranges back in over time (seg.c)
    if _thp_available():
        assert nohuge > 0
