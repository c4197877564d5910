"""Tests of the clients' own suites that run_suites.py does not count as
failures, each with its reason. Two kinds: those that fail against memcached
itself (excluded on every server) and the issue 17 to-do list (fail against
hardcached only; they must pass against memcached, or the entry is stale).
"""

# (suite, test id) -> why it fails against memcached 1.6.45 and 1.6.18 too
FAILS_ON_MEMCACHED = {
    ("perl-fast", "perl-namespace.t"):
        "checks the module's own symbol table, no server involved: Debian's "
        "build of Cache::Memcached::Fast 0.28 also has ISA and dl_load_flags",
    ("pylibmc", "test_autoconf.AutoConfTests.test_no_autoconf"):
        "calls autoconf.elasticache() on its default address 127.0.0.1:11211, "
        "not on the server under test",
}

# (suite, test id) -> what hardcached does differently (issue 17)
# Empty since main's VERSION line reads "VERSION 1.6.45" (it had 13 of
# Cache::Memcached::Fast's t/*.t: its t/Memd.pm died on version->parse).
ISSUE_17 = {
}
