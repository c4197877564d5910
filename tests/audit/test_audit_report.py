"""What the report says (issue 22, defect 9 and the semantics): versions in
every JSON record, a JSON error object, columns that hold, each fix once
with the real port, "no service" apart from clean, and TLS recognised."""
import os
import shutil
import subprocess

import pytest

from conftest import MEMCACHED, Proc, finding_ids, free_port


def test_every_json_record_has_the_versions(audit, memcached):
    m = memcached(udp=True)
    r = audit("--json", "127.0.0.1:%d" % m.port, "127.0.0.1:%d" % free_port())
    assert len(r.lines) == 3
    for rec in r.lines:
        assert rec["schema_version"] >= 2 and rec["tool_version"], rec


def test_a_fatal_error_is_a_json_object(audit):
    for args in (["--timeout", "0", "127.0.0.1"], [], ["256.1.1.1"],
                 ["--no-such-option"]):
        r = audit("--json", *args)
        assert r.rc == 2
        assert len(r.lines) == 1, (args, r.out)
        err = r.lines[0]
        assert err["type"] == "error" and err["exit"] == 2 and err["message"]
        assert err["schema_version"] >= 2


def test_server_column_does_not_overflow(audit, fake_tcp):
    long_version = b"1.6.18-" + b"x" * 60
    f = fake_tcp(lambda line: b"VERSION " + long_version + b"\r\n"
                 if line == "version" else b"ERROR\r\n")
    r = audit("127.0.0.1:%d" % f.port)
    lines = r.out.splitlines()
    head = [x for x in lines if x.startswith("TARGET")][0]
    row = [x for x in lines if x.startswith("127.0.0.1:%d" % f.port)][0]
    col = head.index("AUTH")
    assert row[col - 1] == " " and row[col:].split()[0] in (
        "unknown", "none", "ascii", "sasl", "refused", "tls"), row


def test_target_column_does_not_overflow(audit, memcached):
    """A long name is printed whole on a line of its own, and the row that
    follows keeps every column where the header has it."""
    m = memcached()
    name = "a-host-name-much-longer-than-the-column.invalid"
    r = audit("127.0.0.1:%d" % m.port, name)
    lines = r.out.splitlines()
    head = [x for x in lines if x.startswith("TARGET")][0]
    at = [i for i, x in enumerate(lines) if x.startswith(name)]
    assert at and lines[at[0]].strip() == name + ":11211", r.out
    row = lines[at[0] + 1]
    col = head.index("TCP")
    assert row[:col].strip() == "" and row[col - 1] == " " and row[col] != " ", row
    ok = [x for x in lines if x.startswith("127.0.0.1:%d" % m.port)][0]
    assert ok[col - 1] == " " and ok[col] != " ", ok


def test_each_fix_is_said_once_with_the_real_port(audit, memcached):
    a, b = memcached(udp=True), memcached(udp=True)
    r = audit("127.0.0.1:%d" % a.port, "127.0.0.1:%d" % b.port)
    assert r.rc == 1
    assert r.out.count("Turn UDP off") == 1, r.out
    assert r.out.count("how to fix") == 1
    assert "udp_amplifier (2 targets" in r.out
    # shown for the first target done, whichever that was
    assert any("ufw deny %d/udp" % m.port in r.out for m in (a, b))
    assert "11211" not in r.out


def test_no_service_is_not_clean_and_can_fail_verify(audit):
    port = free_port()
    r = audit("--json", "--verify", "127.0.0.1:%d" % port)
    t = r.target(port)
    assert t["verdict"]["status"] == "no_service" and r.rc == 0
    r = audit("--json", "--verify", "--require-service",
              "127.0.0.1:%d" % port)
    t = r.target(port)
    assert t["verdict"]["status"] == "no_service"
    assert "no_service" in finding_ids(t) and r.rc == 1
    plain = audit("--verify", "127.0.0.1:%d" % port)
    assert "no_service" in plain.out and "all clear" in plain.out


def test_config_without_udp_flag_never_shows_minus_one(audit, tmp_path):
    conf = tmp_path / "memcached.conf"
    conf.write_text("-p 11211\n-l 127.0.0.1\n")
    r = audit("--local", "--no-local-probe", "--config", conf)
    assert "-U -1" not in r.out, r.out


def _certs(tmp_path):
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl tool is not installed")
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                    "k.key", "-out", "c.pem", "-subj", "/CN=localhost",
                    "-days", "2"], cwd=tmp_path, check=True,
                   capture_output=True, timeout=60)
    return "ssl_chain_cert=%s,ssl_key=%s" % (tmp_path / "c.pem",
                                             tmp_path / "k.key")


def _wait_tls(port, proc):
    import socket
    import ssl
    import time
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    end = time.monotonic() + 5
    while time.monotonic() < end:
        assert proc.poll() is None
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5) as s:
                with ctx.wrap_socket(s) as t:
                    t.sendall(b"version\r\n")
                    if t.recv(100).startswith(b"VERSION"):
                        return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("no TLS server on %d" % port)


@pytest.mark.parametrize("server", ["memcached", "hardcached"])
def test_tls_server_is_identified(audit, tmp_path, server):
    from conftest import HC_BIN
    opts = _certs(tmp_path)
    port = free_port()
    binary = MEMCACHED if server == "memcached" else HC_BIN
    if not os.path.exists(binary):
        pytest.skip("%s missing" % binary)
    p = subprocess.Popen([binary, "-u", "root", "-p", str(port), "-U", "0",
                          "-l", "127.0.0.1", "-Z", "-o", opts],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_tls(port, p)
        r = audit("--json", "127.0.0.1:%d" % port)
    finally:
        p.terminate()
        p.wait(timeout=5)
    tcp = r.target(port)["tcp"]
    assert tcp["tls"] and tcp["auth"] == "tls", tcp
    assert tcp["version"].startswith("1.6"), tcp
    assert "tls_service" in finding_ids(r.target(port))
