"""Command-line flags and safe defaults: -s/-a, -d -P, -u, -t, -l forms,
-V, -h, bad flags, root refusal, UDP off, start-up line."""
import os
import pwd
import re
import signal
import socket
import stat
import subprocess
import time

import pytest

import hcutil


def _version_ok(family, addr, timeout=2):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(addr)
        s.sendall(b"version\r\n")
        return s.recv(100).startswith(b"VERSION ")
    except OSError:
        return False
    finally:
        s.close()


def _sockets_of(pid, proto):
    """Listening TCP sockets or bound UDP sockets of pid, as 'addr:port'."""
    out = subprocess.run(["ss", "-Hn" + ("lt" if proto == "tcp" else "ua") + "p"],
                         capture_output=True, text=True, timeout=10).stdout
    res = []
    for line in out.splitlines():
        if "pid=%d," % pid in line:
            res.append(line.split()[3])
    return res


# -V, -h


def test_V_prints_version(run_binary):
    r = run_binary("-V")
    assert r.returncode == 0
    assert r.stdout.strip()


def test_V_starts_with_memcached_release(run_binary):
    """Tools (dalli's harness) read `memcached 1.6.x` as -V's first line."""
    r = run_binary("-V")
    assert re.match(rb"memcached 1\.6\.\d+\n", r.stdout), r.stdout


def test_h_starts_with_memcached_release(run_binary):
    r = run_binary("-h")
    assert re.match(rb"memcached 1\.6\.\d+\n", r.stdout), r.stdout[:100]


@pytest.mark.hardcached_only
def test_V_says_hardcached_second(run_binary):
    r = run_binary("-V")
    assert r.stdout.split(b"\n")[1].startswith(b"hardcached "), r.stdout


HELP_FLAGS = ["-p", "-U", "-l", "-s", "-a", "-m", "-M", "-c", "-t", "-R", "-I",
              "-C", "-F", "-A", "-v", "-vv", "-vvv", "-u", "-d", "-P", "-h",
              "-V", "-o"]
HELP_OPTIONS = ["idle_timeout", "hashpower", "modern", "no_modern"]


def test_h_lists_every_flag(run_binary):
    r = run_binary("-h")
    assert r.returncode == 0
    text = r.stdout.decode(errors="replace")
    missing = [f for f in HELP_FLAGS if not re.search(re.escape(f) + r"\b", text)]
    assert not missing, "-h does not mention %s" % missing
    missing = [o for o in HELP_OPTIONS if o not in text]
    assert not missing, "-h does not mention -o %s" % missing


@pytest.mark.hardcached_only
def test_h_lists_relaxed_privileges(run_binary):
    assert b"relaxed_privileges" in run_binary("-h").stdout


# bad flags


@pytest.mark.parametrize("flag", [["-Q"], ["--bogus"], ["-o", "bogus_opt"]])
def test_unknown_flag_fails_with_message(run_binary, flag):
    r = run_binary(*(hcutil.root_args() + flag))
    assert r.returncode != 0
    assert r.stderr.strip()


@pytest.mark.hardcached_only
@pytest.mark.parametrize("flag", [["-Q"], ["--bogus"], ["-o", "bogus_opt"]])
def test_unknown_flag_exit_64(run_binary, flag):
    """memcached exits 1 here; hardcached uses EX_USAGE (64) throughout."""
    assert run_binary(*(hcutil.root_args() + flag)).returncode == 64


@pytest.mark.hardcached_only
@pytest.mark.parametrize("flag", [["-p", "abc"], ["-p", "70000"], ["-c", "-5"],
                                  ["-c", "abc"], ["-t", "0"], ["-m", "abc"],
                                  ["-I", "3"], ["-o", "idle_timeout=abc"],
                                  ["-o", "hashpower=99"], ["-a", "999"],
                                  ["-l", "[::1"]])
def test_malformed_flag_exit_64(run_binary, flag):
    """memcached silently takes '-p abc' and '-o idle_timeout=abc' (as 0)
    and exits 1 for others; hardcached refuses every malformed value with
    a message and 64."""
    r = run_binary(*(hcutil.root_args() + flag))
    assert r.returncode == 64, (r.returncode, r.stderr)
    assert r.stderr.strip()


@pytest.mark.hardcached_only
def test_unresolvable_listen_address_fails(run_binary):
    r = run_binary(*(hcutil.root_args() + ["-l", "no-such-host.invalid"]))
    assert r.returncode != 0
    assert b"no-such-host.invalid" in r.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_root_without_u_refused(run_binary):
    p = hcutil.free_port()
    r = run_binary("-p", str(p), "-l", "127.0.0.1")
    assert r.returncode == 64
    assert b"root" in r.stderr


def test_udp_port_listens_on_loopback_only(start_server):
    """-U N with no -l: UDP on the loopback addresses only, like TCP.
    (Before UDP had amplification limits, -U N was refused.)"""
    from udputil import free_udp_port
    u = free_udp_port()
    s = start_server("-U", str(u), udp_flag=False)
    udp = _sockets_of(s.pid, "udp")
    assert "127.0.0.1:%d" % u in udp, udp
    assert all(a.startswith(("127.", "[::1]")) for a in udp), udp
    assert s.stats("settings")["udpport"] == str(u)


# UDP off, listeners


def test_udp_off_by_default(start_server):
    s = start_server(udp_flag=False)
    assert _sockets_of(s.pid, "udp") == []
    assert s.stats("settings")["udpport"] == "0"


def test_advisory_udp_probe_gets_nothing(start_server):
    """The advisory's probe (8-byte frame header + stats) sent to the TCP
    port over UDP: no UDP listener, so no reply (CVE-2018-1000115)."""
    s = start_server(udp_flag=False)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(0.5)
    try:
        for probe in (b"\x00\x00\x00\x00\x00\x01\x00\x00stats\r\n",
                      b"\x00\x01\x00\x00\x00\x01\x00\x00get bystander:0\r\n"):
            u.sendto(probe, ("127.0.0.1", s.port))
            with pytest.raises((socket.timeout, ConnectionRefusedError)):
                u.recvfrom(65536)
    finally:
        u.close()


@pytest.mark.hardcached_only
def test_default_listeners_loopback_only(start_server):
    """No -l, no -p: TCP 11211 on 127.0.0.1 and ::1 only, never 0.0.0.0."""
    if not _port_free(11211):
        pytest.skip("port 11211 busy on this machine")
    s = start_server(listen=False, udp_flag=False, port=11211)
    tcp = sorted(_sockets_of(s.pid, "tcp"))
    assert tcp == sorted(["127.0.0.1:11211", "[::1]:11211"]), tcp
    assert _sockets_of(s.pid, "udp") == []
    err = s.stderr().decode(errors="replace")
    assert "WARNING" not in err
    line = [l for l in err.splitlines() if "listening on" in l]
    assert line and line[0].startswith("hardcached "), err
    assert "tcp 127.0.0.1:11211" in line[0] and "tcp [::1]:11211" in line[0]
    assert "udp off" in line[0]


def _port_free(port):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


@pytest.mark.hardcached_only
def test_startup_line_names_listener(start_server):
    s = start_server()
    err = s.stderr().decode(errors="replace")
    assert len(err.splitlines()) == 1, err
    assert err.startswith("hardcached "), err
    assert "tcp 127.0.0.1:%d" % s.port in err, err
    assert "udp off" in err
    assert "WARNING" not in err


@pytest.mark.hardcached_only
def test_warning_on_non_loopback_listener(start_server):
    """-l 0.0.0.0 is allowed, with the protected-mode override, but warned
    about. (We only connect over loopback.)"""
    for attempt in range(5):   # the port may be taken between pick and bind
        s = start_server("--disable-protected-mode", host="0.0.0.0", wait=False)
        deadline = time.monotonic() + hcutil.START_TIMEOUT
        while s.alive() and not _version_ok(socket.AF_INET, ("127.0.0.1", s.port), 1):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        if s.alive():
            break
        assert b"in use" in s.stderr(), s.stderr()
    err = s.stderr().decode(errors="replace")
    assert any(l.startswith("WARNING:") for l in err.splitlines()), err


def test_l_repeated(start_server):
    p = hcutil.free_port()
    s = start_server("-p", str(p), "-l", "127.0.0.1", "-l", "::1",
                     listen=False, port=p)
    assert _version_ok(socket.AF_INET, ("127.0.0.1", p))
    assert _version_ok(socket.AF_INET6, ("::1", p))


def test_l_comma_separated(start_server):
    p = hcutil.free_port()
    start_server("-p", str(p), "-l", "127.0.0.1,::1", listen=False, port=p)
    assert _version_ok(socket.AF_INET, ("127.0.0.1", p))
    assert _version_ok(socket.AF_INET6, ("::1", p))


def test_l_ipv6_brackets(start_server):
    p = hcutil.free_port(socket.AF_INET6, "::1")
    s = start_server("-p", str(p), "-l", "[::1]", listen=False, host="::1", port=p)
    assert _version_ok(socket.AF_INET6, ("::1", p))
    assert not _version_ok(socket.AF_INET, ("127.0.0.1", p), 1)


def test_l_with_port(start_server):
    p, q = hcutil.free_port(), hcutil.free_port()
    start_server("-p", str(p), "-l", "127.0.0.1:%d,[::1]" % q, listen=False,
                 port=q)
    assert _version_ok(socket.AF_INET, ("127.0.0.1", q))
    assert _version_ok(socket.AF_INET6, ("::1", p))


# unix socket


def test_unix_socket_mode_and_no_tcp(start_server, tmp_path):
    path = str(tmp_path / "hc.sock")
    p = hcutil.free_port()
    s = start_server("-s", path, "-a", "600", "-p", str(p), "-l", "127.0.0.1",
                     listen=False, unix=path)
    st = os.stat(path)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    with s.client() as c:
        c.cmd(b"set u 0 0 1\r\nx\r\nget u\r\n", b"STORED\r\nVALUE u 0 1\r\nx\r\nEND\r\n")
    assert not _version_ok(socket.AF_INET, ("127.0.0.1", p), 1)
    assert _sockets_of(s.pid, "tcp") == []


def test_unix_socket_default_mode(start_server, tmp_path):
    path = str(tmp_path / "hc2.sock")
    start_server("-s", path, listen=False, unix=path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700


# -d -P, -u


def _start_daemon(argv, pidfile, port):
    """Run argv (which daemonizes with -d -P pidfile); return the parent's
    result and the daemon's pid once it answers on port."""
    r = subprocess.run(argv, capture_output=True, timeout=15,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + hcutil.START_TIMEOUT
    while not (pidfile.exists() and pidfile.read_text().strip()):
        assert time.monotonic() < deadline, "no pidfile"
        time.sleep(0.05)
    pid = int(pidfile.read_text().strip())
    while not _version_ok(socket.AF_INET, ("127.0.0.1", port), 1):
        assert time.monotonic() < deadline, "daemon not answering"
        time.sleep(0.05)
    return r, pid


def _stop_daemon(pidfile):
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return
    try:
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            os.kill(pid, 0)
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_daemon_and_pidfile(tmp_path):
    pidfile = tmp_path / "hc.pid"
    p = hcutil.free_port()
    argv = [hcutil.HC_BIN, "-d", "-P", str(pidfile), "-p", str(p), "-l",
            "127.0.0.1", "-U", "0"] + hcutil.root_args()
    try:
        _, pid = _start_daemon(argv, pidfile, p)
        st = hcutil.proc_status(pid)
        assert int(st["PPid"]) != os.getpid(), "did not detach"
        with hcutil.Raw("127.0.0.1", p) as c:
            assert int(c.stats()["pid"]) == pid
    finally:
        _stop_daemon(pidfile)


# Debian's memcached package ships its stock /etc/memcached.conf here too
# (not a conffile, so never edited); scripts/deps.sh installs memcached.
DEBIAN_STOCK_CONF = "/usr/share/memcached/memcached.conf.default"


@pytest.mark.hardcached_only
@pytest.mark.skipif(os.geteuid() != 0, reason="the stock file says -u memcache")
def test_debian_stock_config_file_starts(tmp_path):
    """README/MIGRATING: `--config /etc/memcached.conf` reads Debian's file
    as is: its `logfile` line (for Debian's start script) is skipped with a
    warning, -d, -u memcache, -m 64 and -l 127.0.0.1 are taken; the command
    line's -p/-P/-U (after the file) win."""
    subprocess.run(["dpkg", "-V", "memcached"], check=True, timeout=60)
    pidfile = tmp_path / "hc.pid"
    p = hcutil.free_port()
    argv = [hcutil.HC_BIN, "--config", DEBIAN_STOCK_CONF, "-p", str(p),
            "-U", "0", "-P", str(pidfile)]
    try:
        r, pid = _start_daemon(argv, pidfile, p)
        assert b'"logfile" ignored' in r.stderr, r.stderr
        uid = int(hcutil.proc_status(pid)["Uid"].split()[0])
        assert uid == pwd.getpwnam("memcache").pw_uid
        with hcutil.Raw("127.0.0.1", p) as c:
            assert int(c.stats("settings")["maxbytes"]) == 64 * 1024 * 1024
    finally:
        _stop_daemon(pidfile)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_u_nobody_drops_privileges(start_server):
    s = start_server(user="nobody")
    uid = [int(x) for x in hcutil.proc_status(s.pid)["Uid"].split()]
    gid = [int(x) for x in hcutil.proc_status(s.pid)["Gid"].split()]
    import pwd
    nobody = pwd.getpwnam("nobody")
    assert uid == [nobody.pw_uid] * 4, uid
    assert gid == [nobody.pw_gid] * 4, gid
    with s.client() as c:
        c.cmd(b"set n 0 0 1\r\nx\r\nget n\r\n", b"STORED\r\nVALUE n 0 1\r\nx\r\nEND\r\n")


# other flags start and serve


@pytest.mark.parametrize("args", [["-t", "4"], ["-t", "1"], ["-R", "1"],
                                  ["-v"], ["-vv"], ["-vvv"],
                                  ["-o", "idle_timeout=5,hashpower=20"],
                                  ["-o", "modern"], ["-o", "no_modern"],
                                  ["-m", "16", "-M"], ["-I", "2m"], ["-C", "-F", "-A"]])
def test_flags_start_and_serve(start_server, args):
    s = start_server(*args)
    with s.client() as c:
        v = b"x" * 5000
        c.set("fl", v)
        assert c.get("fl") == v
        c.cmd(b"get a b c d e f g\r\n", b"END\r\n")


@pytest.mark.hardcached_only
def test_relaxed_privileges_accepted(start_server):
    """memcached 1.6.18 (Debian) rejects this suboption (no seccomp build)."""
    s = start_server("-o", "relaxed_privileges")
    with s.client() as c:
        assert c.call(b"version\r\n").startswith(b"VERSION ")


def test_t_sets_threads(start_server):
    s = start_server("-t", "3")
    assert s.stats()["threads"] == "3"


def test_R_requests_per_event_still_answers_pipelines(start_server):
    s = start_server("-R", "1")
    with s.client() as c:
        c.cmd(b"get r\r\n" * 500, b"END\r\n" * 500)


def test_vv_logs_to_stderr(start_server):
    s = start_server("-vv")
    with s.client() as c:
        c.cmd(b"get vv:key\r\n", b"END\r\n")
    time.sleep(0.3)
    assert s.stderr().strip()


def test_sigterm_exits_cleanly(start_server):
    s = start_server()
    with s.client() as c:
        c.set("st", b"x")
    t0 = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    rc = s.proc.wait(10)
    print("exit %d after SIGTERM in %.2f s" % (rc, time.monotonic() - t0))
    assert rc == 0
