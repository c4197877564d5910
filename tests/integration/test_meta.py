"""Meta protocol (mg ms md ma mn me): flags, modes, quiet mode, opaque,
base64 keys, stale/win/recache, return codes and errors. Checked against
memcached 1.6.18; hardcached_only where it follows today's protocol.txt
(E, md x, vivifying append, base64 keys echoed encoded)."""
import base64
import time

import pytest


@pytest.fixture
def c(server):
    cl = server.client()
    yield cl
    cl.close()


def test_mn_and_basic_set_get(c):
    c.cmd(b"mn\r\n", b"MN\r\n")
    c.cmd(b"ms mt:a 2\r\nhi\r\n", b"HD\r\n")
    c.cmd(b"mg mt:a\r\n", b"HD\r\n")
    c.cmd(b"mg mt:a v\r\n", b"VA 2\r\nhi\r\n")
    c.cmd(b"mg mt:none\r\n", b"EN\r\n")
    c.cmd(b"mg mt:none v\r\n", b"EN\r\n")


def test_mg_miss_echoes_key_and_opaque(c):
    """memcached 1.6.18 returns k and O on a miss too, in request order
    (found by test_differential); q still silences the miss."""
    c.cmd(b"mg mt:none s O4 f\r\n", b"EN O4\r\n")
    c.cmd(b"mg mt:none k O5 v\r\n", b"EN kmt:none O5\r\n")
    c.cmd(b"mg mt:none O6 k\r\n", b"EN O6 kmt:none\r\n")
    c.cmd(b"mg mt:none q O7 k\r\nmn\r\n", b"MN\r\n")


def test_mg_return_flags_in_order(c):
    c.cmd(b"ms mt:f 2 T0 F5\r\nhi\r\n", b"HD\r\n")
    c.send(b"mg mt:f s v f t k O123 h\r\n")
    assert c.readline() == b"VA 2 s2 f5 t-1 kmt:f O123 h0\r\n"
    c.expect(b"hi\r\n")
    c.cmd(b"mg mt:f h u\r\n", b"HD h1\r\n")


def test_mg_cas_matches_gets(c):
    c.send(b"ms mt:c 1 c\r\nx\r\n")
    line = c.readline()
    assert line.startswith(b"HD c")
    cas = line[4:-2]
    c.cmd(b"gets mt:c\r\n", b"VALUE mt:c 0 1 %s\r\nx\r\nEND\r\n" % cas)
    c.cmd(b"mg mt:c c\r\n", b"HD c%s\r\n" % cas)


def test_quiet_mode(c):
    c.cmd(b"ms mt:q 1\r\nx\r\n", b"HD\r\n")
    c.cmd(b"mg mt:none q v\r\nmg mt:q q k v\r\nmn\r\n", b"VA 1 kmt:q\r\nx\r\nMN\r\n")
    c.cmd(b"ms mt:q 1 q\r\ny\r\nms mt:q 1 q ME\r\ny\r\nmn\r\n", b"NS\r\nMN\r\n")
    c.cmd(b"md mt:none q\r\nmd mt:q q\r\nmn\r\n", b"NF\r\nMN\r\n")
    c.cmd(b"ma mt:none q\r\nmn\r\n", b"NF\r\nMN\r\n")


def test_ttl_and_touch(c):
    c.cmd(b"ms mt:t 1 T100\r\nx\r\n", b"HD\r\n")
    c.cmd(b"mg mt:t t\r\n", b"HD t100\r\n")
    c.cmd(b"mg mt:t T30 t\r\n", b"HD t30\r\n")
    c.cmd(b"ms mt:t2 1 T1\r\nx\r\n", b"HD\r\n")
    time.sleep(2.1)
    c.cmd(b"mg mt:t2\r\n", b"EN\r\n")


def test_ms_modes(c):
    c.cmd(b"ms mt:m 1 ME\r\na\r\n", b"HD\r\n")
    c.cmd(b"ms mt:m 1 ME\r\nb\r\n", b"NS\r\n")
    c.cmd(b"ms mt:m 1 MA\r\n>\r\n", b"HD\r\n")
    c.cmd(b"ms mt:m 1 MP\r\n<\r\n", b"HD\r\n")
    c.cmd(b"mg mt:m v\r\n", b"VA 3\r\n<a>\r\n")
    c.cmd(b"ms mt:m 1 MR\r\nr\r\n", b"HD\r\n")
    c.cmd(b"ms mt:none 1 MR\r\nr\r\n", b"NS\r\n")
    c.cmd(b"ms mt:none 1 MA\r\nr\r\n", b"NS\r\n")
    c.cmd(b"ms mt:m 1 MS\r\ns\r\n", b"HD\r\n")
    c.cmd(b"ms mt:m 1 MX\r\nx\r\n", b"CLIENT_ERROR invalid mode for ms M token\r\n")


def test_ms_cas(c):
    c.send(b"ms mt:cas 1 c\r\nx\r\n")
    cas = int(c.readline()[4:-2])
    c.cmd(b"ms mt:cas 1 C%d\r\ny\r\n" % (cas + 1), b"EX\r\n")
    c.cmd(b"ms mt:none 1 C5\r\ny\r\n", b"NF\r\n")
    c.cmd(b"ms mt:cas 1 C%d\r\ny\r\n" % cas, b"HD\r\n")
    c.cmd(b"mg mt:cas v\r\n", b"VA 1\r\ny\r\n")


def test_ms_opaque_key_b(c):
    c.cmd(b"ms bXQ6Yg== 1 k O9 b\r\nx\r\n", b"HD kbXQ6Yg== b O9\r\n")
    c.cmd(b"mg mt:b v\r\n", b"VA 1\r\nx\r\n")
    c.cmd(b"mg bXQ6Yg== b v\r\n", b"VA 1\r\nx\r\n")
    c.cmd(b"mg !!!! b\r\n", b"CLIENT_ERROR error decoding key\r\n")
    c.cmd(b"ms mt:b 1 b\r\nx\r\n", b"CLIENT_ERROR error decoding key\r\n")


@pytest.mark.hardcached_only
def test_binary_key_round_trip(c):
    """A key with spaces and NULs, only reachable through base64.
    memcached 1.6.18 returns the k flag decoded; protocol.txt (and
    hardcached) return it as sent, base64, with b."""
    raw = b"a key\x00with\r\nbytes"
    k = base64.b64encode(raw)
    c.cmd(b"ms %s 1 b\r\nx\r\n" % k, b"HD\r\n")
    c.cmd(b"mg %s b k v\r\n" % k, b"VA 1 k%s b\r\nx\r\n" % k)


def test_md(c):
    c.cmd(b"md mt:none\r\n", b"NF\r\n")
    c.cmd(b"ms mt:d 1\r\nx\r\n", b"HD\r\n")
    c.cmd(b"md mt:d C1\r\n", b"EX\r\n")
    c.cmd(b"md mt:d k O5\r\n", b"HD kmt:d O5\r\n")
    c.cmd(b"mg mt:d\r\n", b"EN\r\n")


def test_invalidate_stale_win(c):
    """md I marks stale; the first mg wins (W), later ones see Z; a set
    with an older CAS and I stores but stays stale; a plain set clears."""
    c.send(b"ms mt:s 1 T30 c\r\nx\r\n")
    cas = int(c.readline()[4:-2])
    c.cmd(b"md mt:s I T30\r\n", b"HD\r\n")
    c.send(b"mg mt:s v c t\r\n")
    line = c.readline()
    assert line.endswith(b" t30 X W\r\n"), line
    newcas = int(line.split()[2][1:])
    assert newcas != cas
    c.expect(b"x\r\n")
    c.cmd(b"mg mt:s\r\n", b"HD Z X\r\n")
    c.cmd(b"ms mt:s 1 I C%d\r\ny\r\n" % (newcas + 1000), b"EX\r\n")
    c.cmd(b"ms mt:s 1 I C%d\r\ny\r\n" % (newcas - 1), b"HD\r\n")
    c.cmd(b"mg mt:s v\r\n", b"VA 1 Z X\r\ny\r\n")
    c.cmd(b"ms mt:s 1\r\nz\r\n", b"HD\r\n")
    c.cmd(b"mg mt:s v\r\n", b"VA 1\r\nz\r\n")


def test_recache_and_vivify(c):
    c.cmd(b"ms mt:r 1 T100\r\nx\r\n", b"HD\r\n")
    c.cmd(b"mg mt:r R30\r\n", b"HD\r\n")
    c.cmd(b"mg mt:r R200\r\n", b"HD W\r\n")
    c.cmd(b"mg mt:r R200\r\n", b"HD Z\r\n")
    c.cmd(b"mg mt:viv v N30 q\r\n", b"VA 0 W\r\n\r\n")
    c.cmd(b"mg mt:viv v N30\r\n", b"VA 0 Z\r\n\r\n")
    c.cmd(b"ms mt:viv 1\r\nv\r\n", b"HD\r\n")
    c.cmd(b"mg mt:viv v N30\r\n", b"VA 1\r\nv\r\n")


def test_ma(c):
    c.cmd(b"ma mt:n\r\n", b"NF\r\n")
    c.cmd(b"ma mt:n N0 J10 v\r\n", b"VA 2\r\n10\r\n")
    c.cmd(b"ma mt:n v\r\n", b"VA 2\r\n11\r\n")
    c.cmd(b"ma mt:n D5 v t\r\n", b"VA 2 t-1\r\n16\r\n")
    c.cmd(b"ma mt:n MD D100 v\r\n", b"VA 1\r\n0\r\n")
    c.cmd(b"ma mt:n M+ D3 v\r\n", b"VA 1\r\n3\r\n")
    c.cmd(b"ma mt:n M- v\r\n", b"VA 1\r\n2\r\n")
    c.cmd(b"ma mt:n\r\n", b"HD\r\n")
    c.cmd(b"ma mt:n q v\r\nmn\r\n", b"MN\r\n")
    c.cmd(b"ma mt:n C1 v\r\n", b"EX\r\n")
    c.cmd(b"ma mt:n k O1\r\n", b"HD kmt:n O1\r\n")
    c.cmd(b"ma mt:n T100 t v\r\n", b"VA 1 t100\r\n6\r\n")
    c.cmd(b"ma mt:n Mx v\r\n", b"CLIENT_ERROR invalid mode for ma M token\r\n")
    c.cmd(b"ma mt:n Dabc v\r\n", b"CLIENT_ERROR invalid or duplicate flag\r\n")
    c.cmd(b"ms mt:nn 1\r\nx\r\n", b"HD\r\n")
    c.cmd(b"ma mt:nn v\r\n",
          b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n")


def test_me(c):
    c.cmd(b"me mt:none\r\n", b"EN\r\n")
    c.cmd(b"ms mt:e 1\r\nx\r\n", b"HD\r\n")
    c.send(b"me mt:e\r\n")
    line = c.readline()
    assert line.startswith(b"ME mt:e exp=-1 la=") and b" fetch=no " in line


@pytest.mark.parametrize("line,want", [
    (b"mg mt:a zz\r\n", b"CLIENT_ERROR invalid flag\r\n"),
    (b"mg mt:a v v\r\n", b"CLIENT_ERROR duplicate flag\r\n"),
    (b"mg mt:a Oa Ob\r\n", b"CLIENT_ERROR duplicate flag\r\n"),
    (b"mg mt:a Ttwo\r\n", b"CLIENT_ERROR bad token in command line format\r\n"),
    (b"mg mt:a O" + b"1" * 33 + b"\r\n", b"CLIENT_ERROR opaque token too long\r\n"),
    (b"mg " + b"a" * 251 + b" v\r\n", b"CLIENT_ERROR bad command line format\r\n"),
    (b"mg\r\n", b"CLIENT_ERROR bad command line format\r\n"),   # 1.6.45
    (b"md\r\n", b"CLIENT_ERROR bad command line format\r\n"),
    (b"ma\r\n", b"CLIENT_ERROR bad command line format\r\n"),
    (b"me\r\n", b"CLIENT_ERROR bad command line format\r\n"),
    (b"ms mt:a\r\n", b"CLIENT_ERROR bad command line format\r\n"),
    (b"ms mt:a 1 S1\r\nx\r\n", b"CLIENT_ERROR invalid flag\r\n"),
    (b"ms mt:a 1 c c\r\nx\r\n", b"CLIENT_ERROR duplicate flag\r\n"),
    (b"ms mt:a 1 Fabc\r\nx\r\n", b"CLIENT_ERROR bad command line format\r\n"),
    (b"ms mt:a 1 Tabc\r\nx\r\n", b"CLIENT_ERROR bad token in command line format\r\n"),
    (b"mn extra\r\n", b"MN\r\n"),
])
def test_errors(c, bystander, line, want):
    c.cmd(line, want)
    c.cmd(b"mn\r\n", b"MN\r\n")
    bystander.check()


def test_ms_bad_chunk(c):
    c.cmd(b"ms mt:bc 1\r\nxyz\r\n", b"CLIENT_ERROR bad data chunk\r\n")


@pytest.mark.hardcached_only
def test_ms_too_large_answered_once_read(c, bystander):
    """As memcached: the value is read and discarded (nothing buffered),
    then answered."""
    c.send(b"ms mt:big 2000000\r\n" + b"x" * 1000)
    c.nothing_pending(0.3)
    c.send(b"x" * (2000000 - 1000) + b"\r\n")
    c.cmd(b"mn\r\n", b"SERVER_ERROR object too large for cache\r\nMN\r\n")
    bystander.check()


@pytest.mark.hardcached_only
def test_new_flags_E_and_md_x_and_vivifying_append(c):
    """From today's protocol.txt (memcached 1.6.18 lacks them): E sets the
    CAS, md x drops only the value, ms MA N vivifies."""
    c.cmd(b"ms mt:E 1 E12345\r\nx\r\n", b"HD\r\n")
    c.cmd(b"mg mt:E c\r\n", b"HD c12345\r\n")
    c.cmd(b"gets mt:E\r\n", b"VALUE mt:E 0 1 12345\r\nx\r\nEND\r\n")
    c.cmd(b"md mt:E C12345 E777 I\r\n", b"HD\r\n")
    c.cmd(b"mg mt:E c\r\n", b"HD c777 X W\r\n")
    c.cmd(b"ma mt:none2 N0 J5 E99 c v\r\n", b"VA 1 c99\r\n5\r\n")
    c.cmd(b"ms mt:x 1 T0 F7\r\nx\r\n", b"HD\r\n")
    c.cmd(b"md mt:x x\r\n", b"HD\r\n")
    c.cmd(b"mg mt:x v f\r\n", b"VA 0 f7\r\n\r\n")
    c.cmd(b"ms mt:va 1 MA N30\r\nx\r\n", b"HD\r\n")
    c.cmd(b"mg mt:va v\r\n", b"VA 1\r\nx\r\n")


def test_meta_and_classic_share_items(c):
    c.cmd(b"set mt:share 3 0 2\r\nab\r\n", b"STORED\r\n")
    c.cmd(b"mg mt:share f v\r\n", b"VA 2 f3\r\nab\r\n")
    c.cmd(b"ms mt:share 2 F4\r\ncd\r\n", b"HD\r\n")
    c.cmd(b"get mt:share\r\n", b"VALUE mt:share 4 2\r\ncd\r\nEND\r\n")


def _cas_of(c, key):
    c.send(b"mg %s c\r\n" % key)
    line = c.readline()
    assert line.startswith(b"HD c"), line
    return int(line[4:-2])


def test_arith_keeps_stale_state_only_in_place(c):
    """memcached rewrites a number that still fits in place, so the item
    stays stale (X) with its token state (Z: a win was handed out); a
    number that grows gets a new item, which starts afresh (found by
    test_differential). One round trip per command: memcached 1.6.18 also
    copies when an mg reply in the same read still holds the item."""
    c.cmd(b"ms mt:ar 3\r\n100\r\n", b"HD\r\n")
    old = _cas_of(c, b"mt:ar")
    c.cmd(b"ms mt:ar 3\r\n100\r\n", b"HD\r\n")
    c.cmd(b"ms mt:ar 3 I C%d\r\n200\r\n" % old, b"HD\r\n")   # older CAS: stale
    c.cmd(b"mg mt:ar v\r\n", b"VA 3 X W\r\n200\r\n")
    c.cmd(b"decr mt:ar 101\r\n", b"99\r\n")
    c.cmd(b"mg mt:ar v\r\n", b"VA 3 Z X\r\n99 \r\n")
    c.cmd(b"incr mt:ar 1\r\n", b"100\r\n")
    c.cmd(b"mg mt:ar v\r\n", b"VA 3 Z X\r\n100\r\n")
    c.cmd(b"incr mt:ar 900\r\n", b"1000\r\n")          # grows: a new item
    c.cmd(b"mg mt:ar v\r\n", b"VA 4\r\n1000\r\n")


def test_only_mg_hands_out_the_win(c):
    """get, gets, gat and touch of a stale item leave its win for the next
    mg (found by test_differential)."""
    c.cmd(b"ms mt:wn 1\r\na\r\n", b"HD\r\n")
    old = _cas_of(c, b"mt:wn")
    c.cmd(b"ms mt:wn 1\r\nb\r\n", b"HD\r\n")
    c.cmd(b"ms mt:wn 1 I C%d\r\nc\r\n" % old, b"HD\r\n")
    c.cmd(b"get mt:wn\r\n", b"VALUE mt:wn 0 1\r\nc\r\nEND\r\n")
    c.send(b"gets mt:wn\r\n")
    c.read_until(b"END\r\n")
    c.cmd(b"gat 100 mt:wn\r\n", b"VALUE mt:wn 0 1\r\nc\r\nEND\r\n")
    c.cmd(b"touch mt:wn 200\r\n", b"TOUCHED\r\n")
    c.cmd(b"mg mt:wn\r\n", b"HD X W\r\n")
    c.cmd(b"mg mt:wn\r\n", b"HD Z X\r\n")

