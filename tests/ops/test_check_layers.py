"""scripts/check_layers.py, the include-graph check of `make check-layers`,
on tiny fake trees: a cycle, an upward include and a stale allow line each
fail and are named; a clean tree and an allowed defect pass; the real src/
passes with the real allow file."""
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHECK = os.path.join(ROOT, "scripts", "check_layers.py")


def tree(tmp_path, files, allow=""):
    for rel, includes in files.items():
        path = tmp_path / "src" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join('#include "%s"\n' % i for i in includes))
    (tmp_path / "allow").write_text(allow)
    return tmp_path


def check(t):
    r = subprocess.run([sys.executable, CHECK, str(t / "src"), str(t / "allow")],
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def test_clean_tree_passes(tmp_path):
    rc, out = check(tree(tmp_path, {
        "core/log.h": [], "core/log.c": ["core/log.h"],
        "storage/store.h": ["core/log.h"], "storage/store.c": ["storage/store.h"],
        "server/main.c": ["storage/store.h", "core/log.h"]}))
    assert rc == 0, out


def test_module_cycle_fails_and_is_printed(tmp_path):
    rc, out = check(tree(tmp_path, {
        "server/conn.h": [], "server/conn.c": ["server/conn.h", "server/worker.h"],
        "server/worker.h": [], "server/worker.c": ["server/worker.h", "server/conn.h"]}))
    assert rc == 1, out
    assert "cycle: server/conn -> server/worker -> server/conn" in out
    assert "server/conn.c:2 includes server/worker.h" in out
    assert "server/worker.c:2 includes server/conn.h" in out


def test_upward_include_fails(tmp_path):
    rc, out = check(tree(tmp_path, {
        "protocol/parse.h": [], "policy/auth.h": ["protocol/parse.h"]}))
    assert rc == 1, out
    assert "policy/auth.h:1: includes protocol/parse.h: policy may not include protocol" in out


def test_audit_sits_on_core_only(tmp_path):
    rc, out = check(tree(tmp_path, {
        "core/log.h": [], "storage/store.h": [],
        "audit/main.c": ["core/log.h", "storage/store.h"]}))
    assert rc == 1 and "audit may not include storage" in out, out


def test_folder_outside_the_order_fails(tmp_path):
    rc, out = check(tree(tmp_path, {"misc/x.c": []}))
    assert rc == 1 and "has no place in the layer order" in out, out


def test_allowed_defects_pass_and_stale_lines_fail(tmp_path):
    files = {"server/a.c": ["server/b.h"], "server/b.h": ["server/a.h"], "server/a.h": [],
             "policy/x.h": ["protocol/y.h"], "protocol/y.h": []}
    allow = "# known\ncycle server/a server/b\nupward policy/x.h protocol/y.h\n"
    rc, out = check(tree(tmp_path, files, allow))
    assert rc == 0, out
    rc, out = check(tree(tmp_path, files, allow + "cycle server/c server/d\n"))
    assert rc == 1 and "'cycle server/c server/d', which no longer exists" in out, out


def test_real_tree_passes():
    r = subprocess.run([sys.executable, CHECK, os.path.join(ROOT, "src"),
                        os.path.join(ROOT, "scripts", "layers.allow")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
