"""Fixtures for the operations tests: install, man pages, systemd unit,
release tarball. They run once (release build), not per build flavour."""
import os
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HC_BIN = os.environ.get("HC_BIN", os.path.join(ROOT, "build/release/hardcached"))
HC_AUDIT = os.environ.get("HC_AUDIT", os.path.join(ROOT, "build/release/hardcache-audit"))
MAKE_TIMEOUT = 300


@pytest.fixture(scope="session")
def root():
    return ROOT


@pytest.fixture
def make():
    """Run make in the source tree with extra arguments; returns the
    CompletedProcess, asserting success unless check=False."""
    def run(*args, check=True):
        r = subprocess.run(["make", "-s", "-C", ROOT] + list(args),
                           capture_output=True, timeout=MAKE_TIMEOUT,
                           stdin=subprocess.DEVNULL)
        if check:
            assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
        return r
    return run
