"""Differential, scripted: memcached 1.6.45 (the newest release, issue
17's yardstick) and hardcached get the same short sessions, and hardcached
must answer byte for byte as 1.6.45 does, apart from the deliberate
differences README documents. Skipped where 1.6.45 is absent.

Each case holds 1.6.45's reply as a literal: a case first checks that
1.6.45 still gives it (else ReferenceMoved, a plain failure), then that
hardcached does. A difference not fixed yet is marked xfail(strict,
raises=AssertionError) with "issue 17: what differs": it fails the day
hardcached matches, and its marker must then go. CAS values are renamed in
the order each server shows them (c1, c2, ...), c0 kept; `<pause>` marks
where a session stops (up to 1 s) to see what arrives before the rest is sent;
`<closed>` a connection the server closed.
"""
import collections
import os
import re
import select
import socket
import struct
import subprocess

import pytest

import binproto
import hcutil

pytestmark = [
    pytest.mark.skipif(hcutil.is_reference(), reason="compares hardcached with memcached 1.6.45"),
    pytest.mark.skipif(hcutil.memcached_145() is None, reason=hcutil.REF_MISSING),
]

PAUSE = 1.0     # at most: a pause ends as soon as a reply arrives
README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "README.md")
MN, BIN_END = b"mn\r\n", binproto.pack("noop", opaque=0xfeed)
BIN_END_REPLY = struct.pack(">BBHBBHIIQ", binproto.RES, binproto.OP["noop"], 0, 0, 0, 0, 0, 0xfeed, 0)


class ReferenceMoved(Exception):
    """1.6.45 no longer gives the reply a case holds: fix the case, not hardcached."""


class Pair:
    """Servers started on demand, one hardcached and one 1.6.45 per set of
    flags (`fresh` names another set, for a case that needs empty ones)."""

    def __init__(self):
        self.servers = {}

    def get(self, impl, args=(), fresh=""):
        k = (impl, tuple(args), fresh)
        if k not in self.servers:
            binary = hcutil.memcached_145() if impl == "1.6.45" else None
            self.servers[k] = hcutil.Server(args, binary=binary)
        return self.servers[k]

    def stop(self):
        for s in self.servers.values():
            s.stop()
        for s in self.servers.values():
            rep = s.sanitizer_report()
            assert not rep, "sanitizer report:\n" + rep.decode(errors="replace")


@pytest.fixture(scope="module")
def pair():
    p = Pair()
    yield p
    p.stop()


def converse(server, parts, binary=False, wait=10):
    """Send the parts of a session, a pause between two; then the
    protocol's no-op; everything up to its reply (waiting at most `wait`
    seconds for it), as bytes."""
    c = server.client(timeout=10)
    end, end_reply = (BIN_END, BIN_END_REPLY) if binary else (MN, b"MN\r\n")
    out = b""
    try:
        for i, part in enumerate(parts):
            if i > 0:
                out += pending(c, PAUSE) + b"<pause>"
            c.send(part)
        c.send(end)
        got = c.read_until(end_reply, timeout=wait)
        return out + got[:-len(end_reply)]
    except TimeoutError:
        return out + pending(c) + b"<no reply>"
    except OSError:   # closed, or reset while sending
        return out + pending(c) + b"<closed>"
    finally:
        c.close()


def pending(c, wait=0):
    """Whatever the server has sent so far (the client's buffer, then the
    socket), waiting up to `wait` seconds for the first byte."""
    out, c.buf = c.buf, b""
    if not out and wait:
        select.select([c.sock], [], [], wait)
    c.sock.setblocking(False)
    try:
        while True:
            chunk = c.sock.recv(1 << 20)
            if not chunk:
                break
            out += chunk
    except (BlockingIOError, socket.error):
        pass
    finally:
        c.sock.setblocking(True)
    return out


def rename_cas(reply):
    """CAS values in the order shown: VALUE lines, meta c<N>, me cas=N."""
    names = {}

    def name(m):
        cas = m.group(2)
        if cas == b"0":
            return m.group(0)
        names.setdefault(cas, b"%d" % (len(names) + 1))
        return m.group(1) + names[cas]
    lines = []
    for ln in reply.split(b"\r\n"):
        if ln.startswith(b"VALUE "):
            ln = re.sub(rb"^(VALUE \S+ \d+ \d+ )(\d+)$", name, ln)
        elif ln[:2] in (b"VA", b"HD", b"EN", b"NF", b"NS", b"EX"):
            ln = re.sub(rb"( c)(\d+)(?= |$)", name, ln)
        elif ln.startswith(b"ME "):
            ln = re.sub(rb"( cas=)(\d+)", name, ln)
        lines.append(ln)
    return b"\r\n".join(lines)


def rename_bin_cas(reply):
    """The same for binary responses: the CAS field of each header."""
    names, out, i = {}, b"", 0
    while i + 24 <= len(reply) and reply[i] == binproto.RES:
        n = struct.unpack(">I", reply[i + 8:i + 12])[0]
        cas = reply[i + 16:i + 24]
        if cas != bytes(8):
            cas = struct.pack(">Q", names.setdefault(cas, len(names) + 1))
        out += reply[i:i + 16] + cas + reply[i + 24:i + 24 + n]
        i += 24 + n
    return out + reply[i:]


Case = collections.namedtuple("Case", "name send want why args fresh rename binary")


def bin_reply(op, status=0, value=b"", cas=0):
    """A binary response with no extras and no key."""
    return bin_resp(op, status, value=value, cas=cas)


def bin_resp(op, status=0, key=b"", extras=b"", value=b"", cas=0, opaque=0):
    """A binary response: header, extras, key, value."""
    op = binproto.OP.get(op, op)
    return struct.pack(">BBHBBHIIQ", binproto.RES, op, len(key), len(extras), 0, status,
                       len(extras) + len(key) + len(value), opaque, cas) + extras + key + value


def case(name, send, want, why=None, args=(), fresh=False, rename=True, binary=False):
    """send: bytes, or a tuple of parts sent with a pause between; want:
    1.6.45's reply; why: what differs today (issue 17), None if nothing."""
    return Case(name, send if isinstance(send, tuple) else (send,), want, why, tuple(args),
                name if fresh else "", rename, binary)


def key(name):
    return b"k_" + name.encode()


def BK(name):
    """A key of the binary sweep."""
    return b"bs_" + name.encode()


BIG = 1024 * 1024 + 1          # one byte over the default -I (1 MiB)
CE = b"CLIENT_ERROR bad command line format\r\n"
BIN_TOO_LARGE = struct.pack(">BBHBBHIIQ", binproto.RES, binproto.OP["set"], 0, 0, 0, binproto.E2BIG,
                            10, 0, 0) + b"Too large."

CASES = [
    # -- the same today: kept so that they stay the same
    case("verbosity_invalid", b"verbosity invalid\r\n", CE),
    case("me_no_key", b"me\r\n", CE),
    case("ms_no_key", b"ms\r\n", CE),
    case("mn_P_L", b"mn P L\r\n", b""),
    case("me_base64_key", b"set foo 0 0 2\r\nhi\r\nme Zm9v b\r\n", b"STORED\r\nEN\r\n"),
    case("set_negative_length", b"set k 0 0 -1\r\n", CE),
    case("unknown_command", b"foo bar\r\n", b"ERROR\r\n"),
    # -- text protocol: error lines and what is swallowed
    case("cas_empty_token", b"cas %s 0 0 6 \r\nfoobar\r\n" % key("cas_empty_token"), CE),
    case("cas_no_token", b"cas %s 0 0 1\r\nx\r\n" % key("cas_no_token"), CE),
    case("set_bad_flags", b"set %s abc 0 1\r\nx\r\n" % key("set_bad_flags"), CE),
    case("set_key_too_long", b"set %s 0 0 1\r\nx\r\n" % (b"k" * 251), CE),
    case("cache_memlimit_extra_tokens", b"cache_memlimit 64 2 3\r\ncache_memlimit\r\n",
         b"OK\r\nERROR\r\n", fresh=True),
    case("gat_exptime_before_keys", b"gat abc k %s\r\n" % (b"k" * 251),
         b"CLIENT_ERROR invalid exptime argument\r\n"),
    case("ms_bad_size", b"ms %s abc\r\nx\r\n" % key("ms_bad_size"), CE + CE),
    case("set_bad_chunk", b"set %s 0 0 1\r\nxyz\r\n" % key("set_bad_chunk"),
         b"CLIENT_ERROR bad data chunk\r\n" + CE),
    case("cas_no_token_big", b"cas %s 0 0 3000\r\n" % key("cas_no_token_big") + b"x" * 3000 + b"\r\n", CE),
    case("set_too_few_tokens", b"set %s 0 0\r\n" % key("set_too_few_tokens"), CE),
    case("set_extra_tokens", b"set %s 0 0 1 2 3\r\nx\r\n" % key("set_extra_tokens"), b"STORED\r\n"),
    case("set_tab", b"set\t%s 0 0 1\r\nx\r\n" % key("set_tab"), b"ERROR\r\n" + CE),
    case("one_byte_line", b"x\r\na\n", CE + CE),
    case("gat_no_key", b"gat 10\r\n", CE),
    case("gat_bad_exptime_no_key", b"gat abc\r\n", CE),
    case("incr_extra_tokens", b"incr %s 1 noreply extra\r\n" % key("incr_extra_tokens"), b"NOT_FOUND\r\n"),
    case("touch_extra_tokens", b"touch %s 1 2\r\n" % key("touch_extra_tokens"), b"NOT_FOUND\r\n"),
    case("delete_hold_noreply", b"delete %s 5 noreply\r\n" % key("delete_hold_noreply"), b""),
    case("verbosity_noreply", b"verbosity noreply\r\n", b""),
    case("cache_memlimit_no_arg", b"cache_memlimit\r\n", b"ERROR\r\n"),
    case("nul_in_key_get", b"get a\x00b\r\n", b"END\r\n"),
    case("nul_in_key_incr", b"incr a\x00b 1\r\n", b"NOT_FOUND\r\n"),
    case("nul_in_key_mg", b"mg a\x00b v\r\n", b"EN\r\n"),
    case("get_no_key", b"get\r\n", CE),
    case("gets_no_key", b"gets\r\n", CE),
    case("touch_no_exptime", b"touch %s\r\n" % key("touch_no_exptime"), CE),
    case("delete_extra_token", b"delete %s 5\r\n" % key("delete_extra_token"), b"NOT_FOUND\r\n"),
    case("empty_line", b"\r\n", CE),
    case("blank_line", b" \r\n", CE),
    case("verbosity_no_arg", b"verbosity\r\n", CE),
    case("verbosity_extra_tokens", b"verbosity 1 2 3\r\n", b"OK\r\n"),
    case("shutdown_not_enabled", b"shutdown\r\n", b"SERVER_ERROR: shutdown not enabled\r\n"),
    case("version", b"version\r\n", b"VERSION 1.6.45\r\n"),
    case("stats_cachedump_empty", b"stats cachedump 1 1\r\n", b"END\r\n", fresh=True),
    case("stats_detail_usage", b"stats detail\r\n", b"CLIENT_ERROR usage: stats detail on|off|dump\r\n"),
    case("stats_extstore", b"stats extstore\r\n", b"END\r\n"),
    case("stats_cachedump_usage", b"stats cachedump 1\r\n", b"CLIENT_ERROR bad command line\r\n"),
    # -- the operator's toolbox (issue 18; more in test_toolbox_*.py, which
    # also compares the dumps: 1.6.45 hands a dumping connection to its
    # crawler and reads nothing more on it, so these sessions cannot)
    case("metadump_disabled", b"lru_crawler metadump all\r\n",
         b"ERROR metadump not allowed\r\n", args=("-X",)),
    case("lru_crawler_sleep_too_long", b"lru_crawler sleep 1000001\r\n",
         b"CLIENT_ERROR sleep must be one second or less\r\n"),
    case("stats_sizes_disabled", b"stats sizes\r\n", b"STAT sizes_status disabled\r\nEND\r\n"),
    case("lru_mode", b"lru mode flat\r\nlru temp_ttl 10\r\n", b"OK\r\nOK\r\n"),
    case("slabs_reassign_off", b"slabs reassign 1 2\r\n",
         b"CLIENT_ERROR slab reassignment disabled\r\n", args=("-o", "no_slab_reassign")),
    # -- meta: blank commands, P/L, flags a command does not use, new flags
    case("mg_no_key", b"mg\r\n", CE),
    case("mg_blank_key", b"mg \r\n", CE),
    case("md_no_key", b"md\r\n", CE),
    case("ma_no_key", b"ma\r\n", CE),
    case("mg_P_L", b"set %s 0 0 2\r\nhi\r\nmg %s P L v\r\nmg %s v Pabc Lxyz\r\n" % ((key("mg_P_L"),) * 3),
         b"STORED\r\nVA 2\r\nhi\r\nVA 2\r\nhi\r\n"),
    case("ms_P_L", b"ms %s 2 P L\r\nhi\r\n" % key("ms_P_L"), b"HD\r\n"),
    case("md_P_L", b"md %s P L\r\n" % key("md_P_L"), b"NF\r\n"),
    case("ma_P_L", b"ma %s P L N0 J1 v\r\n" % key("ma_P_L"), b"VA 1\r\n1\r\n"),
    case("mg_C", b"set %s 0 0 2\r\nhi\r\nmg %s C999999 v\r\n" % ((key("mg_C"),) * 2),
         b"STORED\r\nVA 2\r\nhi\r\n"),
    case("mg_C_same_cas", b"ms %s 2 E77\r\nhi\r\nmg %s C77 v s\r\nmg %s C78 v\r\n" % ((key("mg_C_same"),) * 3),
         b"HD\r\nHD s2\r\nVA 2\r\nhi\r\n"),
    case("ms_s_append", b"ms %s 2\r\nhi\r\nms %s 3 MA s\r\nabc\r\nms %s 1 MA s\r\nx\r\n"
         % (key("ms_s_append"), key("ms_s_append"), key("ms_s_missing")), b"HD\r\nHD s5\r\nNS s1\r\n"),
    case("ms_c_s_on_EX", b"ms %s 3 C1 c s\r\nabc\r\n" % key("ms_c_s_on_EX"), b"NF c0 s3\r\n"),
    case("mg_M_ignored", b"mg %s M9 v\r\nmd %s Mx q\r\n" % ((key("mg_M"),) * 2), b"EN\r\nNF\r\n"),
    case("md_invalid_flag", b"md k Z\r\nmd k q q\r\nma k Z\r\n",
         b"CLIENT_ERROR invalid flag\r\nCLIENT_ERROR duplicate flag\r\n"
         b"CLIENT_ERROR invalid or duplicate flag\r\n"),
    case("ms_s", b"ms %s 2 s\r\nhi\r\nms %s 3 s c\r\nabc\r\n" % ((key("ms_s"),) * 2),
         b"HD s2\r\nHD s3 c1\r\n"),
    case("md_unused_flag", b"md %s v\r\n" % key("md_unused_flag"), b"NF\r\n"),
    case("ma_unused_flag", b"ma %s s\r\n" % key("ma_unused_flag"), b"NF\r\n"),
    case("mg_E_on_create", b"mg %s N30 E12345 c v\r\n" % key("mg_E_on_create"), b"VA 0 c12345 W\r\n\r\n", rename=False),
    case("ms_c_on_EX", b"ms %s 3 E5 c\r\nabc\r\nms %s 3 C1 c\r\nabc\r\n" % ((key("ms_c_on_EX"),) * 2),
         b"HD c5\r\nEX c0\r\n",
         rename=False),
    # -- a multiget of 18,725 keys in one 300 KB line: answered in full
    case("multiget_18725_keys", b"get " + b" ".join(b"key:%012d" % i for i in range(18725)) + b"\r\n",
         b"END\r\n"),
    # -- a value over -I: memcached reads the whole body, then answers
    case("text_value_over_I", (b"set %s 0 0 %d\r\n" % (key("text_value_over_I"), BIG),
                               b"x" * BIG + b"\r\n"),
         b"<pause>SERVER_ERROR object too large for cache\r\n"),
    case("meta_value_over_I", (b"ms k_meta_big %d\r\n" % BIG, b"x" * BIG + b"\r\n"),
         b"<pause>SERVER_ERROR object too large for cache\r\n"),
    # -- a refused set unlinks the key's old value (no stale read after a
    # failed set); a refused cas or an ms append keeps it
    case("text_over_I_drops_old",
         (b"set k_drop 0 0 1\r\nA\r\n", b"set k_drop 0 0 %d\r\n" % BIG,
          b"x" * BIG + b"\r\nget k_drop\r\n"),
         b"STORED\r\n<pause><pause>SERVER_ERROR object too large for cache\r\nEND\r\n"),
    case("text_cas_over_I_keeps_old",
         (b"set k_keep 0 0 1\r\nA\r\n", b"cas k_keep 0 0 %d 1\r\n" % BIG,
          b"x" * BIG + b"\r\nget k_keep\r\n"),
         b"STORED\r\n<pause><pause>SERVER_ERROR object too large for cache\r\nVALUE k_keep 0 1\r\nA\r\nEND\r\n"),
    case("meta_replace_over_I_drops_old",
         (b"ms k_mdrop 1\r\nA\r\n", b"ms k_mdrop %d MR\r\n" % BIG,
          b"x" * BIG + b"\r\nmg k_mdrop v\r\n"),
         b"HD\r\n<pause><pause>SERVER_ERROR object too large for cache\r\nEN\r\n"),
    case("binary_value_over_I",
         (binproto.pack("set", b"k_bin_big", binproto.store_extras(), b"x" * BIG)[:24 + 8 + 9], b"x" * BIG),
         b"<pause>" + BIN_TOO_LARGE, binary=True),
    # -- binary protocol (the random stream in test_differential.py covers more)
    case("bin_version", binproto.pack("version"), bin_reply("version", value=b"1.6.45"),
         binary=True),
    case("bin_add_existing", binproto.pack("set", b"k_bin_add", binproto.store_extras(), b"v")
         + binproto.pack("add", b"k_bin_add", binproto.store_extras(), b"v"),
         bin_reply("set", cas=1) + bin_reply("add", binproto.EEXISTS, value=b"Data exists for key."),
         binary=True),
    case("bin_incr_non_numeric", binproto.pack("set", b"k_bin_nn", binproto.store_extras(), b"abc")
         + binproto.pack("incr", b"k_bin_nn", binproto.arith_extras(1)),
         bin_reply("set", cas=1) + bin_reply("incr", binproto.BADVAL,
                                             value=b"Non-numeric server-side value for incr or decr"),
         binary=True),
    case("bin_decr_floor", binproto.pack("decr", b"k_bin_dz", binproto.arith_extras(5, 3))
         + binproto.pack("decr", b"k_bin_dz", binproto.arith_extras(5, 3)),
         bin_reply("decr", cas=1, value=struct.pack(">Q", 3))
         + bin_reply("decr", cas=2, value=struct.pack(">Q", 0)), binary=True),
    # the sequences of memcached's own binary tests: every opcode, quiet
    # variants, error statuses (hardcached's answers matched 1.6.45's already)
    case("bin_set_get", binproto.pack("set", BK("a"), binproto.store_extras(5), b"hi") + binproto.pack("get", BK("a")) + binproto.pack("getk", BK("a")),
         bin_resp("set", cas=1) + bin_resp("get", extras=b'\x00\x00\x00\x05', value=b'hi', cas=1) + bin_resp("getk", key=b'bs_a', extras=b'\x00\x00\x00\x05', value=b'hi', cas=1), binary=True),
    case("bin_getq_miss_hit", binproto.pack("getq", BK("nope")) + binproto.pack("set", BK("b"), binproto.store_extras(), b"v") + binproto.pack("getq", BK("b")) + binproto.pack("getkq", BK("b")) + binproto.pack("getkq", BK("nope")),
         bin_resp("set", cas=1) + bin_resp("getq", extras=b'\x00\x00\x00\x00', value=b'v', cas=1) + bin_resp("getkq", key=b'bs_b', extras=b'\x00\x00\x00\x00', value=b'v', cas=1), binary=True),
    case("bin_add_existing", binproto.pack("set", BK("c"), binproto.store_extras(), b"v") + binproto.pack("add", BK("c"), binproto.store_extras(), b"w") + binproto.pack("addq", BK("c"), binproto.store_extras(), b"w"),
         bin_resp("set", cas=1) + bin_resp("add", status=binproto.EEXISTS, value=b'Data exists for key.') + bin_resp("addq", status=binproto.EEXISTS, value=b'Data exists for key.'), binary=True),
    case("bin_add_new_q", binproto.pack("addq", BK("d"), binproto.store_extras(), b"w") + binproto.pack("get", BK("d")),
         bin_resp("get", extras=b'\x00\x00\x00\x00', value=b'w', cas=1), binary=True),
    case("bin_replace_missing", binproto.pack("replace", BK("e"), binproto.store_extras(), b"v") + binproto.pack("replaceq", BK("e"), binproto.store_extras(), b"v"),
         bin_resp("replace", status=binproto.ENOENT, value=b'Not found') + bin_resp("replaceq", status=binproto.ENOENT, value=b'Not found'), binary=True),
    case("bin_delete", binproto.pack("delete", BK("f")) + binproto.pack("set", BK("f"), binproto.store_extras(), b"v") + binproto.pack("delete", BK("f")) + binproto.pack("deleteq", BK("f")),
         bin_resp("delete", status=binproto.ENOENT, value=b'Not found') + bin_resp("set", cas=1) + bin_resp("delete") + bin_resp("deleteq", status=binproto.ENOENT, value=b'Not found'), binary=True),
    case("bin_deleteq_hit", binproto.pack("set", BK("f2"), binproto.store_extras(), b"v") + binproto.pack("deleteq", BK("f2")) + binproto.pack("get", BK("f2")),
         bin_resp("set", cas=1) + bin_resp("get", status=binproto.ENOENT, value=b'Not found'), binary=True),
    case("bin_delete_cas", binproto.pack("set", BK("f3"), binproto.store_extras(), b"v") + binproto.pack("delete", BK("f3"), cas=12345),
         bin_resp("set", cas=1) + bin_resp("delete", status=binproto.EEXISTS, value=b'Data exists for key.'), binary=True),
    case("bin_incr_init", binproto.pack("incr", BK("g"), binproto.arith_extras(1, 5)) + binproto.pack("incr", BK("g"), binproto.arith_extras(10, 5)) + binproto.pack("decr", BK("g"), binproto.arith_extras(100, 5)),
         bin_resp("incr", value=b'\x00\x00\x00\x00\x00\x00\x00\x05', cas=1) + bin_resp("incr", value=b'\x00\x00\x00\x00\x00\x00\x00\x0f', cas=2) + bin_resp("decr", value=b'\x00\x00\x00\x00\x00\x00\x00\x00', cas=3), binary=True),
    case("bin_incr_noinit", binproto.pack("incr", BK("g2"), binproto.arith_extras(1, 5, 0xffffffff)) + binproto.pack("decr", BK("g2"), binproto.arith_extras(1, 5, 0xffffffff)),
         bin_resp("incr", status=binproto.ENOENT, value=b'Not found') + bin_resp("decr", status=binproto.ENOENT, value=b'Not found'), binary=True),
    case("bin_incr_q", binproto.pack("incrq", BK("g3"), binproto.arith_extras(1, 5)) + binproto.pack("decrq", BK("g3"), binproto.arith_extras(1)) + binproto.pack("get", BK("g3")),
         bin_resp("get", extras=b'\x00\x00\x00\x00', value=b'4', cas=1), binary=True),
    case("bin_incr_wrap", binproto.pack("set", BK("g4"), binproto.store_extras(), b"18446744073709551615") + binproto.pack("incr", BK("g4"), binproto.arith_extras(2)),
         bin_resp("set", cas=1) + bin_resp("incr", value=b'\x00\x00\x00\x00\x00\x00\x00\x01', cas=2), binary=True),
    case("bin_incr_nonnum", binproto.pack("set", BK("g5"), binproto.store_extras(), b"abc") + binproto.pack("incr", BK("g5"), binproto.arith_extras(1)) + binproto.pack("decr", BK("g5"), binproto.arith_extras(1)),
         bin_resp("set", cas=1) + bin_resp("incr", status=binproto.BADVAL, value=b'Non-numeric server-side value for incr or decr') + bin_resp("decr", status=binproto.BADVAL, value=b'Non-numeric server-side value for incr or decr'), binary=True),
    case("bin_incr_cas", binproto.pack("incr", BK("g6"), binproto.arith_extras(1, 5)) + binproto.pack("incr", BK("g6"), binproto.arith_extras(1), cas=999),
         bin_resp("incr", value=b'\x00\x00\x00\x00\x00\x00\x00\x05', cas=1) + bin_resp("incr", status=binproto.EEXISTS, value=b'Data exists for key.'), binary=True),
    case("bin_append", binproto.pack("append", BK("h"), b"", b"x") + binproto.pack("set", BK("h"), binproto.store_extras(), b"a") + binproto.pack("append", BK("h"), b"", b"b") + binproto.pack("prepend", BK("h"), b"", b"c") + binproto.pack("get", BK("h")),
         bin_resp("append", status=binproto.NOT_STORED, value=b'Not stored.') + bin_resp("set", cas=1) + bin_resp("append", cas=2) + bin_resp("prepend", cas=3) + bin_resp("get", extras=b'\x00\x00\x00\x00', value=b'cab', cas=3), binary=True),
    case("bin_appendq", binproto.pack("appendq", BK("h2"), b"", b"x") + binproto.pack("set", BK("h2"), binproto.store_extras(), b"a") + binproto.pack("appendq", BK("h2"), b"", b"b") + binproto.pack("prependq", BK("h2"), b"", b"c") + binproto.pack("get", BK("h2")),
         bin_resp("appendq", status=binproto.NOT_STORED, value=b'Not stored.') + bin_resp("set", cas=1) + bin_resp("get", extras=b'\x00\x00\x00\x00', value=b'cab', cas=2), binary=True),
    case("bin_append_cas", binproto.pack("set", BK("h3"), binproto.store_extras(), b"a") + binproto.pack("append", BK("h3"), b"", b"b", cas=77),
         bin_resp("set", cas=1) + bin_resp("append", status=binproto.EEXISTS, value=b'Data exists for key.'), binary=True),
    case("bin_cas_set", binproto.pack("set", BK("i"), binproto.store_extras(), b"a", cas=5) + binproto.pack("set", BK("i"), binproto.store_extras(), b"a") + binproto.pack("set", BK("i"), binproto.store_extras(), b"b", cas=999) + binproto.pack("setq", BK("i"), binproto.store_extras(), b"b", cas=999),
         bin_resp("set", status=binproto.ENOENT, value=b'Not found') + bin_resp("set", cas=1) + bin_resp("set", status=binproto.EEXISTS, value=b'Data exists for key.') + bin_resp("setq", status=binproto.EEXISTS, value=b'Data exists for key.'), binary=True),
    case("bin_replace_cas", binproto.pack("set", BK("i2"), binproto.store_extras(), b"a") + binproto.pack("replace", BK("i2"), binproto.store_extras(), b"b", cas=999) + binproto.pack("add", BK("i2"), binproto.store_extras(), b"b", cas=1),
         bin_resp("set", cas=1) + bin_resp("replace", status=binproto.EEXISTS, value=b'Data exists for key.') + bin_resp("add", status=binproto.EEXISTS, value=b'Data exists for key.'), binary=True),
    case("bin_touch", binproto.pack("touch", BK("j"), struct.pack(">I", 10)) + binproto.pack("set", BK("j"), binproto.store_extras(), b"v") + binproto.pack("touch", BK("j"), struct.pack(">I", 10)),
         bin_resp("touch", status=binproto.ENOENT, value=b'Not found') + bin_resp("set", cas=1) + bin_resp("touch", extras=b'\x00\x00\x00\x00', cas=1), binary=True),
    case("bin_gat", binproto.pack("gat", BK("j2"), struct.pack(">I", 10)) + binproto.pack("set", BK("j2"), binproto.store_extras(3), b"v") + binproto.pack("gat", BK("j2"), struct.pack(">I", 10)) + binproto.pack("gatk", BK("j2"), struct.pack(">I", 10)) + binproto.pack("gatq", BK("j2"), struct.pack(">I", 10)) + binproto.pack("gatkq", BK("j2"), struct.pack(">I", 10)) + binproto.pack("gatq", BK("nope"), struct.pack(">I", 10)) + binproto.pack("gatkq", BK("nope"), struct.pack(">I", 10)),
         bin_resp("gat", status=binproto.ENOENT, value=b'Not found') + bin_resp("set", cas=1) + bin_resp("gat", extras=b'\x00\x00\x00\x03', value=b'v', cas=1) + bin_resp("gatk", key=b'bs_j2', extras=b'\x00\x00\x00\x03', value=b'v', cas=1) + bin_resp("gatq", extras=b'\x00\x00\x00\x03', value=b'v', cas=1) + bin_resp("gatkq", key=b'bs_j2', extras=b'\x00\x00\x00\x03', value=b'v', cas=1), binary=True),
    case("bin_flush", binproto.pack("set", BK("k"), binproto.store_extras(), b"v") + binproto.pack("flush") + binproto.pack("get", BK("k")),
         bin_resp("set", cas=1) + bin_resp("flush") + bin_resp("get", status=binproto.ENOENT, value=b'Not found'), binary=True),
    case("bin_flushq", binproto.pack("set", BK("k2"), binproto.store_extras(), b"v") + binproto.pack("flushq") + binproto.pack("get", BK("k2")),
         bin_resp("set", cas=1) + bin_resp("get", status=binproto.ENOENT, value=b'Not found'), binary=True),
    case("bin_flush_delay", binproto.pack("flush", extras=struct.pack(">I", 0)),
         bin_resp("flush"), binary=True),
    case("bin_setq", binproto.pack("setq", BK("l"), binproto.store_extras(), b"v") + binproto.pack("get", BK("l")),
         bin_resp("get", extras=b'\x00\x00\x00\x00', value=b'v', cas=1), binary=True),
    case("bin_get_no_key", binproto.pack("get"),
         bin_resp("get", status=binproto.EINVAL, value=b'Invalid arguments') + b"<closed>", binary=True),
    case("bin_set_no_extras", binproto.pack("set", BK("m"), b"", b"v"),
         bin_resp("set", status=binproto.EINVAL, value=b'Invalid arguments') + b"<closed>", binary=True),
    case("bin_get_with_extras", binproto.pack("get", BK("m"), b"xxxx"),
         bin_resp("get", status=binproto.EINVAL, value=b'Invalid arguments') + b"<closed>", binary=True),
    case("bin_get_with_value", binproto.pack("get", BK("m"), b"", b"v"),
         bin_resp("get", status=binproto.EINVAL, value=b'Invalid arguments') + b"<closed>", binary=True),
    case("bin_noop_with_key", binproto.pack("noop", BK("m")),
         bin_resp("noop", status=binproto.EINVAL, value=b'Invalid arguments') + b"<closed>", binary=True),
    case("bin_version_with_body", binproto.pack("version", b"", b"", b"x"),
         bin_resp("version", status=binproto.EINVAL, value=b'Invalid arguments') + b"<closed>", binary=True),
    case("bin_incr_bad_extras", binproto.pack("incr", BK("m"), b"x" * 8),
         bin_resp("incr", status=binproto.EINVAL, value=b'Invalid arguments') + b"<closed>", binary=True),
    case("bin_touch_no_extras", binproto.pack("touch", BK("m")),
         bin_resp("touch", status=binproto.EINVAL, value=b'Invalid arguments') + b"<closed>", binary=True),
    case("bin_delete_with_extras", binproto.pack("delete", BK("m"), b"xxxx"),
         bin_resp("delete", status=binproto.EINVAL, value=b'Invalid arguments') + b"<closed>", binary=True),
    case("bin_key_251", binproto.pack("set", b"k" * 251, binproto.store_extras(), b"v"),
         bin_resp("set", status=binproto.EINVAL, value=b'Invalid arguments') + b"<closed>", binary=True),
    case("bin_opaque_echo", binproto.pack("get", BK("nope"), opaque=0x12345678) + binproto.pack("set", BK("o"), binproto.store_extras(), b"v", opaque=0xdeadbeef),
         bin_resp("get", status=binproto.ENOENT, value=b'Not found', opaque=0x12345678) + bin_resp("set", cas=1, opaque=0xdeadbeef), binary=True),
    case("bin_empty_value", binproto.pack("set", BK("q"), binproto.store_extras(), b"") + binproto.pack("get", BK("q")),
         bin_resp("set", cas=1) + bin_resp("get", extras=b'\x00\x00\x00\x00', cas=1), binary=True),
    case("bin_flags", binproto.pack("set", BK("r"), binproto.store_extras(0xdeadbeef), b"v") + binproto.pack("get", BK("r")),
         bin_resp("set", cas=1) + bin_resp("get", extras=b'\xde\xad\xbe\xef', value=b'v', cas=1), binary=True),
    case("bin_decr_floor", binproto.pack("set", BK("s"), binproto.store_extras(), b"3") + binproto.pack("decr", BK("s"), binproto.arith_extras(10)),
         bin_resp("set", cas=1) + bin_resp("decr", value=b'\x00\x00\x00\x00\x00\x00\x00\x00', cas=2), binary=True),
    case("bin_incr_len_grow", binproto.pack("set", BK("t"), binproto.store_extras(), b"9") + binproto.pack("incr", BK("t"), binproto.arith_extras(1)) + binproto.pack("get", BK("t")),
         bin_resp("set", cas=1) + bin_resp("incr", value=b'\x00\x00\x00\x00\x00\x00\x00\n', cas=2) + bin_resp("get", extras=b'\x00\x00\x00\x00', value=b'10', cas=2), binary=True),
    case("bin_incr_spaces", binproto.pack("set", BK("t2"), binproto.store_extras(), b"10 ") + binproto.pack("incr", BK("t2"), binproto.arith_extras(1)),
         bin_resp("set", cas=1) + bin_resp("incr", value=b'\x00\x00\x00\x00\x00\x00\x00\x0b', cas=2), binary=True),
    case("bin_gat_miss", binproto.pack("gat", BK("nope2"), struct.pack(">I", 0)) + binproto.pack("gatk", BK("nope2"), struct.pack(">I", 0)),
         bin_resp("gat", status=binproto.ENOENT, value=b'Not found') + bin_resp("gatk", status=binproto.ENOENT, key=b'bs_nope2'), binary=True),
    case("bin_touch_q", binproto.pack(0x1c, BK("nope3"), struct.pack(">I", 0)),
         bin_resp("touch", status=binproto.ENOENT, value=b'Not found'), binary=True),
    case("bin_getk_miss", binproto.pack("getk", BK("nope4")),
         bin_resp("getk", status=binproto.ENOENT, key=b'bs_nope4'), binary=True),
]

# Where hardcached differs on purpose: each row's README entry ("Where
# hardcached deliberately differs"), 1.6.45's reply and hardcached's.
Deliberate = collections.namedtuple("Deliberate", "name send want145 want readme binary")
HANG = 1.0      # how long a row waits for a reply 1.6.45 never sends
UNKNOWN = b"Unknown command"
LONG = b"k" * 251
MISSES = b"get " + b" ".join(b"k_miss%d" % i for i in range(300)) + b" "   # over 2 KiB
DELIBERATE = [
    Deliberate("store_control_key", (b"set a\x01b 0 0 1\r\nx\r\nget a\x01b\r\n",),
               b"STORED\r\nVALUE a\x01b 0 1\r\nx\r\nEND\r\n", CE + b"END\r\n",
               "storing a key with control characters", False),
    Deliberate("get_key_too_long", (b"get %s\r\n" % (b"k" * 251),), CE + b"\r\n", CE,
               "`get` of a key over 250 bytes", False),
    # a line over 2 KiB is served in pieces: a bad key in a later piece
    # gets the error at the line's end and the connection goes on
    Deliberate("get_pieces_key_251", (MISSES, LONG + b" k_x\r\nset k_gp 0 0 1\r\nx\r\n"),
               b"<pause>" + CE + b"\r\nSTORED\r\n", b"<pause>" + CE + b"STORED\r\n",
               "`get` of a key over 250 bytes", False),
    Deliberate("get_pieces_key_arriving", (MISSES + b"y" * 300, b"y" * 9 + b" k_x\r\n"),
               b"<pause>" + CE + b"\r\n", b"<pause>" + CE,
               "`get` of a key over 250 bytes", False),
    Deliberate("get_pieces_key_251_after_hit",
               (b"set k_gh 0 0 1\r\nx\r\nget k_gh " + MISSES[4:], LONG + b"\r\nset k_gh 0 0 1\r\ny\r\n"),
               b"STORED\r\n<pause>" + CE + b"\r\nSTORED\r\n",
               b"STORED\r\nVALUE k_gh 0 1\r\nx\r\n<pause>" + CE + b"STORED\r\n",
               "retrieval line", False),
    Deliberate("bin_unknown_opcode_with_body", (binproto.pack(0x50, b"k", value=b"xx"),),
               bin_reply(0x50, binproto.UNKNOWN, UNKNOWN) + b"<no reply>",
               bin_reply(0x50, binproto.UNKNOWN, UNKNOWN), "binary request whose body is shorter", True),
    Deliberate("bin_verbosity", (binproto.pack(0x1b, extras=struct.pack(">I", 1)),),
               bin_reply(0x1b, binproto.UNKNOWN, UNKNOWN) + b"<no reply>",
               bin_reply(0x1b, binproto.UNKNOWN, UNKNOWN), "binary request whose body is shorter", True),
]


def session(pair, impl, c):
    reply = converse(pair.get(impl, c.args, c.fresh), c.send, c.binary)
    if not c.rename:
        return reply
    return rename_bin_cas(reply) if c.binary else rename_cas(reply)


def param(c):
    """The case, xfail (strict) while hardcached differs."""
    marks = [] if c.why is None else [pytest.mark.xfail(
        strict=True, raises=AssertionError, reason="issue 17: " + c.why)]
    return pytest.param(c, id=c.name, marks=marks)


@pytest.mark.parametrize("c", [param(c) for c in CASES])
def test_same_reply_as_1_6_45(pair, c):
    ref = session(pair, "1.6.45", c)
    if ref != c.want:
        raise ReferenceMoved("%s: 1.6.45 now answers %r, the case holds %r" % (c.name, ref, c.want))
    assert session(pair, "hardcached", c) == c.want


@pytest.mark.parametrize("d", DELIBERATE, ids=[d.name for d in DELIBERATE])
def test_deliberate_difference(pair, d):
    """1.6.45 answers as the row says, and hardcached as README documents."""
    with open(README) as f:
        assert "| " + d.readme in f.read(), "README no longer lists: " + d.readme
    assert converse(pair.get("1.6.45"), d.send, d.binary, HANG) == d.want145
    assert converse(pair.get("hardcached"), d.send, d.binary, HANG) == d.want


@pytest.mark.parametrize("flag", ["-V", "-h"])
def test_first_line_of_version_and_help(flag):
    """Tools read the first line of `memcached -V` / `-h` for the version."""
    def first_words(binary):
        out = subprocess.run([binary, flag], capture_output=True, timeout=10,
                             stdin=subprocess.DEVNULL).stdout
        return out.split(b"\n", 1)[0].split()[:2]
    if first_words(hcutil.memcached_145()) != [b"memcached", b"1.6.45"]:
        raise ReferenceMoved("memcached 1.6.45 %s no longer starts 'memcached 1.6.45'" % flag)
    assert first_words(hcutil.HC_BIN) == [b"memcached", b"1.6.45"]


def test_me_size_is_the_items_own(pair):
    """`me` size= is each server's own item size, header included: 70 bytes
    in 1.6.45 for this item, fewer in hardcached (README, deliberate)."""
    with open(README) as f:
        assert "| `me` size=" in f.read()
    send = (b"set k_me_size 0 0 2\r\nhi\r\nme k_me_size\r\n",)
    sizes = {}
    for impl in ("1.6.45", "hardcached"):
        m = re.search(rb" size=(\d+)\r\n$", converse(pair.get(impl), send))
        assert m, impl
        sizes[impl] = int(m.group(1))
    if sizes["1.6.45"] != 70:
        raise ReferenceMoved("1.6.45's me size= is now %d" % sizes["1.6.45"])
    assert 2 + len(b"k_me_size") <= sizes["hardcached"] < 70
