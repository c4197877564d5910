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
_PERL_VERSION = ("issue 17: t/Memd.pm dies at load: Perl's version->parse "
                 "rejects 'VERSION 1.6.18-hardcached-0.1.0'")
ISSUE_17 = {
    ("perl-fast", "0-info.t"): _PERL_VERSION,
    ("perl-fast", "big-value.t"): _PERL_VERSION,
    ("perl-fast", "commands.t"): _PERL_VERSION,
    ("perl-fast", "disconnect-all.t"): _PERL_VERSION,
    ("perl-fast", "flush-all.t"): _PERL_VERSION,
    ("perl-fast", "hash-namespace.t"): _PERL_VERSION,
    ("perl-fast", "magic.t"): _PERL_VERSION,
    ("perl-fast", "malformed.t"): _PERL_VERSION,
    ("perl-fast", "namespace.t"): _PERL_VERSION,
    ("perl-fast", "noreply.t"): _PERL_VERSION,
    ("perl-fast", "nowait.t"): _PERL_VERSION,
    ("perl-fast", "serialize.t"): _PERL_VERSION,
    ("perl-fast", "threads.t"): _PERL_VERSION,
    ("perl-fast", "utf8.t"): _PERL_VERSION,
}
