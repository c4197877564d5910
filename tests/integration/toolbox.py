"""Helpers shared by the operator's-toolbox suites (test_toolbox_*.py):
hardcached and memcached 1.6.45 side by side, and a server that wants a
login."""
import contextlib

import hcutil

MC_REF = hcutil.memcached_145()   # None when absent


@contextlib.contextmanager
def ref_pair(args=(), fill=None):
    """(hardcached, memcached 1.6.45 or None), both with args, each filled
    by fill(server) if given; stopped after, hardcached's sanitizer report
    checked."""
    hc = hcutil.Server(list(args))
    mc = hcutil.Server(list(args), binary=MC_REF) if MC_REF else None
    try:
        for s in (hc, mc):
            if s is not None and fill is not None:
                fill(s)
        yield hc, mc
    finally:
        hc.stop()
        if mc:
            mc.stop()
    assert not hc.sanitizer_report()


@contextlib.contextmanager
def login_server(tmp_path):
    """hardcached with -Y and one user, alice:secret (login line:
    LOGIN)."""
    pw = tmp_path / "pw"
    pw.write_bytes(b"alice:secret\n")
    s = hcutil.Server(["-Y", str(pw)])
    try:
        yield s
    finally:
        s.stop()


LOGIN = b"set auth 0 0 12\r\nalice secret\r\n"
