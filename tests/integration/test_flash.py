"""The flash tier (issue 20, memcached's extstore): its options.

Until the tier holds values, -o ext_path is refused (it used to be accepted
and ignored); the ext_* options are parsed with memcached's units and
bounds and shown in `stats settings` under memcached's names."""
import pytest

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


def test_ext_path_refused_not_ignored(run_binary, tmp_path):
    """A cache the operator believes is on flash must not start RAM-only."""
    f = tmp_path / "flash"
    r = run_binary(*hcutil.root_args(), "-p", str(hcutil.free_port()), "-U", "0",
                   "-o", "ext_path=%s:64m" % f)
    assert r.returncode == 64
    assert b"ext_path" in r.stderr
    assert not f.exists()


@pytest.mark.parametrize("opt", [
    "ext_path", "ext_path=/tmp/x", "ext_path=/tmp/x:64", "ext_path=/tmp/x:64k",
    "ext_path=/tmp/x:0m", "ext_path=/tmp/x:64m:lowttl", "ext_page_size=0",
    "ext_page_size=abc", "ext_wbuf_size=1000", "ext_threads=0", "ext_io_depth=0",
    "ext_item_age=-1", "ext_max_frag=2", "ext_max_frag=x", "ext_bogus=1"])
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
