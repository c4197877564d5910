"""scripts/memcached-ref.sh, the one way `make bench` and the differential
tests find memcached 1.6.45: MEMCACHED_REF, else the built copy; --build
builds it as root and otherwise prints the command. A stand-in build script
takes the place of the real one (which takes minutes)."""
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join(ROOT, "scripts", "memcached-ref.sh")
FAKE_BUILD = """#!/bin/sh
mkdir -p "$1/memcached-1.6.45"
printf '#!/bin/sh\\necho memcached 1.6.45\\n' > "$1/memcached-1.6.45/memcached"
chmod 755 "$1/memcached-1.6.45/memcached"
echo "$1/memcached-1.6.45/memcached"
"""


@pytest.fixture
def tmp_path():
    """A folder that `nobody` can reach too (pytest's own is root's only)."""
    d = tempfile.mkdtemp(prefix="hc-memcached-ref-")
    os.chmod(d, 0o755)
    yield pathlib.Path(d)
    shutil.rmtree(d)


def ref(tmp_path, *args, env=None, user=None):
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    os.chmod(home, 0o777)
    e = {"PATH": os.environ["PATH"], "HOME": str(home)}
    e.update(env or {})
    argv = ["sh", SCRIPT] + list(args)
    if user:
        argv = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user, "--clear-groups"] + argv
    p = subprocess.run(argv, capture_output=True, text=True, env=e, timeout=30)
    return p.returncode, p.stdout.strip(), p.stderr, home


def fake_src(tmp_path):
    src = tmp_path / "reference"
    src.mkdir(exist_ok=True)
    (src / "build-memcached.sh").write_text(FAKE_BUILD)
    return {"MEMCACHED_REF_SRC": str(src)}


def test_env_var_wins(tmp_path):
    assert ref(tmp_path, env={"MEMCACHED_REF": "/bin/true"})[:2] == (0, "/bin/true")


def test_env_var_that_is_not_a_binary_is_an_error(tmp_path):
    rc, out, err, _ = ref(tmp_path, env={"MEMCACHED_REF": str(tmp_path / "nope")})
    assert (rc, out) == (1, "") and "is not an executable file" in err


def test_missing_without_build_says_nothing(tmp_path):
    assert ref(tmp_path, env=fake_src(tmp_path))[:3] == (1, "", "")


def test_built_copy_is_found(tmp_path):
    home = tmp_path / "home"
    binary = home / ".cache/hardcache-ref/memcached-1.6.45/memcached"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n")
    os.chmod(binary, 0o755)
    assert ref(tmp_path)[:2] == (0, str(binary))


@pytest.mark.skipif(os.geteuid() != 0, reason="builds as root only")
def test_build_as_root(tmp_path):
    rc, out, err, home = ref(tmp_path, "--build", env=fake_src(tmp_path))
    assert rc == 0, err
    assert out == str(home / ".cache/hardcache-ref/memcached-1.6.45/memcached")
    assert ref(tmp_path)[:2] == (0, out)   # found from now on, without --build


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the script as nobody")
def test_not_root_prints_the_command(tmp_path):
    rc, out, err, home = ref(tmp_path, "--build", env=fake_src(tmp_path), user=65534)
    assert (rc, out) == (1, "")
    assert "sh %s/build-memcached.sh %s/.cache/hardcache-ref" % (tmp_path / "reference", home) in err
    assert not (home / ".cache").exists()
