"""Fixtures for the drop-in tests: servers on random loopback ports, always
killed at the end, and a raw-bytes client.

HC_BIN picks the binary. With HC_BIN=/usr/bin/memcached the suite runs in
reference mode and tests marked hardcached_only are skipped.
"""
import os

import pytest

import hcutil


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "hardcached_only: behaviour that is hardcached's alone (skipped "
        "against memcached); the docstring says why it differs")


def pytest_report_header(config):
    return "HC_BIN=%s (%s)" % (hcutil.HC_BIN, "reference memcached"
                               if hcutil.is_reference() else "hardcached")


def pytest_collection_modifyitems(config, items):
    if not hcutil.is_reference():
        return
    skip = pytest.mark.skip(reason="hardcached_only: memcached differs here")
    for item in items:
        if "hardcached_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def reference():
    return hcutil.is_reference()


@pytest.fixture(scope="module")
def server():
    """One server for a whole module: the bulk of the protocol tests."""
    s = hcutil.Server()
    yield s
    s.stop()
    rep = s.sanitizer_report()
    assert not rep, "sanitizer report:\n" + rep.decode(errors="replace")


@pytest.fixture
def client(server):
    c = server.client()
    yield c
    c.close()


@pytest.fixture(scope="module")
def bystander(server):
    b = hcutil.Bystander(server)
    yield b
    b.close()


@pytest.fixture
def start_server():
    """Factory for function-scoped servers with their own flags."""
    started = []

    def start(*args, **kw):
        s = hcutil.Server(args, **kw)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()
    for s in started:
        rep = s.sanitizer_report()
        assert not rep, "sanitizer report:\n" + rep.decode(errors="replace")


@pytest.fixture
def run_binary():
    """Run HC_BIN to completion with a time bound; returns CompletedProcess."""
    import subprocess

    def run(*args, timeout=10, as_root_ok=True):
        argv = [hcutil.HC_BIN] + list(args)
        return subprocess.run(argv, capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    return run


@pytest.fixture
def tmpdir_path(tmp_path):
    os.chmod(tmp_path, 0o755)
    return tmp_path


TEST_TIME_LIMIT = int(os.environ.get("HC_TEST_TIME_LIMIT", "90"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """Bound every test in time without needing pytest-timeout: a hung
    server must fail the test, never hang the suite."""
    import signal

    def on_alarm(signum, frame):
        raise TimeoutError("test exceeded %ds" % TEST_TIME_LIMIT)

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TEST_TIME_LIMIT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
