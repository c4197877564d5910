"""Pipelines and rounds: what the server does with many requests in one read
and many connections in one round of its event loop.

hardcached parses the key requests at the start of a read ahead of running
them (to overlap their cache misses) and sends the replies of a whole round
of connections back to back after the round. Neither may change a byte of
what a client sees: these tests send whole pipelines in one write and check
every reply, in order, against memcached's (they run against it too).
"""
import os
import signal
import socket
import struct
import time

import hcutil


def one_write(c, data):
    """Send data in one write, so it arrives in one read if it fits."""
    c.sock.sendall(data)


def test_pipeline_of_every_key_command(server):
    with server.client() as c:
        one_write(c, b"".join([
            b"set bt:a 1 0 2\r\naa\r\n",
            b"add bt:a 0 0 1\r\nz\r\n",          # exists: NOT_STORED
            b"add bt:b 2 0 1\r\nb\r\n",
            b"replace bt:c 0 0 1\r\nc\r\n",      # missing: NOT_STORED
            b"append bt:a 0 0 1\r\n+\r\n",
            b"prepend bt:a 0 0 1\r\n-\r\n",
            b"get bt:a bt:b bt:c\r\n",
            b"set bt:n 0 0 2\r\n10\r\n",
            b"incr bt:n 5\r\n",
            b"decr bt:n 20\r\n",
            b"incr bt:missing 1\r\n",
            b"touch bt:b 100\r\n",
            b"touch bt:c 100\r\n",
            b"delete bt:b\r\n",
            b"delete bt:b\r\n",
            b"gat 0 bt:a bt:b\r\n",
        ]))
        c.expect(b"".join([
            b"STORED\r\n", b"NOT_STORED\r\n", b"STORED\r\n", b"NOT_STORED\r\n",
            b"STORED\r\n", b"STORED\r\n",
            b"VALUE bt:a 1 4\r\n-aa+\r\nVALUE bt:b 2 1\r\nb\r\nEND\r\n",
            b"STORED\r\n", b"15\r\n", b"0\r\n", b"NOT_FOUND\r\n",
            b"TOUCHED\r\n", b"NOT_FOUND\r\n", b"DELETED\r\n", b"NOT_FOUND\r\n",
            b"VALUE bt:a 1 4\r\n-aa+\r\nEND\r\n",
        ]))
        c.nothing_pending()


def test_pipeline_writes_the_same_key_many_times(server):
    """Every request of the pipeline sees the ones before it: the last set
    wins, a delete in the middle is seen by the add after it."""
    with server.client() as c:
        parts, want = [], []
        for i in range(20):
            v = b"v%02d" % i
            parts.append(b"set bt:same 0 0 3\r\n%s\r\nget bt:same\r\n" % v)
            want.append(b"STORED\r\nVALUE bt:same 0 3\r\n%s\r\nEND\r\n" % v)
        parts.append(b"delete bt:same\r\nadd bt:same 0 0 1\r\nx\r\nget bt:same\r\n")
        want.append(b"DELETED\r\nSTORED\r\nVALUE bt:same 0 1\r\nx\r\nEND\r\n")
        one_write(c, b"".join(parts))
        c.expect(b"".join(want))


def test_pipeline_with_errors_in_the_middle(server):
    """An unknown command, a bad line, a too-large value (swallowed) and a
    key that is too long, each between good requests of one write."""
    big = 2 * 1024 * 1024
    with server.client() as c:
        one_write(c, b"set bt:e1 0 0 1\r\n1\r\n"
                     b"bogus\r\n"
                     b"get bt:e1\r\n"
                     b"set bt:e2 0 0 notanumber\r\n"
                     b"get bt:e1\r\n"
                     b"get " + b"k" * 251 + b"\r\n"
                     b"set bt:e3 0 0 %d\r\n" % big)
        c.expect(b"STORED\r\n"
                 b"ERROR\r\n"
                 b"VALUE bt:e1 0 1\r\n1\r\nEND\r\n"
                 b"CLIENT_ERROR bad command line format\r\n"
                 b"VALUE bt:e1 0 1\r\n1\r\nEND\r\n")
        # (memcached sends the replies from here on only once the refused
        # value has arrived)
        c.send(b"x" * big + b"\r\nget bt:e1 bt:e3\r\nset bt:e4 0 0 1\r\n4\r\nget bt:e4\r\n")
        c.expect(b"CLIENT_ERROR bad command line format\r\n"
                 b"SERVER_ERROR object too large for cache\r\n"
                 b"VALUE bt:e1 0 1\r\n1\r\nEND\r\n"
                 b"STORED\r\nVALUE bt:e4 0 1\r\n4\r\nEND\r\n")


def test_pipeline_cut_inside_a_value(server):
    """The read ends inside the data of a set: the requests before it run,
    the rest waits for its bytes."""
    with server.client() as c:
        head = (b"set bt:p1 0 0 3\r\nabc\r\nget bt:p1\r\n"
                b"set bt:p2 0 0 10\r\n01234")
        one_write(c, head)
        c.expect(b"STORED\r\nVALUE bt:p1 0 3\r\nabc\r\nEND\r\n")
        c.nothing_pending(0.1)
        c.send(b"56789\r\nget bt:p2 bt:p1\r\n")
        c.expect(b"STORED\r\nVALUE bt:p2 0 10\r\n0123456789\r\n"
                 b"VALUE bt:p1 0 3\r\nabc\r\nEND\r\n")


def test_pipeline_then_meta_and_stats(server):
    """Key commands, then others the read-ahead leaves alone, then key
    commands again."""
    with server.client() as c:
        one_write(c, b"set bt:m 0 0 2\r\nmm\r\nget bt:m\r\n"
                     b"mg bt:m v\r\nversion\r\nmn\r\n"
                     b"get bt:m\r\ndelete bt:m\r\nmg bt:m v\r\n")
        c.expect(b"STORED\r\nVALUE bt:m 0 2\r\nmm\r\nEND\r\n"
                 b"VA 2\r\nmm\r\n")
        assert c.readline().startswith(b"VERSION ")
        c.expect(b"MN\r\nVALUE bt:m 0 2\r\nmm\r\nEND\r\nDELETED\r\nEN\r\n")


def test_long_pipeline_of_sets_and_gets(server):
    """More requests in one write than any read-ahead batch: 500 sets, then
    500 gets, each checked."""
    with server.client() as c:
        one_write(c, b"".join(b"set bt:l%03d 0 0 4\r\n%04d\r\n" % (i, i)
                              for i in range(500)))
        c.expect(b"STORED\r\n" * 500)
        one_write(c, b"".join(b"get bt:l%03d\r\n" % i for i in range(500)))
        c.expect(b"".join(b"VALUE bt:l%03d 0 4\r\n%04d\r\nEND\r\n" % (i, i)
                          for i in range(500)))


def test_round_of_many_connections(server):
    """40 connections each send a pipeline at once, so one round of the
    event loop serves many of them; each gets exactly its own replies."""
    conns = [server.client() for _ in range(40)]
    try:
        for n, c in enumerate(conns):
            c.send(b"".join(b"set bt:r%d:%d 0 0 2\r\n%02d\r\nget bt:r%d:%d\r\n"
                            % (n, i, i, n, i) for i in range(8)))
        for n, c in enumerate(conns):
            c.expect(b"".join(b"STORED\r\nVALUE bt:r%d:%d 0 2\r\n%02d\r\nEND\r\n"
                              % (n, i, i) for i in range(8)))
    finally:
        for c in conns:
            c.close()


def test_connections_reset_mid_round_leave_the_others_served(server):
    """Half of 40 connections send a pipeline and reset at once (RST), so
    the server's writes to them fail in the round that serves the others.
    The others get every reply, and the server stays up."""
    keep, drop = [], []
    try:
        for n in range(40):
            c = server.client()
            (keep if n % 2 else drop).append(c)
        for n, c in enumerate(keep + drop):
            c.send(b"".join(b"set bt:x%d:%d 0 0 1\r\nx\r\nget bt:x%d:%d\r\n"
                            % (n, i, n, i) for i in range(16)))
        for c in drop:
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                              struct.pack("ii", 1, 0))
            c.close()
        for n, c in enumerate(keep):
            c.expect(b"".join(b"STORED\r\nVALUE bt:x%d:%d 0 1\r\nx\r\nEND\r\n"
                              % (n, i) for i in range(16)))
    finally:
        for c in keep + drop:
            c.close()
    with server.client() as c:
        c.cmd(b"set bt:after 0 0 1\r\n1\r\n", b"STORED\r\n")
    assert server.alive()


def test_clients_that_stop_reading_do_not_hold_up_a_round(server):
    """Some connections ask for much more than their socket buffers hold and
    never read; in the same rounds, others are served promptly."""
    value = b"v" * 100000
    with server.client() as c:
        c.set("bt:big", value)
    stuck = [server.client() for _ in range(5)]
    try:
        for c in stuck:
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            c.send(b"get bt:big\r\n" * 100)
        time.sleep(0.2)
        for n in range(10):
            with server.client() as c:
                c.cmd(b"set bt:ok%d 0 0 1\r\n1\r\nget bt:ok%d\r\n" % (n, n),
                      b"STORED\r\nVALUE bt:ok%d 0 1\r\n1\r\nEND\r\n" % n)
    finally:
        for c in stuck:
            c.close()
    assert server.alive()


def _arrive_while_stopped(server, c, data, shut=False):
    """Let data (and, with shut, the end of the stream) reach the server's
    socket while the server is stopped, so one wake-up finds it all."""
    os.kill(server.pid, signal.SIGSTOP)
    try:
        c.sock.sendall(data)
        if shut:
            c.sock.shutdown(socket.SHUT_WR)
        time.sleep(0.2)
    finally:
        os.kill(server.pid, signal.SIGCONT)


def test_pipeline_larger_than_a_read_arriving_at_once(start_server):
    """A pipeline of about 300 KiB that is all in the socket when the server
    wakes: more than one read (64 KiB) takes, and the socket reports it only
    once (hardcached's plain connections are edge-triggered), so the server
    must read on by itself. Every reply comes."""
    server = start_server()
    n = 2000
    value = b"v" * 128
    with server.client() as c:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        data = b"".join(b"set bt:big%04d 0 0 128\r\n%s\r\n" % (i, value)
                        for i in range(n))
        assert len(data) > 4 * 65536
        _arrive_while_stopped(server, c, data)
        c.expect(b"STORED\r\n" * n)


def test_half_close_is_answered_then_closed(start_server):
    """A client sends its requests and shuts its side in the same breath
    (data and FIN arrive together): the server answers every request, then
    closes the connection, as memcached does on end of file."""
    server = start_server()
    with server.client() as c:
        _arrive_while_stopped(server, c, b"set bt:hc 0 0 2\r\nhi\r\nget bt:hc\r\n",
                              shut=True)
        got = c.assert_closed()
        assert got == b"STORED\r\nVALUE bt:hc 0 2\r\nhi\r\nEND\r\n"
