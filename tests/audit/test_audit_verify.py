"""Verification mode and the exit status contract: 0 all clear,
1 findings, 2 could not check."""
from conftest import finding_ids, free_port


def test_exit_0_verify_udp_off(audit, memcached):
    m = memcached(udp=False)
    r = audit("--json", "--verify", "127.0.0.1:%d" % m.port)
    assert r.rc == 0, r.out
    t = r.target(m.port)
    assert t["verdict"]["status"] == "clean"
    assert t["verdict"]["exit"] == 0
    # TCP without auth is not a verification point unless asked for
    assert "tcp_no_auth" not in finding_ids(t)


def test_exit_1_verify_udp_on(audit, memcached):
    m = memcached(udp=True)
    r = audit("--verify", "127.0.0.1:%d" % m.port)
    assert r.rc == 1
    assert "udp_amplifier" in r.out


def test_exit_1_tcp_reachable_when_expected_closed(audit, memcached):
    m = memcached(udp=False)
    r = audit("--json", "--verify", "--expect-tcp-closed",
              "127.0.0.1:%d" % m.port)
    assert r.rc == 1
    assert "tcp_reachable" in finding_ids(r.target(m.port))


def test_exit_0_tcp_closed_as_expected(audit):
    port = free_port()
    r = audit("--verify", "--expect-tcp-closed", "127.0.0.1:%d" % port)
    assert r.rc == 0, r.out


def test_exit_1_wins_over_unchecked_targets(audit, memcached):
    m = memcached(udp=True)
    # a clean closed port next to it does not change the outcome
    r = audit("--verify", "127.0.0.1:%d" % m.port, "127.0.0.1:%d" % free_port())
    assert r.rc == 1


def test_exit_2_usage(audit):
    assert audit("--no-such-option").rc == 2
    assert audit().rc == 2                                  # no targets
    assert audit("--timeout", "abc", "127.0.0.1").rc == 2
    assert audit("--port", "70000", "127.0.0.1").rc == 2
    assert audit("127.0.0.1:0").rc == 2
    assert audit("[::1").rc == 2
    assert audit("10.0.0.0/33").rc == 2
    assert audit("--verify", "--amplify", "127.0.0.1").rc == 2


def test_exit_2_unresolvable(audit):
    r = audit("no-such-host.invalid")
    assert r.rc == 2 and "cannot resolve" in r.out


def test_exit_2_network_error(audit):
    """No route at all (an empty network namespace, loopback down): the
    target could not be checked. Nothing leaves the machine."""
    import os
    import subprocess
    import pytest
    from conftest import AUDIT, Run
    ns = "hcaudit-%d" % os.getpid()
    if subprocess.run(["ip", "netns", "add", ns], capture_output=True,
                      timeout=10).returncode != 0:
        pytest.skip("cannot create a network namespace")
    try:
        cp = subprocess.run(["ip", "netns", "exec", ns, AUDIT, "-q",
                             "--json", "--timeout", "300", "--retries", "0",
                             "10.9.8.7:11211"], capture_output=True,
                            text=True, timeout=60)
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True,
                       timeout=10)
    r = Run(cp)
    t = r.target(11211)
    assert t["tcp"]["state"] == "error" and t["tcp"]["error"], t["tcp"]
    assert t["verdict"]["status"] == "unknown"
    assert "check_failed" in finding_ids(t)
    assert r.rc == 2


def test_help_and_man_page_list_the_same_options(audit):
    import os, re
    from conftest import ROOT
    r = audit("--help", fast=False)
    assert r.rc == 0
    assert "exit status" in r.out
    opts = set(re.findall(r"--([a-z][a-z-]+)", r.out))
    man = open(os.path.join(ROOT, "docs/hardcache-audit.1")).read()
    man_opts = set(re.findall(r"\\-\\-([a-z][a-z\\-]+)", man))
    man_opts = {o.replace("\\-", "-") for o in man_opts}
    missing = opts - man_opts
    assert not missing, missing


def test_json_fields_are_documented(audit, memcached):
    import os, re
    from conftest import ROOT
    m = memcached(udp=True)
    r = audit("--json", "127.0.0.1:%d" % m.port)
    doc = open(os.path.join(ROOT, "docs/AUDIT.md")).read()
    documented = set(re.findall(r"`([a-z_]+)`", doc))

    def keys(obj):
        out = set()
        if isinstance(obj, dict):
            for k, v in obj.items():
                out.add(k)
                out |= keys(v)
        elif isinstance(obj, list):
            for v in obj:
                out |= keys(v)
        return out

    local = audit("--json", "--local", "--no-local-probe").local()
    missing = (keys(r.lines) | keys(local)) - documented
    assert not missing, missing


def test_every_finding_id_is_documented():
    import os, re
    from conftest import ROOT
    src = open(os.path.join(ROOT, "src/audit/verdict.h")).read()
    ids = re.findall(r'X\([A-Z0-9_]+, "([a-z0-9_]+)"', src)
    assert len(ids) > 10
    doc = open(os.path.join(ROOT, "docs/AUDIT.md")).read()
    missing = [i for i in ids if "`%s`" % i not in doc]
    assert not missing, missing
