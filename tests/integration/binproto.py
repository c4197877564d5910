"""A raw client for memcached's binary protocol, for the tests."""
import struct

REQ, RES = 0x80, 0x81
OP = dict(get=0x00, set=0x01, add=0x02, replace=0x03, delete=0x04, incr=0x05,
          decr=0x06, quit=0x07, flush=0x08, getq=0x09, noop=0x0a,
          version=0x0b, getk=0x0c, getkq=0x0d, append=0x0e, prepend=0x0f,
          stat=0x10, setq=0x11, addq=0x12, replaceq=0x13, deleteq=0x14,
          incrq=0x15, decrq=0x16, quitq=0x17, flushq=0x18, appendq=0x19,
          prependq=0x1a, touch=0x1c, gat=0x1d, gatq=0x1e,
          sasl_list=0x20, sasl_auth=0x21, sasl_step=0x22, gatk=0x23,
          gatkq=0x24)
OK, ENOENT, EEXISTS, E2BIG, EINVAL, NOT_STORED, BADVAL = 0, 1, 2, 3, 4, 5, 6
AUTH_ERROR, UNKNOWN = 0x20, 0x81


def pack(op, key=b"", extras=b"", value=b"", cas=0, opaque=0, keylen=None,
         extlen=None, bodylen=None, magic=REQ):
    """A request; keylen/extlen/bodylen override the true lengths."""
    if isinstance(op, str):
        op = OP[op]
    if isinstance(key, str):
        key = key.encode()
    kl = len(key) if keylen is None else keylen
    el = len(extras) if extlen is None else extlen
    bl = len(key) + len(extras) + len(value) if bodylen is None else bodylen
    return struct.pack(">BBHBBHIIQ", magic, op, kl, el, 0, 0, bl, opaque,
                       cas) + extras + key + value


def store_extras(flags=0, exptime=0):
    return struct.pack(">II", flags, exptime)


def arith_extras(delta, initial=0, exptime=0):
    return struct.pack(">QQI", delta, initial, exptime)


class Resp:
    def __init__(self, hdr, body):
        (self.magic, self.op, keylen, self.extlen, _, self.status, bodylen,
         self.opaque, self.cas) = struct.unpack(">BBHBBHIIQ", hdr)
        self.extras = body[:self.extlen]
        self.key = body[self.extlen:self.extlen + keylen]
        self.value = body[self.extlen + keylen:]

    def __repr__(self):
        return "Resp(op=%#x status=%#x key=%r value=%r)" % (
            self.op, self.status, self.key, self.value[:60])


def read(raw, timeout=None):
    hdr = raw.read_exact(24, timeout)
    assert hdr[0] == RES, "bad magic in %r" % hdr
    n = struct.unpack(">I", hdr[8:12])[0]
    return Resp(hdr, raw.read_exact(n, timeout) if n else b"")


def call(raw, *a, **kw):
    raw.send(pack(*a, **kw))
    return read(raw)
