"""Tests of the clients' own suites that run_suites.py does not count as
failures, each with its reason. Two kinds: those that fail against memcached
itself (excluded on every server) and the issue 17 to-do list (fail against
hardcached only; they must pass against memcached, or the entry is stale).
"""

# (suite, test id) -> why it fails against memcached 1.6.45 and 1.6.18 too
FAILS_ON_MEMCACHED = {
}

# (suite, test id) -> what hardcached does differently (issue 17)
ISSUE_17 = {
}
