"""The version a client reads, in every place memcached 1.6.45 states it:
`version` (text and binary), `stats`, -V and -h. Clients parse it as a
release number (Cache::Memcached::Fast's test helper uses Perl's
version->parse), so hardcached says its own version elsewhere."""
import re
import shutil
import struct
import subprocess

import pytest

import hcutil
import ref145

pytestmark = pytest.mark.parametrize("binary", ref145.servers())


def text_version(server):
    with server.client() as c:
        line = c.call(b"version\r\n")
    assert line.startswith(b"VERSION ") and line.endswith(b"\r\n"), line
    return line[8:-2].decode()


@pytest.mark.skipif(shutil.which("perl") is None, reason="no perl")
def test_perl_version_parse_accepts_it(start_server, binary):
    v = text_version(start_server(binary=binary))
    r = subprocess.run(["perl", "-Mversion", "-e",
                        "print version->parse($ARGV[0])->normal", v],
                       capture_output=True, timeout=10)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(b"v1.6."), r.stdout


def test_text_binary_and_stats_agree(start_server, binary):
    s = start_server(binary=binary)
    v = text_version(s)
    assert re.fullmatch(r"1\.6\.\d+", v), v
    with s.client() as c:
        c.send(struct.pack(">BBHBBHIIQ", 0x80, 0x0b, 0, 0, 0, 0, 0, 0, 0))
        hdr = c.read_exact(24)
        body = c.read_exact(struct.unpack(">I", hdr[8:12])[0])
    assert body.decode() == v
    assert s.stats()["version"] == v


def test_V_first_line(run_binary, binary):
    r = subprocess.run([binary, "-V"], capture_output=True, timeout=10)
    assert r.returncode == 0
    assert re.match(rb"memcached 1\.6\.\d+\n", r.stdout), r.stdout


def test_hardcached_says_who_it_is(start_server, binary):
    if not ref145.is_hc(binary):
        pytest.skip("hardcached's own identity")
    r = subprocess.run([binary, "-V"], capture_output=True, timeout=10)
    assert re.search(rb"\nhardcached \S+ \(memcached 1\.6\.45 compatible\)\n",
                     r.stdout), r.stdout
    s = start_server(binary=binary)
    assert re.fullmatch(r"\d+\.\d+\.\d+", s.stats()["hardcached_version"])
    assert text_version(s) == "1.6.45"
