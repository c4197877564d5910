"""Local audit: processes, flags, sockets from /proc/net and config files.
Other suites may run their own memcached on this machine at the same time,
so every check looks at the processes these tests started, by pid."""
import re

from conftest import finding_ids


def procs_by_pid(local):
    return {p["pid"]: p for p in local["processes"]}


def details(local, finding):
    return [f["detail"] for f in local["verdict"]["findings"]
            if f["id"] == finding]


def test_local_finds_memcached_with_and_without_udp(audit, memcached):
    udp = memcached(udp=True)
    tcp_only = memcached(udp=False)
    r = audit("--json", "--local")
    local = r.local()
    procs = procs_by_pid(local)
    assert udp.pid in procs and tcp_only.pid in procs, local["processes"]

    a = procs[udp.pid]
    assert a["found_by_name"] and a["found_by_protocol"]
    assert a["flags"]["udp_port"] == udp.port
    assert a["flags"]["listen"] == "127.0.0.1"
    assert a["flags"]["user"] == "root" and a["user"] == "root"
    assert a["version"].startswith("1.6")
    socks = {(s["proto"], s["port"]) for s in a["sockets"]}
    assert ("udp", udp.port) in socks and ("tcp", udp.port) in socks

    b = procs[tcp_only.pid]
    assert b["flags"]["udp_port"] == 0
    assert not [s for s in b["sockets"] if s["proto"].startswith("udp")]

    udp_findings = details(local, "local_udp_listener_ipv4")
    assert any("pid %d " % udp.pid in d for d in udp_findings)
    assert not any("pid %d " % tcp_only.pid in d for d in udp_findings)
    # both run as root without authentication
    for pid in (udp.pid, tcp_only.pid):
        assert any("pid %d " % pid in d + " "
                   for d in details(local, "local_runs_as_root"))
        assert any("pid %d " % pid in d + " "
                   for d in details(local, "local_no_auth"))
    assert r.rc == 1


def test_local_sees_ipv6_udp(audit, memcached):
    m = memcached(udp=True, host="::1")
    local = audit("--json", "--local").local()
    p = procs_by_pid(local)[m.pid]
    assert ("udp6", "::1", m.port) in {(s["proto"], s["address"], s["port"])
                                       for s in p["sockets"]}
    assert any("pid %d " % m.pid in d
               for d in details(local, "local_udp_listener_ipv6"))


def test_local_finds_by_protocol_not_name(audit, tmp_path):
    """A memcached under another name is found by what its socket speaks."""
    import os
    from conftest import MEMCACHED, Proc, free_port
    alias = tmp_path / "cache-daemon"
    os.symlink(MEMCACHED, alias)
    port = free_port()
    p = Proc([str(alias), "-u", "root", "-p", str(port), "-l", "127.0.0.1",
              "-U", "0", "-t", "1"], "127.0.0.1", port)
    try:
        local = audit("--json", "--local").local()
        found = procs_by_pid(local).get(p.pid)
        assert found is not None, local["processes"]
        assert found["comm"] == "cache-daemon"
        assert found["found_by_protocol"] and not found["found_by_name"]
        assert found["cmdline"].startswith(str(alias))
    finally:
        p.stop()


def test_local_protocol_probe_can_be_disabled(audit, memcached):
    m = memcached(udp=False)
    local = audit("--json", "--local", "--no-local-probe").local()
    p = procs_by_pid(local)[m.pid]
    assert not p["found_by_protocol"] and p["version"] == ""


def test_config_files(audit, tmp_path):
    debian = tmp_path / "memcached.conf"
    debian.write_text("# Debian style\n-m 64\n-p 11211\n-u memcache\n"
                      "-l 0.0.0.0\n")
    rhel = tmp_path / "sysconfig"
    rhel.write_text('PORT="11211"\nUSER="memcached"\nMAXCONN="1024"\n'
                    'OPTIONS="-l 127.0.0.1 -U 0 -S"\n')
    # an empty root: no dpkg, so the installed version (and whether UDP is
    # on without -U) is unknown
    empty = tmp_path / "root"
    empty.mkdir()
    local = audit("--json", "--local", "--no-local-probe", "--sysroot", empty,
                  "--config", debian, "--config", rhel).local()
    confs = {c["path"]: c["flags"] for c in local["configs"]}
    d = confs[str(debian)]
    assert d["udp_port"] is None and d["listen"] == "0.0.0.0"
    assert d["user"] == "memcache"
    r = confs[str(rhel)]
    assert r["udp_port"] == 0 and r["listen"] == "127.0.0.1"
    assert r["sasl"] and r["tcp_port"] == 11211 and r["user"] == "memcached"
    assert any(str(debian) in x for x in details(local, "config_udp_not_disabled"))
    assert not any(str(rhel) in x for x in details(local, "config_udp_not_disabled"))
    assert any(str(debian) in x
               for x in details(local, "config_non_loopback_listen"))


def test_local_udp_on_audited_port_whatever_the_owner(audit, udp_peer):
    """netstat's `grep udp` check, done right: any UDP socket on the
    audited port is a finding, IPv4 or IPv6."""
    import socket
    sink = udp_peer(family=socket.AF_INET6, host="::1")
    r = audit("--json", "--verify", "--local", "--no-local-probe",
              "[::1]:%d" % sink.port)
    local = r.local()
    assert any("udp6 ::1 port %d" % sink.port in d
               for d in details(local, "local_udp_listener_on_port"))
    assert r.rc == 1
    assert "udp_amplifier" not in finding_ids(r.target(sink.port))


def test_local_without_root_still_sees_udp_on_the_port(udp_peer):
    """As an unprivileged user, other users' sockets have no owner, but a
    UDP listener on the audited port is still a finding."""
    import shutil
    import subprocess
    import pytest
    from conftest import AUDIT, Run
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv missing")
    sink = udp_peer()           # owned by root (this test process)
    cp = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
                         "--clear-groups", AUDIT, "-q", "--json", "--verify",
                         "--local", "--no-local-probe", "-p", str(sink.port)],
                        capture_output=True, text=True, timeout=60)
    r = Run(cp)
    local = r.local()
    assert local["all_sockets_mapped"] is False
    found = details(local, "local_udp_listener_on_port")
    assert any("owner not visible (uid 0) udp 127.0.0.1 port %d" % sink.port
               in d for d in found), found
    assert r.rc == 1


def test_config_loopback_forms_and_non_configs(audit, tmp_path):
    """memcached's -l syntaxes for loopback are loopback; Debian's
    /etc/default/memcached is not a memcached configuration."""
    forms = ["[::1]:11211", "notls:127.0.0.1:11211", "::ffff:127.0.0.1",
             "127.0.0.1:11211,[::1]:11211,notls:::1"]
    files = []
    for i, form in enumerate(forms):
        f = tmp_path / ("lo%d.conf" % i)
        f.write_text("-U 0\n-l %s\n" % form)
        files += ["--config", f]
    public = tmp_path / "public.conf"
    public.write_text("-U 0\n-l 127.0.0.1,[::]:11211\n")
    default = tmp_path / "default-memcached"
    default.write_text("# Set this to no to disable memcached.\n"
                       "ENABLE_MEMCACHED=yes\n")
    local = audit("--json", "--local", "--no-local-probe", "--config", public,
                  "--config", default, *files).local()
    flagged = details(local, "config_non_loopback_listen")
    for f in files[1::2]:
        assert not any(str(f) in d for d in flagged), (f.read_text(), flagged)
    assert any(str(public) in d for d in flagged), flagged
    paths = [c["path"] for c in local["configs"]]
    assert str(default) not in paths and str(public) in paths


def test_text_report_local(audit, memcached, tmp_path):
    """The table names the real UDP port and where flags go, never shows
    the internal -U -1, and the summary line counts the local audit."""
    m = memcached(udp=True)
    conf = tmp_path / "memcached.conf"
    conf.write_text("-p 11211\n-l 127.0.0.1\n")
    r = audit("--local", "--config", conf)
    assert r.rc == 1
    out = r.out
    assert "-U -1" not in out and "%s: -U not set" % conf in out, out
    assert "owner unknown without root" not in out
    fix = out[out.index("how to fix:"):]
    for text in ("-U %d" % m.port, "udp dport", "%d" % m.port,
                 "/etc/memcached.conf", "OPTIONS=", "/etc/sysconfig/memcached",
                 "systemd drop-in", "systemctl restart memcached",
                 "memcached refuses to start with UDP and authentication"):
        assert text in fix, (text, fix)
    summary = out.strip().splitlines()[-1]
    assert "local audit:" in summary, summary
    assert not re.search(r"(?<!\d)0 finding\(s\)", summary), summary
    j = audit("--json", "--local", "--no-local-probe")
    s = [o for o in j.lines if o["type"] == "summary"][0]
    assert s["local_findings"] >= 1 and s["local_status"] == "vulnerable", s
