"""The run-time tuning commands automation sends (issue 18): `lru`,
`slabs`, `extstore`. hardcached has none of the features they tune; each
gets memcached 1.6.45's reply for the feature off or the knob merely
stored (memcached started with -o no_slab_reassign, and without an
external store), byte for byte, never a bare ERROR for a well-formed
request; malformed ones get memcached's own error lines."""

import pytest

import hcutil
import toolbox

from toolbox import MC_REF
pytestmark = [pytest.mark.hardcached_only, pytest.mark.skipif(
    hcutil.is_reference() or MC_REF is None,
    reason=hcutil.REF_MISSING)]

LINES = [
    b"lru tune 10 25 0.1 2.0", b"lru tune 50 40 0.1 2", b"lru tune 10 10 0 2",
    b"lru tune x 1 1 1", b"lru tune 1 1 1", b"lru mode flat", b"lru mode segmented",
    b"lru mode other", b"lru temp_ttl 60", b"lru temp_ttl -1", b"lru temp_ttl x",
    b"lru bogus 1",
    b"slabs reassign 1 2", b"slabs reassign x y", b"slabs automove 0",
    b"slabs automove 1", b"slabs automove 2", b"slabs automove 3",
    b"slabs automove x", b"slabs automove ratio 0.8", b"slabs automove ratio",
    b"slabs automove freeratio 0.1", b"slabs automove window 30",
    b"slabs automove window 2", b"slabs automove window x", b"slabs bogus 1",
    b"extstore item_size 512", b"extstore item_age 10", b"extstore max_frag 0.8",
    b"extstore drop_unread 1", b"extstore free_memchunks 0 0",
    b"extstore free_memchunks 99 0", b"extstore item_size x", b"extstore bogus 1",
]
WELL_FORMED = [b"lru tune 10 25 0.1 2.0", b"lru mode flat", b"lru temp_ttl 60",
               b"slabs reassign 1 2", b"slabs automove 1", b"slabs automove ratio 0.8",
               b"extstore item_size 512", b"extstore free_memchunks 0 0"]


def replies(server):
    with server.client() as c:
        return [c.call(line + b"\r\n") for line in LINES]


def test_runtime_commands_as_memcached():
    # hardcached has no such flag: it accepts and ignores it
    with toolbox.ref_pair(["-o", "no_slab_reassign"]) as (hc, mc):
        got, want = replies(hc), replies(mc)
        assert list(zip(LINES, got)) == list(zip(LINES, want))
        for line, reply in zip(LINES, got):
            if line in WELL_FORMED:
                assert reply != b"ERROR\r\n", line


def test_runtime_commands_are_admin(tmp_path):
    with toolbox.login_server(tmp_path) as s, s.client() as c:
        for line in (b"lru mode flat", b"slabs automove 1", b"extstore item_age 1"):
            assert c.call(line + b"\r\n") == b"CLIENT_ERROR unauthenticated\r\n"
