"""The background crawler (issue 18): expired and flushed items are freed
without being looked up, so curr_items, bytes and the memory in use count
live items only; `lru_crawler enable|disable|sleep|tocrawl|crawl` answer
as memcached 1.6.45's (compared byte for byte)."""
import re
import time

import pytest

import hcutil

from toolbox import MC_REF
pytestmark = pytest.mark.hardcached_only


def wait_until(server, done, timeout):
    """`stats` once done(stats) holds, or at the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        st = server.stats()
        if done(st) or time.monotonic() > deadline:
            return st
        time.sleep(0.2)


def wait_for(server, name, want, timeout):
    return wait_until(server, lambda st: st[name] == want, timeout)


def fill(c, prefix, n, size, exptime):
    c.send(b"".join(b"set %s:%d 0 %d %d noreply\r\n%s\r\n" % (prefix, i, exptime, size,
                                                              b"v" * size)
                    for i in range(n)))
    c.cmd(b"mn\r\n", b"MN\r\n")


def test_crawl_frees_expired_items_and_their_memory():
    s = hcutil.Server(["-m", "64"])
    try:
        with s.client() as c:
            fill(c, b"live", 10, 100, 0)
            fill(c, b"short", 20000, 1000, 1)
            before = s.stats()
            assert before["curr_items"] == "20010"
            time.sleep(2.5)
            assert c.call(b"lru_crawler crawl all\r\n") == b"OK\r\n"
            st = wait_for(s, "curr_items", "10", 15)
            assert st["curr_items"] == "10"
            assert int(st["bytes"]) < 2000
            assert int(st["memory_used"]) < int(before["memory_used"]) // 4
            items = c.stats("items")   # the live items' class: checked, none freed
            assert any(k.endswith(":crawler_items_checked") and int(v) > 0
                       for k, v in items.items())
            assert int(s.stats()["reclaimed"]) == 20000
            for i in range(10):
                assert c.get(b"live:%d" % i) == b"v" * 100
    finally:
        s.stop()


@pytest.mark.skipif(not hcutil.is_asan(), reason="debugtime: the debug (ASan) build")
def test_background_crawler_frees_flushed_items_unasked():
    s = hcutil.Server()
    try:
        # the start-up pass, started and ended: one still walking (slow
        # under ASan on a loaded machine) when debugtime 66 below lands
        # schedules the next pass past this test's wait
        wait_for(s, "lru_crawler_starts", "1", 10)
        wait_for(s, "lru_crawler_running", "0", 10)
        with s.client() as c:
            fill(c, b"f", 1000, 10, 0)
            c.cmd(b"flush_all\r\n", b"OK\r\n")
            fill(c, b"after", 5, 10, 0)
            assert s.stats()["curr_items"] == "1005"   # till the next pass
            assert c.call(b"debugtime 66\r\n") == b"OK\r\n"   # 65 s after the first
        st = wait_for(s, "curr_items", "5", 10)
        assert st["curr_items"] == "5"
    finally:
        s.stop()


def test_no_lru_crawler_keeps_dead_items_until_looked_up():
    s = hcutil.Server(["-o", "no_lru_crawler"])
    try:
        with s.client() as c:
            fill(c, b"x", 10, 10, 1)
            time.sleep(2.5)
            assert c.call(b"lru_crawler crawl all\r\n") == \
                b"CLIENT_ERROR lru crawler disabled\r\n"
            assert c.call(b"lru_crawler metadump all\r\n") == \
                b"CLIENT_ERROR lru crawler disabled\r\n"
            assert s.stats()["curr_items"] == "10"
            assert c.call(b"lru_crawler enable\r\n") == b"OK\r\n"
            assert c.call(b"lru_crawler crawl all\r\n") == b"OK\r\n"
            assert wait_for(s, "curr_items", "0", 10)["curr_items"] == "0"
    finally:
        s.stop()


# memcached's crawler starts and stops asynchronously (a crawl right after
# `disable` may find it half stopped): the session starts from a crawler
# turned off at start-up on both, and waits between requests.
SESSION = [b"lru_crawler sleep 2000000", b"lru_crawler sleep x", b"lru_crawler sleep 50",
           b"lru_crawler tocrawl x", b"lru_crawler tocrawl 0", b"lru_crawler bogus",
           b"lru_crawler disable", b"lru_crawler crawl all", b"lru_crawler metadump all",
           b"lru_crawler mgdump all", b"lru_crawler enable", b"lru_crawler enable",
           b"lru_crawler crawl 99", b"lru_crawler crawl 0", b"lru_crawler crawl x",
           b"lru_crawler crawl all", b"lru_crawler disable"]


@pytest.mark.skipif(hcutil.is_reference() or MC_REF is None,
                    reason=hcutil.REF_MISSING)
def test_lru_crawler_commands_as_memcached():
    servers = [hcutil.Server(["-o", "no_lru_crawler"]),
               hcutil.Server(["-o", "no_lru_crawler"], binary=MC_REF)]
    try:
        replies = []
        for s in servers:
            with s.client() as c:
                got = []
                for line in SESSION:
                    got.append((line, c.call(line + b"\r\n")))
                    time.sleep(0.1)
                replies.append(got)
        assert replies[0] == replies[1]
    finally:
        for s in servers:
            s.stop()


def crawl(server):
    """A whole crawler pass, asked for and finished; the stats after."""
    with server.client() as c:
        starts = int(c.stats()["lru_crawler_starts"])
        assert c.call(b"lru_crawler crawl all\r\n") == b"OK\r\n"
        deadline = time.monotonic() + 30
        while True:
            st = c.stats()
            if (int(st["lru_crawler_starts"]) > starts and st["lru_crawler_running"] == "0") \
                    or time.monotonic() > deadline:
                return st
            time.sleep(0.1)


def test_crawler_totals_in_stats_as_memcached_names():
    s = hcutil.Server()
    try:
        with s.client() as c:
            for i in range(50):
                c.cmd(b"set t%d 0 1 2\r\nab\r\n" % i, b"STORED\r\n")
            c.cmd(b"set live 0 0 2\r\nab\r\n", b"STORED\r\n")
        time.sleep(2.2)
        st = crawl(s)
        assert st["crawler_reclaimed"] == "50"
        # the live item's shard may hold nothing that can have died: then
        # its segment is skipped unread (keys go to shards by a keyed hash)
        assert int(st["crawler_items_checked"]) >= 50
        assert st["curr_items"] == "1"
        with s.client() as c:
            items = c.stats("items")
            assert sum(int(v) for k, v in items.items()
                       if k.endswith(":crawler_reclaimed")) == 50
            c.cmd(b"stats reset\r\n", b"RESET\r\n")
        st = s.stats()
        assert (st["crawler_reclaimed"], st["crawler_items_checked"]) == ("0", "0")
    finally:
        s.stop()


@pytest.mark.skipif(hcutil.is_reference() or MC_REF is None,
                    reason=hcutil.REF_MISSING)
def test_crawler_stats_and_settings_as_memcached():
    """`stats` and `stats settings` show the crawler under memcached's
    names, its knobs as the commands left them."""
    servers = [hcutil.Server(), hcutil.Server(binary=MC_REF)]
    try:
        seen = []
        for s in servers:
            with s.client() as c:
                for line in (b"lru_crawler sleep 50", b"lru_crawler tocrawl 7"):
                    assert c.call(line + b"\r\n") == b"OK\r\n"
                sett = c.stats("settings")
                # the start-up pass begun and ended (not yet begun reads
                # as not running too, on a loaded machine)
                st = wait_until(s, lambda st: int(st["lru_crawler_starts"]) >= 1 and
                                st["lru_crawler_running"] == "0", 10)
                time.sleep(0.2)
                assert c.call(b"lru_crawler disable\r\n") == b"OK\r\n"
                deadline = time.monotonic() + 5   # memcached's stops on its own time
                while c.stats("settings")["lru_crawler"] != "no" and \
                        time.monotonic() < deadline:
                    time.sleep(0.1)
                off = c.stats("settings")["lru_crawler"]
            seen.append(([(k, sett[k]) for k in ("lru_crawler", "lru_crawler_sleep",
                                                  "lru_crawler_tocrawl")] + [off],
                         sorted(k for k in st if "crawler" in k)))
            assert int(st["lru_crawler_starts"]) >= 1   # both crawl at start-up
        assert seen[0] == seen[1]
        assert seen[0][0] == [("lru_crawler", "yes"), ("lru_crawler_sleep", "50"),
                              ("lru_crawler_tocrawl", "7"), "no"]
    finally:
        for s in servers:
            s.stop()


def sysevent(w, timeout=10):
    """The next `watch sysevents` line, its time and id masked."""
    line = w.read_until(b"\n", timeout=timeout)
    line = re.sub(rb"^ts=\d+\.\d+ gid=\d+ ", b"", line).rstrip(b"\n")
    return re.sub(rb" elapsed=[01] ", b" elapsed=0 ", line)   # a clock tick may fall in


@pytest.mark.skipif(not hcutil.is_asan(), reason="debugtime: the debug (ASan) build")
def test_schedule_as_memcached_autocrawl():
    """memcached's autocrawl schedule, moved with `debugtime`: a pass at
    start-up, then a wait that grows a minute while nothing is due to
    expire within the hour (the shrinking side: test_crawl.c), and the
    next pass sooner when a segment skipped unread holds the first item
    to expire; each pass told to `watch sysevents` in memcached's
    lru_crawler line."""
    s = hcutil.Server()
    try:
        assert wait_for(s, "lru_crawler_starts", "1", 10)["lru_crawler_starts"] == "1"
        # ended too: a start-up pass still walking when debugtime lands
        # schedules the next one from the moved clock (a loaded machine)
        wait_for(s, "lru_crawler_running", "0", 10)
        w = s.client(timeout=15)
        assert w.call(b"watch sysevents\r\n") == b"OK\r\n"
        with s.client() as c:
            assert c.call(b"debugtime 70\r\n") == b"OK\r\n"     # start-up's + 65 s
            line = sysevent(w)
            assert line == (b"type=lru_crawler crawler=0 lru=cold low_mark=1 "
                                   b"next_reclaims=0 since_run=0 next_run=125 elapsed=0 "
                                   b"examined=0 reclaimed=0")
            fill(c, b"due", 100, 10, 200)
            fill(c, b"keep", 50, 10, 0)
            # debugtime N moves the clock by N plus what it moved before
            # (1.6.45's): +130 s, so 70 s left
            assert c.call(b"debugtime 60\r\n") == b"OK\r\n"
            # their segment holds nothing dead yet: skipped unread, so not
            # counted by the minute, but the next pass comes when they expire
            line = sysevent(w)
            m = re.fullmatch(rb"type=lru_crawler crawler=0 lru=cold low_mark=1 next_reclaims=0 "
                             rb"since_run=0 next_run=(\d+) elapsed=0 examined=0 reclaimed=0",
                             line)
            assert m and 55 <= int(m.group(1)) <= 70, line   # not 185
            assert c.call(b"debugtime 0\r\n") == b"OK\r\n"    # +130 s: expired now
            line = sysevent(w)
            m = re.fullmatch(rb"type=lru_crawler crawler=0 lru=cold low_mark=1 next_reclaims=0 "
                             rb"since_run=0 next_run=245 elapsed=0 examined=(\d+) reclaimed=100",
                             line)
            # every "due" item is read; a "keep" item only where its shard's
            # segment holds a "due" one too (keys go to shards by a keyed
            # hash, so a shard may hold "keep" items alone: skipped unread;
            # memcached, with one LRU, examines all 150)
            assert m and 100 <= int(m.group(1)) <= 150, line
            assert s.stats()["curr_items"] == "50"
            assert int(s.stats()["lru_crawler_starts"]) == 4
        w.close()
    finally:
        s.stop()
