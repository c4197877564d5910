"""memcached 1.6.45, built from ../shared/reference/ by
build-memcached.sh, for the start-up tests that describe memcached's own
behaviour: each such test runs against HC_BIN and against it (skipped,
saying so, when it has not been built here)."""
import os

import pytest

import hcutil

MC145 = os.environ.get("HC_REF145", os.path.expanduser(
    "~/.cache/hardcache-ref/memcached-1.6.45/memcached"))


def servers():
    """pytest params: the binary under test, and memcached 1.6.45."""
    return [pytest.param(hcutil.HC_BIN, id="hc"),
            pytest.param(MC145, id="mc145", marks=pytest.mark.skipif(
                not os.path.exists(MC145),
                reason="memcached 1.6.45 not built (run "
                       "../shared/reference/build-memcached.sh)"))]


def is_hc(binary):
    return binary == hcutil.HC_BIN and not hcutil.is_reference()
