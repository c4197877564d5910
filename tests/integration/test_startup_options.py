"""memcached 1.6.45's start-up options as hardcached takes them: the -o
lists (tuning knobs of what hardcached does not have are accepted and do
nothing; options that would change what is stored are refused, never
ignored), -N, --verbose=N, -p -1 with $MEMCACHED_PORT_FILENAME, -p 0, and the
debug build's `debugtime`. Tests that describe memcached's behaviour run
against memcached 1.6.45 too (skipped when it is not built)."""
import os
import re
import struct
import subprocess
import time

import pytest

import hcutil
import ref145

BOTH = pytest.mark.parametrize("binary", ref145.servers())


def run(binary, *args, env=None):
    return subprocess.run([binary] + list(args) + hcutil.root_args(),
                          capture_output=True, timeout=20, env=env,
                          stdin=subprocess.DEVNULL)


# Each only tunes memcached's slab allocator, LRU or buffers.
NO_OPS = ["no_inline_ascii_resp", "inline_ascii_resp", "no_slab_automove",
          "slab_sizes=96-200-1024", "no_chunked_items",
          "slab_automove_freeratio=0.02", "hash_algorithm=xxh3",
          "hash_algorithm=jenkins", "slab_chunk_max=256", "lru_crawler_sleep=50"]


@BOTH
@pytest.mark.parametrize("opt", NO_OPS)
def test_tuning_option_accepted(start_server, binary, opt):
    s = start_server("-o", opt, binary=binary)
    with s.client() as c:
        c.cmd(b"set k 0 0 1\r\nv\r\n", b"STORED\r\n")
        c.cmd(b"get k\r\n", b"VALUE k 0 1\r\nv\r\nEND\r\n")


@BOTH
def test_resp_obj_mem_limit_warns(start_server, binary):
    s = start_server("-o", "resp_obj_mem_limit=10", binary=binary)
    with s.client() as c:
        c.cmd(b"version\r\n", b"VERSION ")
    assert b"resp_obj_mem_limit" in s.stderr(), s.stderr()


@BOTH
def test_unknown_hash_algorithm_refused(binary):
    r = run(binary, "-p", str(hcutil.free_port()), "-o", "hash_algorithm=bogus")
    assert r.returncode != 0
    assert b"Unknown hash_algorithm option (jenkins, murmur3, xxh3)" in r.stderr, r.stderr


@pytest.mark.hardcached_only
@pytest.mark.parametrize("opt,why", [("temporary_ttl=30", b"temporary_ttl")])
def test_option_changing_storage_refused(opt, why):
    """memcached 1.6.45 takes these (an unevictable short-TTL LRU; ext_path
    is taken here too: test_flash.py); hardcached would store differently,
    so it refuses with a reason rather than ignore them."""
    r = run(hcutil.HC_BIN, "-o", opt)
    assert r.returncode == 64, r
    assert why in r.stderr and b"not supported" in r.stderr, r.stderr


@BOTH
def test_N_accepted(start_server, binary):
    s = start_server("-t", "2", "-N", "1", binary=binary)
    with s.client() as c:
        c.cmd(b"version\r\n", b"VERSION ")


@pytest.mark.hardcached_only
def test_verbose_equals_level(start_server):
    s = start_server("--verbose=2")
    assert s.stats("settings")["verbosity"] == "2"
    s2 = start_server("--verbose")
    assert s2.stats("settings")["verbosity"] == "1"


def port_file_lines(binary, tmp_path, *args):
    """Start binary with $MEMCACHED_PORT_FILENAME; its process and the
    file's lines once written whole (FILE.lck, renamed)."""
    pf = tmp_path / "ports"
    env = dict(os.environ, MEMCACHED_PORT_FILENAME=str(pf))
    p = subprocess.Popen([binary] + list(args) + hcutil.root_args(), env=env,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, preexec_fn=hcutil._die_with_parent)
    deadline = time.monotonic() + hcutil.START_TIMEOUT
    while not pf.exists():
        if p.poll() is not None or time.monotonic() > deadline:
            p.kill()
            raise AssertionError(p.stderr.read())
        time.sleep(0.05)
    assert not (tmp_path / "ports.lck").exists()
    return p, pf.read_text().splitlines()


def stop(p):
    p.kill()
    p.wait(10)
    p.stderr.close()


@BOTH
def test_port_file_lists_bound_ports(tmp_path, binary):
    """memcached's test harness: -p -1 (any port) and the ports read back
    from $MEMCACHED_PORT_FILENAME."""
    p, lines = port_file_lines(binary, tmp_path, "-p", "-1", "-U", "-1", "-l", "127.0.0.1;[::1]")
    try:
        kinds = sorted(l.split(":")[0] for l in lines)
        assert kinds == ["TCP INET", "TCP INET6", "UDP INET", "UDP INET6"], lines
        ports = {l.split(":")[0]: int(l.split(": ")[1]) for l in lines}
        assert all(0 < v < 65536 for v in ports.values())
        with hcutil.Raw("127.0.0.1", ports["TCP INET"]) as c:
            c.cmd(b"version\r\n", b"VERSION ")
    finally:
        stop(p)


@BOTH
def test_port_0_turns_tcp_off(tmp_path, binary):
    """-p 0 is no TCP at all, even on a port -l names (memcached 1.6.45);
    UDP still listens when -U asks."""
    port = hcutil.free_port()
    p, lines = port_file_lines(binary, tmp_path, "-p", "0", "-U", "-1",
                               "-l", "127.0.0.1:%d" % port)
    try:
        assert [l.split(":")[0] for l in lines] == ["UDP INET"], lines
        with pytest.raises(ConnectionRefusedError):
            hcutil.Raw("127.0.0.1", port)
        assert p.poll() is None
    finally:
        stop(p)


@BOTH
def test_debugtime(start_server, binary):
    """memcached-debug's `debugtime N` moves the clock: an item with a 100 s
    TTL expires without sleeping. A release build has no such command
    (ERROR), as memcached's release build."""
    debug = (hcutil.is_asan() if ref145.is_hc(binary)
             else binary.endswith("-debug"))
    s = start_server(binary=binary)
    with s.client() as c:
        c.cmd(b"set k 0 100 1\r\nv\r\n", b"STORED\r\n")
        if not debug:
            c.cmd(b"debugtime 200\r\n", b"ERROR\r\n")
            c.cmd(b"get k\r\n", b"VALUE k 0 1\r\nv\r\nEND\r\n")
            return
        c.cmd(b"debugtime 50\r\n", b"OK\r\n")
        c.cmd(b"get k\r\n", b"VALUE k 0 1\r\nv\r\nEND\r\n")
        c.cmd(b"debugtime 60\r\n", b"OK\r\n")
        c.cmd(b"get k\r\n", b"END\r\n")


@pytest.mark.hardcached_only
@pytest.mark.skipif(not hcutil.is_asan(), reason="debugtime is in the debug (ASan) build")
def test_debugtime_pause_resume_and_offset(start_server):
    """memcached-debug 1.6.45's `debugtime p` stops the clock and `r` lets
    it go on; `debugtime N` adds N to the clock's offset and moves the
    clock by the whole offset (`delta += N; current_time += delta`), so
    60 then 20 while paused is 140 seconds, not 80."""
    s = start_server()
    with s.client() as c:
        c.cmd(b"set k 0 100 1\r\nv\r\nset s 0 1 1\r\nv\r\n", b"STORED\r\nSTORED\r\n")
        c.cmd(b"debugtime p\r\n", b"OK\r\n")
        time.sleep(2.2)   # the clock stands still: a 1 s item lives on
        c.cmd(b"get s\r\n", b"VALUE s 0 1\r\nv\r\nEND\r\n")
        c.cmd(b"debugtime 60\r\n", b"OK\r\n")
        c.cmd(b"get k\r\n", b"VALUE k 0 1\r\nv\r\nEND\r\n")
        c.cmd(b"debugtime 20\r\n", b"OK\r\n")
        c.cmd(b"get k\r\n", b"END\r\n")
        c.cmd(b"debugtime r\r\n", b"OK\r\n")
        c.cmd(b"debugtime -5\r\n", b"OK\r\n")
        c.cmd(b"debugtime 0 extra\r\n", b"OK\r\n")   # extra tokens ignored
        c.cmd(b"debugtime x\r\n", b"ERROR\r\n")
        c.cmd(b"debugtime pause\r\n", b"ERROR\r\n")


@BOTH
def test_refresh_certs_without_tls(start_server, binary):
    s = start_server(binary=binary)
    with s.client() as c:
        c.cmd(b"refresh_certs\r\n", b"Error TLS not enabled\r\n")


VV_EXPECTED = [
    "<N set a 0 0 1", ">N STORED",
    "<N get a b", ">N sending key a", ">N END",
    "<N bogus", ">N ERROR",
    "<N Read binary protocol data:",
    "<N    0x80 0x0b 0x00 0x00", "<N    0x00 0x00 0x00 0x00",
    "<N    0x00 0x00 0x00 0x00", "<N    0x00 0x00 0x00 0x00",
    "<N    0x00 0x00 0x00 0x00", "<N    0x00 0x00 0x00 0x00",
    ">N Writing bin response:",
    ">N   0x81 0x0b 0x00 0x00", ">N   0x00 0x00 0x00 0x00",
    ">N   0x00 0x00 0x00 0x06", ">N   0x00 0x00 0x00 0x00",
    ">N   0x00 0x00 0x00 0x00", ">N   0x00 0x00 0x00 0x00",
]


@BOTH
def test_vv_traces_commands_and_replies(start_server, binary):
    """-vv: each command ("<fd") and reply (">fd") as memcached prints
    them, binary headers dumped four bytes a line."""
    s = start_server("-vv", binary=binary)
    with s.client() as c:
        c.cmd(b"set a 0 0 1\r\nx\r\n", b"STORED\r\n")
        c.cmd(b"get a b\r\n", b"VALUE a 0 1\r\nx\r\nEND\r\n")
        c.cmd(b"bogus\r\n", b"ERROR\r\n")
    # memcached prints a dump in pieces: let the first connection's
    # "connection closed." line out before the next thread dumps
    time.sleep(0.3)
    with s.client() as c:
        c.send(struct.pack(">BBHBBHIIQ", 0x80, 0x0b, 0, 0, 0, 0, 0, 0, 0))
        c.read_exact(24 + 6)
    deadline = time.monotonic() + 5
    while True:
        got = [re.sub(r"^([<>])\d+", r"\1N", l)
               for l in s.stderr().decode(errors="replace").splitlines()
               if re.match(r"[<>]\d+ ", l) and not re.search(
                   r"server listening|new .*connection|connection closed|"
                   r"[<>]\d+ (version|VERSION)", l)]   # the start-up probes
        if got == VV_EXPECTED or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert got == VV_EXPECTED
