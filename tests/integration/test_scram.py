"""SASL SCRAM-SHA-256 (RFC 5802/7677) over the binary protocol: a real
exchange driven from Python (the client side written here with hashlib and
hmac), with plain and "$scram-sha-256$" password-file entries; wrong
passwords, every malformed message, replay and STEP without AUTH refused
and counted; yescrypt-only users kept to PLAIN."""
import base64
import hashlib
import hmac
import os
import subprocess

import pytest

import binproto as bp
import hcutil
from binproto import call
import pylibmc

from test_auth import client_from, login_line

pytestmark = pytest.mark.hardcached_only

MECH = "SCRAM-SHA-256"
CONTINUE = 0x21


def b64(b):
    return base64.b64encode(b).decode()


class Scram:
    """The client side, step by step, so tests can spoil any message."""

    def __init__(self, user, password, gs2="n,,"):
        self.user, self.password, self.gs2 = user, password, gs2
        self.cnonce = b64(os.urandom(18))
        self.bare = "n=%s,r=%s" % (user.replace("=", "=3D").replace(",", "=2C"),
                                   self.cnonce)

    def first(self):
        return (self.gs2 + self.bare).encode()

    def final(self, server_first, nonce=None, cb=None):
        sf = server_first.decode()
        attrs = dict(a.split("=", 1) for a in sf.split(","))
        assert attrs["r"].startswith(self.cnonce) and len(attrs["r"]) > len(self.cnonce)
        salt, it = base64.b64decode(attrs["s"]), int(attrs["i"])
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), salt, it)
        ck = hmac.new(salted, b"Client Key", "sha256").digest()
        stored = hashlib.sha256(ck).digest()
        without = "c=%s,r=%s" % (cb or b64(self.gs2.encode()), nonce or attrs["r"])
        auth = ",".join((self.bare, sf, without)).encode()
        sig = hmac.new(stored, auth, "sha256").digest()
        proof = bytes(a ^ b for a, b in zip(ck, sig))
        sk = hmac.new(salted, b"Server Key", "sha256").digest()
        self.expect = "v=" + b64(hmac.new(sk, auth, "sha256").digest())
        return (without + ",p=" + b64(proof)).encode()


@pytest.fixture(scope="module")
def pwfile(tmp_path_factory):
    d = tmp_path_factory.mktemp("scram")
    run = lambda flag, pw: subprocess.run([hcutil.HC_BIN, flag], input=pw, check=True,
                                          capture_output=True).stdout.strip()
    scram = run("--hash-password-scram", b"s3cret dave\n")
    assert scram.startswith(b"$scram-sha-256$4096$") and b"s3cret" not in scram
    ycrypt = run("--hash-password", b"c0rrect horse\n")
    p = d / "pw"
    p.write_bytes(b"alice:secret\ndave:" + scram + b"\ncarol:" + ycrypt + b"\n"
                  b"odd=na,me:pw")
    return p


@pytest.fixture(scope="module")
def srv(pwfile):
    s = hcutil.Server(["-S", "-Y", str(pwfile)])
    yield s
    s.stop()
    rep = s.sanitizer_report()
    assert not rep, rep.decode(errors="replace")


_addr = [0]


def conn(server):
    _addr[0] += 1
    return client_from(server, "127.1.%d.%d" % (1 + _addr[0] // 250, 1 + _addr[0] % 250))


def login(c, user, password):
    cl = Scram(user, password)
    r = call(c, "sasl_auth", MECH, value=cl.first())
    assert r.status == CONTINUE, r
    r2 = call(c, "sasl_step", MECH, value=cl.final(r.value))
    return cl, r2


@pytest.mark.parametrize("user,pw", [("alice", "secret"), ("dave", "s3cret dave"),
                                     ("odd=na,me", "pw")])
def test_scram_login(srv, user, pw):
    with conn(srv) as c:
        # carol's yescrypt entry cannot do SCRAM: not offered to clients
        # that pick the strongest mechanism, but accepted when asked for
        assert call(c, "sasl_list").value == b"PLAIN"
        assert call(c, "get", "k").status == bp.AUTH_ERROR
    with conn(srv) as c:
        cl, r = login(c, user, pw)
        assert (r.status, r.value.decode()) == (bp.OK, cl.expect)
        assert call(c, "get", "nope").status == bp.ENOENT
        assert call(c, "set", "k", bp.store_extras(), b"v").status == bp.OK


def test_scram_wrong_password_and_counting(srv):
    with conn(srv) as admin:
        admin.cmd(login_line(b"alice", b"secret"), b"STORED\r\n")
        before = admin.stats()
        with conn(srv) as c:
            cl, r = login(c, "alice", "guess")
            assert r.status == bp.AUTH_ERROR
            assert call(c, "get", "k").status == bp.AUTH_ERROR
        after = admin.stats()
    # AUTH and STEP each count as a command; the failed exchange once as an error
    assert int(after["auth_cmds"]) - int(before["auth_cmds"]) == 2 + 0
    assert int(after["auth_errors"]) - int(before["auth_errors"]) == 1


def test_unknown_and_yescrypt_users_fail_at_the_proof(srv):
    # server-first does not tell whether the user exists; yescrypt-only
    # users cannot do SCRAM (PLAIN still works for them)
    for user, pw in (("nobody", "x"), ("carol", "c0rrect horse")):
        with conn(srv) as c:
            cl = Scram(user, pw)
            r1 = call(c, "sasl_auth", MECH, value=cl.first())
            assert r1.status == CONTINUE and b",i=4096" in r1.value
            assert call(c, "sasl_step", MECH, value=cl.final(r1.value)).status == bp.AUTH_ERROR
        with conn(srv) as c:   # the same salt each time for the same name
            r2 = call(c, "sasl_auth", MECH, value=Scram(user, pw).first())
            assert r1.value.split(b",")[1] == r2.value.split(b",")[1]
    with conn(srv) as c:
        r = call(c, "sasl_auth", "PLAIN", value=b"\0carol\0c0rrect horse")
        assert r.status == bp.OK
    with conn(srv) as c:   # PLAIN against a $scram-sha-256$ entry
        assert call(c, "sasl_auth", "PLAIN", value=b"\0dave\0s3cret dave").status == bp.OK
    with conn(srv) as c:
        assert call(c, "sasl_auth", "PLAIN", value=b"\0dave\0wrong").status == bp.AUTH_ERROR


@pytest.mark.parametrize("first", [
    b"p=tls-unique,,n=alice,r=abc",     # channel binding requested
    b"n,a=bob,n=alice,r=abc",           # authzid other than the user
    b"q,,n=alice,r=abc",                # bad GS2 header
    b"n,,n=al=XXice,r=abc",             # bad name escape
    b"n,,n=alice",                      # no nonce
    b"n,,n=alice,r=" + b"x" * 600,      # oversize
    b"",
])
def test_bad_client_first(srv, first):
    with conn(srv) as c:
        assert call(c, "sasl_auth", MECH, value=first).status == bp.AUTH_ERROR
        assert call(c, "get", "k").status == bp.AUTH_ERROR


@pytest.mark.parametrize("spoil", ["nonce", "cb", "b64", "proof-len", "no-proof", "oversize"])
def test_bad_client_final(srv, spoil):
    with conn(srv) as c:
        cl = Scram("alice", "secret")
        r = call(c, "sasl_auth", MECH, value=cl.first())
        assert r.status == CONTINUE
        if spoil == "nonce":
            fin = cl.final(r.value, nonce=cl.cnonce + "forged")
        elif spoil == "cb":
            fin = cl.final(r.value, cb=b64(b"p=tls-unique,,"))
        else:
            fin = cl.final(r.value)
            head, proof = fin.rsplit(b",p=", 1)
            fin = {"b64": head + b",p=" + b"!" + proof[1:],
                   "proof-len": head + b",p=" + b64(b"short").encode(),
                   "no-proof": head,
                   "oversize": head + b",x=" + b"y" * 600 + b",p=" + proof}[spoil]
        assert call(c, "sasl_step", MECH, value=fin).status == bp.AUTH_ERROR
        assert call(c, "get", "k").status == bp.AUTH_ERROR


def test_step_without_auth_and_replay(srv):
    with conn(srv) as c:
        assert call(c, "sasl_step", MECH, value=b"c=biws,r=x,p=" + b64(bytes(32)).encode()
                    ).status == bp.AUTH_ERROR
    # a good final replayed on another connection, or on the same one
    with conn(srv) as c:
        cl = Scram("alice", "secret")
        r = call(c, "sasl_auth", MECH, value=cl.first())
        fin = cl.final(r.value)
        assert call(c, "sasl_step", MECH, value=fin).status == bp.OK
        assert call(c, "sasl_step", MECH, value=fin).status == bp.AUTH_ERROR
    with conn(srv) as c:
        r = call(c, "sasl_auth", MECH, value=cl.first())   # new server nonce
        assert r.status == CONTINUE
        assert call(c, "sasl_step", MECH, value=fin).status == bp.AUTH_ERROR
        assert call(c, "get", "k").status == bp.AUTH_ERROR
    # STEP with another mechanism, and an exchange left open at close
    with conn(srv) as c:
        cl = Scram("alice", "secret")
        r = call(c, "sasl_auth", MECH, value=cl.first())
        assert call(c, "sasl_step", "PLAIN", value=cl.final(r.value)).status == bp.AUTH_ERROR
    with conn(srv) as c:
        call(c, "sasl_auth", MECH, value=Scram("alice", "secret").first())


def test_scram_throttled(pwfile, start_server):
    s = start_server("-S", "-Y", str(pwfile))
    with client_from(s, "127.0.0.1") as c:
        for i in range(3):
            assert login(c, "alice", "guess%d" % i)[1].status == bp.AUTH_ERROR
        # throttled: refused at AUTH, before any server-first
        r = call(c, "sasl_auth", MECH, value=Scram("alice", "secret").first())
        assert r.status == bp.AUTH_ERROR
    with client_from(s, "127.0.0.2") as c:
        assert login(c, "alice", "secret")[1].status == bp.OK
    with client_from(s, "127.0.0.3") as c:
        c.cmd(login_line(b"alice", b"secret"), b"STORED\r\n")
        assert int(c.stats()["auth_throttled"]) >= 1


def test_pylibmc_with_scram_offered(tmp_path, start_server):
    """Every entry SCRAM-capable: SCRAM-SHA-256 is offered and libmemcached's
    Cyrus SASL picks it (or PLAIN where its SCRAM plugin is missing); both
    log in, a wrong password does not."""
    scram = subprocess.run([hcutil.HC_BIN, "--hash-password-scram"], input=b"pw2\n",
                           check=True, capture_output=True).stdout.strip()
    p = tmp_path / "pw"
    p.write_bytes(b"alice:secret\ndave:" + scram + b"\n")
    s = start_server("-S", "-Y", str(p))
    with client_from(s, "127.0.0.4") as c:
        assert call(c, "sasl_list").value == b"SCRAM-SHA-256 PLAIN"
    for user, pw in (("alice", "secret"), ("dave", "pw2")):
        c = pylibmc.Client(["127.0.0.1:%d" % s.port], binary=True, username=user,
                           password=pw)
        c.set("k", user)
        assert c.get("k") == user
    bad = pylibmc.Client(["127.0.0.1:%d" % s.port], binary=True, username="alice",
                         password="nope")
    with pytest.raises(pylibmc.Error):
        bad.set("k", "evil")
