"""memcached 1.6.45's general stats and settings that mean something in
hardcached, under memcached's names and with its meaning; the same
assertions run against memcached 1.6.45 (skipped when it is not built)."""
import os
import re
import time

import pytest

import hcutil
import ref145

pytestmark = pytest.mark.parametrize("binary", ref145.servers())

GENERAL = ["reserved_fds", "cmd_meta", "time_in_listen_disabled_us", "malloc_fails"]
SETTINGS = ["growth_factor", "chunk_size", "num_threads_per_udp", "stat_key_prefix",
            "detail_enabled", "dump_enabled", "hash_algorithm", "inline_ascii_response",
            "track_sizes", "num_napi_ids", "client_flags_size"]


def test_names_present(start_server, binary):
    s = start_server(binary=binary)
    st = s.stats()
    assert not [n for n in GENERAL if n not in st], st
    assert "idle_kicks" not in st   # only with an idle timeout
    sett = s.stats("settings")
    assert not [n for n in SETTINGS if n not in sett], sett
    assert int(st["reserved_fds"]) > 0
    assert st["malloc_fails"] == "0" and st["time_in_listen_disabled_us"] == "0"
    assert sett["client_flags_size"] == "4" and sett["inline_ascii_response"] == "no"


def test_cmd_meta_counts_meta_debug(start_server, binary):
    """1.6.45 counts `me` (meta debug) in cmd_meta, not mg/ms/md/ma/mn."""
    s = start_server(binary=binary)
    with s.client() as c:
        c.cmd(b"ms k 1\r\nv\r\n", b"HD\r\n")
        c.cmd(b"mg k v\r\n", b"VA 1\r\nv\r\n")
        c.cmd(b"mn\r\n", b"MN\r\n")
        c.call(b"me k\r\n")
        c.cmd(b"me nokey\r\n", b"EN\r\n")
        assert c.stats()["cmd_meta"] == "2"


def test_settings_show_the_flags_given(start_server, binary):
    s = start_server("-f", "1.5", "-n", "64", "-D", "/", "-t", "3", binary=binary)
    sett = s.stats("settings")
    assert float(sett["growth_factor"]) == 1.5
    assert sett["chunk_size"] == "64" and sett["stat_key_prefix"] == "/"
    assert sett["num_threads_per_udp"] == "3"


def test_idle_kicks(start_server, binary):
    s = start_server("-o", "idle_timeout=1", binary=binary)
    idle = s.client()
    idle.cmd(b"version\r\n", b"VERSION ")
    idle.assert_closed(timeout=10)   # memcached checks every few seconds
    deadline = time.monotonic() + 10
    while int(s.stats()["idle_kicks"]) < 1:
        assert time.monotonic() < deadline
        time.sleep(0.1)


README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md")


def readme_absent():
    """The names README lists as left out of `stats` / `stats settings`."""
    with open(README) as f:
        text = f.read()
    part = text[text.index("<!-- stats-absent -->"):text.index("<!-- /stats-absent -->")]
    return set(re.findall(r"`([a-z_0-9]+)`", part))


@pytest.mark.skipif(hcutil.memcached_145() is None, reason=hcutil.REF_MISSING)
def test_every_1_6_45_name_printed_or_listed(start_server, binary):
    """Clients and dashboards read stats by name: each name 1.6.45 prints
    on a fresh start is printed, or README lists it with why (and then it
    is not printed: the list stays true)."""
    ref = start_server(binary=hcutil.memcached_145())
    s = start_server(binary=binary)
    absent = readme_absent()
    for sub in ("", "settings"):
        names = set(ref.stats(sub))
        got = set(s.stats(sub))
        assert not names - got - absent, (sub, sorted(names - got - absent))
        if ref145.is_hc(binary):
            assert not (absent & got), (sub, sorted(absent & got))
        else:   # each listed name is one 1.6.45 prints
            assert not [n for n in absent if n in names and n not in got]
    assert absent <= set(ref.stats()) | set(ref.stats("settings"))
