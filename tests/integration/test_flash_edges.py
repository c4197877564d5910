"""The flash tier's edge cases found in review: a connection freed while
its wake-up is handled, items brought back after eviction still naming a
flash record, meta flags on the read that parks. Each test failed on the
head it was written against."""
import socket
import time

import pytest

from test_flash import N, fill, flash_server

pytestmark = pytest.mark.hardcached_only


def test_connection_that_quits_after_a_flash_read_is_not_used_after_free(
        start_server, tmp_path):
    """A flash read's wake-up ran the woken connection at once, in the
    middle of the loop's batch of events: a pipeline ending in `quit`
    freed the connection there, and its own event later in the same batch
    read the freed memory (ASan: heap-use-after-free). One worker thread,
    busy neighbours, so the wake-up and the connection's shutdown land in
    one batch."""
    s = flash_server(start_server, tmp_path / "ext", extra=("-t", "1"))
    with s.client() as c:
        fill(c, N)
    heavy = b"get nosuch\r\n" * 4000
    for t in range(60):
        neighbours = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(6)]
        a = socket.create_connection(("127.0.0.1", s.port))
        time.sleep(0.005)
        a.sendall(b"get k%d\r\nquit\r\n" % (t % (N // 2)))
        for b in neighbours:
            b.sendall(heavy)
        time.sleep(0.002 + 0.001 * (t % 8))
        a.shutdown(socket.SHUT_WR)
        time.sleep(0.02)
        a.close()
        for b in neighbours:
            b.close()
        assert s.alive(), "the server died at try %d" % t
    with s.client() as c:
        c.send(b"version\r\n")
        assert c.readline().startswith(b"VERSION ")
