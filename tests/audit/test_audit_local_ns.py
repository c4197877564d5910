"""Local audit where `ps` and `netstat` fall short: memcached in another
network namespace (a container), the audit run as an unprivileged user,
a -U on a command line whose socket is not seen, and sockets whose owner
cannot be seen. Each case runs in its own pid namespace (conftest.isolated)
so that the exit status depends only on the processes started here."""
import os
import shlex
import shutil
import sys

import pytest

from conftest import AUDIT, FAST, HC_BIN, MEMCACHED, free_port, isolated

NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]

WAIT = r'''
wait_listen() {  # pid table hexport state
  i=0
  while [ $i -lt 100 ]; do
    grep -qi ":$3 [0-9A-F:]* $4 " /proc/$1/net/$2 2>/dev/null && return 0
    i=$((i+1)); sleep 0.05
  done
  echo "pid $1 not listening on $2 port $3" >&2; exit 99
}
'''


def needs(*tools):
    for t in tools:
        if shutil.which(t) is None:
            pytest.skip("%s is missing" % t)


def memcached_argv(port, udp_port, user="daemon", listen="127.0.0.1"):
    return [MEMCACHED, "-u", user, "-p", str(port), "-U", str(udp_port),
            "-l", listen, "-t", "1"]


def start(argv, netns=False, tcp_port=None):
    """Shell lines that start argv in the background (in a new network
    namespace with lo up when netns) and wait for its TCP listener: read
    from /proc/PID/net, the process's own namespace once unshare has
    exec'd the server under the same pid, so the audit never runs before
    the server listens."""
    cmd = " ".join(shlex.quote(a) for a in argv)
    if netns:
        cmd = "unshare -n sh -c %s" % shlex.quote("ip link set lo up && exec "
                                                   + cmd)
    lines = "%s >/dev/null 2>&1 &\nlast=$!\n" % cmd
    if tcp_port is not None:
        lines += "wait_listen $last tcp %04X 0A\n" % tcp_port
    return lines


def audit_line(args, user=None):
    argv = (NOBODY if user == "nobody" else []) + [AUDIT] + FAST + \
        [str(a) for a in args]
    return " ".join(shlex.quote(a) for a in argv) + "\n"


def run(servers, args, user=None):
    out = isolated(WAIT + "".join(servers) + audit_line(args, user))
    assert out.rc != 99, out.err
    return out


def findings(local, fid):
    return [f for f in local["verdict"]["findings"] if f["id"] == fid]


def proc_with(local, needle):
    found = [p for p in local["processes"] if needle in p["cmdline"]]
    assert len(found) == 1, local["processes"]
    return found[0]


def test_udp_in_another_network_namespace(audit):
    """A containerised memcached's UDP socket is not in our /proc/net/udp;
    it is in /proc/PID/net/udp."""
    needs("unshare", "ip")
    port = free_port()
    r = run([start(memcached_argv(port, port), netns=True, tcp_port=port)],
            ["--json", "--verify", "--local", "--no-local-probe"])
    local = r.local()
    p = proc_with(local, "-U %d" % port)
    found = [f["detail"] for f in findings(local, "local_udp_listener_ipv4")]
    assert any("pid %d " % p["pid"] in d and "port %d in netns net:[" % port
               in d for d in found), local["verdict"]
    assert r.rc == 1, r.out
    assert p["netns"].startswith("net:["), p


@pytest.mark.parametrize("netns", [False, True], ids=["host", "netns"])
def test_not_root_sees_another_users_udp(audit, netns):
    """As nobody, a memcached run as daemon is not dumpable: its fds are
    closed to us, yet its namespace's UDP table and its -U are not."""
    needs("unshare", "ip", "setpriv")
    port = free_port()
    r = run([start(memcached_argv(port, port), netns=netns, tcp_port=port)],
            ["--json", "--verify", "--local", "--no-local-probe"],
            user="nobody")
    local = r.local()
    p = proc_with(local, "-U %d" % port)
    found = [f["detail"] for f in findings(local, "local_udp_listener_ipv4")]
    assert any("pid %d " % p["pid"] in d and "port %d" % port in d and
               "inferred" in d for d in found), local["verdict"]
    assert r.rc == 1, r.out
    assert local["root"] is False and local["all_sockets_mapped"] is False
    assert p["fds_readable"] is False


def test_udp_flag_alone_is_a_finding(audit, tmp_path):
    """-U N on a memcached's command line says UDP is on, even when no
    socket of it can be seen."""
    fake = tmp_path / "memcached"
    os.symlink(sys.executable, fake)
    ready = tmp_path / "ready"
    argv = [str(fake), "-c", "import sys, time; open(sys.argv[1], 'w')."
            "close(); time.sleep(60)", str(ready), "-U", "11213"]
    script = start(argv) + ("i=0; while [ ! -e %s ] && [ $i -lt 100 ]; do "
                            "i=$((i+1)); sleep 0.05; done\n" %
                            shlex.quote(str(ready)))
    r = run([script], ["--json", "--verify", "--local", "--no-local-probe"])
    local = r.local()
    found = [f for f in findings(local, "local_udp_enabled_by_flag")]
    assert len(found) == 1 and "-U 11213" in found[0]["detail"], local
    assert found[0]["severity"] == "critical"     # no -l: every address
    assert "dport 11213 drop" in local["remediation"]
    assert r.rc == 1, r.out


def test_local_advice_for_hardcached_keeps_login_with_udp(audit):
    """hardcached -U with -Y starts (memcached refuses that pair): the local
    remediation for it says a login keeps UDP and -U 0 ends it, never
    memcached's rule; a memcached -U beside it brings that rule back."""
    if not os.path.exists(HC_BIN):
        pytest.skip("HC_BIN %s does not exist yet" % HC_BIN)
    port, mport = free_port(), free_port()
    hc = start([HC_BIN, "-u", "daemon", "-p", str(port), "-U", str(port),
                "-l", "127.0.0.1", "-t", "1"], tcp_port=port)
    mc = start(memcached_argv(mport, mport), tcp_port=mport)
    args = ["--json", "--verify", "--local", "--no-local-probe"]
    fix = run([hc], args).local()["remediation"]
    assert "UDP: put -U 0 there (replacing -U %d)" % port in fix, fix
    assert "hardcached keeps UDP with a login" in fix, fix
    assert "refuses to start" not in fix, fix
    fix = run([hc, mc], args).local()["remediation"]
    assert "memcached refuses to start with UDP and authentication" in fix, fix


def test_unseen_udp_owner_is_not_clean(audit):
    """Not root, a UDP socket of another user's process may be a memcached
    we cannot identify: "could not check" (2), never "all clear" (0). As
    root the same socket maps to a process that is not memcached: clear."""
    needs("setpriv")
    port = free_port()
    holder = ["setpriv", "--reuid=daemon", "--regid=daemon", "--clear-groups",
              sys.executable, "-c",
              "import socket, time; s = socket.socket(socket.AF_INET, "
              "socket.SOCK_DGRAM); s.bind(('127.0.0.1', %d)); "
              "time.sleep(60)" % port]
    line = start(holder) + "wait_listen $last udp %04X 07\n" % port
    args = ["--json", "--verify", "--local", "--no-local-probe"]
    r = run([line], args, user="nobody")
    failed = [f["detail"] for f in findings(r.local(), "check_failed")]
    assert any("127.0.0.1:%d" % port in d for d in failed), r.local()
    assert r.rc == 2, r.out
    r = run([line], args)
    assert r.rc == 0, r.out


def test_recommended_setup_is_all_clear(audit, tmp_path):
    """The advisory's own fix, -l 127.0.0.1 -U 0, run as a user: no login
    on loopback is said (info) but is not a finding."""
    port = free_port()
    r = run([start(memcached_argv(port, 0), tcp_port=port)],
            ["--json", "--local", "--sysroot", tmp_path])
    local = r.local()
    no_auth = findings(local, "local_no_auth")
    assert no_auth and all(f["severity"] == "info" for f in no_auth), local
    assert r.rc == 0, r.out
    # on every address it is one
    r = run([start(memcached_argv(port, 0, listen="0.0.0.0"), tcp_port=port)],
            ["--json", "--local", "--sysroot", tmp_path])
    assert [f["severity"] for f in findings(r.local(), "local_no_auth")] == \
        ["low"]
    assert r.rc == 1


DEBIAN_CONF = """\
# memcached default config file
# 2003 - Jay Bonci <jaybonci@debian.org>
# This configuration file is read by the start-memcached script provided as
# part of the Debian GNU/Linux distribution.

# Run memcached as a daemon. This command is implied, and is not needed for the
# daemon to run. See the README.Debian that comes with this package for more
# information.
-d

# Log memcached's output to /var/log/memcached
logfile /var/log/memcached.log

# memory
-m 64

# Default connection port is 11211
-p 11211

# Run the daemon as root. The start-memcached will default to running as root if no
# -u command is present in this config file
-u memcache

# Specify which IP address to listen on. The default is to listen on all IP addresses
# This parameter is one of the only security measures that memcached has, so make sure
# it's listening on a firewalled interface.
-l 127.0.0.1

# Use a pidfile
-P /var/run/memcached/memcached.pid
"""


def debian_root(tmp_path, version):
    root = tmp_path / ("root-" + version)
    (root / "etc/default").mkdir(parents=True)
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "etc/memcached.conf").write_text(DEBIAN_CONF)
    (root / "etc/default/memcached").write_text(
        "# Set this to no to disable memcached.\nENABLE_MEMCACHED=yes\n")
    (root / "var/lib/dpkg/status").write_text(
        "Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\n\n"
        "Package: memcached\nStatus: install ok installed\n"
        "Priority: optional\nSection: web\nVersion: %s\n"
        "Description: memory object cache\n long text\n" % version)
    return root


def test_stock_debian_host_is_clean(audit, tmp_path):
    root = debian_root(tmp_path, "1.6.18-1+deb12u1")
    r = run([], ["--json", "--local", "--sysroot", root])
    local = r.local()
    assert [c["path"] for c in local["configs"]] == \
        [str(root / "etc/memcached.conf")], local["configs"]
    assert local["installed_version"] == "1.6.18-1+deb12u1"
    assert not [f for f in local["verdict"]["findings"]
                if f["id"].startswith("config_")], local["verdict"]
    assert r.rc == 0, r.out
    # where UDP is on by default, the same file leaves it on
    root = debian_root(tmp_path, "1.4.25-2")
    r = run([], ["--json", "--local", "--sysroot", root])
    found = findings(r.local(), "config_udp_not_disabled")
    assert len(found) == 1 and "1.4.25-2" in found[0]["detail"], r.local()
    assert r.rc == 1
