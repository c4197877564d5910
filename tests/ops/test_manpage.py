"""hardcached(8) documents every flag and -o suboption that `hardcached -h`
lists, and formats without groff warnings. New flags in the OPTIONS table
fail this test until the man page names them."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import HC_BIN, ROOT

MAN = os.path.join(ROOT, "docs", "hardcached.8")


def man_text():
    """The man page source with roff escapes for '-' and fonts removed."""
    with open(MAN) as f:
        src = f.read()
    src = src.replace("\\-", "-")
    return re.sub(r"\\f[BIRP]", "", src)


def help_flags():
    out = subprocess.run([HC_BIN, "-h"], capture_output=True, timeout=10,
                         check=True).stdout.decode()
    shorts = re.findall(r"^(-[A-Za-z0-9]), --", out, re.M)
    longs = re.findall(r"^(?:-[A-Za-z0-9], | +)?(--[a-z][a-z0-9-]*)", out, re.M)
    m = re.search(r"^-o, --extended=<arg>\n\s+(.*)$", out, re.M)
    subopts = []
    if m:
        # "...: a=N, b, c=N (remark, with commas); GROUP: d=N, e" -> a b c d e
        items = re.split(r"[,;]", re.sub(r"\([^)]*\)", "", m.group(1).split(":", 1)[1]))
        for i in items:
            m2 = re.search(r"([a-z][a-z_]*)(=\S*)?\s*$", i.strip())
            if m2:
                subopts.append(m2.group(1))
    return shorts, longs, subopts


def test_help_is_parsed():
    shorts, longs, subopts = help_flags()
    # the parser must see the table, or the test below proves nothing
    assert len(shorts) >= 30 and "-p" in shorts and "-o" in shorts
    assert "--config" in longs and "--port" in longs
    assert "idle_timeout" in subopts and "metrics_port" in subopts


def test_every_flag_in_man_page():
    text = man_text()
    shorts, longs, subopts = help_flags()
    missing = [f for f in shorts + longs
               if not re.search(re.escape(f) + r"(?![A-Za-z0-9-])", text)]
    assert not missing, "hardcached.8 does not document %s" % missing
    missing = [o for o in subopts if not re.search(r"\b%s\b" % o, text)]
    assert not missing, "hardcached.8 does not document -o %s" % missing


def test_man_page_formats_cleanly():
    groff = shutil.which("groff")
    if not groff:
        pytest.skip("groff not installed (groff-base)")
    r = subprocess.run([groff, "-man", "-Tutf8", "-ww", "-z", MAN],
                       capture_output=True, timeout=30)
    assert r.returncode == 0 and not r.stderr, r.stderr.decode()


def test_man_page_has_the_sections():
    text = man_text()
    for sec in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "FILES",
                "EXIT STATUS", "SEE ALSO"):
        assert re.search(r"^\.SH %s$" % sec, text, re.M), sec
