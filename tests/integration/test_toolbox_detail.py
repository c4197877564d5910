"""Per-prefix stats (issue 18): `-D <char>` and `stats detail on|off|dump`
against memcached 1.6.45 for the same session (which commands count, the
lines, the replies), the bound on prefixes, -X and the login.

memcached lists prefixes in the order of its own hash table: lines are
compared sorted."""
import pytest

import hcutil
import toolbox
from toolbox import MC_REF

pytestmark = pytest.mark.hardcached_only

SESSION = (b"set a:1 0 0 1\r\nx\r\nget a:1 a:2 b:1 nokey\r\nget a:1\r\ndelete a:1\r\n"
           b"mg b:5 v\r\nms c:1 1\r\nx\r\nmd c:1\r\ntouch a:9 0\r\ngat 0 a:1\r\n"
           b"incr a:1 1\r\nadd d:1 0 0 1\r\ny\r\nappend d:1 0 0 1\r\nz\r\n"
           b"cas d:1 0 0 1 1\r\nw\r\ndelete zz:1\r\nmn\r\n")


def run(server, session, end=b"MN\r\n"):
    with server.client() as c:
        c.send(session)
        return c.read_until(end)


def detail(server, sub=b"dump"):
    """The reply: one line, or PREFIX lines to END."""
    with server.client() as c:
        c.send(b"stats detail %s\r\n" % sub)
        out = c.readline()
        while out.startswith(b"PREFIX") and not out.endswith(b"END\r\n"):
            out += c.readline()
    return out


def sorted_dump(out):
    lines = out.split(b"\r\n")
    return sorted(lines[:-2]), lines[-2:]


@pytest.mark.skipif(hcutil.is_reference() or MC_REF is None, reason=hcutil.REF_MISSING)
def test_detail_as_memcached():
    with toolbox.ref_pair(["-D", ":"]) as (hc, mc):
        assert run(hc, SESSION) == run(mc, SESSION)
        want = sorted_dump(detail(mc))
        assert sorted_dump(detail(hc)) == want
        assert want[0], "memcached counted nothing"
        for sub in (b"off", b"bogus", b""):
            assert detail(hc, sub) == detail(mc, sub)
        run(hc, SESSION)
        run(mc, SESSION)   # off: nothing more counted
        assert sorted_dump(detail(hc)) == sorted_dump(detail(mc)) == want
        assert detail(hc, b"on") == detail(mc, b"on") == b"OK\r\n"


@pytest.mark.skipif(hcutil.is_reference() or MC_REF is None, reason=hcutil.REF_MISSING)
def test_other_delimiter_and_X_as_memcached():
    with toolbox.ref_pair(["-D", "/"]) as (hc, mc):
        for s in (hc, mc):
            run(s, b"set x/y:z 0 0 1\r\n1\r\nget x/y:z\r\nmn\r\n")
        assert detail(hc) == detail(mc) == b"PREFIX x get 1 hit 1 set 1 del 0\r\nEND\r\n"
    with toolbox.ref_pair(["-X"]) as (hc, mc):
        assert detail(hc) == detail(mc) == b"CLIENT_ERROR stats detail not allowed\r\n"


def detail_enabled(server):
    return server.stats("settings")["detail_enabled"]


@pytest.mark.skipif(hcutil.is_reference() or MC_REF is None, reason=hcutil.REF_MISSING)
def test_detail_enabled_follows_stats_detail_as_memcached():
    """memcached's `stats settings` shows the setting `stats detail on|off`
    changes, not only what -D set at start-up."""
    for args in ([], ["-D", ":"]):
        with toolbox.ref_pair(args) as (hc, mc):
            seen = []
            for sub in (None, b"on", b"off", b"on"):
                if sub is not None:
                    assert detail(hc, sub) == detail(mc, sub) == b"OK\r\n"
                seen.append((detail_enabled(hc), detail_enabled(mc)))
            assert all(h == m for h, m in seen), seen
            assert [h for h, _ in seen][1:] == ["yes", "no", "yes"]


def test_off_without_D_and_prefixes_bounded():
    s = hcutil.Server()
    try:
        run(s, b"set p:1 0 0 1\r\nx\r\nmn\r\n")
        assert detail(s) == b"END\r\n"
        assert detail(s, b"on") == b"OK\r\n"
        run(s, b"".join(b"get p%d:k\r\n" % i for i in range(5000)) + b"mn\r\n")
        lines = detail(s).split(b"\r\n")
        assert len(lines) - 2 == 4096   # STATS_DETAIL_PREFIXES_MAX
    finally:
        s.stop()


def test_only_after_login(tmp_path):
    with toolbox.login_server(tmp_path) as s, s.client() as c:
        assert c.call(b"stats detail on\r\n") == b"CLIENT_ERROR unauthenticated\r\n"
