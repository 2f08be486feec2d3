"""glint.common.worker's pieces that need no running server (tests/service/
test_connections.py runs the worker itself)."""
from __future__ import annotations

import socket
import struct

import pytest

from glint.common import worker


@pytest.mark.parametrize('buf, start, end', [
    (b'GET / HTTP/1.1\r\nHost: a\r\n\r\n', 0, 27),
    (b'GET / HTTP/1.1\r\nHost: a\r\n\r\nbody', 0, 27),
    (b'GET / HTTP/1.1\nHost: a\n\n', 0, 24),
    (b'GET / HTTP/1.1\r\nHost: a\r\n', 0, -1),
    (b'\r\n\r\n\r\nGET / HTTP/1.1\r\n', 0, -1),          # blank lines before a request
    (b'\r\n\r\nGET / HTTP/1.1\r\n\r\n', 2, 22),
    (bytearray(b'GET / HTTP/1.1\r\n\r\n'), 13, 18),
])
def test_head_end(buf, start, end):
    assert worker.head_end(buf, start) == end


def test_arbiter_grace_leaves_the_worker_time_to_cut():
    assert worker.arbiter_grace(60) == 60 + worker.CUT_MARGIN
    assert worker.arbiter_grace(0) >= 10 ** 8      # 0: wait for every request


def test_socket_timeouts_are_the_kernels():
    with socket.socket() as sock:
        worker.set_socket_timeouts(sock, 2.5)
        size = struct.calcsize('ll')
        for option in (socket.SO_RCVTIMEO, socket.SO_SNDTIMEO):
            raw = sock.getsockopt(socket.SOL_SOCKET, option, size)
            assert struct.unpack('ll', raw) == (2, 500000)
        assert sock.gettimeout() is None        # still blocking for Python


def test_configured_worker_classes_are_independent():
    fast = worker.GlintWorker.configured(header_timeout=1, socket_timeout=2, grace=3)
    assert (fast.header_timeout, fast.socket_timeout, fast.grace) == (1, 2, 3)
    assert issubclass(fast, worker.GlintWorker)
    assert worker.GlintWorker.header_timeout == 20.0
