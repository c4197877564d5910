"""Privilege drop and the seccomp sandbox, as the running process shows them
(/proc/PID/status). The unit test tests/unit/test_sandbox.c proves that a
forbidden system call kills the process; here: it is on by default, the
server works under it (this whole suite runs sandboxed), and the switch to
turn it off for debugging does what it says."""
import os
import pwd
import signal
import subprocess
import time

import pytest

import hcutil

pytestmark = pytest.mark.hardcached_only


def _status(pid):
    return hcutil.proc_status(pid)


def test_sandbox_on_by_default(start_server):
    s = start_server()
    st = _status(s.pid)
    assert st["Seccomp"] == "2", st["Seccomp"]      # filter mode
    assert st["NoNewPrivs"] == "1"
    assert s.stats("settings")["sandbox"] == "yes"


def test_no_sandbox_turns_it_off(start_server):
    s = start_server("-o", "no_sandbox")
    assert _status(s.pid)["Seccomp"] == "0"
    assert s.stats("settings")["sandbox"] == "no"


def test_help_names_the_switch(run_binary):
    assert b"no_sandbox" in run_binary("-h").stdout


def test_shutdown_command_allowed_by_sandbox(start_server):
    """`shutdown` signals the process itself: allowed, the exit is clean
    (a forbidden call would end it with SIGSYS instead)."""
    s = start_server("-A")
    with s.client() as c:
        c.send(b"shutdown\r\n")
        c.assert_closed()
    assert s.proc.wait(15) == 0


def test_sigterm_exit_is_clean_under_sandbox(start_server):
    s = start_server()
    with s.client() as c:
        c.set("k", b"v" * 100000)
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(15) == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop privileges")
def test_u_drops_supplementary_groups_then_sandboxes(start_server):
    """setgroups, setgid, setuid in that order: no group of root's is left."""
    s = start_server(user="nobody")
    nobody = pwd.getpwnam("nobody")
    st = _status(s.pid)
    assert st["Groups"].split() == [str(nobody.pw_gid)], st["Groups"]
    assert st["Uid"].split() == [str(nobody.pw_uid)] * 4
    assert st["CapEff"] == "0000000000000000"
    assert st["Seccomp"] == "2"
    with s.client() as c:
        c.set("n", b"x")
        assert c.get("n") == b"x"


def test_pidfile_removed_at_exit_under_sandbox(tmp_path):
    """-d -P: the pid file is removed at exit (unlink is allowed only in
    this configuration)."""
    os.chmod(tmp_path, 0o755)
    pidfile = tmp_path / "hc.pid"
    port = hcutil.free_port()
    subprocess.run([hcutil.HC_BIN, "-d", "-P", str(pidfile), "-p", str(port),
                    "-l", "127.0.0.1", "-U", "0"] + hcutil.root_args(),
                   check=True, timeout=15, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while not (pidfile.exists() and pidfile.read_text().strip()):
        assert time.monotonic() < deadline, "no pidfile"
        time.sleep(0.05)
    pid = int(pidfile.read_text())
    try:
        while _status(pid)["Seccomp"] != "2":   # the pid file comes first
            assert time.monotonic() < deadline, "not sandboxed"
            time.sleep(0.05)
        os.kill(pid, signal.SIGTERM)
        while os.path.exists("/proc/%d" % pid) and _status(pid)["State"][0] != "Z":
            assert time.monotonic() < deadline, "server did not exit"
            time.sleep(0.05)
    finally:
        # a daemon is nobody's child: never leave it running after a failure
        if os.path.exists("/proc/%d" % pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    while pidfile.exists():
        assert time.monotonic() < deadline, "pid file left behind"
        time.sleep(0.05)
