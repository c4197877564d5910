"""make dist: a release tarball of the committed tree and a SHA-256 file
that `sha256sum -c` accepts (the advisory asks users to verify one)."""
import hashlib
import os
import re
import subprocess
import tarfile

from conftest import ROOT


def version():
    with open(os.path.join(ROOT, "src/server/settings.h")) as f:
        return re.search(r'#define HC_VERSION\s+"([^"]+)"', f.read()).group(1)


def test_dist_tarball_and_checksum(make):
    make("dist")
    name = "hardcache-%s" % version()
    d = os.path.join(ROOT, "build", "dist")
    tgz = os.path.join(d, name + ".tar.gz")
    sums = os.path.join(d, name + ".tar.gz.sha256")
    with open(sums) as f:
        line = f.read()
    with open(tgz, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    assert line == "%s  %s.tar.gz\n" % (digest, name)
    r = subprocess.run(["sha256sum", "-c", os.path.basename(sums)], cwd=d,
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    with tarfile.open(tgz) as t:
        names = t.getnames()
    assert all(n == name or n.startswith(name + "/") for n in names)
    for want in ("Makefile", "README.md", "src/server/main.c", "debian/control",
                 "docs/hardcached.8", "packaging/hardcached.service.in",
                 "packaging/hardcached.conf"):
        assert "%s/%s" % (name, want) in names, want
    assert not any("/build/" in n or n.endswith(".o") for n in names)


def test_dist_is_reproducible(make):
    """Two runs give the same bytes, so a published checksum can be
    re-derived from the tag."""
    name = "hardcache-%s.tar.gz" % version()
    path = os.path.join(ROOT, "build", "dist", name)
    make("dist")
    with open(path, "rb") as f:
        a = f.read()
    make("dist")
    with open(path, "rb") as f:
        b = f.read()
    assert a == b
