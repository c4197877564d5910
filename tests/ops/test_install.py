"""make install / uninstall into a temporary DESTDIR, and the installed
server started from the installed config exactly as the unit starts it."""
import os
import re
import socket
import stat
import subprocess
import time

import pytest

from conftest import HC_BIN

EXPECTED = {
    "usr/bin/hardcached": 0o755,
    "usr/bin/hardcache-audit": 0o755,
    "usr/share/man/man8/hardcached.8": 0o644,
    "usr/share/man/man1/hardcache-audit.1": 0o644,
    "usr/lib/systemd/system/hardcached.service": 0o644,
    "etc/hardcached.conf": 0o644,
}


def files_under(d):
    out = {}
    for dirpath, _, names in os.walk(d):
        for n in names:
            p = os.path.join(dirpath, n)
            out[os.path.relpath(p, d)] = stat.S_IMODE(os.stat(p).st_mode)
    return out


def test_install_into_destdir(make, tmp_path):
    make("install", "PREFIX=/usr", "DESTDIR=%s" % tmp_path)
    assert files_under(tmp_path) == EXPECTED
    unit = (tmp_path / "usr/lib/systemd/system/hardcached.service").read_text()
    assert "ExecStart=/usr/bin/hardcached --config /etc/hardcached.conf\n" in unit
    assert not re.search(r"@[A-Z]+@", unit), "unsubstituted placeholder"
    out = subprocess.run([str(tmp_path / "usr/bin/hardcached"), "-V"],
                         capture_output=True, timeout=10).stdout
    assert out.startswith(b"memcached 1.6.") and b"\nhardcached " in out, out


def test_prefix_layout(make, tmp_path):
    """PREFIX=/usr/local keeps the config under the prefix, not in /etc."""
    make("install", "PREFIX=/opt/hc", "DESTDIR=%s" % tmp_path)
    got = set(files_under(tmp_path))
    assert "opt/hc/etc/hardcached.conf" in got
    assert "opt/hc/bin/hardcached" in got
    assert "opt/hc/share/man/man8/hardcached.8" in got
    unit = (tmp_path / "opt/hc/lib/systemd/system/hardcached.service").read_text()
    assert "ExecStart=/opt/hc/bin/hardcached --config /opt/hc/etc/hardcached.conf" in unit


def test_reinstall_keeps_edited_config_and_uninstall(make, tmp_path):
    make("install", "PREFIX=/usr", "DESTDIR=%s" % tmp_path)
    conf = tmp_path / "etc/hardcached.conf"
    conf.write_text("-m 128\n")
    make("install", "PREFIX=/usr", "DESTDIR=%s" % tmp_path)
    assert conf.read_text() == "-m 128\n"
    assert (tmp_path / "etc/hardcached.conf.default").exists()
    make("uninstall", "PREFIX=/usr", "DESTDIR=%s" % tmp_path)
    assert set(files_under(tmp_path)) == {"etc/hardcached.conf"}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def test_installed_config_starts_the_server(make, tmp_path):
    """The shipped config, read through --config as the unit does, gives a
    server on loopback only with UDP off and its own settings."""
    make("install", "PREFIX=/usr", "DESTDIR=%s" % tmp_path)
    port = free_port()
    argv = [str(tmp_path / "usr/bin/hardcached"), "--config",
            str(tmp_path / "etc/hardcached.conf"), "-p", str(port)]
    if os.geteuid() == 0:
        argv += ["-u", "nobody"]
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                c = socket.create_connection(("127.0.0.1", port), timeout=2)
                break
            except OSError:
                assert p.poll() is None, p.stderr.read()
                assert time.monotonic() < deadline
                time.sleep(0.05)
        c.sendall(b"stats settings\r\n")
        data = b""
        while not data.endswith(b"END\r\n"):
            chunk = c.recv(65536)
            assert chunk
            data += chunk
        c.close()
        st = dict(re.findall(rb"STAT (\S+) (\S+)\r\n", data))
        assert st[b"maxbytes"] == b"%d" % (64 * 1024 * 1024)
        assert st[b"udpport"] == b"0"
        assert st[b"tcpport"] == b"%d" % port
        assert st[b"maxconns"] == b"1024"
    finally:
        p.terminate()
        p.wait(10)
    err = p.stderr.read()
    assert b"non-loopback" not in err
